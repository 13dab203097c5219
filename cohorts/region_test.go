package cohorts_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ramp-flags/ramp/cohorts"
)

func TestParseRegion(t *testing.T) {
	tests := []struct {
		in   string
		want cohorts.Region
	}{
		{"US", "US"},
		{"us", "US"},
		{"Fr", "FR"},
		{"  de\t", "DE"},
		{"\nna\n", "NA"},
		{"ax", "AX"},
		{"ZW", "ZW"},
		{"country:NA", "NA"},
		{" Country:us", "US"},
	}
	for _, tt := range tests {
		got, err := cohorts.ParseRegion(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRegion(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", " ", "XX", "xx", "usa", "USA", "U", "UK", "EU", "1A", "U S", "*", "country:", "country:XX", "country:EU", "group:NA", "ÜS", "US\x00"} {
		if got, err := cohorts.ParseRegion(in); err == nil {
			t.Errorf("ParseRegion(%q) = %q, nil; want an error", in, got)
		}
	}
}

func TestCountries(t *testing.T) {
	cs := cohorts.Countries()
	if len(cs) != 249 {
		t.Errorf("len(Countries()) = %d, want 249", len(cs))
	}
	if !slices.IsSorted(cs) {
		t.Errorf("Countries() is not sorted: %v", cs)
	}
	if c := slices.Compact(slices.Clone(cs)); len(c) != len(cs) {
		t.Errorf("Countries() has %d duplicates", len(cs)-len(c))
	}
	for _, c := range cs {
		if got, err := cohorts.ParseRegion(string(c)); err != nil || got != c {
			t.Errorf("ParseRegion(%q) = %q, %v; want %q, nil", c, got, err, c)
		}
	}
	// The result is the caller's to keep.
	cs[0] = "XX"
	if got := cohorts.Countries()[0]; got != "AD" {
		t.Errorf("after changing a returned slice, Countries()[0] = %q, want AD", got)
	}
}

func TestGroups(t *testing.T) {
	wantSize := map[string]int{"NA": 3, "LATAM": -1, "EU": 27, "EEA": 30, "APAC": -1, "MENA": -1, "AFRICA": -1}
	gs := cohorts.Groups()
	seen := make(map[string]bool)
	for _, g := range gs {
		if seen[g.Name] {
			t.Errorf("group %s listed twice", g.Name)
		}
		seen[g.Name] = true
		if g.Description == "" {
			t.Errorf("group %s has no description", g.Name)
		}
		if n, ok := wantSize[g.Name]; ok && n >= 0 && len(g.Members) != n {
			t.Errorf("group %s has %d members, want %d", g.Name, len(g.Members), n)
		}
		if len(g.Members) == 0 {
			t.Errorf("group %s is empty", g.Name)
		}
		if !slices.IsSorted(g.Members) {
			t.Errorf("group %s members are not sorted: %v", g.Name, g.Members)
		}
		if c := slices.Compact(slices.Clone(g.Members)); len(c) != len(g.Members) {
			t.Errorf("group %s lists a country twice: %v", g.Name, g.Members)
		}
		for _, m := range g.Members {
			if _, err := cohorts.ParseRegion(string(m)); err != nil {
				t.Errorf("group %s: member %q is not a country: %v", g.Name, m, err)
			}
		}
	}
	for name := range wantSize {
		if !seen[name] {
			t.Errorf("group %s is missing", name)
		}
	}

	byName := make(map[string][]cohorts.Region)
	for _, g := range gs {
		byName[g.Name] = g.Members
	}
	if diff := cmp.Diff([]cohorts.Region{"CA", "MX", "US"}, byName["NA"]); diff != "" {
		t.Errorf("NA members (-want +got):\n%s", diff)
	}
	// The EEA is the EU plus Iceland, Liechtenstein and Norway.
	eea := slices.Sorted(slices.Values(append(slices.Clone(byName["EU"]), "IS", "LI", "NO")))
	if diff := cmp.Diff(eea, byName["EEA"]); diff != "" {
		t.Errorf("EEA is not EU+IS+LI+NO (-want +got):\n%s", diff)
	}
	for name, r := range map[string]cohorts.Region{"LATAM": "BR", "APAC": "JP", "MENA": "AE", "AFRICA": "NG", "EU": "FR"} {
		if !slices.Contains(byName[name], r) {
			t.Errorf("group %s does not contain %s", name, r)
		}
	}
	if slices.Contains(byName["EU"], "GB") {
		t.Errorf("EU contains GB")
	}

	// Groups returns copies: changing them changes nothing inside the package.
	gs[0].Members[0] = "XX"
	gs[0].Name = "changed"
	if g := cohorts.Groups()[0]; g.Name == "changed" || g.Members[0] == "XX" {
		t.Errorf("changing a returned group changed the package's groups: %+v", g)
	}
}

func TestExpandSelector(t *testing.T) {
	groupMembers := func(name string) []cohorts.Region {
		for _, g := range cohorts.Groups() {
			if g.Name == name {
				return g.Members
			}
		}
		t.Fatalf("no group %s", name)
		return nil
	}
	tests := []struct {
		sel            string
		wantCountries  []cohorts.Region
		wantEverywhere bool
	}{
		{"US", []cohorts.Region{"US"}, false},
		{" fr ", []cohorts.Region{"FR"}, false},
		{"*", nil, true},
		{" * ", nil, true},
		{"NA", groupMembers("NA"), false}, // bare NA is the North America group
		{"na", groupMembers("NA"), false},
		{"country:NA", []cohorts.Region{"NA"}, false}, // Namibia
		{"COUNTRY:na", []cohorts.Region{"NA"}, false},
		{"Country: na", []cohorts.Region{"NA"}, false},
		{"group:NA", groupMembers("NA"), false},
		{"EU", groupMembers("EU"), false},
		{"group:eu", groupMembers("EU"), false},
		{"GROUP:EEA", groupMembers("EEA"), false},
		{"latam", groupMembers("LATAM"), false},
		{"Apac", groupMembers("APAC"), false},
		{"mena", groupMembers("MENA"), false},
		{"africa", groupMembers("AFRICA"), false},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			got, everywhere, err := cohorts.ExpandSelector(tt.sel)
			if err != nil {
				t.Fatalf("ExpandSelector(%q): %v", tt.sel, err)
			}
			if everywhere != tt.wantEverywhere {
				t.Errorf("everywhere = %v, want %v", everywhere, tt.wantEverywhere)
			}
			if diff := cmp.Diff(tt.wantCountries, got); diff != "" {
				t.Errorf("countries (-want +got):\n%s", diff)
			}
		})
	}
	if n := len(groupMembers("EU")); n != 27 {
		t.Errorf("group:eu expands to %d countries, want 27", n)
	}

	for _, sel := range []string{"", " ", "XX", "usa", "group:", "group:XX", "group:US", "country:", "country:EU",
		"country:*", "country:usa", "**", "everywhere", "region:US", "US,FR"} {
		if got, all, err := cohorts.ExpandSelector(sel); err == nil {
			t.Errorf("ExpandSelector(%q) = %v, %v, nil; want an error", sel, got, all)
		}
	}
}

// A caller that changes the slice ExpandSelector returns must not change the
// group for everyone else.
func TestExpandSelectorReturnsCopy(t *testing.T) {
	for _, sel := range []string{"EU", "group:EU"} {
		got, _, err := cohorts.ExpandSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		got[0] = "XX"
		_ = append(got[:1], "YY")
	}
	again, _, _ := cohorts.ExpandSelector("EU")
	for _, r := range again {
		if r == "XX" || r == "YY" {
			t.Fatalf("group EU was changed through a slice ExpandSelector returned: %v", again)
		}
	}
}

func TestRegionSet(t *testing.T) {
	var s cohorts.RegionSet
	if s.Len() != 0 || s.Everywhere() || s.Contains("US") || s.Contains("") {
		t.Fatalf("zero RegionSet is not empty")
	}
	for _, r := range []cohorts.Region{"US", "FR", "NA", "US", "AA", "ZZ"} {
		s.Add(r)
	}
	s.Add("")    // ignored
	s.Add("USA") // ignored
	s.Add("1A")  // ignored
	if got, want := s.Len(), 5; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	tests := []struct {
		code string
		want bool
	}{
		{"US", true},
		{"us", true},
		{"uS", true},
		{"FR", true},
		{"NA", true},
		{"AA", true},
		{"ZZ", true},
		{"DE", false},
		{"UT", false},
		{"AB", false},
		{"", false},
		{"U", false},
		{"USA", false},
		{"1A", false},
		{"A1", false},
		{"U ", false},
		{"@A", false}, // '@' | 0x20 is '`', just below 'a'
		{"[A", false}, // '[' | 0x20 is '{', just above 'z'
		{"\x00\x00", false},
		{"ÜS", false},
		{"é", false}, // two bytes, neither a letter
		{"\xe5\xf3", false},
	}
	for _, tt := range tests {
		if got := s.Contains(tt.code); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}

	// Every possible code fits: adding all of them gives 26*26 members.
	var full cohorts.RegionSet
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			full.Add(cohorts.Region([]rune{a, b}))
		}
	}
	if got := full.Len(); got != 26*26 {
		t.Errorf("set of every code: Len() = %d, want %d", got, 26*26)
	}
	for _, c := range cohorts.Countries() {
		if !full.Contains(string(c)) {
			t.Errorf("set of every code does not contain %s", c)
		}
	}
}

func TestRegionSetEverywhere(t *testing.T) {
	var s cohorts.RegionSet
	s.Add("FR")
	s.AddEverywhere()
	if !s.Everywhere() {
		t.Errorf("Everywhere() = false after AddEverywhere")
	}
	for _, code := range []string{"", "FR", "US", "xx", "USA", "1A", "é"} {
		if !s.Contains(code) {
			t.Errorf("everywhere set: Contains(%q) = false, want true", code)
		}
	}
	if got := s.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1 (the countries named explicitly)", got)
	}
}

func TestRegionSetContainsDoesNotAllocate(t *testing.T) {
	var s cohorts.RegionSet
	s.Add("US")
	if n := testing.AllocsPerRun(100, func() { s.Contains("us"); s.Contains("FR"); s.Contains("bad") }); n != 0 {
		t.Errorf("Contains allocates %v times per run, want 0", n)
	}
}

// A group's name is refused where one country is meant, with the reason;
// Namibia is written country:NA (new-user fix: "cohorts add --region NA"
// silently made a member Namibian while rules read NA as North America).
func TestParseMemberRegion(t *testing.T) {
	tests := []struct {
		in      string
		want    cohorts.Region
		wantErr string // part of the error, "" for none
	}{
		{in: "US", want: "US"},
		{in: "fr", want: "FR"},
		{in: "country:NA", want: "NA"},
		{in: "COUNTRY:na", want: "NA"},
		{in: "NA", wantErr: `region "NA" is the group North America`},
		{in: " na ", wantErr: "write country:NA"},
		{in: "EU", wantErr: `region "EU" is the group European Union`},
		{in: "latam", wantErr: "not a country"},
		{in: "XX", wantErr: "unknown region"},
	}
	for _, tt := range tests {
		got, err := cohorts.ParseMemberRegion(tt.in)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("ParseMemberRegion(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseMemberRegion(%q) = %q, %v; want an error saying %q", tt.in, got, err, tt.wantErr)
		}
	}
	var ge *cohorts.GroupError
	if _, err := cohorts.ParseMemberRegion("NA"); !errors.As(err, &ge) || ge.Group.Name != "NA" {
		t.Errorf("ParseMemberRegion(NA) error = %v, want a *GroupError for NA", err)
	}
}

// Every country's text reads back as that country.
func TestMemberRegionTextRoundTrip(t *testing.T) {
	for _, c := range cohorts.Countries() {
		text := cohorts.MemberRegionText(c)
		if got, err := cohorts.ParseMemberRegion(text); err != nil || got != c {
			t.Errorf("ParseMemberRegion(MemberRegionText(%s) = %q) = %q, %v; want %s", c, text, got, err, c)
		}
	}
	if got := cohorts.MemberRegionText("NA"); got != "country:NA" {
		t.Errorf("MemberRegionText(NA) = %q, want country:NA", got)
	}
}

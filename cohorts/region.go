package cohorts

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Region is an ISO 3166-1 alpha-2 country code in upper case, such as "US".
type Region string

// countryCodes lists every officially assigned ISO 3166-1 alpha-2 code.
const countryCodes = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS " +
	"BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI " +
	"FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR " +
	"IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM " +
	"MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT " +
	"PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM " +
	"TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"

// Everywhere is the region selector that matches every context, with or
// without a region attribute.
const Everywhere = "*"

// Group is a named set of countries, such as the European Union.
type Group struct {
	Name        string
	Description string
	Members     []Region
}

var groups = []Group{
	{Name: "NA", Description: "North America (United States, Canada, Mexico)", Members: regionList("US CA MX")},
	{Name: "LATAM", Description: "Latin America and the Caribbean", Members: regionList(
		"AG AI AR AW BB BL BO BQ BR BS BZ CL CO CR CU CW DM DO EC FK GD GF GP GT GY HN HT JM KN KY LC MF MQ MS MX NI " +
			"PA PE PR PY SR SV SX TC TT UY VC VE VG VI")},
	{Name: "EU", Description: "European Union (27 member states)", Members: regionList(
		"AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK")},
	{Name: "EEA", Description: "European Economic Area (EU plus Iceland, Liechtenstein, Norway)", Members: regionList(
		"AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO")},
	{Name: "APAC", Description: "Asia-Pacific (East, South and Southeast Asia, Oceania)", Members: regionList(
		"AS AU BD BN BT CC CK CN CX FJ FM GU HK ID IN IO JP KH KI KP KR LA LK MH MM MN MO MP MV MY NC NF NP NR NU NZ " +
			"PF PG PH PK PN PW SB SG TH TK TL TO TV TW UM VN VU WF WS")},
	{Name: "MENA", Description: "Middle East and North Africa", Members: regionList(
		"AE BH DZ EG EH IL IQ IR JO KW LB LY MA OM PS QA SA SD SY TN YE")},
	{Name: "AFRICA", Description: "Africa (all African countries and territories)", Members: regionList(
		"AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA " +
			"NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW")},
}

func regionList(s string) []Region {
	f := strings.Fields(s)
	out := make([]Region, len(f))
	for i, c := range f {
		out[i] = Region(c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var countries = func() map[Region]bool {
	m := make(map[Region]bool)
	for _, c := range strings.Fields(countryCodes) {
		m[Region(c)] = true
	}
	return m
}()

// Countries returns every ISO 3166-1 alpha-2 code in alphabetical order.
func Countries() []Region { return regionList(countryCodes) }

// Groups returns the named region groups in a stable order.
func Groups() []Group {
	out := make([]Group, len(groups))
	for i, g := range groups {
		out[i] = Group{Name: g.Name, Description: g.Description, Members: append([]Region(nil), g.Members...)}
	}
	return out
}

// ParseRegion validates a country code, case-insensitively, and returns it in
// upper case. The explicit form "country:XX" is accepted too. It reads
// regions as they are stored, so a bare "NA" is Namibia here; what a person
// types as a member's region goes through ParseMemberRegion.
func ParseRegion(s string) (Region, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "COUNTRY:")
	r := Region(t)
	if !countries[r] {
		return "", fmt.Errorf("unknown region %q: want an ISO 3166-1 alpha-2 country code such as US or FR", s)
	}
	return r, nil
}

// GroupError reports a region group's name given where one country is
// meant: a member's home region.
type GroupError struct {
	Input string // as given
	Group Group
}

// Error says that the name is a group and how to write a country instead.
func (e *GroupError) Error() string {
	msg := fmt.Sprintf("region %q is the group %s, not a country: a member's home region is one country", e.Input, e.Group.Description)
	if r := Region(e.Group.Name); countries[r] {
		return msg + fmt.Sprintf(" (for the country whose code is %s, write country:%s)", r, r)
	}
	return msg + " (see `ramp regions`)"
}

// ParseMemberRegion reads a member's home region as a person writes it (a
// command-line argument, a CSV column): a country code, case-insensitively,
// or "country:XX". A bare group name is refused with a *GroupError, since
// rules read it as the group: "NA" is North America in a rule, so Namibia
// as a member's region is written "country:NA" (and stored, like every
// country, as its code, NA).
func ParseMemberRegion(s string) (Region, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if g, ok := lookupGroup(t); ok {
		return "", &GroupError{Input: s, Group: g}
	}
	return ParseRegion(s)
}

// MemberRegionText writes a member's stored region as ParseMemberRegion
// reads it back: the code, or "country:XX" for a code that is also a
// group's name (Namibia's NA).
func MemberRegionText(r Region) string {
	if _, ok := lookupGroup(string(r)); ok {
		return "country:" + string(r)
	}
	return string(r)
}

// ExpandSelector resolves a region selector as written in a rule or stage: a
// country code, a group name, "*" for everywhere, or an explicit
// "country:XX" / "group:NAME" form. Selectors are case-insensitive. A bare
// name that is both a group and a country ("NA": North America, and Namibia)
// means the group; write "country:NA" for Namibia. For "*" it returns
// everywhere=true and no countries. The slice returned is the caller's own.
func ExpandSelector(sel string) (countries []Region, everywhere bool, err error) {
	s := strings.ToUpper(strings.TrimSpace(sel))
	switch {
	case s == Everywhere:
		return nil, true, nil
	case strings.HasPrefix(s, "COUNTRY:"):
		r, err := ParseRegion(s[len("COUNTRY:"):])
		if err != nil {
			return nil, false, err
		}
		return []Region{r}, false, nil
	case strings.HasPrefix(s, "GROUP:"):
		g, ok := lookupGroup(s[len("GROUP:"):])
		if !ok {
			return nil, false, fmt.Errorf("unknown region group %q (see `ramp regions`)", sel)
		}
		return slices.Clone(g.Members), false, nil
	}
	if g, ok := lookupGroup(s); ok {
		return slices.Clone(g.Members), false, nil
	}
	r, err := ParseRegion(s)
	if err != nil {
		return nil, false, fmt.Errorf("unknown region %q: want an ISO 3166-1 alpha-2 code, a group name or \"*\" (see `ramp regions`)", sel)
	}
	return []Region{r}, false, nil
}

func lookupGroup(name string) (Group, bool) {
	for _, g := range groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// RegionSet is a compact set of countries: one bit per possible two-letter
// code. The zero value is empty. It is safe for concurrent reads.
type RegionSet struct {
	bits [11]uint64 // 26*26 = 676 bits
	all  bool
}

func regionIndex(s string) (int, bool) {
	if len(s) != 2 {
		return 0, false
	}
	a, b := s[0]|0x20, s[1]|0x20 // ASCII lower case
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 0, false
	}
	return int(a-'a')*26 + int(b-'a'), true
}

// Add puts a country in the set.
func (s *RegionSet) Add(r Region) {
	if i, ok := regionIndex(string(r)); ok {
		s.bits[i>>6] |= 1 << (i & 63)
	}
}

// AddEverywhere makes the set match every context, with or without a region.
func (s *RegionSet) AddEverywhere() { s.all = true }

// Everywhere reports whether the set matches every context.
func (s *RegionSet) Everywhere() bool { return s.all }

// Contains reports whether the region code s (any case) is in the set. It does
// not allocate.
func (s *RegionSet) Contains(code string) bool {
	if s.all {
		return true
	}
	i, ok := regionIndex(code)
	if !ok {
		return false
	}
	return s.bits[i>>6]&(1<<(i&63)) != 0
}

// Len returns the number of countries in the set (0 for an everywhere set
// that names none).
func (s *RegionSet) Len() int {
	n := 0
	for _, w := range s.bits {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}

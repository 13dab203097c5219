package cohorts_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
)

func TestValidateKey(t *testing.T) {
	for _, key := range []string{"a", "Z", "7", "beta-testers", "new_checkout.v2", "A-b_c.d", "1abc", "a.", "a--", strings.Repeat("k", 128)} {
		if err := cohorts.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", key, err)
		}
	}
	for _, key := range []string{"", "-a", ".a", "_a", "a b", " a", "a ", "a/b", "a:b", "a*", "é", "clé", "a\x00", "a\n", strings.Repeat("k", 129)} {
		if err := cohorts.ValidateKey(key); err == nil {
			t.Errorf("ValidateKey(%q) = nil, want an error", key)
		}
	}
}

func TestValidateID(t *testing.T) {
	tests := []struct {
		id   string
		want string // a part of the error; "" for a valid id
	}{
		{"u", ""},
		{"emp-1", ""},
		{"ann@example.com", ""},
		{"user id with spaces", ""},
		{"用户-42", ""},
		{"\u00a0nbsp", ""},
		{"emoji-🚀", ""},
		{"\u2028", ""},
		{"=1+1", ""}, // formulas are neutralised on export, not refused
		{"-123", ""},
		{"+4915112345678", ""},
		{"שלום-42", ""}, // right-to-left text is fine; only the invisible controls are refused
		{"\u200a", ""},  // hair space: visible width, not a zero-width character
		{strings.Repeat("x", cohorts.MaxIDLength), ""},
		{strings.Repeat("é", cohorts.MaxIDLength/2), ""}, // 256 bytes of two-byte runes

		{"", "empty user id"},
		{strings.Repeat("x", cohorts.MaxIDLength+1), "257 bytes long"},
		{strings.Repeat("é", cohorts.MaxIDLength/2) + "x", "257 bytes long"},
		{"\xff", "not valid UTF-8"},
		{"a\xc3", "not valid UTF-8"},
		{"\xed\xa0\x80", "not valid UTF-8"}, // an encoded surrogate
		{"a\tb", "control character"},
		{"a\nb", "control character"},
		{"a\rb", "control character"},
		{"\x00", "control character"},
		{"\x1f", "control character"},
		{"\x7f", "control character"},
		{"a\u0080", "control character"}, // C1 controls
		{"a\u0085b", "control character"},
		{"\u009f", "control character"},

		// Bidirectional controls reorder how an id is displayed.
		{"user\u202aX", "U+202A LEFT-TO-RIGHT EMBEDDING, a bidirectional control character"},
		{"user\u202bX", "U+202B RIGHT-TO-LEFT EMBEDDING"},
		{"user\u202cX", "U+202C POP DIRECTIONAL FORMATTING"},
		{"user\u202dX", "U+202D LEFT-TO-RIGHT OVERRIDE"},
		{"admin\u202egnp.exe", "U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional control character"},
		{"\u2066u1", "U+2066 LEFT-TO-RIGHT ISOLATE"},
		{"u\u2067\u20681", "U+2067 RIGHT-TO-LEFT ISOLATE"}, // the first one is named
		{"u\u2068", "U+2068 FIRST STRONG ISOLATE"},
		{"u\u2069", "U+2069 POP DIRECTIONAL ISOLATE"},
		{"u\u200e1", "U+200E LEFT-TO-RIGHT MARK"},
		{"u\u200f1", "U+200F RIGHT-TO-LEFT MARK"},
		{"u\u061c1", "U+061C ARABIC LETTER MARK"},
		// Zero-width characters make two ids that look the same differ.
		{"u\u200b1", "U+200B ZERO WIDTH SPACE, a zero-width character"},
		{"u\u200c1", "U+200C ZERO WIDTH NON-JOINER"},
		{"u\u200d1", "U+200D ZERO WIDTH JOINER"},
		{"u\u20601", "U+2060 WORD JOINER"},
		{"\ufeffu1", "U+FEFF ZERO WIDTH NO-BREAK SPACE (byte-order mark)"},
		{"u1\ufeff", "U+FEFF"},
		// The id is quoted with the character escaped, so that the message
		// shows it rather than applying it.
		{"ab\u202ecd", `user id "ab\u202ecd" contains U+202E`},
		{"José\u200b", `user id "José\u200b" contains U+200B`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+q", tt.id), func(t *testing.T) {
			err := cohorts.ValidateID(tt.id)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ValidateID(%+q) = %v, want nil", tt.id, err)
			case tt.want != "" && err == nil:
				t.Errorf("ValidateID(%+q) = nil, want an error containing %q", tt.id, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("ValidateID(%+q) = %q, want it to contain %q", tt.id, err, tt.want)
			}
		})
	}
}

func TestCohortCompileErrors(t *testing.T) {
	tests := map[string]cohorts.Cohort{
		"no key":        {Members: []cohorts.Member{{ID: "a"}}},
		"bad key":       {Key: "-x"},
		"bad condition": {Key: "c", When: []cohorts.Condition{{Attribute: "a", Op: cohorts.OpEq, Values: []string{"x"}}, {Attribute: "b", Op: "like"}}},
		"no attribute":  {Key: "c", When: []cohorts.Condition{{Op: cohorts.OpExists}}},
	}
	for name, c := range tests {
		if cc, err := c.Compile(nil); err == nil {
			t.Errorf("%s: Compile = %v, nil; want an error", name, cc)
		}
	}
}

func TestCohortMatch(t *testing.T) {
	business := cohorts.Condition{Attribute: "plan", Op: cohorts.OpEq, Values: []string{"business"}}
	recent := cohorts.Condition{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"3.0.0"}}
	members := []cohorts.Member{{ID: "emp-1"}, {ID: "emp-2", Region: "FR"}}

	both := map[string]any{"plan": "business", "appVersion": "3.1.0"}
	one := map[string]any{"plan": "business", "appVersion": "2.0.0"}
	none := map[string]any{"plan": "free"}

	type lookup struct {
		key  string // "" for a context without a targeting key
		ctx  map[string]any
		want bool
	}
	tests := []struct {
		name   string
		cohort cohorts.Cohort
		set    *cohorts.Set
		want   []lookup
	}{
		{
			name:   "members only",
			cohort: cohorts.Cohort{Key: "employees", Members: members},
			want: []lookup{
				{"emp-1", nil, true},
				{"emp-2", none, true},
				{"emp-3", both, false},
				{"", both, false},
				{"EMP-1", nil, false},
			},
		},
		{
			name:   "conditions only",
			cohort: cohorts.Cohort{Key: "business", When: []cohorts.Condition{business, recent}},
			want: []lookup{
				{"u-1", both, true},
				{"", both, true},
				{"u-1", one, false},
				{"u-1", none, false},
				{"u-1", nil, false},
				{"emp-1", none, false},
			},
		},
		{
			name:   "members or every condition",
			cohort: cohorts.Cohort{Key: "beta", Members: members, When: []cohorts.Condition{business, recent}},
			want: []lookup{
				{"emp-1", none, true},
				{"emp-1", nil, true},
				{"u-1", both, true},
				{"", both, true},
				{"u-1", one, false},
				{"", one, false},
				{"u-1", none, false},
			},
		},
		{
			name:   "neither",
			cohort: cohorts.Cohort{Key: "nobody"},
			want: []lookup{
				{"emp-1", both, false},
				{"", nil, false},
				{"", both, false},
			},
		},
		{
			name:   "neither, with an empty prebuilt set",
			cohort: cohorts.Cohort{Key: "nobody"},
			set:    cohorts.NewSet(nil),
			want: []lookup{
				{"emp-1", both, false},
				{"", nil, false},
			},
		},
		{
			name:   "prebuilt set replaces the member list",
			cohort: cohorts.Cohort{Key: "imported", Members: members, MemberCount: 2},
			set:    cohorts.NewSet([]string{"imp-1", "imp-2"}),
			want: []lookup{
				{"imp-1", nil, true},
				{"imp-2", nil, true},
				{"emp-1", nil, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := tt.cohort.Compile(tt.set)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Key() != tt.cohort.Key {
				t.Errorf("Key() = %q, want %q", cc.Key(), tt.cohort.Key)
			}
			for _, l := range tt.want {
				var h uint64
				if l.key != "" {
					h = cohorts.HashID(l.key)
				}
				if got := cc.Match(l.ctx, h, l.key != ""); got != l.want {
					t.Errorf("Match(%v, key %q) = %v, want %v", l.ctx, l.key, got, l.want)
				}
			}
		})
	}
}

// Without a targeting key the id hash is ignored, whatever it holds: a zero
// left in place, or a member's hash from an earlier context.
func TestCohortMatchWithoutTargetingKey(t *testing.T) {
	cc, err := cohorts.Cohort{Key: "employees", Members: []cohorts.Member{{ID: "emp-1"}}}.Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []uint64{0, 1, cohorts.HashID("emp-1")} {
		if cc.Match(nil, h, false) {
			t.Errorf("Match(hash %#x, hasID false) = true, want false", h)
		}
	}
	if cc.Match(nil, 0, true) {
		t.Errorf("Match(hash 0, hasID true) = true, want false")
	}
}

func TestCohortMembers(t *testing.T) {
	rules, err := cohorts.Cohort{Key: "rules", When: []cohorts.Condition{{Attribute: "a", Op: cohorts.OpExists}}}.Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if rules.Members() != nil {
		t.Errorf("rule-only cohort: Members() = %v, want nil", rules.Members())
	}
	listed, err := cohorts.Cohort{Key: "listed", Members: []cohorts.Member{{ID: "a"}, {ID: "b"}, {ID: "a"}}}.Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := listed.Members().Len(); got != 2 {
		t.Errorf("Members().Len() = %d, want 2", got)
	}
	pre := cohorts.NewSet([]string{"x"})
	imported, err := cohorts.Cohort{Key: "imported"}.Compile(pre)
	if err != nil {
		t.Fatal(err)
	}
	if imported.Members() != pre {
		t.Errorf("Members() is not the prebuilt set")
	}
}

func TestCohortMatchDoesNotAllocate(t *testing.T) {
	cc, err := cohorts.Cohort{
		Key:     "beta",
		Members: []cohorts.Member{{ID: "emp-1"}},
		When: []cohorts.Condition{
			{Attribute: "plan", Op: cohorts.OpIn, Values: []string{"business", "enterprise"}},
			{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"3.0.0"}},
		},
	}.Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := map[string]any{"plan": "business", "appVersion": "3.1.0"}
	h := cohorts.HashID("u-1")
	if n := testing.AllocsPerRun(100, func() { cc.Match(ctx, h, true) }); n != 0 {
		t.Errorf("Match allocates %v times per run, want 0", n)
	}
}

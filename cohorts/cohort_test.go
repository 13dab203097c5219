package cohorts_test

import (
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
	for _, id := range []string{
		"u", "emp-1", "ann@example.com", "user id with spaces", "用户-42", "\u00a0nbsp", "emoji-🚀", "\u2028",
		strings.Repeat("x", cohorts.MaxIDLength),
		strings.Repeat("é", cohorts.MaxIDLength/2), // 256 bytes of two-byte runes
	} {
		if err := cohorts.ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{
		"",
		strings.Repeat("x", cohorts.MaxIDLength+1),
		strings.Repeat("é", cohorts.MaxIDLength/2) + "x",
		"\xff", "a\xc3", "\xed\xa0\x80", // invalid UTF-8, including an encoded surrogate
		"a\tb", "a\nb", "a\rb", "\x00", "\x1f", "\x7f",
		"a\u0080", "a\u0085b", "\u009f", // C1 controls
	} {
		if err := cohorts.ValidateID(id); err == nil {
			t.Errorf("ValidateID(%q) = nil, want an error", id)
		}
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

package rollout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

func TestAudienceOfTheScenarioPlan(t *testing.T) {
	p := interop()
	tests := []struct {
		stage int
		want  string
	}{
		{-1, ""},
		{0, "cohort employees=100 (dogfood since dogfood)"},
		{2, "cohort employees=100 (dogfood since dogfood); region US=10 (us-10 since us-1)"},
		{5, "cohort employees=100 (dogfood since dogfood); region US=100 (us-100 since us-1); region CA=25 (na-25 since na-25); region MX=25 (na-25 since na-25)"},
		{6, "cohort employees=100 (dogfood since dogfood); region US=100 (us-100 since us-1); region CA=25 (na-25 since na-25); region MX=25 (na-25 since na-25); region *=5 (world-5 since world-5)"},
	}
	for _, tt := range tests {
		var parts []string
		for _, g := range p.Audience(tt.stage) {
			parts = append(parts, g.Target.String()+"="+g.Percent.String()+" ("+g.SetBy+" since "+g.Since+")")
		}
		if got := strings.Join(parts, "; "); got != tt.want {
			t.Errorf("Audience(%d) = %s\nwant %s", tt.stage, got, tt.want)
		}
	}
}

func TestRulesPutTheHighestShareFirst(t *testing.T) {
	p := interop()
	var names, origins []string
	for _, r := range p.Rules(6, "off") {
		names = append(names, r.Name)
		origins = append(origins, r.Origin.Kind+":"+r.Origin.Key+"/"+r.Origin.Part)
	}
	want := []string{"rollout:dogfood cohort employees", "rollout:us-100 region US", "rollout:na-25 region CA",
		"rollout:na-25 region MX", "rollout:world-5 region *"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("rules = %q\nwant %q", names, want)
	}
	wantOrigins := []string{"rollout:messenger-ig-interop/dogfood", "rollout:messenger-ig-interop/us-100", "rollout:messenger-ig-interop/na-25",
		"rollout:messenger-ig-interop/na-25", "rollout:messenger-ig-interop/world-5"}
	if strings.Join(origins, "|") != strings.Join(wantOrigins, "|") {
		t.Errorf("origins = %q\nwant %q", origins, wantOrigins)
	}
}

func TestScenarioPlanDecisions(t *testing.T) {
	st := world()
	r := rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Stage: "world-5"}}
	snap, err := flags.Compile(rollout.Apply(st, []rollout.Rollout{r}), 1)
	if err != nil {
		t.Fatal(err)
	}
	// Shares by region over 40,000 users each.
	share := func(region string) float64 {
		on := 0
		const n = 40000
		for i := range n {
			d := snap.Evaluate("messenger-ig-interop", map[string]any{"targetingKey": "u" + region + string(rune('a'+i%26)) + itoa(i), "region": region})
			if d.Variant == "on" {
				on++
			}
		}
		return float64(on) / n * 100
	}
	for region, want := range map[string]float64{"US": 100, "CA": 25, "MX": 25, "FR": 5, "BR": 5} {
		if got := share(region); got < want-1 || got > want+1 {
			t.Errorf("%s: %.2f%% get the feature, want %v%%", region, got, want)
		}
	}
	d := snap.Evaluate("messenger-ig-interop", map[string]any{"targetingKey": "emp-1", "region": "FR"})
	if d.Variant != "on" || d.RuleName != "rollout:dogfood cohort employees" || d.Origin == nil || d.Origin.Part != "dogfood" {
		t.Errorf("employee in FR: %s by %q (origin %+v)", d.Variant, d.RuleName, d.Origin)
	}
	// The flag's own rules still come first.
	st.Flags[0].Rules = []flags.Rule{{Name: "qa-off", Regions: []string{"US"}, When: []cohorts.Condition{{Attribute: "app", Op: "eq", Values: []string{"qa"}}}, Serve: "off"}}
	snap, err = flags.Compile(rollout.Apply(st, []rollout.Rollout{r}), 2)
	if err != nil {
		t.Fatal(err)
	}
	if d := snap.Evaluate("messenger-ig-interop", map[string]any{"targetingKey": "x", "region": "US", "app": "qa"}); d.Variant != "off" || d.RuleName != "qa-off" || d.Origin != nil {
		t.Errorf("the flag's own rule: %s by %q", d.Variant, d.RuleName)
	}
}

func itoa(i int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}

func TestValidate(t *testing.T) {
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	tests := []struct {
		name string
		edit func(p *rollout.Plan)
		want []string // substrings of the problems, in order; none for a valid plan
	}{
		{"the scenario plan", func(*rollout.Plan) {}, nil},
		{"unknown flag", func(p *rollout.Plan) { p.Flag = "nope" }, []string{`rollouts[0].flag: unknown flag "nope"`}},
		{"no variant", func(p *rollout.Plan) { p.Variant = "" }, []string{"rollouts[0].variant: variant is required"}},
		{"unknown variant", func(p *rollout.Plan) { p.Variant = "maybe" }, []string{`unknown variant "maybe"`}},
		{"the default variant", func(p *rollout.Plan) { p.Variant = "off" }, []string{`variant "off" is the flag's default`}},
		{"no stages", func(p *rollout.Plan) { p.Stages = nil }, []string{"rollouts[0].stages: a plan needs at least one stage"}},
		{"unknown cohort", func(p *rollout.Plan) { p.Stages[0].Cohorts = []string{"staff"} },
			[]string{`rollouts[0].stages[0].cohorts[0]: unknown cohort "staff"`}},
		{"unknown region", func(p *rollout.Plan) { p.Stages[1].Regions = []string{"XX"} },
			[]string{"rollouts[0].stages[1].regions[0]:"}},
		{"bad condition", func(p *rollout.Plan) {
			p.Stages[1].When = []cohorts.Condition{{Attribute: "appVersion", Op: "semver_gte", Values: []string{"x"}}}
		}, []string{"rollouts[0].stages[1].when[0]:"}},
		{"duplicate stage", func(p *rollout.Plan) { p.Stages[2].Name = "us-1" }, []string{`rollouts[0].stages[2].name: duplicate stage name "us-1" (also stages[1])`}},
		{"bad stage name", func(p *rollout.Plan) { p.Stages[2].Name = "us 10" }, []string{"rollouts[0].stages[2].name: stage name:"}},
		{"lowered", func(p *rollout.Plan) { p.Stages[3].Percent = 500 },
			[]string{"rollouts[0].stages[3].percent: stage us-50 lowers region US from 10% to 5%", "decrease: true"}},
		{"lowered on purpose", func(p *rollout.Plan) { p.Stages[3].Percent, p.Stages[3].Decrease = 500, true }, nil},
		{"lowered by a later stage naming a group member", func(p *rollout.Plan) {
			p.Stages[5].Regions, p.Stages[5].Percent = []string{"US", "CA"}, 2500
		}, []string{"stage na-25 lowers region US from 100% to 25%"}},
		{"replace drops on purpose", func(p *rollout.Plan) { p.Stages[6].Replace = true }, nil},
		{"after on the first stage", func(p *rollout.Plan) { p.Stages[0].After = hour },
			[]string{"rollouts[0].stages[0].after: the first stage has no previous stage"}},
		{"at going backwards", func(p *rollout.Plan) {
			p.Stages[1].At, p.Stages[2].At = at("2026-12-01T00:00:00Z"), at("2026-11-30T00:00:00Z")
		}, []string{"rollouts[0].stages[2].at: at 2026-11-30T00:00:00Z is before stages[1] (us-1)"}},
		{"over 100", func(p *rollout.Plan) { p.Stages[1].Percent = 10001 }, []string{"outside 0–100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := interop()
			tt.edit(&p)
			st := world()
			err := rollout.Validate([]rollout.Plan{p}, &st)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("valid plan refused: %v", err)
				}
				return
			}
			var ve *flags.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *flags.ValidationError", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
	t.Run("two plans for one flag", func(t *testing.T) {
		st := world()
		err := rollout.Validate([]rollout.Plan{interop(), interop()}, &st)
		if err == nil || !strings.Contains(err.Error(), `rollouts[1].flag: flag "messenger-ig-interop" already has a plan (rollouts[0])`) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"48h": 48 * time.Hour, "90m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "1h30m": 90 * time.Minute, "0s": 0} {
		d, err := rollout.ParseDuration(in)
		if err != nil || time.Duration(d) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
		back, err := rollout.ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("%q → %q → %v, %v", in, d.String(), back, err)
		}
	}
	for _, bad := range []string{"", "-1h", "2 days", "1.5d", "d", "48"} {
		if _, err := rollout.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	for d, want := range map[time.Duration]string{168 * time.Hour: "168h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 0: "0s", time.Second: "1s"} {
		if s := rollout.Duration(d).String(); s != want {
			t.Errorf("%v prints as %q, want %q", d, s, want)
		}
	}
	if s := rollout.Duration(48 * time.Hour).String(); s != "48h" {
		t.Errorf("48h prints as %q", s)
	}
}

// FuzzParseDuration: durations from files and flags parse without panic,
// and whatever parses prints back to the same duration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"48h", "7d", "1h30m", "0s", "90m", "-1h", "1.5h", "d", "9999999999d", "2562047h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := rollout.ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		back, err := rollout.ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("%q → %v → %q → %v, %v", s, time.Duration(d), d.String(), time.Duration(back), err)
		}
	})
}

package rollout

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
)

// Plan is a flag's staged rollout: the variant being rolled out and the
// stages that widen its audience, in order.
type Plan struct {
	// Flag is the key of the flag the plan belongs to; a flag has at most
	// one plan.
	Flag string `json:"flag"`
	// Variant is what admitted users get; everyone else the plan targets
	// gets the flag's default variant.
	Variant string  `json:"variant"`
	Stages  []Stage `json:"stages"`
}

// Stage is one step of a plan. Its targets are each of its cohorts and each
// of its region selectors (a stage with neither targets everyone), each
// restricted by the stage's conditions; Percent of each target's users get
// the rollout variant. Stages are cumulative: see Audience.
type Stage struct {
	Name    string              `json:"name"`
	Cohorts []string            `json:"cohorts,omitempty"`
	Regions []string            `json:"regions,omitempty"`
	When    []cohorts.Condition `json:"when,omitempty"`
	Percent flags.Percent       `json:"percent"`
	// After is how long after the previous stage began the schedule may
	// start this one; 0 when the stage has no delay.
	After Duration `json:"after,omitempty"`
	// At is the earliest time the schedule may start this stage; nil when
	// none is set. A stage with neither After nor At is started by hand.
	At *time.Time `json:"at,omitempty"`
	// Approval requires a second person's approval before the stage starts,
	// whether a person or the schedule asked for it.
	Approval bool `json:"approval,omitempty"`
	// Halt makes the stage a hold point: the schedule never advances past
	// it on its own.
	Halt bool `json:"halt,omitempty"`
	// Decrease allows the stage to lower the percentage of targets that
	// earlier stages gave more; without it validation refuses.
	Decrease bool `json:"decrease,omitempty"`
	// Replace makes the stage's targets the whole audience: targets of
	// earlier stages that it does not name are dropped (and those it names
	// may be lowered).
	Replace bool `json:"replace,omitempty"`
	// Guardrails are the metrics the stage watches while it is live, its
	// split comparing the users of its targets that get the variant with
	// those that do not (see guard.go). MinSample, when set, holds the
	// stage until each side of the split has that many exposed units;
	// OnRegression says what a regression does (ReactPause when empty).
	Guardrails   []Guardrail `json:"guardrails,omitempty"`
	MinSample    int64       `json:"minSample,omitempty"`
	OnRegression Reaction    `json:"onRegression,omitempty"`
}

// Scheduled reports whether the schedule may start the stage on its own.
func (s *Stage) Scheduled() bool { return s.After > 0 || s.At != nil }

// TakesAway reports whether the stage may take the feature away from some
// users (it lowers or drops targets explicitly).
func (s *Stage) TakesAway() bool { return s.Decrease || s.Replace }

// Duration is a time.Duration written as Go writes durations ("48h",
// "90m"), or with a day unit ("7d"), in configuration and JSON.
type Duration time.Duration

// maxDays is the longest duration in days that a time.Duration holds.
const maxDays = int(time.Duration(1<<63-1) / (24 * time.Hour))

// ParseDuration reads a duration such as "48h", "1h30m" or "7d". It refuses
// negative durations.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && !strings.ContainsAny(days, "hmsuµn") {
		n, err := strconv.Atoi(days)
		if err != nil || strconv.Itoa(n) != days || n < 0 {
			return 0, fmt.Errorf("invalid duration %q: want e.g. 48h, 90m or 7d", s)
		}
		if n > maxDays {
			return 0, fmt.Errorf("invalid duration %q: at most %d days", s, maxDays)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 48h, 90m or 7d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return Duration(d), nil
}

// String writes the duration as Go does, without zero units: "48h",
// "1h30m", "168h" (days are read but not written, so that an exported
// plan reads as plans are usually written: 168h for a week).
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration as ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// StageNames returns the names of the stages, in order.
func (p *Plan) StageNames() []string {
	names := make([]string, len(p.Stages))
	for i := range p.Stages {
		names[i] = p.Stages[i].Name
	}
	return names
}

// StageIndex returns the position of the named stage, or -1.
func (p *Plan) StageIndex(name string) int {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return i
		}
	}
	return -1
}

// Target is one group of users a stage gives a percentage to: a cohort, a
// region selector (a country, a group such as NA, or * for everywhere), or
// everyone, restricted by conditions.
type Target struct {
	Cohort string              `json:"cohort,omitempty"`
	Region string              `json:"region,omitempty"`
	When   []cohorts.Condition `json:"when,omitempty"`
}

// String names the target as status and errors show it: "cohort employees",
// "region US", "everyone", with " when …" for conditions.
func (t Target) String() string {
	var s string
	switch {
	case t.Cohort != "":
		s = "cohort " + t.Cohort
	case t.Region != "":
		s = "region " + t.Region
	default:
		s = "everyone"
	}
	if len(t.When) > 0 {
		conds := make([]string, len(t.When))
		for i, c := range t.When {
			conds[i] = c.String()
		}
		s += " when " + strings.Join(conds, " and ")
	}
	return s
}

// Targets returns the stage's targets in the order it names them.
func (s *Stage) Targets() []Target {
	var out []Target
	for _, c := range s.Cohorts {
		out = append(out, Target{Cohort: c, When: s.When})
	}
	for _, r := range s.Regions {
		out = append(out, Target{Region: r, When: s.When})
	}
	if len(out) == 0 {
		out = append(out, Target{When: s.When})
	}
	return out
}

// Grant is a target's share of the audience at some stage.
type Grant struct {
	Target  Target        `json:"target"`
	Percent flags.Percent `json:"percent"`
	// SetBy is the stage that gave the target its current percentage; Since
	// the first stage from which the target had any share without a break.
	SetBy string `json:"setBy"`
	Since string `json:"since"`
}

// Audience returns who gets the rollout variant once stage k is live: every
// target named by stages 0…k with the percentage the latest of them gave it,
// in the order targets first appear. A Replace stage starts the list afresh.
// A user gets the variant when any target they belong to admits them; since
// all of a flag's targets share its bucketing, that is when their bucket is
// below the highest percentage among the targets they belong to. k = -1 (not
// started) has no audience.
func (p *Plan) Audience(k int) []Grant {
	var out []Grant
	index := map[string]int{}
	for i := 0; i <= k && i < len(p.Stages); i++ {
		st := &p.Stages[i]
		if st.Replace {
			kept := out[:0:0]
			keptIndex := map[string]int{}
			for _, t := range st.Targets() {
				if j, ok := index[t.String()]; ok {
					g := out[j]
					keptIndex[t.String()] = len(kept)
					kept = append(kept, g)
				}
			}
			out, index = kept, keptIndex
		}
		for _, t := range st.Targets() {
			key := t.String()
			if j, ok := index[key]; ok {
				if out[j].Percent == 0 && st.Percent > 0 {
					out[j].Since = st.Name
				}
				out[j].Percent, out[j].SetBy = st.Percent, st.Name
				continue
			}
			index[key] = len(out)
			out = append(out, Grant{Target: t, Percent: st.Percent, SetBy: st.Name, Since: st.Name})
		}
	}
	return out
}

// Step is how one target's percentage changes between two stages.
type Step struct {
	Target Target        `json:"target"`
	From   flags.Percent `json:"from"`
	To     flags.Percent `json:"to"`
}

// Changes lists the targets whose percentage differs between stage from and
// stage to (either may be -1, not started), in the order they first appear.
func (p *Plan) Changes(from, to int) []Step {
	before := map[string]flags.Percent{}
	var order []Target
	seen := map[string]bool{}
	for _, g := range p.Audience(from) {
		before[g.Target.String()] = g.Percent
		seen[g.Target.String()] = true
		order = append(order, g.Target)
	}
	after := map[string]flags.Percent{}
	for _, g := range p.Audience(to) {
		after[g.Target.String()] = g.Percent
		if !seen[g.Target.String()] {
			seen[g.Target.String()] = true
			order = append(order, g.Target)
		}
	}
	var out []Step
	for _, t := range order {
		a, b := before[t.String()], after[t.String()]
		if a != b {
			out = append(out, Step{Target: t, From: a, To: b})
		}
	}
	return out
}

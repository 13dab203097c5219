package rollout

import (
	"fmt"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
)

// Validate checks plans against the configuration they will run in (the
// flags and cohorts that will be stored with them) and returns every
// problem, with paths such as "rollouts[0].stages[2].percent", as a
// *flags.ValidationError; nil when all plans are sound.
//
// A plan is sound when its flag exists and has no other plan, its variant is
// one of the flag's and not its default, its stages have distinct names,
// name known cohorts, valid region selectors and well-formed conditions, and
// no stage lowers a target's percentage unless it says so (Decrease or
// Replace). Only the first stage may lack a previous stage to count After
// from, so it may not set After.
func Validate(plans []Plan, st *flags.State) error {
	cohortKeys := make(map[string]bool, len(st.Cohorts))
	for _, c := range st.Cohorts {
		cohortKeys[c.Key] = true
	}
	var ps []flags.Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, flags.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	seen := map[string]int{}
	for i := range plans {
		p := &plans[i]
		path := fmt.Sprintf("rollouts[%d]", i)
		f, ok := st.Flag(p.Flag)
		switch {
		case p.Flag == "":
			add(path+".flag", "flag is required")
		case !ok:
			add(path+".flag", "unknown flag %q", p.Flag)
		}
		if j, dup := seen[p.Flag]; dup && p.Flag != "" {
			add(path+".flag", "flag %q already has a plan (rollouts[%d])", p.Flag, j)
		}
		seen[p.Flag] = i
		validatePlan(p, f, cohortKeys, path, add)
	}
	if len(ps) > 0 {
		return &flags.ValidationError{Problems: ps}
	}
	return nil
}

func validatePlan(p *Plan, f *flags.Flag, cohortKeys map[string]bool, path string, add func(string, string, ...any)) {
	switch {
	case p.Variant == "":
		add(path+".variant", "variant is required: the variant the plan rolls out")
	case f != nil && f.VariantIndex(p.Variant) < 0:
		add(path+".variant", "unknown variant %q of flag %s", p.Variant, f.Key)
	case f != nil && p.Variant == f.DefaultVariant:
		add(path+".variant", "variant %q is the flag's default, which everyone outside the plan already gets", p.Variant)
	}
	if len(p.Stages) == 0 {
		add(path+".stages", "a plan needs at least one stage")
	}
	names := map[string]int{}
	for j := range p.Stages {
		s := &p.Stages[j]
		sp := fmt.Sprintf("%s.stages[%d]", path, j)
		if err := cohorts.ValidateKey(s.Name); err != nil {
			add(sp+".name", "stage name: %v", err)
		} else if k, dup := names[s.Name]; dup {
			add(sp+".name", "duplicate stage name %q (also stages[%d])", s.Name, k)
		}
		names[s.Name] = j
		for k, c := range s.Cohorts {
			if !cohortKeys[c] {
				add(fmt.Sprintf("%s.cohorts[%d]", sp, k), "unknown cohort %q", c)
			}
		}
		for k, sel := range s.Regions {
			if _, _, err := cohorts.ExpandSelector(sel); err != nil {
				add(fmt.Sprintf("%s.regions[%d]", sp, k), "%v", err)
			}
		}
		for k, cond := range s.When {
			if _, err := cond.Compile(); err != nil {
				add(fmt.Sprintf("%s.when[%d]", sp, k), "%v", err)
			}
		}
		if s.Percent < 0 || s.Percent > flags.Hundred {
			add(sp+".percent", "percentage %s is outside 0–100", s.Percent)
		}
		validateGuards(s, sp, add) // guard.go
		if j == 0 && s.After > 0 {
			add(sp+".after", "the first stage has no previous stage to wait for: start it by hand or give it at: TIME")
		}
		if s.At != nil && j > 0 {
			for k := j - 1; k >= 0; k-- {
				if prev := p.Stages[k].At; prev != nil {
					if s.At.Before(*prev) {
						add(sp+".at", "at %s is before stages[%d] (%s) at %s", s.At.UTC().Format("2006-01-02T15:04:05Z"),
							k, p.Stages[k].Name, prev.UTC().Format("2006-01-02T15:04:05Z"))
					}
					break
				}
			}
		}
		if j == 0 || s.TakesAway() {
			continue
		}
		before := map[string]flags.Percent{}
		for _, g := range p.Audience(j - 1) {
			before[g.Target.String()] = g.Percent
		}
		for _, t := range s.Targets() {
			if old, ok := before[t.String()]; ok && s.Percent < old {
				add(sp+".percent", "stage %s lowers %s from %s%% to %s%%, taking the feature away from users who have it; "+
					"set decrease: true on the stage if that is intended", s.Name, t, old, s.Percent)
			}
		}
	}
}

package rollout

import (
	"cmp"
	"slices"

	"github.com/ramp-flags/ramp/flags"
)

// RulePrefix starts the name of every rule a plan contributes to its flag,
// so that people reading a decision see which stage admitted a user:
// "rollout:us-10 region US". Programs read the rule's Origin instead.
const RulePrefix = "rollout:"

// Rules returns the targeting rules that serve the plan's audience at stage
// k (see Audience): one per target with a share, the highest percentage
// first, each serving the plan's variant to that percentage of the target
// and defaultVariant to the rest. Because every rule of a flag buckets users
// the same way, "first matching rule decides" then admits exactly the users
// whose bucket is below the highest percentage among the targets they
// belong to. A target at 0% contributes no rule.
//
// When stage k is guarded (Compares), the rules of the targets it sets
// carry its Phase and ExperimentKey in their Origin: their decisions are
// exposures, on both sides of the split (Apply adds the flag's bucketBy as
// the Origin's Unit).
func (p *Plan) Rules(k int, defaultVariant string) []flags.Rule {
	grants := slices.DeleteFunc(p.Audience(k), func(g Grant) bool { return g.Percent <= 0 })
	slices.SortStableFunc(grants, func(a, b Grant) int { return cmp.Compare(b.Percent, a.Percent) })
	rules := make([]flags.Rule, 0, len(grants))
	guarded := k >= 0 && k < len(p.Stages) && p.Stages[k].Compares()
	for _, g := range grants {
		r := flags.Rule{Name: RuleName(g), When: g.Target.When, Origin: &flags.Origin{Kind: OriginKind, Key: p.Flag, Part: g.SetBy}}
		if guarded && g.SetBy == p.Stages[k].Name && g.Percent < flags.Hundred {
			r.Origin.Phase, r.Origin.Experiment = Phase(k), ExperimentKey(p.Flag)
		}
		if g.Target.Cohort != "" {
			r.Cohorts = []string{g.Target.Cohort}
		}
		if g.Target.Region != "" {
			r.Regions = []string{g.Target.Region}
		}
		if g.Percent >= flags.Hundred {
			r.Serve = p.Variant
		} else {
			r.Rollout = []flags.Split{{Variant: p.Variant, Weight: g.Percent}, {Variant: defaultVariant, Weight: flags.Hundred - g.Percent}}
		}
		rules = append(rules, r)
	}
	return rules
}

// RuleName names the rule a grant becomes: the stage that set its
// percentage and the target.
func RuleName(g Grant) string { return RulePrefix + g.SetBy + " " + g.Target.String() }

// OriginKind is the Origin.Kind of the rules a plan adds: their Origin's
// Key is the flag and Part the stage that set the target's percentage
// (flags.OriginRollout).
const OriginKind = flags.OriginRollout

// Apply returns the state evaluation runs on: st with the rules of each
// rollout's live stage appended to its flag's own rules. A flag's own rules
// come first, so they can force a variant on a group (QA accounts, a
// deny-list) whatever the plan says; the plan decides for the users they do
// not match; the default variant goes to everyone else. The kill switch
// (a disabled flag) overrides both. st is not modified; flags without a live
// plan are shared with it. A guarded stage's rules record exposures of the
// unit the flag buckets by (Origin.Unit: its bucketBy).
func Apply(st flags.State, rollouts []Rollout) flags.State {
	if len(rollouts) == 0 {
		return st
	}
	byFlag := make(map[string]*Rollout, len(rollouts))
	for i := range rollouts {
		byFlag[rollouts[i].Flag] = &rollouts[i]
	}
	out := st
	out.Flags = slices.Clone(st.Flags)
	for i := range out.Flags {
		f := &out.Flags[i]
		r, ok := byFlag[f.Key]
		if !ok {
			continue
		}
		live := r.Live()
		if live < 0 {
			continue
		}
		added := r.Rules(live, f.DefaultVariant)
		for j := range added {
			if o := added[j].Origin; o.Phase > 0 {
				o.Unit = f.BucketBy
			}
		}
		f.Rules = append(slices.Clip(f.Rules), added...)
	}
	return out
}

package experiment

import (
	"slices"

	"github.com/ramp-flags/ramp/flags"
)

// RulePrefix starts the name of every rule an experiment adds to its flag
// ("experiment:dm-handoff-vs-inline"), for people reading a decision;
// programs read the rule's Origin.
const RulePrefix = "experiment:"

// Rules returns the rules an experiment adds to its flag, in layer l (see
// LayerOf):
//
//   - Running: one rule, named RulePrefix + Key, that matches the audience
//     (its regions, cohorts and conditions) and then the experiment's share
//     of the layer (a Sample of the current phase's buckets under the
//     layer's salt and bucketBy), and serves the arm the phase's table
//     gives the unit (an Allocation under the experiment's own salt and the
//     layer's bucketBy). Its Origin is {Kind: experiment, Key, Phase: the
//     current phase, Part: "", Unit: the layer's bucketBy}: one rule
//     serves every arm, so the arm is the decision's Variant (arms are
//     variants of the flag), not Origin.Part.
//   - Stopped with a shipped arm: one rule, named the same, that serves the
//     shipped arm to the whole audience (no sample). Its Origin has Phase 0,
//     which says that no experiment is running (record no exposure for
//     it), and Part the shipped arm.
//   - Draft, paused, stopped without a shipped arm, or stopped with its
//     arm handed to a rollout plan (ShipVia ShipViaRollout): none, so the
//     flag's other rules (and its plan) decide.
func Rules(l Layer, e *Experiment) []flags.Rule {
	r := flags.Rule{
		Name:    RulePrefix + e.Key,
		Regions: slices.Clone(e.Audience.Regions),
		Cohorts: slices.Clone(e.Audience.Cohorts),
		When:    slices.Clone(e.Audience.When),
	}
	switch {
	case e.Status == Running && len(e.Phases) > 0:
		cur := e.Current()
		r.Sample = &flags.Sample{BucketBy: l.BucketBy, Salt: l.EffectiveSalt(), Buckets: slices.Clone(cur.Buckets)}
		r.Allocation = &flags.Allocation{BucketBy: l.BucketBy, Salt: e.EffectiveSalt(), Ranges: slices.Clone(cur.Table)}
		r.Origin = &flags.Origin{Kind: flags.OriginExperiment, Key: e.Key, Phase: cur.Number, Unit: l.BucketBy}
	case e.Status == Stopped && e.Shipped != "" && e.ShipVia != ShipViaRollout:
		r.Serve = e.Shipped
		r.Origin = &flags.Origin{Kind: flags.OriginExperiment, Key: e.Key, Part: e.Shipped, Unit: l.BucketBy}
	default:
		return nil
	}
	return []flags.Rule{r}
}

// Apply returns st with each experiment's rules (Rules) appended to its
// flag's own rules: the flag's rules come first, so they can still force a
// variant on a group (QA accounts, a deny-list). Running experiments'
// rules come before the shipped arms of stopped ones, so that a new
// experiment on a flag whose earlier experiment shipped can still reach
// its audience; within each group, experiments keep their order in exps.
// Experiments whose flag or layer is unknown add nothing (Validate reports
// them). It is pure: st is not modified, and flags without experiment
// rules are shared with it.
func Apply(st flags.State, layers []Layer, exps []Experiment) flags.State {
	added := map[string][]flags.Rule{}
	for _, running := range []bool{true, false} {
		for i := range exps {
			e := &exps[i]
			if (e.Status == Running) != running {
				continue
			}
			l, ok := LayerOf(e, layers, &st)
			if !ok {
				continue
			}
			added[e.Flag] = append(added[e.Flag], Rules(l, e)...)
		}
	}
	if len(added) == 0 {
		return st
	}
	out := st
	out.Flags = slices.Clone(st.Flags)
	for i := range out.Flags {
		f := &out.Flags[i]
		if rs := added[f.Key]; len(rs) > 0 {
			f.Rules = append(slices.Clip(f.Rules), rs...)
		}
	}
	return out
}

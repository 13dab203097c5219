package admin

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// The handoff of a stopped experiment's flag to a rollout plan
// (`ramp experiments stop KEY --ship ARM --rollout`).
//
// The plan serves the shipped arm to the experiment's audience in three
// stages, started by hand after the first (ramp rollout advance; edit the
// plan to schedule them):
//
//	from-experiment  the experiment's share: its current phase's traffic,
//	                 as a percentage of the audience (live at once)
//	half             50%, when the share was below it
//	all              100%, when the share was below it
//
// The experiment's traffic is a share of its layer, and the layer's
// buckets are uniform, so the first stage reaches as many of the audience
// as the experiment did (all arms together), but not the same units: a
// plan buckets by the flag's bucketBy and salt, not the layer's. A plan
// stage targets any of its cohorts or regions, where an audience asks for
// both: an audience with cohorts and regions becomes the cohorts with a
// condition on the region attribute (matches the audience's countries,
// case-insensitively, as region selectors do).

// Stage names of a handoff plan.
const (
	HandoffFirstStage = "from-experiment"
	HandoffHalfStage  = "half"
	HandoffAllStage   = "all"
)

// handoff checks that e's flag may be handed to a plan (env.Rollout nil,
// the arm not the flag's default) and returns the plan, its first stage
// live, for a stopped experiment e whose current phase took share.
func handoff(e *experiment.Experiment, env *store.ExperimentEnv, share flags.Percent) (*rollout.Rollout, error) {
	if r := env.Rollout; r != nil {
		return nil, ramp.Errorf(ramp.KindRefused, "experiment %s: flag %s already has a rollout plan (rolling out %s, %s): a flag has one plan; delete it first, or ship the arm without a plan",
			e.Key, e.Flag, r.Variant, rolloutWords(r))
	}
	f, ok := env.State.Flag(e.Flag)
	if !ok {
		return nil, ramp.Errorf(ramp.KindNotFound, "experiment %s: flag %s not found", e.Key, e.Flag)
	}
	if e.Shipped == f.DefaultVariant {
		return nil, ramp.Errorf(ramp.KindRefused, "experiment %s: %s is flag %s's default variant: everyone the flag's rules do not decide for gets it already, so no plan is needed; ship it without a plan, or stop without shipping",
			e.Key, e.Shipped, e.Flag)
	}
	plan, err := handoffPlan(e, share)
	if err != nil {
		return nil, err
	}
	if err := rollout.Validate([]rollout.Plan{plan}, env.State); err != nil {
		return nil, fmt.Errorf("experiment %s: the plan serving %s: %w", e.Key, e.Shipped, err)
	}
	return &rollout.Rollout{Plan: plan, Progress: rollout.Progress{Stage: plan.Stages[0].Name, Since: env.Now, By: env.Actor}}, nil
}

// rolloutWords says where a plan stands: "not started" or "at stage X".
func rolloutWords(r *rollout.Rollout) string {
	if r.Progress.Stage == "" {
		return "not started"
	}
	return "at stage " + r.Progress.Stage
}

// handoffPlan derives the plan serving e's shipped arm to its audience,
// starting at share (see the comment at the top of this file).
func handoffPlan(e *experiment.Experiment, share flags.Percent) (rollout.Plan, error) {
	a := e.Audience
	stage := rollout.Stage{Cohorts: slices.Clone(a.Cohorts), Regions: slices.Clone(a.Regions), When: slices.Clone(a.When)}
	if len(a.Cohorts) > 0 && len(a.Regions) > 0 {
		cond, everywhere, err := regionCondition(a.Regions)
		if err != nil {
			return rollout.Plan{}, ramp.Errorf(ramp.KindInvalid, "experiment %s: audience regions: %v", e.Key, err)
		}
		stage.Regions = nil
		if !everywhere {
			stage.When = append(stage.When, cond)
		}
	}
	plan := rollout.Plan{Flag: e.Flag, Variant: e.Shipped}
	for _, st := range []struct {
		name string
		pct  flags.Percent
	}{{HandoffFirstStage, share}, {HandoffHalfStage, flags.Hundred / 2}, {HandoffAllStage, flags.Hundred}} {
		if n := len(plan.Stages); n > 0 && st.pct <= plan.Stages[n-1].Percent {
			continue
		}
		s := stage
		s.Name, s.Percent = st.name, st.pct
		s.Cohorts, s.Regions, s.When = slices.Clone(stage.Cohorts), slices.Clone(stage.Regions), slices.Clone(stage.When)
		plan.Stages = append(plan.Stages, s)
	}
	return plan, nil
}

// regionCondition returns a condition that holds for a context whose
// region attribute is one of the countries the selectors name, in any
// case; everywhere when a selector is "*".
func regionCondition(selectors []string) (c cohorts.Condition, everywhere bool, err error) {
	var codes []string
	for _, sel := range selectors {
		cs, all, err := cohorts.ExpandSelector(sel)
		if err != nil {
			return c, false, err
		}
		if all {
			return c, true, nil
		}
		for _, r := range cs {
			codes = append(codes, regexp.QuoteMeta(string(r)))
		}
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	return cohorts.Condition{Attribute: flags.RegionAttribute, Op: cohorts.OpMatches, Values: []string{"(?i)^(?:" + strings.Join(codes, "|") + ")$"}}, false, nil
}

// stageWords describes a handoff plan's stages: "20% of its audience
// (then 50%, 100%, advanced by hand)".
func stageWords(r *rollout.Rollout) string {
	s := fmt.Sprintf("%s%% of its audience", r.Stages[0].Percent)
	if len(r.Stages) > 1 {
		var rest []string
		for _, st := range r.Stages[1:] {
			rest = append(rest, st.Percent.String()+"%")
		}
		s += " (then " + strings.Join(rest, ", ") + ", advanced by hand)"
	}
	return s
}

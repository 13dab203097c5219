package admin

import (
	"context"
	"time"

	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/rollout"
)

// Guarded rollout stages (rollout/guard.go): a guarded stage's split is
// recorded as exposures of rollout.ExperimentKey(flag), phase the stage's
// number. Its minimum sample holds the stage: a person's advance or
// approval, and the schedule, refuse to leave it forward until each side
// of its split holds MinSample exposed units (rollout.Rollout.MayLeave,
// checked inside the move's transaction on the plan as stored then, with
// the counts read just before). A person's forced move overrides it and is
// audited as forced. The controller's verdicts and halts are in
// safety_halt.go.

// guardCounts are a plan's exposed units per phase (stage) and arm,
// units seen on both sides left out.
type guardCounts map[int]map[string]int64

// readGuardCounts reads a plan's exposure counts, when any of its stages
// holds for a minimum sample or compares (nil otherwise: nothing to read).
func (s *Service) readGuardCounts(ctx context.Context, r *rollout.Rollout) (guardCounts, error) {
	guarded := false
	for i := range r.Stages {
		guarded = guarded || r.Stages[i].Compares()
	}
	if !guarded {
		return nil, nil
	}
	counts, err := s.events().ExposureCounts(ctx, rollout.ExperimentKey(r.Flag))
	if err != nil {
		return nil, err
	}
	out := guardCounts{}
	for _, c := range counts {
		if out[c.Phase] == nil {
			out[c.Phase] = map[string]int64{}
		}
		out[c.Phase][c.Arm] += c.Units - c.MultiArm
	}
	return out, nil
}

// sample returns the exposed units each side of the live stage's split
// holds: the plan's variant, and the rest (the default).
func (g guardCounts) sample(r *rollout.Rollout) rollout.Sample {
	var out rollout.Sample
	live := r.Live()
	if live < 0 {
		return out
	}
	for arm, n := range g[rollout.Phase(live)] {
		if arm == r.Variant {
			out.Treatment += n
		} else {
			out.Control += n
		}
	}
	return out
}

// mayLeave applies rollout.MayLeave to r with counts read before the
// move; a forced move is let through (and audited as forced).
func mayLeave(r *rollout.Rollout, g guardCounts, force bool) (held bool, err error) {
	if err := r.MayLeave(g.sample(r)); err != nil {
		if force {
			return true, nil
		}
		return true, err
	}
	return false, nil
}

// GuardStatus is the live guarded stage's comparison, as `ramp rollout
// status` shows it: each guardrail's verdict and data, the units each side
// holds against the minimum sample, and whether the controller judges it.
type GuardStatus struct {
	Stage string `json:"stage"`
	// Phase is the stage's number, under which both sides are recorded
	// as exposures of Experiment (rollout.ExperimentKey).
	Phase      int    `json:"phase"`
	Experiment string `json:"experiment"`
	safety.StageJudgement
	// Judged says the controller judges the stage on its passes: it is
	// live, the plan is not paused, and no person resumed it after the
	// controller halted it (Overridden).
	Judged     bool `json:"judged"`
	Overridden bool `json:"overridden,omitempty"`
}

// guardStatus fills a plan's status with its live guarded stage's
// comparison, and holds its next stage while the minimum sample is not
// there. verdicts computes the guardrails' verdicts (safety_halt.go).
func (s *Service) guardStatus(ctx context.Context, r *rollout.Rollout, st *RolloutStatus) error {
	live := r.Live()
	if live < 0 || !r.Stages[live].Compares() {
		return nil
	}
	g, err := s.readGuardCounts(ctx, r)
	if err != nil {
		return err
	}
	stage := &r.Stages[live]
	j, err := s.judgeStage(ctx, r, g, s.Now())
	if err != nil {
		return err
	}
	gs := &GuardStatus{Stage: stage.Name, Phase: rollout.Phase(live), Experiment: rollout.ExperimentKey(r.Flag), StageJudgement: j, Judged: r.Judged()}
	if h := r.Progress.Halted; h != nil && h.Stage == stage.Name && !h.At.Before(r.Progress.Since) && !r.Progress.Paused {
		gs.Overridden = true
	}
	st.Guard = gs
	if err := r.MayLeave(j.Sample); err != nil && (st.Next.Blocked == "" || st.Next.Blocked == noSchedule) {
		st.Next.Blocked, st.Next.Due = err.Error(), time.Time{}
	}
	return nil
}

// noSchedule is rollout.Next's Blocked for a stage started by hand.
const noSchedule = "no schedule: advance by hand"

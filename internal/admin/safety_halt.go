package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/experiment/stats"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// The guardrail pass: the schedule's pass (Tick) first judges every live
// guarded stage (rollout.Rollout.Judged: it compares, the plan is not
// paused, no person overrode a halt of it), at most every
// SafetyOptions.CheckEvery per stage and server. For each guardrail metric
// it asks the store for the two sides' sufficient statistics (ArmStats on
// rollout:<flag>, the stage's phase; the per-unit totals that compaction
// makes), judges them with safety.JudgeGuardrail, and decides with
// safety.JudgeStage. A regression halts the plan in one MoveRollout
// transaction conditioned on the version it read, as rollout.Scheduler:
// paused (audited "rollout.halt") or rolled back to the previous stage and
// paused (audited "rollout.halt.rollback"), the reason naming the metric,
// by how much, with its interval and margin, the stage, when, and the
// units on each side. Several servers ticking together halt it once. The
// halt comes before the schedule's moves in the pass, so a regressed stage
// is never advanced by the same pass.

// GuardEvent is what one pass did with one live guarded stage.
type GuardEvent struct {
	Flag  string `json:"flag"`
	Stage string `json:"stage"`
	// Judgement is the stage's verdicts and the decision.
	Judgement safety.StageJudgement `json:"judgement"`
	// Halted says this pass halted the plan; RolledBack that it rolled
	// it back to the previous stage (Stage was left).
	Halted     bool      `json:"halted"`
	RolledBack bool      `json:"rolledBack,omitempty"`
	At         time.Time `json:"at"`
}

// guardPass judges every live guarded stage due for a judgement at now
// and halts the plans whose guardrails regressed.
func (s *Service) guardPass(ctx context.Context, now time.Time) ([]GuardEvent, error) {
	rs, fs, err := s.db().RolloutsAndFlags(ctx)
	if err != nil {
		return nil, err
	}
	killed := make(map[string]bool, len(fs))
	for _, f := range fs {
		killed[f.Key] = !f.Enabled
	}
	var (
		events []GuardEvent
		errs   []error
	)
	for i := range rs {
		r := &rs[i]
		// A killed flag serves its default to everyone: its stage
		// compares nothing new until it is enabled.
		if !r.Judged() || killed[r.Flag] || !s.guardDue(r, now) {
			continue
		}
		ev, err := s.guardStage(ctx, r, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("rollout %s guardrails: %w", r.Flag, err))
			continue
		}
		events = append(events, ev)
	}
	return events, errors.Join(errs...)
}

// guardDue reports whether this server should judge r's live stage at now,
// and notes that it does: at most every CheckEvery per stage.
func (s *Service) guardDue(r *rollout.Rollout, now time.Time) bool {
	return s.dueHere(fmt.Sprintf("guard\x00%s\x00%d\x00%s", r.Flag, r.Live(), r.Progress.Since.Format(time.RFC3339Nano)), now)
}

// dueHere reports whether this Service has not done what key names for
// CheckEvery, and notes that it does it now.
func (s *Service) dueHere(key string, now time.Time) bool {
	every := s.Safety.CheckEvery
	if every == 0 {
		every = DefaultCheckEvery
	}
	s.guardMu.Lock()
	defer s.guardMu.Unlock()
	if last, ok := s.guardLast[key]; ok && now.Sub(last) < every {
		return false
	}
	if s.guardLast == nil {
		s.guardLast = map[string]time.Time{}
	}
	s.guardLast[key] = now
	return true
}

// guardStage judges one live guarded stage and halts the plan when a
// guardrail regressed.
func (s *Service) guardStage(ctx context.Context, r *rollout.Rollout, now time.Time) (GuardEvent, error) {
	g, err := s.readGuardCounts(ctx, r)
	if err != nil {
		return GuardEvent{}, err
	}
	j, err := s.judgeStage(ctx, r, g, now)
	if err != nil {
		return GuardEvent{}, err
	}
	ev := GuardEvent{Flag: r.Flag, Stage: r.Progress.Stage, Judgement: j, At: now}
	if !j.Halt {
		return ev, nil
	}
	stage := r.Progress.Stage
	moved, err := s.db().MoveRollout(ctx, store.Move{Flag: r.Flag, Action: "rollout.halt", BaseVersion: r.Version,
		Apply: func(cur *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
			// Check again on the plan as the transaction sees it.
			if !cur.Judged() || cur.Progress.Stage != stage {
				return cur.Progress, store.ErrNoChange
			}
			return cur.Halt(rollout.Scheduler, now, j.Reason)
		}, ActionOf: func(cur *rollout.Rollout) string {
			if live := cur.Live(); live >= 0 && cur.Stages[live].Reaction() == rollout.ReactRollback {
				return "rollout.halt.rollback"
			}
			return "rollout.halt"
		}}, rollout.Scheduler)
	switch {
	case err == nil:
		ev.Halted, ev.At = true, moved.UpdatedAt
		ev.RolledBack = moved.Progress.Halted != nil && moved.Progress.Halted.RolledBack
	case errors.Is(err, store.ErrNoChange), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		// Another server halted it first, or a person moved it: the next
		// pass judges what it is then.
	default:
		return ev, err
	}
	return ev, nil
}

// judgeStage judges a plan's live guarded stage at now: the units each
// side holds (g) and each guardrail's verdict, from the store's per-arm
// sufficient statistics of the guardrail's metric on the stage's phase.
// A guardrail whose metric is not declared gets VerdictNoData saying so.
func (s *Service) judgeStage(ctx context.Context, r *rollout.Rollout, g guardCounts, now time.Time) (safety.StageJudgement, error) {
	live := r.Live()
	stage := &r.Stages[live]
	nstar := float64(2 * stage.MinSample)
	verdicts := make([]safety.GuardVerdict, 0, len(stage.Guardrails))
	for _, gr := range stage.Guardrails {
		sm, err := s.db().Metric(ctx, gr.Metric)
		if errors.Is(err, store.ErrNotFound) {
			verdicts = append(verdicts, safety.GuardVerdict{Metric: gr.Metric, Verdict: safety.VerdictNoData,
				Note: fmt.Sprintf("metric %q is not declared (declare it under metrics: and apply)", gr.Metric)})
			continue
		}
		if err != nil {
			return safety.StageJudgement{}, err
		}
		m := &sm.Metric
		in := safety.GuardInput{Metric: m.Key, Kind: string(m.Kind), Direction: m.Sign(), Margin: m.Margin, NStar: nstar}
		if gr.Margin != nil {
			in.Margin = *gr.Margin
		}
		if in.Control, in.Treatment, err = s.guardSides(ctx, r, rollout.Phase(live), m); err != nil {
			return safety.StageJudgement{}, err
		}
		verdicts = append(verdicts, safety.JudgeGuardrail(in))
	}
	return safety.JudgeStage(safety.StageInput{Flag: r.Flag, Stage: stage, Sample: g.sample(r), Verdicts: verdicts, At: now}), nil
}

// guardSides asks the store for one metric's per-arm sufficient
// statistics on a plan's stage phase: the default's side (control) and
// the plan variant's (treatment).
func (s *Service) guardSides(ctx context.Context, r *rollout.Rollout, phase int, m *experiment.Metric) (control, treatment stats.Paired, err error) {
	q := guardQuery(r, phase, m) // as MaintainedQueries asks compaction to keep it
	arms, _, err := s.events().ArmStats(ctx, q)
	if err != nil {
		return control, treatment, err
	}
	for _, a := range arms {
		p := stats.Paired{N: a.N, SumY: a.SumY, SumY2: a.SumY2, SumX: a.SumX, SumX2: a.SumX2, SumXY: a.SumXY}
		if a.Arm == r.Variant {
			treatment = addPaired(treatment, p)
		} else {
			control = addPaired(control, p)
		}
	}
	return control, treatment, nil
}

// storeValue is a metric's per-unit value as the store's query takes it.
func storeValue(v experiment.UnitValue) store.UnitValue {
	return store.UnitValue{Event: v.Event, FromDay: v.FromDay, ToDay: v.ToDay, Indicator: v.Indicator}
}

// addPaired sums two arms' statistics (a plan's default side may, in principle,
// hold units of several variants other than the plan's).
func addPaired(a, b stats.Paired) stats.Paired {
	return stats.Paired{N: a.N + b.N, SumY: a.SumY + b.SumY, SumY2: a.SumY2 + b.SumY2, SumX: a.SumX + b.SumX, SumX2: a.SumX2 + b.SumX2, SumXY: a.SumXY + b.SumXY}
}

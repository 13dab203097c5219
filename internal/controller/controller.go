// Package controller runs rollout schedules: it starts each scheduled stage
// when it is due, unless the rollout is paused, held, awaiting approval or
// its flag is killed, and asks for approval when a due stage needs it. The
// same pass raises the traffic of running experiments whose ramp-up step
// is due (admin's RampUps), logging a step a full layer refuses once, and
// takes the automatic safety's decisions: it halts a rollout plan whose
// live guarded stage regresses a guardrail (admin's Guards) and pauses a
// running experiment whose sample ratio says its assignment is broken
// (admin's SampleRatios), each logged as a warning and counted.
//
// Several servers may run controllers on one database: every move is a
// conditional update of the rollout's version, made in a write transaction
// that checks again that the stage is due, so a stage is never started
// twice. `ramp serve` runs Run; `ramp rollout tick` runs one pass.
//
// The pass itself is a use case of the control plane (admin.Service.Tick):
// the schedule's refusals are the same rules, checked in the same
// transaction, as a person's advance (rollout.Next and rollout.MayAdvance),
// so the two cannot drift. This package keeps the loop, its logging and
// its metrics, over the control plane.
package controller

import (
	"context"
	"log/slog"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/rollout"
)

// Event is what one pass did to one rollout.
type Event = admin.ScheduleEvent

// Tick runs one pass of the schedule at the control plane's current time
// and returns what it did: admin.Service.Tick, which `ramp rollout tick`
// calls too. A rollout that another server moved meanwhile is skipped;
// other errors are joined and returned after the pass.
func Tick(ctx context.Context, a *admin.Service) ([]Event, error) {
	res, err := a.Tick(ctx)
	return res.Events, err
}

// Run runs a pass of the schedule every interval until ctx is done,
// logging what each does and recording it in m (which may be nil). It runs
// one pass at the start.
func Run(ctx context.Context, a *admin.Service, interval time.Duration, log *slog.Logger, m *Metrics) {
	t := time.NewTicker(interval)
	defer t.Stop()
	// refused remembers the ramp-up steps a full layer refused, so that a
	// refusal is logged once, not on every pass until room is made.
	refused := map[string]int{}
	// seen remembers what the automatic safety reported once (safety.go).
	seen := map[string]string{}
	for {
		p, err := a.Tick(ctx)
		for _, e := range p.Events {
			if e.Outcome == rollout.Requested {
				log.Info("rollout stage due; awaiting approval", "flag", e.Flag, "stage", e.Stage)
			} else {
				log.Info("rollout stage started by the schedule", "flag", e.Flag, "stage", e.Stage)
			}
		}
		for _, e := range p.RampUps {
			switch {
			case e.Outcome == admin.RampTaken:
				delete(refused, e.Experiment)
				log.Info("experiment traffic raised by its ramp-up", "experiment", e.Experiment, "step", e.Step, "phase", e.Phase, "from", e.From.String()+"%", "to", e.To.String()+"%")
			case refused[e.Experiment] != e.Step:
				refused[e.Experiment] = e.Step
				log.Warn("experiment ramp-up step refused; retried every pass", "experiment", e.Experiment, "step", e.Step, "to", e.To.String()+"%", "reason", e.Reason)
			}
		}
		logSafety(log, &p, seen) // safety.go
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Error("rollout schedule pass failed", "err", err)
		}
		m.observe(p.Rollouts, p.Killed, p.Events, err)
		m.observeSafety(&p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Package controller runs rollout schedules: it starts each scheduled stage
// when it is due, unless the rollout is paused, held, awaiting approval or
// its flag is killed, and asks for approval when a due stage needs it.
//
// Several servers may run controllers on one database: every move is a
// conditional update of the rollout's version, made in a write transaction
// that checks again that the stage is due, so a stage is never started
// twice. `ramp serve` runs Run; `ramp rollout tick` runs Tick once.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// Event is what one pass did to one rollout.
type Event struct {
	Flag  string `json:"flag"`
	Stage string `json:"stage"`
	// Outcome is rollout.Started or rollout.Requested (approval asked for).
	Outcome rollout.Outcome `json:"outcome"`
	At      time.Time       `json:"at"`
}

// Tick runs one pass of the schedule at the store's current time (s.Now)
// and returns what it did. A rollout that another server moved meanwhile is
// skipped; other errors are joined and returned after the pass.
func Tick(ctx context.Context, s *store.Store) ([]Event, error) {
	p, err := pass(ctx, s)
	return p.events, err
}

// passResult is what one pass read and did.
type passResult struct {
	rollouts []rollout.Rollout // as read at the start, then updated with the moves
	enabled  map[string]bool   // flag key → not killed
	events   []Event
}

func pass(ctx context.Context, s *store.Store) (passResult, error) {
	var p passResult
	rs, err := s.Rollouts(ctx)
	if err != nil {
		return p, err
	}
	fs, err := s.Flags(ctx)
	if err != nil {
		return p, err
	}
	p.enabled = make(map[string]bool, len(fs))
	for _, f := range fs {
		p.enabled[f.Key] = f.Enabled
	}
	now := s.Now()
	var errs []error
	for i := range rs {
		r := &rs[i]
		n := r.Next(!p.enabled[r.Flag])
		if n.Stage < 0 || n.Blocked != "" || now.Before(n.Due) {
			continue
		}
		var outcome rollout.Outcome
		moved, err := s.MoveRollout(ctx, store.Move{Flag: r.Flag, Action: "rollout.schedule", BaseVersion: r.Version,
			Apply: func(cur *rollout.Rollout, f *flags.Flag, now time.Time) (rollout.Progress, error) {
				// Check again on the rollout as the transaction sees it.
				n := cur.Next(!f.Enabled)
				if n.Stage < 0 || n.Blocked != "" || now.Before(n.Due) {
					return cur.Progress, store.ErrNoChange
				}
				p, o, err := cur.Advance(n.Stage, rollout.Scheduler, now)
				outcome = o
				return p, err
			}}, rollout.Scheduler)
		switch {
		case err == nil:
			e := Event{Flag: r.Flag, Stage: moved.Progress.Stage, Outcome: outcome, At: moved.UpdatedAt}
			if outcome == rollout.Requested {
				e.Stage = moved.Progress.Pending.Stage
			}
			p.events = append(p.events, e)
			*r = moved
		case errors.Is(err, store.ErrNoChange), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
			// Another server (or a person) moved it first, or it is gone.
		default:
			errs = append(errs, fmt.Errorf("rollout %s: %w", r.Flag, err))
		}
	}
	p.rollouts = rs
	return p, errors.Join(errs...)
}

// Run runs a pass of the schedule every interval until ctx is done,
// logging what each does and recording it in m (which may be nil). It runs
// one pass at the start.
func Run(ctx context.Context, s *store.Store, interval time.Duration, log *slog.Logger, m *Metrics) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		p, err := pass(ctx, s)
		for _, e := range p.events {
			if e.Outcome == rollout.Requested {
				log.Info("rollout stage due; awaiting approval", "flag", e.Flag, "stage", e.Stage)
			} else {
				log.Info("rollout stage started by the schedule", "flag", e.Flag, "stage", e.Stage)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Error("rollout schedule pass failed", "err", err)
		}
		m.observe(p.rollouts, p.enabled, p.events, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

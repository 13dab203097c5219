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
	rs, err := s.Rollouts(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := s.Flags(ctx)
	if err != nil {
		return nil, err
	}
	enabled := make(map[string]bool, len(fs))
	for _, f := range fs {
		enabled[f.Key] = f.Enabled
	}
	now := s.Now()
	var (
		events []Event
		errs   []error
	)
	for i := range rs {
		r := &rs[i]
		n := r.Next(!enabled[r.Flag])
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
			events = append(events, e)
		case errors.Is(err, store.ErrNoChange), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
			// Another server (or a person) moved it first, or it is gone.
		default:
			errs = append(errs, fmt.Errorf("rollout %s: %w", r.Flag, err))
		}
	}
	return events, errors.Join(errs...)
}

// Run runs Tick every interval until ctx is done, logging what each pass
// does. It ticks once at the start.
func Run(ctx context.Context, s *store.Store, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		events, err := Tick(ctx, s)
		for _, e := range events {
			if e.Outcome == rollout.Requested {
				log.Info("rollout stage due; awaiting approval", "flag", e.Flag, "stage", e.Stage)
			} else {
				log.Info("rollout stage started by the schedule", "flag", e.Flag, "stage", e.Stage)
			}
		}
		if err != nil && ctx.Err() == nil {
			log.Error("rollout schedule pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

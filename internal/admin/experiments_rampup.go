package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// Ramp-ups: the schedule's pass (Tick) also raises the traffic of running
// experiments whose next ramp-up step is due (experiment.Ramp), each step
// in one store.MoveExperiment transaction that checks again, on the
// experiment and its layer as stored then, that the step is due, so
// several servers ticking together take a step once. A step the layer
// cannot give (its holdout and other experiments own the buckets it
// needs) writes nothing and is reported (Outcome RampRefused); the next
// pass tries again. A paused experiment's schedule waits: the time it
// spends paused does not count toward its next step.

// RampOutcome says what the schedule did with a ramp-up step.
type RampOutcome string

// The outcomes of a ramp-up step.
const (
	// RampTaken: the traffic was raised to the step's.
	RampTaken RampOutcome = "raised"
	// RampRefused: the layer has not enough free buckets; nothing changed.
	RampRefused RampOutcome = "refused"
)

// RampEvent is what one pass of the schedule did with one experiment's
// ramp-up step.
type RampEvent struct {
	Experiment string      `json:"experiment"`
	Outcome    RampOutcome `json:"outcome"`
	// Step is the step's number (from 1) in the ramp-up; Phase the phase
	// whose traffic it raises.
	Step  int `json:"step"`
	Phase int `json:"phase"`
	// From and To are the phase's traffic before and after (To is the
	// step's traffic, not reached when refused).
	From Percent   `json:"from"`
	To   Percent   `json:"to"`
	At   time.Time `json:"at"`
	// Reason says why a step was refused.
	Reason string `json:"reason,omitempty"`
}

// rampUps takes every ramp-up step due at now, reading the experiments
// once and moving each in its own transaction. Steps that the layer
// refuses are events; other failures are returned joined, after the pass.
func (s *Service) rampUps(ctx context.Context, now time.Time) ([]RampEvent, error) {
	_, es, err := s.db().ExperimentsAndLayers(ctx)
	if err != nil {
		return nil, err
	}
	var (
		events []RampEvent
		errs   []error
	)
	for i := range es {
		e := &es[i].Experiment
		if e.Status != experiment.Running {
			continue
		}
		if _, due, ok := e.NextStep(now); !ok || now.Before(due) {
			continue
		}
		var ev RampEvent
		_, err := s.db().MoveExperiment(ctx, store.ExperimentMove{Key: e.Key, Action: "experiment.ramp-up", BaseVersion: es[i].Version,
			Apply: func(cur *experiment.Experiment, env *store.ExperimentEnv) error {
				// Check again on the experiment as the transaction sees it.
				i, _, ok := cur.NextStep(env.Now)
				if !ok {
					return store.ErrNoChange
				}
				phase := cur.Current()
				ev = RampEvent{Experiment: cur.Key, Step: i + 1, Phase: phase.Number, From: Percent(phase.Traffic), To: Percent(cur.RampUp[i].Traffic), At: env.Now}
				l, err := envLayer(cur, env)
				if err != nil {
					return err
				}
				_, taken, err := cur.Ramp(l, env.Experiments, env.Now)
				if err != nil {
					return err
				}
				if !taken {
					return store.ErrNoChange
				}
				return nil
			}}, rollout.Scheduler)
		switch {
		case err == nil:
			ev.Outcome = RampTaken
			events = append(events, ev)
		case errors.Is(err, experiment.ErrLayerFull):
			ev.Outcome, ev.Reason = RampRefused, err.Error()
			events = append(events, ev)
		case errors.Is(err, store.ErrNoChange), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
			// Not due as stored, moved by another server or a person, or gone.
		default:
			errs = append(errs, fmt.Errorf("experiment %s ramp-up: %w", e.Key, err))
		}
	}
	return events, errors.Join(errs...)
}

// RampStep is one step of an experiment's ramp-up as people and scripts
// read it.
type RampStep struct {
	Traffic Percent `json:"traffic"`
	// After is how long after the previous step this one is taken ("24h");
	// empty for the first, the traffic the experiment starts at.
	After string `json:"after,omitempty"`
	// Reached says the experiment's current phase has this traffic or
	// more.
	Reached bool `json:"reached"`
}

// NextRampStep is an experiment's next ramp-up step and when it is due.
type NextRampStep struct {
	// Step is its number, from 1.
	Step    int       `json:"step"`
	Traffic Percent   `json:"traffic"`
	Due     time.Time `json:"due"`
	// Held says what holds it: "paused" while the experiment is paused
	// (Due then moves later with every moment it stays paused).
	Held string `json:"held,omitempty"`
}

// rampInfo fills an experiment's info with its ramp-up and next step.
func rampInfo(info *ExperimentInfo, e *experiment.Experiment, now time.Time) {
	if len(e.RampUp) == 0 {
		return
	}
	var cur Percent
	if p := e.Current(); p != nil && (e.Status == experiment.Running || e.Status == experiment.Paused) {
		cur = Percent(p.Traffic)
	}
	for _, st := range e.RampUp {
		rs := RampStep{Traffic: Percent(st.Traffic), Reached: cur > 0 && Percent(st.Traffic) <= cur}
		if st.After != 0 {
			rs.After = st.After.String()
		}
		info.RampUp = append(info.RampUp, rs)
	}
	if i, due, ok := e.NextStep(now); ok {
		info.NextStep = &NextRampStep{Step: i + 1, Traffic: Percent(e.RampUp[i].Traffic), Due: due}
		if e.Status == experiment.Paused {
			info.NextStep.Held = "paused"
		}
	}
}

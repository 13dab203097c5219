package experiment

import (
	"fmt"
	"slices"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// ShipViaRollout is Experiment.ShipVia for an experiment stopped with its
// arm handed to a rollout plan of its flag: the plan serves the arm, the
// experiment serves nothing.
const ShipViaRollout = "rollout"

// Step is one step of an experiment's ramp-up: the traffic (share of the
// layer) the experiment grows to, After the previous step was reached.
// The first step is the traffic the experiment starts at; its After is 0.
type Step struct {
	Traffic flags.Percent    `json:"traffic"`
	After   rollout.Duration `json:"after,omitempty"`
}

// StartTraffic is the traffic the experiment starts at: its first ramp-up
// step's, or its declared Traffic without a ramp-up.
func (e *Experiment) StartTraffic() flags.Percent {
	if len(e.RampUp) > 0 {
		return e.RampUp[0].Traffic
	}
	return e.Traffic
}

// NextStep returns the ramp-up's next step of a running or paused
// experiment: the first whose traffic is above the current phase's (steps
// at or below it were reached, by the schedule or by hand), its index in
// RampUp, and when it is due: After past RampedAt (or the phase's start
// when it is not set), plus the time spent paused so far when paused at
// now. ok is false when there is none (no
// ramp-up, the last step reached, a draft or stopped experiment).
func (e *Experiment) NextStep(now time.Time) (i int, due time.Time, ok bool) {
	cur := e.Current()
	if !e.holds() || cur == nil {
		return -1, time.Time{}, false
	}
	i = slices.IndexFunc(e.RampUp, func(s Step) bool { return s.Traffic > cur.Traffic })
	if i < 0 {
		return -1, time.Time{}, false
	}
	base := e.RampedAt
	if base.IsZero() {
		base = cur.Started
	}
	due = base.Add(time.Duration(e.RampUp[i].After))
	if e.Status == Paused && e.PausedAt != nil && now.After(*e.PausedAt) {
		due = due.Add(now.Sub(*e.PausedAt))
	}
	return i, due, true
}

// Ramp takes the ramp-up's next step when it is due at now: it raises the
// running experiment's traffic within its current phase to the step's
// (SetTraffic, so every assignment is kept and the new units come from
// the layer's lowest free buckets) and restarts the schedule's clock at
// now, so the following step's After counts from the step actually taken.
// It takes one step at most. ok is false when none is due: no ramp-up,
// the last step reached, not yet due, or the experiment is not running (a
// paused experiment's schedule waits). It refuses (ErrLayerFull) a step
// the layer cannot give, and e is then unchanged.
func (e *Experiment) Ramp(l Layer, others []Experiment, now time.Time) (step Step, ok bool, err error) {
	if e.Status != Running {
		return Step{}, false, nil
	}
	i, due, ok := e.NextStep(now)
	if !ok || now.Before(due) {
		return Step{}, false, nil
	}
	step = e.RampUp[i]
	if err := e.SetTraffic(l, others, step.Traffic); err != nil {
		return step, false, err
	}
	e.RampedAt = now
	return step, true, nil
}

// PauseAt pauses a running experiment as Pause does and notes when, so
// that its ramp-up's clock stops while it is paused (ResumeAt).
func (e *Experiment) PauseAt(now time.Time) error {
	if err := e.Pause(); err != nil {
		return err
	}
	at := now
	e.PausedAt = &at
	return nil
}

// PauseFor pauses a running experiment at now as PauseAt does, on by's
// behalf, for reason (which may be empty): status and the audit log show
// both until it is resumed.
func (e *Experiment) PauseFor(now time.Time, by, reason string) error {
	if err := e.PauseAt(now); err != nil {
		return err
	}
	e.PausedBy, e.PauseReason = by, reason
	return nil
}

// ResumeAt resumes a paused experiment as Resume does; the time it spent
// paused (since PauseAt) does not count toward its ramp-up's next step,
// which is due that much later.
func (e *Experiment) ResumeAt(now time.Time) error {
	if err := e.Resume(); err != nil {
		return err
	}
	if e.PausedAt != nil && !e.RampedAt.IsZero() && now.After(*e.PausedAt) {
		e.RampedAt = e.RampedAt.Add(now.Sub(*e.PausedAt))
	}
	e.PausedAt, e.PausedBy, e.PauseReason = nil, "", ""
	return nil
}

// rampUp checks an experiment's ramp-up: every step's traffic
// above 0 and at most 100, rising from step to step, at most the declared
// traffic (the ceiling); no After on the first step (it is the traffic
// the experiment starts at) and one on every later step.
func (v *validator) rampUp(p string, e *Experiment) {
	for k, s := range e.RampUp {
		sp := fmt.Sprintf("%s.rampUp[%d]", p, k)
		switch {
		case s.Traffic <= 0 || s.Traffic > flags.Hundred:
			v.add(sp+".traffic", "traffic %s%% is outside 0–100: a ramp-up step takes more than 0%% and at most 100%% of the layer", s.Traffic)
		case k > 0 && s.Traffic <= e.RampUp[k-1].Traffic:
			v.add(sp+".traffic", "traffic %s%% does not rise from the previous step's %s%%: a ramp-up only grows (lowering traffic takes units out of the phase)", s.Traffic, e.RampUp[k-1].Traffic)
		case e.Traffic > 0 && s.Traffic > e.Traffic:
			v.add(sp+".traffic", "traffic %s%% is above the experiment's traffic %s%%, the most the ramp-up may reach (raise traffic to reserve the room)", s.Traffic, e.Traffic)
		}
		switch {
		case k == 0 && s.After != 0:
			v.add(sp+".after", "the first step is the traffic the experiment starts at: it has no after")
		case k > 0 && s.After <= 0:
			v.add(sp+".after", "after is required on every step but the first: how long after the previous step this one is taken (e.g. 24h)")
		}
	}
	if e.ShipVia != "" && e.ShipVia != ShipViaRollout {
		v.add(p+".shipVia", "unknown shipVia %q (want %s, or nothing)", e.ShipVia, ShipViaRollout)
	} else if e.ShipVia != "" && e.Shipped == "" {
		v.add(p+".shipVia", "shipVia %s needs a shipped arm", e.ShipVia)
	}
}

package experiment

import (
	"fmt"
	"slices"
	"time"

	"github.com/ramp-flags/ramp/flags"
)

// Start starts a draft experiment: phase 1 with the declared arms and
// traffic (the first ramp-up step's, with a ramp-up: StartTraffic), the
// layer buckets its traffic needs and the arm table (Table).
// The buckets are the lowest of the layer that neither the holdout nor a
// running or paused experiment among others owns, so the set may be
// non-contiguous once other experiments have stopped; traffic T owns
// exactly T buckets (traffic counts basis points). others are the layer's
// other experiments (experiments of other layers and e itself are
// skipped, so the whole configuration may be passed).
//
// Start refuses (ErrLocked) an experiment that is not a draft, (ErrInvalid)
// malformed arms or traffic, and (ErrLayerFull, saying how many buckets
// are free) a traffic the layer cannot give. e is unchanged on error.
func (e *Experiment) Start(l Layer, others []Experiment, now time.Time, actor string) error {
	if e.Status != Draft && e.Status != "" {
		return e.refuse("start", "it is %s; only a draft starts", e.status())
	}
	if err := checkChange(e.Key, e.Arms, e.Traffic); err != nil {
		return err
	}
	traffic := e.StartTraffic()
	if traffic <= 0 || traffic > e.Traffic {
		return fmt.Errorf("experiment %s: its ramp-up starts at %s%%, outside 0–%s%% (its traffic): %w", e.Key, traffic, e.Traffic, ErrInvalid)
	}
	buckets, err := e.grow(l, others, nil, traffic)
	if err != nil {
		return err
	}
	e.Status = Running
	e.Phases = append(slices.Clip(e.Phases), Phase{
		Number: len(e.Phases) + 1, Traffic: traffic, Arms: slices.Clone(e.Arms),
		Buckets: buckets, Table: Table(e.Arms), Started: now, StartedBy: actor,
	})
	e.RampedAt = now
	return nil
}

// SetTraffic changes a running or paused experiment's traffic within its
// current phase. Raising it adds the lowest free buckets of the layer to
// the phase's set and keeps every assignment (nobody changes arm, nobody
// leaves); lowering it would take units out of a running phase and is
// refused (ErrLocked): lower it in a new phase. Setting the current
// traffic again changes nothing. With a ramp-up the declared Traffic is a
// ceiling: it follows only a traffic above it. It refuses (ErrLayerFull) a traffic the
// layer cannot give and (ErrLocked) a draft or stopped experiment.
func (e *Experiment) SetTraffic(l Layer, others []Experiment, traffic flags.Percent) error {
	if !e.holds() {
		return e.refuse("set the traffic of", "it is %s; traffic changes while it runs or is paused (a draft takes its declared traffic when it starts)", e.status())
	}
	if traffic <= 0 || traffic > flags.Hundred {
		return fmt.Errorf("experiment %s: traffic %s%% is outside 0–100 (exclusive of 0): %w", e.Key, traffic, ErrInvalid)
	}
	cur := e.Current()
	switch {
	case traffic == cur.Traffic:
		return nil
	case traffic < cur.Traffic:
		return e.refuse("lower the traffic of", "lowering it from %s%% to %s%% would take units out of phase %d; lower it in a new phase", cur.Traffic, traffic, cur.Number)
	}
	buckets, err := e.grow(l, others, cur.Buckets, traffic)
	if err != nil {
		return err
	}
	e.Phases = slices.Clone(e.Phases)
	cur = e.Current()
	cur.Buckets, cur.Traffic = buckets, traffic
	if len(e.RampUp) == 0 || traffic > e.Traffic {
		// With a ramp-up, Traffic is the ceiling: kept unless exceeded.
		e.Traffic = traffic
	}
	return nil
}

// NewPhase ends the current phase at now and starts the next one with the
// given arms and traffic, which become the experiment's declared ones.
//
// The arm table changes as little as it can (Reallocate): every arm keeps
// its buckets up to its new weight and only the surplus of shrinking or
// removed arms goes to growing or added arms, so exactly the
// total-variation distance between the old and the new weights moves,
// which NewPhase returns as a share of the experiment's units (34/33/33 →
// 50/25/25 moves 16%). The layer buckets are kept: a higher traffic adds
// the lowest free ones, a lower traffic keeps the lowest of the current
// set. With a ramp-up, the declared Traffic stays the ceiling unless
// traffic exceeds it, and the schedule's clock restarts at now. It refuses
// (ErrLocked) a draft (start it) or stopped experiment,
// (ErrInvalid) malformed arms or traffic and (ErrLayerFull) a traffic the
// layer cannot give. e is unchanged on error; the phases are copied, not
// changed in place, so a shallow copy of e taken before keeps its own.
func (e *Experiment) NewPhase(l Layer, others []Experiment, arms []Arm, traffic flags.Percent, now time.Time, actor string) (moved flags.Percent, err error) {
	if !e.holds() {
		return 0, e.refuse("start a new phase of", "it is %s; a new phase is for a running or paused experiment", e.status())
	}
	if err := checkChange(e.Key, arms, traffic); err != nil {
		return 0, err
	}
	cur := e.Current()
	buckets := prefix(cur.Buckets, uint32(traffic))
	if traffic > cur.Traffic {
		if buckets, err = e.grow(l, others, cur.Buckets, traffic); err != nil {
			return 0, err
		}
	}
	table, moved := Reallocate(cur.Table, arms)
	e.Phases = slices.Clone(e.Phases)
	end := now
	e.Phases[len(e.Phases)-1].Ended = &end
	e.Phases = append(e.Phases, Phase{
		Number: cur.Number + 1, Traffic: traffic, Arms: slices.Clone(arms),
		Buckets: buckets, Table: table, Started: now, StartedBy: actor,
	})
	e.Arms = slices.Clone(arms)
	if len(e.RampUp) == 0 || traffic > e.Traffic {
		e.Traffic = traffic
	}
	e.RampedAt = now
	return moved, nil
}

// Pause pauses a running experiment: it serves nothing (its units get what
// the flag's other rules give them) and records no exposures, but keeps
// its buckets and its phase, so resuming gives every unit its arm back.
// It refuses (ErrLocked) an experiment that is not running.
func (e *Experiment) Pause() error {
	if e.Status != Running {
		return e.refuse("pause", "it is %s; only a running experiment pauses", e.status())
	}
	e.Status = Paused
	return nil
}

// Resume resumes a paused experiment in its current phase, with the same
// buckets and arm table. It refuses (ErrLocked) an experiment that is not
// paused.
func (e *Experiment) Resume() error {
	if e.Status != Paused {
		return e.refuse("resume", "it is %s; only a paused experiment resumes", e.status())
	}
	e.Status = Running
	return nil
}

// Stop ends a running or paused experiment for good at now: the current
// phase ends, its layer buckets become free, and it serves ship, an arm of
// the current phase, to its whole audience (see Rules), or nothing when
// ship is empty. It refuses (ErrLocked) a draft (which never ran) or an
// already stopped experiment, and (ErrInvalid) a ship that is not an arm.
func (e *Experiment) Stop(ship string, now time.Time) error {
	if !e.holds() {
		return e.refuse("stop", "it is %s; only a running or paused experiment stops", e.status())
	}
	cur := e.Current()
	if ship != "" && !slices.ContainsFunc(cur.Arms, func(a Arm) bool { return a.Variant == ship }) {
		return fmt.Errorf("experiment %s: cannot ship %q: not an arm of phase %d (arms %s): %w", e.Key, ship, cur.Number, armList(cur.Arms), ErrInvalid)
	}
	e.Phases = slices.Clone(e.Phases)
	end := now
	e.Phases[len(e.Phases)-1].Ended = &end
	e.Status, e.Shipped = Stopped, ship
	e.PausedBy, e.PauseReason = "", ""
	return nil
}

// grow returns have (the experiment's current buckets, sorted) with the
// lowest free buckets of the layer added up to traffic buckets in all.
func (e *Experiment) grow(l Layer, others []Experiment, have []flags.BucketRange, traffic flags.Percent) ([]flags.BucketRange, error) {
	occupied := union(Occupied(l, others, e.Key), have)
	need := uint32(traffic) - size(have)
	taken, free, ok := takeFree(occupied, need)
	if !ok {
		return nil, fmt.Errorf("experiment %s: layer %s has %s%% free, and %s%% more is needed (holdout %s%%, the rest owned by its running and paused experiments): %w",
			e.Key, l.Key, flags.Percent(free), flags.Percent(need), l.Holdout, ErrLayerFull)
	}
	return union(have, taken), nil
}

// refuse returns an ErrLocked error: "experiment k: cannot <what>: <why>".
func (e *Experiment) refuse(what, why string, args ...any) error {
	return fmt.Errorf("experiment %s: cannot %s it: %s: %w", e.Key, what, fmt.Sprintf(why, args...), ErrLocked)
}

// status describes the status for a message: "a draft" (also when
// empty), "running", "paused", "stopped".
func (e *Experiment) status() string {
	switch {
	case e.Status == "" || e.Status == Draft:
		return "a draft"
	case (e.Status == Running || e.Status == Paused) && len(e.Phases) == 0:
		return string(e.Status) + " without a phase"
	}
	return string(e.Status)
}

// checkChange checks arms and traffic for Start and NewPhase: at least two
// arms of positive weight, distinct and named, weights summing to 100%,
// traffic in (0, 100].
func checkChange(key string, arms []Arm, traffic flags.Percent) error {
	if traffic <= 0 || traffic > flags.Hundred {
		return fmt.Errorf("experiment %s: traffic %s%% is outside 0–100 (exclusive of 0): %w", key, traffic, ErrInvalid)
	}
	var sum flags.Percent
	seen := map[string]bool{}
	live := 0
	for _, a := range arms {
		switch {
		case a.Variant == "":
			return fmt.Errorf("experiment %s: an arm has no variant: %w", key, ErrInvalid)
		case seen[a.Variant]:
			return fmt.Errorf("experiment %s: arm %q appears twice: %w", key, a.Variant, ErrInvalid)
		case a.Weight < 0 || a.Weight > flags.Hundred:
			return fmt.Errorf("experiment %s: arm %s has weight %s%%, outside 0–100: %w", key, a.Variant, a.Weight, ErrInvalid)
		}
		seen[a.Variant] = true
		sum += a.Weight
		if a.Weight > 0 {
			live++
		}
	}
	if live < 2 {
		return fmt.Errorf("experiment %s: %d arm(s) of positive weight; an experiment compares at least 2: %w", key, live, ErrInvalid)
	}
	if sum != flags.Hundred {
		return fmt.Errorf("experiment %s: arm weights sum to %s%%, not 100: %w", key, sum, ErrInvalid)
	}
	return nil
}

// armList names arms with their weights: "off 34%, handoff 33%".
func armList(arms []Arm) string {
	s := ""
	for i, a := range arms {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %s%%", a.Variant, a.Weight)
	}
	return s
}

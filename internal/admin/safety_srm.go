package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// The sample-ratio check: the schedule's pass (Tick) checks every running
// experiment's current phase at most every SafetyOptions.CheckEvery. It
// counts the phase's exposed units per arm (units seen in two arms left
// out), decides with safety.CheckSampleRatio, keeps the check and the
// phase's least p-value in the store (srm_checks: the anytime-valid p-value
// is a running minimum), and pauses an experiment the check condemns in
// one store.MoveExperiment transaction conditioned on the version it read,
// as rollout.Scheduler, with the counts and the p-value as the pause's
// reason (audited as "experiment.pause.srm"). Several servers ticking
// together pause it once. A person may resume it: the resume is audited as
// "experiment.resume.override", and the check no longer pauses that phase.

// DefaultCheckEvery is how often the schedule's pass checks each running
// experiment's sample ratio, unless SafetyOptions.CheckEvery says
// otherwise: every 5 minutes. The test is anytime-valid, so checking more
// often raises no false alarms; the interval bounds the cost of counting
// a phase's exposures (one grouped query over its units).
const DefaultCheckEvery = 5 * time.Minute

// SafetyOptions tune the controller's automatic safety. The zero value
// gives the defaults.
type SafetyOptions struct {
	// CheckEvery is the least time between two sample-ratio checks of
	// one phase; 0 means DefaultCheckEvery, a negative value checks on
	// every pass.
	CheckEvery time.Duration
	// MinSample is the units every arm must be expected to hold before
	// the check may pause; 0 means safety.DefaultMinSample.
	MinSample int64
	// Off turns the sample-ratio check off.
	Off bool
}

// SampleRatioEvent is what one pass of the schedule's sample-ratio check
// did with one running experiment.
type SampleRatioEvent struct {
	Experiment string             `json:"experiment"`
	Check      safety.SampleRatio `json:"check"`
	// Paused says this pass paused the experiment (Check.Reason says why).
	Paused bool `json:"paused"`
	// Overridden says the check would pause the phase but a person
	// resumed it after an earlier pause.
	Overridden bool      `json:"overridden,omitempty"`
	At         time.Time `json:"at"`
}

// SampleRatioInfo is the last sample-ratio check of an experiment's
// current phase, as `ramp experiments get` shows it.
type SampleRatioInfo struct {
	At time.Time `json:"at"`
	safety.SampleRatio
	// Overridden says a person resumed the phase after the check paused
	// it: the check no longer pauses it.
	Overridden bool `json:"overridden,omitempty"`
}

// sampleRatioChecks checks every running experiment whose current phase
// is due for a check at now. Failures are joined and returned after the
// pass, with what it did.
func (s *Service) sampleRatioChecks(ctx context.Context, now time.Time) ([]SampleRatioEvent, error) {
	if s.Safety.Off {
		return nil, nil
	}
	_, es, err := s.db().ExperimentsAndLayers(ctx)
	if err != nil {
		return nil, err
	}
	var (
		events []SampleRatioEvent
		errs   []error
	)
	for i := range es {
		x := &es[i]
		ev, ok, err := s.checkSampleRatio(ctx, x, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("experiment %s sample-ratio check: %w", x.Experiment.Key, err))
		}
		if ok {
			events = append(events, ev)
		}
	}
	return events, errors.Join(errs...)
}

// checkSampleRatio checks one experiment if it runs and its phase is due,
// and pauses it if the check says so. ok reports that it checked.
func (s *Service) checkSampleRatio(ctx context.Context, x *store.StoredExperiment, now time.Time) (ev SampleRatioEvent, ok bool, err error) {
	e := &x.Experiment
	phase := e.Current()
	if e.Status != experiment.Running || phase == nil {
		return ev, false, nil
	}
	last, err := s.lastSampleRatio(ctx, e.Key, phase.Number)
	if err != nil {
		return ev, false, err
	}
	every := s.Safety.CheckEvery
	if every == 0 {
		every = DefaultCheckEvery
	}
	if last != nil && now.Sub(last.At) < every || !s.dueHere(fmt.Sprintf("srm\x00%s\x00%d", e.Key, phase.Number), now) {
		// Checked lately, by some server (the stored check) or by this
		// one (a check that found nothing new is not stored again).
		return ev, false, nil
	}
	// The phase's counts as compaction maintains them (a few rows), or
	// counted from every exposure when they are not maintained.
	counts, err := s.exposureCounts(ctx, e.Key, phase.Number)
	if err != nil {
		return ev, false, err
	}
	units := map[string]int64{}
	for _, c := range counts {
		units[c.Arm] += c.Units - c.MultiArm
	}
	in := safety.SampleRatioInput{Experiment: e.Key, Phase: phase.Number, Arms: safety.PhaseCounts(phase, units), MinSample: s.Safety.MinSample}
	if last != nil {
		in.PriorMinP = last.MinP
	}
	chk, err := safety.CheckSampleRatio(in)
	if err != nil {
		return ev, false, err
	}
	arms := make([]store.CheckedArm, len(in.Arms))
	for i, a := range in.Arms {
		arms[i] = store.CheckedArm{Arm: a.Arm, Units: a.Units, Weight: float64(a.Weight) / 10000}
	}
	if chk.Units == 0 {
		return ev, false, nil // nothing exposed yet: nothing to check
	}
	// Nothing new since the last check is not written again, so that a
	// server without traffic writes nothing.
	var stored store.SampleRatioCheck
	if last != nil {
		stored = *last
	}
	if last == nil || !slices.Equal(last.Arms, arms) {
		if stored, err = s.db().RecordSampleRatio(ctx, store.SampleRatioCheck{Experiment: e.Key, Phase: phase.Number, Arms: arms, P: chk.P, MinP: chk.MinP}, rollout.Scheduler); err != nil {
			return ev, false, err
		}
	}
	if stored.MinP < chk.MinP {
		// Another server saw a smaller p-value meanwhile: it counts.
		in.PriorMinP = stored.MinP
		if chk, err = safety.CheckSampleRatio(in); err != nil {
			return ev, false, err
		}
	}
	ev = SampleRatioEvent{Experiment: e.Key, Check: chk, At: stored.At}
	if !chk.Pause {
		return ev, true, nil
	}
	if e.SampleRatioOverridden == phase.Number {
		ev.Overridden = true
		return ev, true, nil
	}
	_, err = s.db().MoveExperiment(ctx, store.ExperimentMove{Key: e.Key, Action: "experiment.pause.srm", BaseVersion: x.Version,
		Apply: func(cur *experiment.Experiment, env *store.ExperimentEnv) error {
			// Check again on the experiment as the transaction sees it.
			if p := cur.Current(); cur.Status != experiment.Running || p == nil || p.Number != phase.Number || cur.SampleRatioOverridden == p.Number {
				return store.ErrNoChange
			}
			return cur.PauseFor(env.Now, rollout.Scheduler, chk.Reason)
		}}, rollout.Scheduler)
	switch {
	case err == nil:
		ev.Paused = true
	case errors.Is(err, store.ErrNoChange), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		// Another server paused it first, or a person changed it: the
		// next check decides again on what it is then.
	default:
		return ev, true, err
	}
	return ev, true, nil
}

// lastSampleRatio returns the last check of an experiment's phase, or nil.
func (s *Service) lastSampleRatio(ctx context.Context, key string, phase int) (*store.SampleRatioCheck, error) {
	checks, err := s.db().SampleRatioChecks(ctx, key)
	if err != nil {
		return nil, err
	}
	for i := range checks {
		if checks[i].Phase == phase {
			return &checks[i], nil
		}
	}
	return nil, nil
}

// sampleRatioInfo reads the last check of an experiment's current phase
// for its info; nil when the phase has not been checked.
func (s *Service) sampleRatioInfo(ctx context.Context, e *experiment.Experiment) (*SampleRatioInfo, error) {
	phase := e.Current()
	if phase == nil {
		return nil, nil
	}
	last, err := s.lastSampleRatio(ctx, e.Key, phase.Number)
	if err != nil || last == nil {
		return nil, err
	}
	in := safety.SampleRatioInput{Experiment: e.Key, Phase: phase.Number, MinSample: s.Safety.MinSample, PriorMinP: last.MinP}
	for _, a := range last.Arms {
		in.Arms = append(in.Arms, safety.ArmCount{Arm: a.Arm, Units: a.Units, Weight: weightOf(a.Weight)})
	}
	chk, err := safety.CheckSampleRatio(in)
	if err != nil {
		return nil, err
	}
	// What was stored is what was decided: its p-value stands even where
	// recomputing would round differently.
	chk.P, chk.MinP = last.P, last.MinP
	return &SampleRatioInfo{At: last.At, SampleRatio: chk, Overridden: e.SampleRatioOverridden == phase.Number}, nil
}

// weightOf turns a stored share (0.34) back into basis points.
func weightOf(share float64) flags.Percent { return flags.Percent(share*10000 + 0.5) }

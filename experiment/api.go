package experiment

import (
	"time"

	"github.com/ramp-flags/ramp/flags"
)

// This file pins the package's API while it is being built; every body
// below is replaced by its implementation.

// EffectiveSalt returns the salt of the layer's hash: Salt, or
// "layer-" + Key.
func (l *Layer) EffectiveSalt() string {
	if l.Salt != "" {
		return l.Salt
	}
	return "layer-" + l.Key
}

// EffectiveSalt returns the salt of the experiment's arm hash: Salt, or
// "experiment-" + Key.
func (e *Experiment) EffectiveSalt() string {
	if e.Salt != "" {
		return e.Salt
	}
	return "experiment-" + e.Key
}

// Current returns the experiment's current (last) phase, or nil before it
// first starts.
func (e *Experiment) Current() *Phase {
	if len(e.Phases) == 0 {
		return nil
	}
	return &e.Phases[len(e.Phases)-1]
}

// Problem is something wrong with declared layers or experiments, at a
// path such as experiments[0].arms.inline or layers[1].holdout (indexes
// in declaration order, as flags.Problem's paths).
type Problem struct {
	Path    string
	Message string
}

// Validate checks declared layers and experiments against the flags and
// cohorts of st: known flags, arms and cohorts; weights summing to 100; a
// control that is an arm; traffic plus holdout within 100 in each layer;
// arms whose variants fit the flag. It returns every problem found.
func Validate(st *flags.State, layers []Layer, exps []Experiment) []Problem {
	panic("experiment.Validate: not implemented yet")
}

// LayerOf returns the layer an experiment runs in: its declared layer
// from layers, or, for an experiment without one, a layer of its own
// (key "experiment-" + Key, the flag's bucketBy, no holdout).
func LayerOf(e *Experiment, layers []Layer, st *flags.State) (Layer, bool) {
	panic("experiment.LayerOf: not implemented yet")
}

// Start starts a draft experiment: phase 1 with the declared arms, the
// layer buckets its traffic needs (taken from the buckets that neither the
// holdout nor another running or paused experiment of the layer owns) and
// the arm table. others are the layer's other experiments.
func (e *Experiment) Start(l Layer, others []Experiment, now time.Time, actor string) error {
	panic("experiment.Start: not implemented yet")
}

// SetTraffic changes a running or paused experiment's traffic within its
// current phase. Raising it adds free buckets and keeps every assignment;
// lowering it needs a new phase and is refused (ErrLocked).
func (e *Experiment) SetTraffic(l Layer, others []Experiment, traffic flags.Percent) error {
	panic("experiment.SetTraffic: not implemented yet")
}

// NewPhase ends the current phase at now and starts the next with the
// given arms and traffic. The arm table moves as few units as possible
// between arms: exactly the total-variation distance between the old and
// new weights, which it returns (as a share of the experiment's units).
func (e *Experiment) NewPhase(l Layer, others []Experiment, arms []Arm, traffic flags.Percent, now time.Time, actor string) (moved flags.Percent, err error) {
	panic("experiment.NewPhase: not implemented yet")
}

// Rules returns the rules a running experiment adds to its flag (none for
// a draft or paused one; the shipped arm for its audience once stopped).
func Rules(l Layer, e *Experiment) []flags.Rule {
	panic("experiment.Rules: not implemented yet")
}

// Apply returns st with each experiment's rules added to its flag, after
// the flag's own rules. st is not modified.
func Apply(st flags.State, layers []Layer, exps []Experiment) flags.State {
	panic("experiment.Apply: not implemented yet")
}

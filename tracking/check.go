package tracking

import (
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// ExposureCheck tells whether a reported exposure is one the configuration
// could have made: for a running experiment phase it knows, the unit must
// fall in the phase's share of its layer and be given the arm reported;
// for a guarded rollout stage's split, the unit's bucket under the flag's
// salt must give the arm (the plan's variant or the default) reported.
// An exposure needs nothing but its unit for that (assignment depends on
// the unit alone), so a server can refuse exposures that a client made up
// or got wrong before they reach the store and the report. Phases the
// configuration does not run (a provider a moment behind a phase change,
// an experiment just stopped) cannot be checked and are let through: the
// report reads only the phases it knows.
type ExposureCheck struct {
	phases map[phaseKey]phasePlacement
}

type phaseKey struct {
	experiment string
	phase      int
}

type phasePlacement struct {
	version bucket.Version
	sample  *flags.Sample
	alloc   *flags.Allocation
	// salt and split place a guarded rollout stage's units: the flag's
	// salt and the rule's percentage split (alloc is nil then).
	salt  string
	split []flags.Split
}

// NewExposureCheck reads the running experiment phases of a composed
// state: the rules whose Origin is an experiment's with a phase, and their
// sample and allocation; and the guarded rollout stages: the rules whose
// Origin is a rollout's with a phase, and their split (every target of a
// stage splits by the stage's percentage).
func NewExposureCheck(st *flags.State) *ExposureCheck {
	c := &ExposureCheck{phases: map[phaseKey]phasePlacement{}}
	for i := range st.Flags {
		f := &st.Flags[i]
		for j := range f.Rules {
			r := &f.Rules[j]
			o := r.Origin
			switch {
			case !o.Exposes():
			case o.Kind == flags.OriginExperiment && r.Allocation != nil:
				c.phases[phaseKey{o.ExperimentKey(), o.Phase}] = phasePlacement{version: f.Bucketing, sample: r.Sample, alloc: r.Allocation}
			case o.Kind == flags.OriginRollout && len(r.Rollout) > 0:
				c.phases[phaseKey{o.ExperimentKey(), o.Phase}] = phasePlacement{version: f.Bucketing, salt: f.EffectiveSalt(), split: r.Rollout}
			}
		}
	}
	return c
}

// Consistent reports whether e could have been made by the configuration:
// true for a phase it does not run, else whether e's unit is in the
// phase's share of the layer and gets e's arm.
func (c *ExposureCheck) Consistent(e *Exposure) bool {
	p, ok := c.phases[phaseKey{e.Experiment, e.Phase}]
	if !ok {
		return true
	}
	if p.alloc == nil {
		b := bucket.Bucket(p.version, p.salt, e.Unit)
		var upper uint32
		for _, sp := range p.split {
			if upper += uint32(sp.Weight); b < upper {
				return sp.Variant == e.Arm
			}
		}
		return false
	}
	if p.sample != nil && !p.sample.Contains(bucket.Bucket(p.version, p.sample.Salt, e.Unit)) {
		return false
	}
	b := bucket.Bucket(p.version, p.alloc.Salt, e.Unit)
	for _, r := range p.alloc.Ranges {
		if b >= r.From && b < r.To {
			return r.Variant == e.Arm
		}
	}
	return false
}

// Running reports whether the configuration runs the phase.
func (c *ExposureCheck) Running(experiment string, phase int) bool {
	_, ok := c.phases[phaseKey{experiment, phase}]
	return ok
}

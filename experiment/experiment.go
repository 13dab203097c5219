package experiment

import (
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
)

// Layer is a set of mutually exclusive experiments: the layer hashes each
// unit once, with its salt, onto the 10,000-bucket scale; each experiment
// of the layer owns a set of those buckets, the holdout owns a reserved
// set, and no bucket belongs to two of them.
type Layer struct {
	Key string `json:"key"`
	// BucketBy names the attribute that identifies a unit in every
	// experiment of the layer (accountCenterId, so that linked accounts
	// agree); targetingKey when empty or absent from a context.
	BucketBy string `json:"bucketBy,omitempty"`
	// Holdout is the share of the layer that no experiment may use.
	Holdout flags.Percent `json:"holdout,omitempty"`
	// Salt seeds the layer's hash; "layer-" + Key when empty.
	Salt string `json:"salt,omitempty"`
}

// Status is where an experiment is in its life.
type Status string

// The statuses an experiment goes through: draft → running ⇄ paused →
// stopped.
const (
	// Draft: declared, serves nothing, records nothing.
	Draft Status = "draft"
	// Running: serves its arms to its share of the layer and records
	// exposures.
	Running Status = "running"
	// Paused: serves nothing (its units get what the flag's other rules
	// give them) and keeps its buckets and phases.
	Paused Status = "paused"
	// Stopped: ended for good; it serves its shipped arm to its whole
	// audience, or nothing when none was shipped, and frees its buckets.
	Stopped Status = "stopped"
)

// Audience is who may enter an experiment: a context matches when it is
// in any of the cohorts (if some are named), in any of the regions (if
// some are named) and satisfies every condition.
type Audience struct {
	Regions []string            `json:"regions,omitempty"`
	Cohorts []string            `json:"cohorts,omitempty"`
	When    []cohorts.Condition `json:"when,omitempty"`
}

// Arm is one variant of the experiment's flag with its share of the
// experiment's units.
type Arm struct {
	Variant string        `json:"variant"`
	Weight  flags.Percent `json:"weight"`
}

// Metrics names the metrics an experiment is judged by (keys of metrics
// declared in configuration).
type Metrics struct {
	Primary    string   `json:"primary,omitempty"`
	Secondary  []string `json:"secondary,omitempty"`
	Guardrails []string `json:"guardrails,omitempty"`
}

// Experiment compares the arms (variants) of one flag on a share of a
// layer's units. The declared fields are configuration; Status, Phases and
// Shipped are its state, changed only through the control plane.
type Experiment struct {
	Key        string   `json:"key"`
	Flag       string   `json:"flag"`
	Layer      string   `json:"layer,omitempty"`
	Hypothesis string   `json:"hypothesis,omitempty"`
	Owner      string   `json:"owner,omitempty"`
	Audience   Audience `json:"audience,omitzero"`
	// Traffic is the share of the layer the experiment takes.
	Traffic flags.Percent `json:"traffic"`
	// Arms in declaration order; their weights sum to 100.
	Arms    []Arm   `json:"arms"`
	Control string  `json:"control"`
	Metrics Metrics `json:"metrics,omitzero"`
	// Salt seeds the arm hash; "experiment-" + Key when empty.
	Salt string `json:"salt,omitempty"`
	// RampUp grows the traffic on a schedule, weights fixed (see Ramp):
	// the first step is the traffic the experiment starts at, each later
	// one the traffic it grows to After the previous step was reached.
	// With a ramp-up, Traffic is the ceiling: what the layer reserves for
	// the experiment, at or above the last step; the traffic it takes now
	// is its current phase's.
	RampUp []Step `json:"rampUp,omitempty"`

	Status Status  `json:"status,omitempty"`
	Phases []Phase `json:"phases,omitempty"`
	// Shipped is the arm a stopped experiment serves to its audience.
	Shipped string `json:"shipped,omitempty"`
	// ShipVia is how the shipped arm is served: "" by the experiment's
	// own rule, to its whole audience; ShipViaRollout by a rollout plan
	// of the flag, the experiment serving nothing.
	ShipVia string `json:"shipVia,omitempty"`
	// RampedAt is when the ramp-up last moved (the start, a step, a raise
	// by hand): the next step's After counts from it, less the time spent
	// paused (see ResumeAt).
	RampedAt time.Time `json:"rampedAt,omitzero"`
	// PausedAt is when a paused experiment was paused (PauseAt); nil when
	// it is not paused or was paused without a time.
	PausedAt *time.Time `json:"pausedAt,omitempty"`
	// PausedBy and PauseReason say who paused a paused experiment and why
	// (PauseFor): the controller's sample-ratio check pauses as
	// rollout.Scheduler with the counts and the p-value it saw. Both are
	// empty when it is not paused, and resuming clears them.
	PausedBy    string `json:"pausedBy,omitempty"`
	PauseReason string `json:"pauseReason,omitempty"`
	// SampleRatioOverridden is the phase in which a person resumed the
	// experiment after the sample-ratio check paused it: the check goes on
	// checking that phase but no longer pauses it. 0 when none was.
	SampleRatioOverridden int `json:"sampleRatioOverridden,omitempty"`
}

// Phase is a period of an experiment with one allocation: its share of the
// layer (Buckets, which only grows within a phase) and its arm table. A
// report analyses phases apart.
type Phase struct {
	// Number counts from 1.
	Number  int           `json:"number"`
	Traffic flags.Percent `json:"traffic"`
	Arms    []Arm         `json:"arms"`
	// Buckets are the layer buckets the experiment owns in this phase.
	Buckets []flags.BucketRange `json:"buckets"`
	// Table maps the arm scale (the experiment's own salt) to arms.
	Table     []flags.VariantRange `json:"table"`
	Started   time.Time            `json:"started"`
	Ended     *time.Time           `json:"ended,omitempty"`
	StartedBy string               `json:"startedBy,omitempty"`
}

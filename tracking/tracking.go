// Package tracking carries what experiments learn from: exposures (the
// first time a unit is served an arm of a running experiment phase) and
// tracking events (what units did afterwards), from where they happen (an
// OFREP answer in `ramp serve`, the Go provider in a service, a CSV
// import) to a Sink that stores them.
package tracking

import (
	"context"
	"time"
)

// Exposure is one unit served one arm of a running experiment phase.
type Exposure struct {
	Experiment string `json:"experiment"`
	Phase      int    `json:"phase"`
	// UnitAttr is the context attribute that identified the unit (the
	// layer's bucketBy, or targetingKey when the context lacked it); Unit
	// is its value, integers written in decimal.
	UnitAttr string    `json:"unitAttribute"`
	Unit     string    `json:"unit"`
	Arm      string    `json:"arm"`
	Flag     string    `json:"flag,omitempty"`
	Time     time.Time `json:"time"`
}

// Event is one tracking event: a named occurrence with a value, for the
// units that the context it was tracked with identified.
type Event struct {
	// ID identifies the event so that a retried batch is stored once.
	ID    string    `json:"id"`
	Name  string    `json:"event"`
	Value float64   `json:"value"`
	Time  time.Time `json:"time"`
	// Units maps each identifying attribute of the event's context
	// (targetingKey and the bucketing attributes, such as
	// accountCenterId) to its value. An imported event whose unit is
	// matched against whatever each experiment buckets by has one entry
	// under AnyUnit.
	Units map[string]string `json:"units"`
}

// AnyUnit is the Units key of an event whose unit stands for the unit of
// every experiment (a CSV import's `unit` column).
const AnyUnit = "*"

// Sink stores exposures and events. Writes are idempotent: an exposure
// already stored for its (experiment, phase, unit) and an event whose ID
// is already stored are ignored, so a batch may be retried and two
// replicas may report the same exposure.
type Sink interface {
	WriteExposures(ctx context.Context, batch []Exposure) error
	WriteEvents(ctx context.Context, batch []Event) error
}

// Package ofrep maps engine decisions to the JSON shapes of the OpenFeature
// Remote Evaluation Protocol (OFREP v1), in one place, for the HTTP server
// and for `ramp eval`, which prints the same shapes.
package ofrep

import (
	"encoding/json"

	"github.com/ramp-flags/ramp/flags"
)

// Success is OFREP's evaluation success body.
type Success struct {
	Key      string         `json:"key"`
	Value    any            `json:"value"`
	Variant  string         `json:"variant,omitempty"`
	Reason   flags.Reason   `json:"reason"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Failure is OFREP's evaluation failure body.
type Failure struct {
	Key          string          `json:"key"`
	ErrorCode    flags.ErrorCode `json:"errorCode"`
	ErrorDetails string          `json:"errorDetails,omitempty"`
}

// Body returns the OFREP body for a decision: a Failure when it carries an
// error code, else a Success (which always carries a value).
func Body(d *flags.Decision) any {
	if d.IsError() {
		return Failure{Key: d.Key, ErrorCode: d.ErrorCode, ErrorDetails: d.ErrorDetails}
	}
	return Success{Key: d.Key, Value: d.Value, Variant: d.Variant, Reason: d.Reason, Metadata: d.Metadata()}
}

// AppendJSON appends the decision's OFREP body as one line of JSON.
func AppendJSON(dst []byte, d *flags.Decision) ([]byte, error) {
	b, err := json.Marshal(Body(d))
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

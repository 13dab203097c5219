package experiment

import "errors"

// The failures of this package, to match with errors.Is. Every error the
// package returns wraps one of them with what was refused and why; the
// root package maps them to ramp's kinds (kinds.go): ErrLocked and
// ErrLayerFull are refusals (nothing changed), ErrInvalid is input that
// cannot be accepted.
var (
	// ErrLocked is a change the experiment's status does not allow:
	// starting a running experiment, pausing a stopped one, lowering the
	// traffic of a running phase (which needs a new phase).
	ErrLocked = errors.New("experiment is locked")
	// ErrLayerFull is a start or a traffic increase for which the layer
	// has not enough free buckets: the holdout and the other running or
	// paused experiments of the layer own the rest.
	ErrLayerFull = errors.New("layer has not enough free buckets")
	// ErrInvalid is a change with malformed arms or traffic: weights that
	// do not sum to 100, fewer than two arms, traffic outside 0–100.
	ErrInvalid = errors.New("invalid experiment change")
)

package ramp

import (
	"errors"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// domainKind maps the errors of the pure domain packages, which sit below
// this one and cannot match a Kind themselves, to their kind: the one table
// of such mappings.
func domainKind(err error) (Kind, bool) {
	var invalid *flags.ValidationError
	switch {
	case errors.As(err, &invalid):
		return KindInvalid, true
	case errors.Is(err, rollout.ErrMove):
		return KindRefused, true
	case errors.Is(err, experiment.ErrLocked), errors.Is(err, experiment.ErrLayerFull):
		return KindRefused, true
	case errors.Is(err, experiment.ErrInvalid):
		return KindInvalid, true
	}
	return 0, false
}

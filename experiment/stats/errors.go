package stats

import "errors"

// The failures of this package, to match with errors.Is. Every error the
// package returns wraps one of them with what was refused and why (which
// arm, which field, which value); no function returns NaN or panics on bad
// input.
var (
	// ErrInvalid is input that cannot describe data: a negative count, a
	// NaN or infinite sum, a sum of squares smaller than the square of the
	// sum allows, conversions above the units, slices of different
	// lengths, a level outside (0, 1), a negative margin.
	ErrInvalid = errors.New("invalid input")
	// ErrTooFewUnits is an arm with fewer than two units: a variance needs
	// two, so no interval can be given (an empty arm is the common case).
	ErrTooFewUnits = errors.New("too few units")
	// ErrZeroVariance is a comparison whose arms do not vary at all (every
	// unit converted, or none; every value equal): it has no standard
	// error, so neither an interval nor a p-value.
	ErrZeroVariance = errors.New("no variance")
	// ErrZeroDenominator is a ratio metric whose denominator sums to zero
	// in an arm: the arm's ratio is undefined.
	ErrZeroDenominator = errors.New("ratio denominator is zero")
	// ErrZeroControl is a control mean (rate, ratio) of zero: the relative
	// difference is undefined. The functions that return it still fill the
	// absolute fields of their Difference, so a caller may show those.
	ErrZeroControl = errors.New("control is zero: relative difference undefined")
)

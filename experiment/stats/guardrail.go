package stats

import (
	"fmt"
	"math"
)

// Verdict is a guardrail's judgement.
type Verdict int

const (
	// VerdictInconclusive: the data cannot yet tell whether the treatment
	// is worse than the margin or not. It is the zero value.
	VerdictInconclusive Verdict = iota
	// VerdictOK: with confidence, the treatment is not worse than the
	// margin (non-inferiority shown).
	VerdictOK
	// VerdictRegressed: with confidence, the treatment is worse than the
	// margin.
	VerdictRegressed
)

// String returns "ok", "inconclusive" or "regressed".
func (v Verdict) String() string {
	switch v {
	case VerdictOK:
		return "ok"
	case VerdictRegressed:
		return "regressed"
	case VerdictInconclusive:
		return "inconclusive"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Guardrail judges, one-sided, whether the treatment is worse than the
// control by more than margin, from an interval of the relative difference
// (Difference.RelCI, fixed-horizon or from a Sequential). direction says
// which way is good: +1 an increase (replies), −1 a decrease (errors).
// margin is relative, as a fraction (0.005 for 0.5%), and not negative.
//
// For direction +1 the boundary of harm is −margin:
//
//	regressed      if High < −margin  (even the best case is worse than allowed)
//	ok             if Low  > −margin  (even the worst case is within the margin)
//	inconclusive   otherwise;
//
// for direction −1 the boundary is +margin, with the roles of Low and High
// swapped. Only one end of the interval decides each verdict, so each is a
// one-sided test: an interval from a two-sided method at level L gives
// one-sided confidence (1 + L)/2 — pass the interval at level 0.90 to judge
// at 95%. A Sequential interval at level L is one-sided valid at level L
// at least (its two-sided guarantee covers each side) and so may be
// watched every day.
func Guardrail(rel Interval, direction int, margin float64) (Verdict, error) {
	if math.IsNaN(rel.Low) || math.IsNaN(rel.High) || rel.Low > rel.High {
		return VerdictInconclusive, fmt.Errorf("guardrail: interval [%v, %v]: %w", rel.Low, rel.High, ErrInvalid)
	}
	if !(margin >= 0) || math.IsInf(margin, 1) {
		return VerdictInconclusive, fmt.Errorf("guardrail: margin %v: %w: a relative margin is a fraction ≥ 0 (0.005 for 0.5%%)", margin, ErrInvalid)
	}
	switch direction {
	case 1:
		switch {
		case rel.High < -margin:
			return VerdictRegressed, nil
		case rel.Low > -margin:
			return VerdictOK, nil
		}
	case -1:
		switch {
		case rel.Low > margin:
			return VerdictRegressed, nil
		case rel.High < margin:
			return VerdictOK, nil
		}
	default:
		return VerdictInconclusive, fmt.Errorf("guardrail: direction %d: %w: +1 (increase is good) or -1 (decrease is good)", direction, ErrInvalid)
	}
	return VerdictInconclusive, nil
}

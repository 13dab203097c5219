package stats

import (
	"fmt"
	"math"
)

// Sequential is the normal-mixture confidence sequence: the mixture
// sequential probability ratio test (mSPRT) of Robbins (1970), in the form
// of Howard, Ramdas, McAuliffe and Sekhon ("Time-uniform, nonparametric,
// nonasymptotic confidence sequences", Annals of Statistics 2021)
// and Johari, Koomen, Pekelis and Walsh ("Always Valid Inference",
// Operations Research 2022), which GrowthBook, Eppo and Optimizely each
// use under their own name. Its intervals hold at every moment at once:
// however often a team looks, and whenever it stops, the chance that an
// interval ever misses the true difference is at most 1 − Level. The price
// is width: at the same n a sequence is wider than a fixed-horizon
// interval.
//
// The estimate is treated as a sum of n independent contributions of
// variance σ² = se²·n. The mixing distribution over the effect is a normal
// with variance ρ², and ρ is chosen, as GrowthBook documents, so that the
// sequence is tightest when n reaches NStar:
//
//	ρ² = (−2 ln α + ln(1 − 2 ln α)) / NStar,  α = 1 − Level,
//	half-width = se · sqrt( 2(nρ² + 1)/(nρ²) · ln( sqrt(nρ² + 1)/α ) ).
//
// Only n/NStar matters, so n and NStar may count units either way as long
// as both count them the same way; ramp (and GrowthBook) count the units of
// both arms together, which is Difference.N. NStar is the tuning parameter:
// set it to the units expected when the experiment is read in earnest (the
// planned sample); a NStar far off in either direction widens the intervals
// at that point but never invalidates them.
type Sequential struct {
	// NStar is the number of units (both arms) at which the sequence is
	// tightest.
	NStar float64
	// Level is the confidence level, 0.95 for 95%.
	Level float64
}

func (s Sequential) rho2() (float64, error) {
	if err := checkLevel(s.Level); err != nil {
		return 0, fmt.Errorf("sequential: %w", err)
	}
	if !(s.NStar > 0) || math.IsInf(s.NStar, 1) {
		return 0, fmt.Errorf("sequential: NStar %v: %w: the tuning parameter is a positive number of units", s.NStar, ErrInvalid)
	}
	l := -2 * math.Log(1-s.Level)
	return (l + math.Log(1+l)) / s.NStar, nil
}

func (s Sequential) check(estimate, se, n float64) (nr2 float64, err error) {
	r2, err := s.rho2()
	if err != nil {
		return 0, err
	}
	if !finite(estimate) {
		return 0, fmt.Errorf("sequential: estimate %v: %w", estimate, ErrInvalid)
	}
	if !(se > 0) || math.IsInf(se, 1) {
		return 0, fmt.Errorf("sequential: standard error %v: %w", se, ErrZeroVariance)
	}
	if !(n >= 2) || math.IsInf(n, 1) {
		return 0, fmt.Errorf("sequential: n = %v: %w", n, ErrTooFewUnits)
	}
	return n * r2, nil
}

// Interval returns the always-valid interval around estimate, whose
// standard error is se after n units.
func (s Sequential) Interval(estimate, se, n float64) (Interval, error) {
	nr2, err := s.check(estimate, se, n)
	if err != nil {
		return Interval{}, err
	}
	alpha := 1 - s.Level
	hw := se * math.Sqrt(2*(nr2+1)/nr2*(0.5*math.Log1p(nr2)-math.Log(alpha)))
	return Interval{estimate - hw, estimate + hw}, nil
}

// PValue returns the always-valid p-value for "no difference":
// min(1, 1/Λ) where Λ is the mixture likelihood ratio
//
//	Λ = exp( z²·nρ² / (2(nρ² + 1)) ) / sqrt(nρ² + 1),  z = estimate/se.
//
// It is below 1 − Level exactly when Interval excludes 0. Since Λ is a
// nonnegative martingale under the null, the chance that it is ever below
// α is at most α (Ville's inequality): a caller that watches it over time
// may keep the smallest value seen, which stays valid.
func (s Sequential) PValue(estimate, se, n float64) (float64, error) {
	nr2, err := s.check(estimate, se, n)
	if err != nil {
		return 0, err
	}
	z := estimate / se
	logLambda := z*z*nr2/(2*(nr2+1)) - 0.5*math.Log1p(nr2)
	if logLambda <= 0 {
		return 1, nil
	}
	return math.Exp(-logLambda), nil
}

// Difference returns d with its intervals and p-values, absolute and
// relative, replaced by the always-valid ones at s.Level (d.N units);
// Level is set to s.Level. An error from the relative side (a zero
// control: ErrZeroControl) leaves the relative fields as they were.
func (s Sequential) Difference(d Difference) (Difference, error) {
	n := float64(d.N)
	ci, err := s.Interval(d.Abs, d.AbsSE, n)
	if err != nil {
		return d, fmt.Errorf("absolute: %w", err)
	}
	p, _ := s.PValue(d.Abs, d.AbsSE, n)
	d.AbsCI, d.AbsP, d.Level = ci, p, s.Level
	if d.RelSE == 0 && d.Rel == 0 { // what the comparisons leave for a zero control
		return d, fmt.Errorf("relative: %w", ErrZeroControl)
	}
	ci, err = s.Interval(d.Rel, d.RelSE, n)
	if err != nil {
		return d, fmt.Errorf("relative: %w", err)
	}
	p, _ = s.PValue(d.Rel, d.RelSE, n)
	d.RelCI, d.RelP = ci, p
	return d, nil
}

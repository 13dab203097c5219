package stats

import (
	"fmt"
	"math"
)

// Moments are one arm's sufficient statistics for a per-unit value y: the
// number of units N, Σy and Σy². Units without any event count with y = 0.
// For a conversion metric y is 0 or 1, so Sum is the number of converted
// units (and SumSq, equal to Sum, is not used).
type Moments struct {
	N          int64
	Sum, SumSq float64
}

// Paired are one arm's sufficient statistics for two per-unit values y and
// x: for a ratio metric y is the numerator and x the denominator of each
// unit; for CUPED y is the metric and x its pre-period covariate.
type Paired struct {
	N                        int64
	SumY, SumY2, SumX, SumX2 float64
	SumXY                    float64
}

// Y returns the moments of y alone.
func (p Paired) Y() Moments { return Moments{N: p.N, Sum: p.SumY, SumSq: p.SumY2} }

// X returns the moments of x alone.
func (p Paired) X() Moments { return Moments{N: p.N, Sum: p.SumX, SumSq: p.SumX2} }

// Mean returns Sum/N (0 for an empty arm).
func (m Moments) Mean() float64 {
	if m.N <= 0 {
		return 0
	}
	return m.Sum / float64(m.N)
}

// Variance returns the unbiased sample variance (Σy² − (Σy)²/N)/(N − 1),
// or an error wrapping ErrTooFewUnits (N < 2) or ErrInvalid (a sum of
// squares too small for the sum). Rounding can make a true zero variance
// come out slightly negative; it is returned as 0.
func (m Moments) Variance() (float64, error) {
	if err := m.check(); err != nil {
		return 0, err
	}
	if m.N < 2 {
		return 0, fmt.Errorf("%d units: %w", m.N, ErrTooFewUnits)
	}
	return sampleCov(m.N, m.Sum, m.Sum, m.SumSq, m.SumSq, "sumSq")
}

func (m Moments) check() error {
	if m.N < 0 {
		return fmt.Errorf("n = %d: %w: a count cannot be negative", m.N, ErrInvalid)
	}
	if !finite(m.Sum) || !finite(m.SumSq) {
		return fmt.Errorf("sum = %v, sumSq = %v: %w: sums must be finite", m.Sum, m.SumSq, ErrInvalid)
	}
	if m.SumSq < 0 {
		return fmt.Errorf("sumSq = %v: %w: a sum of squares cannot be negative", m.SumSq, ErrInvalid)
	}
	if m.N == 0 && (m.Sum != 0 || m.SumSq != 0) {
		return fmt.Errorf("n = 0 with sum = %v: %w", m.Sum, ErrInvalid)
	}
	return nil
}

func (p Paired) check() error {
	if err := p.Y().check(); err != nil {
		return fmt.Errorf("y: %w", err)
	}
	if err := p.X().check(); err != nil {
		return fmt.Errorf("x: %w", err)
	}
	if !finite(p.SumXY) {
		return fmt.Errorf("sumXY = %v: %w: sums must be finite", p.SumXY, ErrInvalid)
	}
	if p.N == 0 && p.SumXY != 0 {
		return fmt.Errorf("n = 0 with sumXY = %v: %w", p.SumXY, ErrInvalid)
	}
	return nil
}

// pairedCov holds one arm's means, variances and covariance of y and x
// (unbiased, N − 1 denominators).
type pairedCov struct {
	n          float64
	my, mx     float64
	vy, vx, cv float64
}

func (p Paired) cov() (pairedCov, error) {
	if err := p.check(); err != nil {
		return pairedCov{}, err
	}
	if p.N < 2 {
		return pairedCov{}, fmt.Errorf("%d units: %w", p.N, ErrTooFewUnits)
	}
	if _, err := sampleCov(p.N, p.SumY, p.SumY, p.SumY2, p.SumY2, "sumY2"); err != nil {
		return pairedCov{}, err
	}
	if _, err := sampleCov(p.N, p.SumX, p.SumX, p.SumX2, p.SumX2, "sumX2"); err != nil {
		return pairedCov{}, err
	}
	pc := p.moments()
	// Rounding can leave a true zero variance slightly negative.
	pc.vy, pc.vx = math.Max(pc.vy, 0), math.Max(pc.vx, 0)
	// Cauchy–Schwarz: |cov| ≤ sd_y·sd_x; sums that break it beyond
	// rounding did not come from one set of units.
	if lim := math.Sqrt(pc.vy * pc.vx); math.Abs(pc.cv) > lim*(1+1e-6)+1e-9*math.Sqrt(p.SumY2*p.SumX2)/(pc.n-1) {
		return pairedCov{}, fmt.Errorf("sumXY = %v: %w: |cov(y, x)| exceeds sd(y)·sd(x)", p.SumXY, ErrInvalid)
	}
	return pc, nil
}

// moments computes the means, variances and covariance as they come,
// without checking that the sums can come from data (cov does); N ≥ 2.
func (p Paired) moments() pairedCov {
	n := float64(p.N)
	vy, _ := sampleCov(p.N, p.SumY, p.SumY, p.SumY2, 0, "")
	vx, _ := sampleCov(p.N, p.SumX, p.SumX, p.SumX2, 0, "")
	c, _ := sampleCov(p.N, p.SumY, p.SumX, p.SumXY, 0, "")
	return pairedCov{n: n, my: p.SumY / n, mx: p.SumX / n, vy: vy, vx: vx, cv: c}
}

// sampleCov returns (Σab − Σa·Σb/n)/(n − 1). scale is the size of the
// raw sums that cancel (Σa² or sqrt(Σa²Σb²)): a result below zero by more
// than rounding on that scale is an error naming field (when field is not
// empty), a smaller negative one is 0.
func sampleCov(n int64, sa, sb, sab, scale float64, field string) (float64, error) {
	fn := float64(n)
	v := (sab - sa*sb/fn) / (fn - 1)
	if field != "" && v < 0 {
		if -v*(fn-1) > 1e-9*scale+1e-300 {
			return 0, fmt.Errorf("%s = %v with sum %v over %d units: %w: a sum of squares cannot be below (Σ)²/n", field, sab, sa, n, ErrInvalid)
		}
		v = 0
	}
	return v, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

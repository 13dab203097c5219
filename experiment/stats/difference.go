package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a confidence interval [Low, High]. A one-sided interval has
// an infinite end.
type Interval struct{ Low, High float64 }

// Contains reports whether x is in the interval.
func (i Interval) Contains(x float64) bool { return i.Low <= x && x <= i.High }

// Difference is treatment minus control for one metric, absolute and
// relative, each with its standard error, a two-sided interval at Level and
// a two-sided p-value for "no difference".
//
// Rel is (Treatment − Control)/|Control|: Treatment/Control − 1 when the
// control is positive, and of the sign of Abs when it is negative. Its
// standard error comes from the delta method (first-order Taylor expansion
// of the quotient, arms independent), so it accounts for the uncertainty of
// the control as well as of the treatment.
type Difference struct {
	// Control and Treatment are the arms' means, rates or ratios (for
	// CUPED, the adjusted means).
	Control, Treatment float64
	// Abs is Treatment − Control, AbsSE its standard error.
	Abs, AbsSE float64
	AbsCI      Interval
	AbsP       float64
	// Rel is the relative difference, RelSE its delta-method standard
	// error.
	Rel, RelSE float64
	RelCI      Interval
	RelP       float64
	// Level is the confidence level of AbsCI and RelCI (0.95 for 95%).
	Level float64
	// DF are the Welch–Satterthwaite degrees of freedom of the Student t
	// reference distribution (very large for large samples, where t is the
	// standard normal).
	DF float64
	// N is the number of units in both arms: the n of a Sequential.
	N int64
}

// arm is one arm's estimate: its mean m (the quantity compared), the
// per-unit variance v of that estimate (so its standard error is
// sqrt(v/n)) and its units n.
type arm struct{ m, v, n float64 }

// compare fills a Difference from two arms. relVar, when not nil, gives
// the variance of the relative difference (CUPED needs its own); base is
// the control value the relative difference divides by.
func compare(c, t arm, base float64, level float64, relVar func(base float64) float64) (Difference, error) {
	d := Difference{Control: c.m, Treatment: t.m, Level: level, N: int64(c.n + t.n)}
	vc, vt := c.v/c.n, t.v/t.n
	absVar := vc + vt
	if !(absVar > 0) {
		return Difference{}, fmt.Errorf("both arms constant (control %v, treatment %v): %w", c.m, t.m, ErrZeroVariance)
	}
	// Welch (1947), Satterthwaite (1946): the degrees of freedom of a
	// difference of two means with unequal variances.
	d.DF = absVar * absVar / (vc*vc/(c.n-1) + vt*vt/(t.n-1))
	ref := reference(d.DF)
	q := ref.Quantile(1 - (1-level)/2)

	d.Abs = t.m - c.m
	d.AbsSE = math.Sqrt(absVar)
	d.AbsCI = Interval{d.Abs - q*d.AbsSE, d.Abs + q*d.AbsSE}
	d.AbsP = twoSided(ref, d.Abs/d.AbsSE)

	if base == 0 {
		return d, fmt.Errorf("control %v: %w", base, ErrZeroControl)
	}
	d.Rel = d.Abs / math.Abs(base)
	var rv float64
	if relVar != nil {
		rv = relVar(base)
	} else {
		// Delta method for g(T, C) = T/C − 1: ∂g/∂T = 1/C, ∂g/∂C = −T/C²,
		// so Var ≈ Var(T)/C² + T²·Var(C)/C⁴ (T, C independent).
		b2 := base * base
		rv = vt/b2 + t.m*t.m*vc/(b2*b2)
	}
	d.RelSE = math.Sqrt(rv)
	d.RelCI = Interval{d.Rel - q*d.RelSE, d.Rel + q*d.RelSE}
	d.RelP = twoSided(ref, d.Rel/d.RelSE)
	return d, nil
}

// reference returns Student's t with df degrees of freedom, or the
// standard normal beyond 10⁵ degrees of freedom, where the two differ by
// less than 3·10⁻⁵ of a quantile and 2·10⁻⁶ in a p-value (the t's first
// correction term is z(z² + 1)/(4ν), Abramowitz and Stegun 26.7.5) — far
// below the error of the Welch–Satterthwaite approximation itself — and
// gonum's incomplete beta function slows down.
func reference(df float64) dist {
	if df > 1e5 || math.IsInf(df, 1) {
		return dist{normal: true}
	}
	return dist{t: distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}}
}

// dist is the reference distribution of a test statistic: Student's t or
// the standard normal (a value, so choosing one allocates nothing).
type dist struct {
	t      distuv.StudentsT
	normal bool
}

func (d dist) Survival(x float64) float64 {
	if d.normal {
		return distuv.UnitNormal.Survival(x)
	}
	return d.t.Survival(x)
}

// Quantile is gonum's, with a faster upper quantile for t: gonum inverts
// the incomplete beta function, which costs about 30 µs; from the
// Cornish–Fisher expansion of the t quantile in powers of 1/ν (Abramowitz
// and Stegun 26.7.5) a few Newton steps on the CDF reach the same value to
// 1e-10 in a fraction of the time.
func (d dist) Quantile(p float64) float64 {
	if d.normal {
		return distuv.UnitNormal.Quantile(p)
	}
	s := d.t
	nu := s.Nu
	if nu < 3 || p <= 0.5 || p >= 1 {
		return s.Quantile(p)
	}
	z := distuv.UnitNormal.Quantile(p)
	z2 := z * z
	x := z + z*(z2+1)/(4*nu) + z*((5*z2+16)*z2+3)/(96*nu*nu) + z*(((3*z2+19)*z2+17)*z2-15)/(384*nu*nu*nu)
	for range 20 {
		step := (s.Survival(x) - (1 - p)) / s.Prob(x)
		x += step
		// The CDF itself is good to about 1e-15, which leaves the steps
		// wandering at 1e-13 around the root: stop well above that.
		if math.Abs(step) <= 1e-11*x {
			return x
		}
	}
	return s.Quantile(p)
}

func twoSided(ref dist, z float64) float64 {
	if math.IsNaN(z) {
		return 1
	}
	return math.Min(1, 2*ref.Survival(math.Abs(z)))
}

func checkLevel(level float64) error {
	if !(level > 0 && level < 1) {
		return fmt.Errorf("level %v: %w: a confidence level is in (0, 1), e.g. 0.95", level, ErrInvalid)
	}
	return nil
}

// Proportions compares conversion rates: Sum is the number of converted
// units of each arm (0 ≤ Sum ≤ N; SumSq is not used). Each arm's rate p =
// Sum/N has the binomial variance p(1 − p)/N; the test is the unpooled
// two-proportion test, referred to Student's t with Welch–Satterthwaite
// degrees of freedom (as GrowthBook's gbstats does). For the thousands of
// units of an online experiment that is the two-proportion z-test; for a few
// dozen it is slightly more conservative.
func Proportions(control, treatment Moments, level float64) (Difference, error) {
	if err := checkLevel(level); err != nil {
		return Difference{}, fmt.Errorf("proportions: %w", err)
	}
	c, err := proportion(control)
	if err != nil {
		return Difference{}, fmt.Errorf("proportions: control: %w", err)
	}
	t, err := proportion(treatment)
	if err != nil {
		return Difference{}, fmt.Errorf("proportions: treatment: %w", err)
	}
	d, err := compare(c, t, c.m, level, nil)
	if err != nil {
		return d, fmt.Errorf("proportions: %w", err)
	}
	return d, nil
}

func proportion(m Moments) (arm, error) {
	if err := m.check(); err != nil {
		return arm{}, err
	}
	if m.N < 2 {
		return arm{}, fmt.Errorf("%d units: %w", m.N, ErrTooFewUnits)
	}
	if m.Sum < 0 || m.Sum > float64(m.N) || m.Sum != math.Trunc(m.Sum) {
		return arm{}, fmt.Errorf("%v conversions of %d units: %w: conversions are a whole number from 0 to the units", m.Sum, m.N, ErrInvalid)
	}
	n := float64(m.N)
	p := m.Sum / n
	return arm{m: p, v: p * (1 - p), n: n}, nil
}

// Means compares the means of a per-unit value with Welch's t-test (Welch
// 1947): each arm's sample variance, the standard error
// sqrt(s²_c/n_c + s²_t/n_t), and Student's t with Welch–Satterthwaite
// degrees of freedom. It does not assume equal variances; by the central
// limit theorem it does not need normal values either, once arms have a few
// hundred units (heavy tails need more).
func Means(control, treatment Moments, level float64) (Difference, error) {
	if err := checkLevel(level); err != nil {
		return Difference{}, fmt.Errorf("means: %w", err)
	}
	c, err := mean(control)
	if err != nil {
		return Difference{}, fmt.Errorf("means: control: %w", err)
	}
	t, err := mean(treatment)
	if err != nil {
		return Difference{}, fmt.Errorf("means: treatment: %w", err)
	}
	d, err := compare(c, t, c.m, level, nil)
	if err != nil {
		return d, fmt.Errorf("means: %w", err)
	}
	return d, nil
}

func mean(m Moments) (arm, error) {
	v, err := m.Variance()
	if err != nil {
		return arm{}, err
	}
	return arm{m: m.Mean(), v: v, n: float64(m.N)}, nil
}

// Ratios compares a ratio metric, ΣY/ΣX per arm (replies per message sent:
// y the numerator of a unit, x its denominator). Units, not events, are
// the independent observations, so the ratio's variance comes from the
// delta method on the per-unit means (Deng, Knoblich and Lu, "Applying the
// Delta Method in Metric Analytics", KDD 2018):
//
//	Var(ȳ/x̄) ≈ (s²_y − 2R·s_xy + R²·s²_x) / (n·x̄²),  R = ȳ/x̄,
//
// then the same Welch comparison as Means.
func Ratios(control, treatment Paired, level float64) (Difference, error) {
	if err := checkLevel(level); err != nil {
		return Difference{}, fmt.Errorf("ratios: %w", err)
	}
	c, err := ratio(control)
	if err != nil {
		return Difference{}, fmt.Errorf("ratios: control: %w", err)
	}
	t, err := ratio(treatment)
	if err != nil {
		return Difference{}, fmt.Errorf("ratios: treatment: %w", err)
	}
	d, err := compare(c, t, c.m, level, nil)
	if err != nil {
		return d, fmt.Errorf("ratios: %w", err)
	}
	return d, nil
}

func ratio(p Paired) (arm, error) {
	pc, err := p.cov()
	if err != nil {
		return arm{}, err
	}
	if pc.mx == 0 {
		return arm{}, fmt.Errorf("denominator sum %v over %d units: %w", p.SumX, p.N, ErrZeroDenominator)
	}
	return ratioArm(pc), nil
}

// ratioArm is the delta-method estimate of one arm's ratio; pc.mx ≠ 0.
func ratioArm(pc pairedCov) arm {
	r := pc.my / pc.mx
	v := (pc.vy - 2*r*pc.cv + r*r*pc.vx) / (pc.mx * pc.mx)
	if v < 0 { // rounding of a (near-)exact linear relation
		v = 0
	}
	return arm{m: r, v: v, n: pc.n}
}

package stats

import "fmt"

// CUPED compares the means of y adjusted by a pre-period covariate x
// (Deng, Xu, Kohavi and Walker, "Improving the Sensitivity of Online
// Controlled Experiments by Utilizing Pre-Experiment Data", WSDM 2013).
// Each unit's y is replaced by
//
//	y − θ·(x − x̄),  θ = cov(y, x)/var(x),
//
// with θ and x̄ computed once over both arms pooled, so the adjustment is the
// same function in both arms and the difference of adjusted means estimates
// the same effect as the plain difference (x was measured before
// assignment, so it cannot be moved by the treatment). The variance of
// each arm shrinks to s²_y + θ²s²_x − 2θ·s_yx, about (1 − ρ²)·s²_y for a
// covariate with correlation ρ; varianceReduction reports the share
// achieved on this data: 1 − Var(adjusted Abs)/Var(plain Abs).
//
// Control and Treatment of the result are the adjusted means. Rel divides
// the adjusted difference by the plain control mean, and its delta-method
// variance differentiates (ȳ_t − θ(x̄_t − x̄_c))/ȳ_c − 1 in ȳ_t, x̄_t, ȳ_c,
// x̄_c with θ held fixed, at balanced covariate means (as gbstats does). A covariate without variance
// (every unit's x equal) cannot help: the plain Welch result is returned
// with a reduction of 0.
func CUPED(control, treatment Paired, level float64) (d Difference, varianceReduction float64, err error) {
	if err := checkLevel(level); err != nil {
		return Difference{}, 0, fmt.Errorf("cuped: %w", err)
	}
	c, err := control.cov()
	if err != nil {
		return Difference{}, 0, fmt.Errorf("cuped: control: %w", err)
	}
	t, err := treatment.cov()
	if err != nil {
		return Difference{}, 0, fmt.Errorf("cuped: treatment: %w", err)
	}
	plainVar := c.vy/c.n + t.vy/t.n
	if !(plainVar > 0) {
		return Difference{}, 0, fmt.Errorf("cuped: both arms constant (control %v, treatment %v): %w", c.my, t.my, ErrZeroVariance)
	}

	// θ from the pooled sums of both arms.
	pooled := Paired{
		N:    control.N + treatment.N,
		SumY: control.SumY + treatment.SumY, SumY2: control.SumY2 + treatment.SumY2,
		SumX: control.SumX + treatment.SumX, SumX2: control.SumX2 + treatment.SumX2,
		SumXY: control.SumXY + treatment.SumXY,
	}
	pc, err := pooled.cov()
	if err != nil {
		return Difference{}, 0, fmt.Errorf("cuped: both arms: %w", err)
	}
	if pc.vx == 0 {
		d, err := compare(arm{c.my, c.vy, c.n}, arm{t.my, t.vy, t.n}, c.my, level, nil)
		if err != nil {
			return d, 0, fmt.Errorf("cuped: covariate constant, plain comparison: %w", err)
		}
		return d, 0, nil
	}
	theta := pc.cv / pc.vx

	adj := func(a pairedCov) arm {
		v := a.vy + theta*theta*a.vx - 2*theta*a.cv
		if v < 0 { // rounding of an exact linear relation
			v = 0
		}
		return arm{m: a.my - theta*(a.mx-pc.mx), v: v, n: a.n}
	}
	ac, at := adj(c), adj(t)
	relVar := func(base float64) float64 {
		// g = (ȳ_t − θx̄_t + θx̄_c)/ȳ_c − 1. Gradient: ∂ȳ_t = 1/ȳ_c,
		// ∂x̄_t = −θ/ȳ_c, ∂ȳ_c = −ȳ_t/ȳ_c², ∂x̄_c = θ/ȳ_c — the last but
		// one taken where x̄_t = x̄_c, as randomisation makes them in
		// expectation (gbstats' choice, which the published tests fix) —
		// with each arm's (ȳ, x̄) covariance matrix divided by its n.
		b2 := base * base
		vt := at.v / (t.n * b2)
		k := t.my / base
		vc := (k*k*c.vy - 2*theta*k*c.cv + theta*theta*c.vx) / (c.n * b2)
		return vt + vc
	}
	d, err = compare(ac, at, c.my, level, relVar)
	reduction := 1 - (d.AbsSE*d.AbsSE)/plainVar
	if err != nil {
		if d.AbsSE == 0 {
			reduction = 0
		}
		return d, reduction, fmt.Errorf("cuped: %w", err)
	}
	return d, reduction, nil
}

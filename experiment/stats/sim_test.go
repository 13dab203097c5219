package stats

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// Seeded simulations with a known truth. Each draws its data from a fixed
// seed, so a run is reproducible, and asserts the error rate the method
// claims with a Monte Carlo margin of about four standard errors.
//
// Where the data are normal, an arm's sufficient statistics are drawn
// directly rather than unit by unit: for n normal values the mean is
// N(μ, σ²/n) and the sum of squared deviations is σ²·χ²(n − 1), independent
// of the mean (Cochran's theorem), which is exact and costs two draws.

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// normalArm draws the Moments of n values from N(mu, sigma²).
func normalArm(r *rand.Rand, n int64, mu, sigma float64) Moments {
	fn := float64(n)
	m := mu + sigma/math.Sqrt(fn)*r.NormFloat64()
	ss := sigma * sigma * distuv.ChiSquared{K: fn - 1, Src: r}.Rand()
	return Moments{N: n, Sum: fn * m, SumSq: ss + fn*m*m}
}

// add returns the Moments of the union of two sets of units.
func (m Moments) add(o Moments) Moments {
	return Moments{N: m.N + o.N, Sum: m.Sum + o.Sum, SumSq: m.SumSq + o.SumSq}
}

// pairedArm draws n units of (x, y) with y = a + b·x + e, x ~ N(mx, sx²),
// e ~ N(0, se²), unit by unit (ratios and CUPED need the cross sum).
func pairedArm(r *rand.Rand, n int, mx, sx, a, b, se float64) Paired {
	var p Paired
	for range n {
		x := mx + sx*r.NormFloat64()
		y := a + b*x + se*r.NormFloat64()
		p.SumX += x
		p.SumX2 += x * x
		p.SumY += y
		p.SumY2 += y * y
		p.SumXY += x * y
	}
	p.N = int64(n)
	return p
}

// ksUniform returns the Kolmogorov–Smirnov distance between the sample
// and the uniform distribution on [0, 1], scaled by sqrt(n).
func ksUniform(p []float64) float64 {
	s := append([]float64(nil), p...)
	sort.Float64s(s)
	n := float64(len(s))
	d := 0.0
	for i, u := range s {
		d = math.Max(d, math.Max(float64(i+1)/n-u, u-float64(i)/n))
	}
	return d * math.Sqrt(n)
}

// ksCritical01 is the 1% critical value of sqrt(n)·D for the one-sample
// Kolmogorov–Smirnov test: 1.63 for n > 35 (Massey, "The
// Kolmogorov-Smirnov Test for Goodness of Fit", JASA 46, 1951, Table 1;
// the limit of Kolmogorov's distribution is 1.6276).
const ksCritical01 = 1.63

// The Monte Carlo margin the issue grants a 95% rate over these runs:
// ± 1.4 points is four standard errors sqrt(0.95·0.05/n) at n = 3,900.
const coverageMargin = 0.014

// With no effect, the fixed-horizon p-values of every comparison are
// uniform, and their 95% intervals cover the truth (0) 95% of the time,
// absolute and relative.
func TestSimulationNullUniformAndCoverage(t *testing.T) {
	const runs = 4000
	type result struct {
		d   Difference
		err error
	}
	cases := []struct {
		name string
		seed uint64
		draw func(r *rand.Rand) result
	}{
		{"means", 1, func(r *rand.Rand) result {
			d, err := Means(normalArm(r, 500, 10, 3), normalArm(r, 700, 10, 3), 0.95)
			return result{d, err}
		}},
		{"means, unequal variances", 2, func(r *rand.Rand) result {
			d, err := Means(normalArm(r, 200, 5, 1), normalArm(r, 800, 5, 4), 0.95)
			return result{d, err}
		}},
		{"proportions", 3, func(r *rand.Rand) result {
			c := distuv.Binomial{N: 20000, P: 0.1, Src: r}.Rand()
			tr := distuv.Binomial{N: 20000, P: 0.1, Src: r}.Rand()
			d, err := Proportions(Moments{N: 20000, Sum: c}, Moments{N: 20000, Sum: tr}, 0.95)
			return result{d, err}
		}},
		{"ratios", 4, func(r *rand.Rand) result {
			d, err := Ratios(pairedArm(r, 400, 5, 1.5, 0.5, 0.4, 1), pairedArm(r, 400, 5, 1.5, 0.5, 0.4, 1), 0.95)
			return result{d, err}
		}},
		{"cuped", 5, func(r *rand.Rand) result {
			d, _, err := CUPED(pairedArm(r, 400, 2, 1, 3, 0.7, 0.714), pairedArm(r, 400, 2, 1, 3, 0.7, 0.714), 0.95)
			return result{d, err}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRand(tc.seed)
			absP := make([]float64, 0, runs)
			relP := make([]float64, 0, runs)
			absCover, relCover := 0, 0
			for range runs {
				res := tc.draw(r)
				if res.err != nil {
					t.Fatal(res.err)
				}
				d := res.d
				absP = append(absP, d.AbsP)
				relP = append(relP, d.RelP)
				if d.AbsCI.Contains(0) {
					absCover++
				}
				if d.RelCI.Contains(0) {
					relCover++
				}
			}
			ksAbs, ksRel := ksUniform(absP), ksUniform(relP)
			ca, cr := float64(absCover)/runs, float64(relCover)/runs
			t.Logf("%d runs: KS √n·D absolute %.3f, relative %.3f (1%% critical %.2f); coverage absolute %.4f, relative %.4f",
				runs, ksAbs, ksRel, ksCritical01, ca, cr)
			if ksAbs > ksCritical01 || ksRel > ksCritical01 {
				t.Errorf("p-values not uniform at 1%%: √n·D %.3f (absolute), %.3f (relative) > %.2f", ksAbs, ksRel, ksCritical01)
			}
			if math.Abs(ca-0.95) > coverageMargin || math.Abs(cr-0.95) > coverageMargin {
				t.Errorf("coverage %.4f (absolute), %.4f (relative), want 0.95 ± %.3f", ca, cr, coverageMargin)
			}
		})
	}
}

// A planted effect sized for 80% power (two-sided 5% test) is found 80% of
// the time: δ = (z₀.₉₇₅ + z₀.₈₀)·σ·sqrt(2/n).
func TestSimulationPower(t *testing.T) {
	const runs, n, sigma = 4000, 500, 2.0
	zq := distuv.UnitNormal.Quantile
	delta := (zq(0.975) + zq(0.80)) * sigma * math.Sqrt(2.0/n)
	r := newRand(6)
	found := 0
	for range runs {
		d, err := Means(normalArm(r, n, 10, sigma), normalArm(r, n, 10+delta, sigma), 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if d.AbsP < 0.05 {
			found++
		}
	}
	power := float64(found) / runs
	t.Logf("effect %.4f (σ %v, %d units per arm): found in %.4f of %d runs", delta, sigma, n, power, runs)
	if math.Abs(power-0.80) > 0.025 {
		t.Errorf("power %.4f, want 0.80 ± 0.025", power)
	}
}

// Checked daily for 30 days with no effect, the always-valid test keeps
// false positives at most 5%, while the fixed-horizon test peeked at the
// same way — stopping at the first p < 0.05 — exceeds 15%.
func TestSimulationPeeking(t *testing.T) {
	const runs, days, perDay = 2000, 30, 200
	seq := Sequential{NStar: 2 * days * perDay, Level: 0.95}
	r := newRand(7)
	fixedFP, seqFP, fixedLast := 0, 0, 0
	for range runs {
		var c, tr Moments
		fixedHit, seqHit := false, false
		for day := 1; day <= days; day++ {
			c = c.add(normalArm(r, perDay, 3, 2))
			tr = tr.add(normalArm(r, perDay, 3, 2))
			d, err := Means(c, tr, 0.95)
			if err != nil {
				t.Fatal(err)
			}
			if d.AbsP < 0.05 {
				fixedHit = true
				if day == days {
					fixedLast++
				}
			}
			p, err := seq.PValue(d.Abs, d.AbsSE, float64(d.N))
			if err != nil {
				t.Fatal(err)
			}
			if p < 0.05 {
				seqHit = true
			}
		}
		if fixedHit {
			fixedFP++
		}
		if seqHit {
			seqFP++
		}
	}
	f, s, once := float64(fixedFP)/runs, float64(seqFP)/runs, float64(fixedLast)/runs
	t.Logf("%d A/A runs, %d daily looks: fixed test looked at once %.4f, peeked %.4f; always-valid peeked %.4f", runs, days, once, f, s)
	if f <= 0.15 {
		t.Errorf("peeked fixed-horizon false positives %.4f, want > 0.15 (the harness should see peeking)", f)
	}
	if s > 0.05+coverageMargin {
		t.Errorf("always-valid false positives %.4f, want ≤ 0.05 + %.3f", s, coverageMargin)
	}
}

// CUPED with a covariate of correlation 0.7 cuts the variance of the
// estimate by ρ² = 49%: both as reported, and as measured over the runs
// against the plain estimate of the same data.
func TestSimulationCUPEDVarianceReduction(t *testing.T) {
	const runs, n = 2000, 500
	// y = 3 + b·x + e with sd(x) = 1: corr = b/sqrt(b² + s²) = 0.7 for
	// b = 0.7, s = sqrt(1 − 0.49).
	b, s := 0.7, math.Sqrt(1-0.49)
	r := newRand(8)
	var reported float64
	var plain, adjusted []float64
	for range runs {
		c, tr := pairedArm(r, n, 2, 1, 3, b, s), pairedArm(r, n, 2, 1, 3, b, s)
		d, red, err := CUPED(c, tr, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Means(c.Y(), tr.Y(), 0.95)
		if err != nil {
			t.Fatal(err)
		}
		reported += red
		plain = append(plain, p.Abs)
		adjusted = append(adjusted, d.Abs)
	}
	reported /= runs
	measured := 1 - variance(adjusted)/variance(plain)
	t.Logf("correlation 0.7, %d runs of %d units per arm: reported reduction %.4f, measured %.4f", runs, n, reported, measured)
	if math.Abs(reported-0.49) > 0.02 || math.Abs(measured-0.49) > 0.02 {
		t.Errorf("variance reduction reported %.4f, measured %.4f; want 0.49 ± 0.02", reported, measured)
	}
}

func variance(x []float64) float64 {
	var s, ss float64
	for _, v := range x {
		s += v
		ss += v * v
	}
	n := float64(len(x))
	return (ss - s*s/n) / (n - 1)
}

// A planted 50.5/49.5 split over 400,000 units is flagged by the χ² test
// (p < 0.001, the report's alarm); a true 50/50 split rarely is.
func TestSimulationSampleRatio(t *testing.T) {
	const runs, units = 1000, 400000
	r := newRand(9)
	flagged, falseAlarms := 0, 0
	for range runs {
		a := int64(distuv.Binomial{N: units, P: 0.505, Src: r}.Rand())
		if _, p, err := SampleRatio([]int64{a, units - a}, []float64{50, 50}); err != nil {
			t.Fatal(err)
		} else if p < 0.001 {
			flagged++
		}
		a = int64(distuv.Binomial{N: units, P: 0.5, Src: r}.Rand())
		if _, p, _ := SampleRatio([]int64{a, units - a}, []float64{50, 50}); p < 0.001 {
			falseAlarms++
		}
	}
	f, fa := float64(flagged)/runs, float64(falseAlarms)/runs
	// Power by the normal approximation: the excess of 2,000 units has sd
	// 316, the alarm needs 1,040: P(Z > −3.09) = 0.999.
	t.Logf("%d runs of %d units: 50.5/49.5 flagged in %.4f, 50/50 in %.4f", runs, units, f, fa)
	if f < 0.99 {
		t.Errorf("50.5/49.5 flagged in %.4f of runs, want ≥ 0.99", f)
	}
	if fa > 0.005 {
		t.Errorf("50/50 flagged in %.4f of runs, want about 0.001", fa)
	}
}

// The sequential SRM check as the controller runs it: daily, p < 0.001,
// once every arm has 1,000 units. On A/A runs it fires in at most 0.1% of
// them; on a planted 45/55 split it has fired on every run by 20,000 units.
// The χ² test checked the same way fires more often on A/A runs.
func TestSimulationSequentialSampleRatio(t *testing.T) {
	const days, perDay, alarm, minPerArm = 30, 1000, 0.001, 1000
	run := func(r *rand.Rand, share float64) (firedAt int64, chi2Fired bool) {
		var a, b int64
		var m SampleRatioMonitor
		firedAt = -1
		for range days {
			x := int64(distuv.Binomial{N: perDay, P: share, Src: r}.Rand())
			a, b = a+x, b+perDay-x
			if a < minPerArm || b < minPerArm {
				continue
			}
			p, err := m.Check([]int64{a, b}, []float64{50, 50})
			if err != nil {
				t.Fatal(err)
			}
			if p < alarm && firedAt < 0 {
				firedAt = a + b
			}
			if _, pc, _ := SampleRatio([]int64{a, b}, []float64{50, 50}); pc < alarm {
				chi2Fired = true
			}
		}
		return firedAt, chi2Fired
	}

	t.Run("A/A", func(t *testing.T) {
		const runs = 5000
		r := newRand(10)
		fired, chi2 := 0, 0
		for range runs {
			at, c := run(r, 0.5)
			if at >= 0 {
				fired++
			}
			if c {
				chi2++
			}
		}
		f, c := float64(fired)/runs, float64(chi2)/runs
		t.Logf("%d A/A runs checked daily for %d days: sequential fired in %.4f, χ² in %.4f", runs, days, f, c)
		if f > alarm {
			t.Errorf("sequential SRM fired in %.4f of A/A runs, want ≤ %v", f, alarm)
		}
	})
	t.Run("45/55", func(t *testing.T) {
		const runs = 1000
		r := newRand(11)
		latest := int64(0)
		for i := range runs {
			at, _ := run(r, 0.45)
			if at < 0 || at > 20000 {
				t.Fatalf("run %d: fired at %d units, want by 20,000", i, at)
			}
			latest = max(latest, at)
		}
		t.Logf("%d runs with a 45/55 split: every one fired, the latest at %d units", runs, latest)
	})
}

// A guardrail watched daily for 30 days with the sequence at level 0.90
// (one-sided about 95%): when the treatment is exactly at the margin
// (0.5% worse), "regressed" is declared in at most 5% of runs; when it is
// 3% worse, in nearly all. The same watch with fixed-horizon intervals
// declares a regression at the margin far more often.
func TestSimulationGuardrailWatchedDaily(t *testing.T) {
	const runs, days, perDay, margin = 1000, 30, 2000, 0.005
	seq := Sequential{NStar: 2 * days * perDay, Level: 0.90}
	watch := func(r *rand.Rand, rel float64) (seqRegressed, fixedRegressed bool) {
		var c, tr Moments
		for range days {
			c = c.add(normalArm(r, perDay, 10, 4))
			tr = tr.add(normalArm(r, perDay, 10*(1+rel), 4))
			d, err := Means(c, tr, 0.90)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := Guardrail(d.RelCI, 1, margin); v == VerdictRegressed {
				fixedRegressed = true
			}
			s, err := seq.Difference(d)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := Guardrail(s.RelCI, 1, margin); v == VerdictRegressed {
				seqRegressed = true
			}
		}
		return seqRegressed, fixedRegressed
	}
	r := newRand(12)
	seqFalse, fixedFalse, caught := 0, 0, 0
	for range runs {
		s, f := watch(r, -margin)
		if s {
			seqFalse++
		}
		if f {
			fixedFalse++
		}
		if s, _ := watch(r, -0.03); s {
			caught++
		}
	}
	sf, ff, c := float64(seqFalse)/runs, float64(fixedFalse)/runs, float64(caught)/runs
	t.Logf("%d runs watched daily for %d days: at the margin, sequential declared regressed in %.4f, fixed-horizon in %.4f; 3%% worse, sequential caught %.4f",
		runs, days, sf, ff, c)
	if sf > 0.05+coverageMargin {
		t.Errorf("sequential guardrail false regressions %.4f, want ≤ 0.05 + %.3f", sf, coverageMargin)
	}
	if ff <= sf {
		t.Errorf("fixed-horizon watched daily (%.4f) not worse than sequential (%.4f)", ff, sf)
	}
	if c < 0.99 {
		t.Errorf("a 3%% regression caught in %.4f of runs, want ≥ 0.99", c)
	}
}

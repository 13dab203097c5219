package stats

import (
	"errors"
	"math"
	"testing"
)

// Bad input gets an error wrapping the package's sentinel, never NaN or a
// panic.
func TestErrors(t *testing.T) {
	ok := Moments{N: 100, Sum: 50, SumSq: 80}
	okP := Paired{N: 100, SumY: 50, SumY2: 80, SumX: 100, SumX2: 130, SumXY: 60}
	seq := Sequential{NStar: 1000, Level: 0.95}
	call := func(f func() error) func() error { return f }
	means := func(c, tr Moments, level float64) func() error {
		return func() error { _, err := Means(c, tr, level); return err }
	}
	props := func(c, tr Moments) func() error {
		return func() error { _, err := Proportions(c, tr, 0.95); return err }
	}
	ratios := func(c, tr Paired) func() error {
		return func() error { _, err := Ratios(c, tr, 0.95); return err }
	}
	cuped := func(c, tr Paired) func() error {
		return func() error { _, _, err := CUPED(c, tr, 0.95); return err }
	}
	srm := func(o []int64, w []float64) func() error {
		return func() error { _, _, err := SampleRatio(o, w); return err }
	}
	ssrm := func(o []int64, w []float64) func() error {
		return func() error { _, err := SequentialSampleRatio(o, w); return err }
	}
	for _, tc := range []struct {
		name string
		f    func() error
		want error
	}{
		{"means: empty control", means(Moments{}, ok, 0.95), ErrTooFewUnits},
		{"means: one unit", means(ok, Moments{N: 1, Sum: 1, SumSq: 1}, 0.95), ErrTooFewUnits},
		{"means: negative units", means(Moments{N: -3}, ok, 0.95), ErrInvalid},
		{"means: NaN sum", means(Moments{N: 10, Sum: math.NaN()}, ok, 0.95), ErrInvalid},
		{"means: infinite sum of squares", means(Moments{N: 10, Sum: 1, SumSq: math.Inf(1)}, ok, 0.95), ErrInvalid},
		{"means: sum of squares below sum²/n", means(Moments{N: 10, Sum: 10, SumSq: 5}, ok, 0.95), ErrInvalid},
		{"means: zero units with a sum", means(Moments{N: 0, Sum: 3}, ok, 0.95), ErrInvalid},
		{"means: no variance", means(Moments{N: 10, Sum: 10, SumSq: 10}, Moments{N: 20, Sum: 40, SumSq: 80}, 0.95), ErrZeroVariance},
		{"means: control mean 0", means(Moments{N: 10, Sum: 0, SumSq: 4}, ok, 0.95), ErrZeroControl},
		{"means: level 0", means(ok, ok, 0), ErrInvalid},
		{"means: level 1", means(ok, ok, 1), ErrInvalid},
		{"means: level 95 (percent)", means(ok, ok, 95), ErrInvalid},
		{"means: level NaN", means(ok, ok, math.NaN()), ErrInvalid},
		{"proportions: more conversions than units", props(Moments{N: 10, Sum: 11}, ok), ErrInvalid},
		{"proportions: negative conversions", props(Moments{N: 10, Sum: -1}, ok), ErrInvalid},
		{"proportions: fractional conversions", props(Moments{N: 10, Sum: 2.5}, ok), ErrInvalid},
		{"proportions: empty treatment", props(ok, Moments{}), ErrTooFewUnits},
		{"proportions: nobody converts", props(Moments{N: 10}, Moments{N: 20}), ErrZeroVariance},
		{"proportions: everybody converts", props(Moments{N: 10, Sum: 10}, Moments{N: 20, Sum: 20}), ErrZeroVariance},
		{"proportions: control converts 0", props(Moments{N: 1000}, Moments{N: 1000, Sum: 7}), ErrZeroControl},
		{"ratios: zero denominator", ratios(Paired{N: 10, SumY: 3, SumY2: 3}, okP), ErrZeroDenominator},
		{"ratios: empty arm", ratios(okP, Paired{}), ErrTooFewUnits},
		{"ratios: covariance beyond Cauchy–Schwarz", ratios(Paired{N: 100, SumY: 50, SumY2: 80, SumX: 100, SumX2: 130, SumXY: 500}, okP), ErrInvalid},
		{"ratios: NaN cross sum", ratios(Paired{N: 100, SumY: 50, SumY2: 80, SumX: 100, SumX2: 130, SumXY: math.NaN()}, okP), ErrInvalid},
		{"ratios: control ratio 0", ratios(Paired{N: 100, SumY: 0, SumY2: 0, SumX: 100, SumX2: 130}, okP), ErrZeroControl},
		{"cuped: one unit", cuped(Paired{N: 1, SumY: 1, SumY2: 1, SumX: 1, SumX2: 1, SumXY: 1}, okP), ErrTooFewUnits},
		{"cuped: negative units", cuped(okP, Paired{N: -1}), ErrInvalid},
		{"cuped: no variance", cuped(Paired{N: 10, SumY: 10, SumY2: 10, SumX: 10, SumX2: 20, SumXY: 10}, Paired{N: 10, SumY: 10, SumY2: 10, SumX: 10, SumX2: 20, SumXY: 10}), ErrZeroVariance},
		{"cuped: control mean 0", cuped(Paired{N: 100, SumY: 0, SumY2: 30, SumX: 100, SumX2: 130, SumXY: 5}, okP), ErrZeroControl},
		{"sample ratio: lengths differ", srm([]int64{10, 10}, []float64{1, 1, 1}), ErrInvalid},
		{"sample ratio: negative count", srm([]int64{10, -1}, []float64{1, 1}), ErrInvalid},
		{"sample ratio: negative weight", srm([]int64{10, 10}, []float64{1, -1}), ErrInvalid},
		{"sample ratio: NaN weight", srm([]int64{10, 10}, []float64{1, math.NaN()}), ErrInvalid},
		{"sample ratio: one arm", srm([]int64{10, 0}, []float64{1, 0}), ErrInvalid},
		{"sample ratio: no units", srm([]int64{0, 0}, []float64{1, 1}), ErrTooFewUnits},
		{"sequential sample ratio: lengths differ", ssrm([]int64{10}, []float64{1, 1}), ErrInvalid},
		{"sequential sample ratio: negative count", ssrm([]int64{-5, 10}, []float64{1, 1}), ErrInvalid},
		{"sequential sample ratio: no units", ssrm([]int64{0, 0}, []float64{1, 1}), ErrTooFewUnits},
		{"monitor: negative concentration", call(func() error {
			m := SampleRatioMonitor{Concentration: -1}
			_, err := m.Check([]int64{10, 10}, []float64{1, 1})
			return err
		}), ErrInvalid},
		{"holm: NaN", call(func() error { _, err := Holm([]float64{0.1, math.NaN()}); return err }), ErrInvalid},
		{"holm: above 1", call(func() error { _, err := Holm([]float64{1.5}); return err }), ErrInvalid},
		{"bh: negative", call(func() error { _, err := BenjaminiHochberg([]float64{-0.1}); return err }), ErrInvalid},
		{"guardrail: direction 0", call(func() error { _, err := Guardrail(Interval{-1, 1}, 0, 0.01); return err }), ErrInvalid},
		{"guardrail: negative margin", call(func() error { _, err := Guardrail(Interval{-1, 1}, 1, -0.01); return err }), ErrInvalid},
		{"guardrail: NaN interval", call(func() error { _, err := Guardrail(Interval{math.NaN(), 1}, 1, 0.01); return err }), ErrInvalid},
		{"guardrail: reversed interval", call(func() error { _, err := Guardrail(Interval{1, -1}, 1, 0.01); return err }), ErrInvalid},
		{"sequential: NStar 0", call(func() error { _, err := Sequential{Level: 0.95}.Interval(1, 1, 100); return err }), ErrInvalid},
		{"sequential: level 0", call(func() error { _, err := Sequential{NStar: 10}.PValue(1, 1, 100); return err }), ErrInvalid},
		{"sequential: zero se", call(func() error { _, err := seq.Interval(1, 0, 100); return err }), ErrZeroVariance},
		{"sequential: one unit", call(func() error { _, err := seq.PValue(1, 1, 1); return err }), ErrTooFewUnits},
		{"sequential: NaN estimate", call(func() error { _, err := seq.PValue(math.NaN(), 1, 100); return err }), ErrInvalid},
		{"sequential: difference without relative", call(func() error {
			d, _ := Means(Moments{N: 10, Sum: 0, SumSq: 4}, ok, 0.95)
			_, err := seq.Difference(d)
			return err
		}), ErrZeroControl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// A zero control keeps the absolute result: the report can still show it.
func TestZeroControlKeepsAbsolute(t *testing.T) {
	d, err := Proportions(Moments{N: 1000}, Moments{N: 1000, Sum: 7}, 0.95)
	if !errors.Is(err, ErrZeroControl) {
		t.Fatalf("err = %v, want ErrZeroControl", err)
	}
	if d.Abs != 0.007 || !(d.AbsSE > 0) || !(d.AbsP > 0 && d.AbsP < 1) || !d.AbsCI.Contains(d.Abs) {
		t.Errorf("absolute fields not filled: %+v", d)
	}
	if d.Rel != 0 || d.RelSE != 0 || d.RelP != 0 {
		t.Errorf("relative fields set without a control: %+v", d)
	}
}

// Every number of a successful result is finite, including p-values of
// huge effects and degrees of freedom of huge samples.
func TestNoNaN(t *testing.T) {
	big := Moments{N: 50_000_000, Sum: 5e7 * 3.1, SumSq: 5e7 * (3.1*3.1 + 4)}
	big2 := Moments{N: 50_000_000, Sum: 5e7 * 3.0, SumSq: 5e7 * (9 + 4)}
	for name, f := range map[string]func() (Difference, error){
		"huge samples": func() (Difference, error) { return Means(big, big2, 0.95) },
		"huge effect": func() (Difference, error) {
			return Means(Moments{N: 1000, Sum: 1000, SumSq: 1001}, Moments{N: 1000, Sum: 1e6, SumSq: 1e9 + 1}, 0.99)
		},
		"one arm constant": func() (Difference, error) {
			return Means(Moments{N: 10, Sum: 10, SumSq: 10}, Moments{N: 10, Sum: 12, SumSq: 20}, 0.95)
		},
		"tiny proportions": func() (Difference, error) {
			return Proportions(Moments{N: 10_000_000, Sum: 1}, Moments{N: 10_000_000, Sum: 3}, 0.95)
		},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := f()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []float64{d.Control, d.Treatment, d.Abs, d.AbsSE, d.AbsCI.Low, d.AbsCI.High, d.AbsP,
				d.Rel, d.RelSE, d.RelCI.Low, d.RelCI.High, d.RelP, d.DF} {
				if !finite(v) {
					t.Fatalf("non-finite field in %+v", d)
				}
			}
			if d.AbsP < 0 || d.AbsP > 1 || d.RelP < 0 || d.RelP > 1 {
				t.Fatalf("p-value outside [0, 1]: %+v", d)
			}
		})
	}
}

// A covariate without variance cannot help: CUPED gives the plain Welch
// result and a reduction of 0.
func TestCUPEDConstantCovariate(t *testing.T) {
	c := Paired{N: 100, SumY: 50, SumY2: 80, SumX: 200, SumX2: 400, SumXY: 100}
	tr := Paired{N: 120, SumY: 70, SumY2: 100, SumX: 240, SumX2: 480, SumXY: 140}
	d, red, err := CUPED(c, tr, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Means(c.Y(), tr.Y(), 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if red != 0 || d != plain {
		t.Errorf("CUPED = %+v (reduction %v), want the plain %+v", d, red, plain)
	}
}

// Units in an arm of weight 0 are a certain mismatch.
func TestSampleRatioZeroWeight(t *testing.T) {
	chi2, p, err := SampleRatio([]int64{500, 500, 1}, []float64{50, 50, 0})
	if err != nil || !math.IsInf(chi2, 1) || p != 0 {
		t.Errorf("SampleRatio = %v, %v, %v; want +Inf, 0, nil", chi2, p, err)
	}
	// No units there: the arm does not count (1 degree of freedom).
	_, p3, _ := SampleRatio([]int64{520, 480, 0}, []float64{50, 50, 0})
	_, p2, _ := SampleRatio([]int64{520, 480}, []float64{50, 50})
	if p3 != p2 {
		t.Errorf("empty zero-weight arm changes p: %v vs %v", p3, p2)
	}
	sp, err := SequentialSampleRatio([]int64{500, 500, 1}, []float64{50, 50, 0})
	if err != nil || sp != 0 {
		t.Errorf("SequentialSampleRatio = %v, %v; want 0, nil", sp, err)
	}
}

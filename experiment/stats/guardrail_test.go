package stats

import (
	"math"
	"testing"
)

func TestGuardrail(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name      string
		rel       Interval
		direction int
		margin    float64
		want      Verdict
	}{
		// Increase is good: harm is below −margin.
		{"up: clearly better", Interval{0.01, 0.03}, 1, 0.005, VerdictOK},
		{"up: slightly worse, within margin", Interval{-0.004, -0.001}, 1, 0.005, VerdictOK},
		{"up: could be worse than margin", Interval{-0.01, 0.02}, 1, 0.005, VerdictInconclusive},
		{"up: worse beyond margin", Interval{-0.03, -0.006}, 1, 0.005, VerdictRegressed},
		{"up: touching the margin is not beyond it", Interval{-0.03, -0.005}, 1, 0.005, VerdictInconclusive},
		{"up: one-sided upper bound", Interval{-inf, -0.02}, 1, 0.005, VerdictRegressed},
		{"up: zero margin, significantly worse", Interval{-0.02, -0.001}, 1, 0, VerdictRegressed},
		// Decrease is good (errors): harm is above +margin.
		{"down: fewer errors", Interval{-0.2, -0.1}, -1, 0.005, VerdictOK},
		{"down: more errors beyond margin", Interval{0.01, 0.2}, -1, 0.005, VerdictRegressed},
		{"down: could be either", Interval{-0.01, 0.01}, -1, 0.005, VerdictInconclusive},
		{"down: one-sided lower bound", Interval{0.006, inf}, -1, 0.005, VerdictRegressed},
		{"down: unbounded", Interval{-inf, inf}, -1, 0.005, VerdictInconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Guardrail(tc.rel, tc.direction, tc.margin)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Guardrail(%v, %d, %v) = %v, want %v", tc.rel, tc.direction, tc.margin, got, tc.want)
			}
		})
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{VerdictOK: "ok", VerdictInconclusive: "inconclusive", VerdictRegressed: "regressed", Verdict(7): "Verdict(7)"} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q, want %q", int(v), got, want)
		}
	}
}

// The sequential p-value is below α exactly when the interval at 1 − α
// leaves out 0, and both tighten toward the fixed-horizon ones only as
// NStar is approached.
func TestSequentialConsistent(t *testing.T) {
	s := Sequential{NStar: 10000, Level: 0.95}
	for _, z := range []float64{0.5, 1, 2, 3, 3.2, 3.5, 4, 6} {
		for _, n := range []float64{100, 1000, 10000, 1e6} {
			ci, err := s.Interval(z, 1, n)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.PValue(z, 1, n)
			if err != nil {
				t.Fatal(err)
			}
			if (p < 0.05) != (ci.Low > 0) {
				t.Errorf("z %v n %v: p %v but interval %v", z, n, p, ci)
			}
			if hw := ci.High - z; hw <= 1.959964 {
				t.Errorf("z %v n %v: half-width %v not wider than the fixed 1.96", z, n, hw)
			}
		}
	}
	// Tightest near NStar: the half-width in standard errors is smallest
	// when n = NStar among these.
	hw := func(n float64) float64 { ci, _ := s.Interval(0, 1, n); return ci.High }
	if !(hw(10000) < hw(1000) && hw(10000) < hw(100000)) {
		t.Errorf("half-widths at 1000, 10000, 100000: %v %v %v; want the smallest at NStar", hw(1000), hw(10000), hw(100000))
	}
}

// Holm and Benjamini–Hochberg by hand: p = (0.01, 0.04, 0.03, 0.005).
// Holm, sorted 0.005, 0.01, 0.03, 0.04: 4·0.005 = 0.02, 3·0.01 = 0.03,
// 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06. BH: 4·0.04/4 = 0.04,
// min(0.04, 4·0.03/3 = 0.04), min(0.04, 4·0.01/2 = 0.02),
// min(0.02, 4·0.005/1 = 0.02).
func TestAdjustByHand(t *testing.T) {
	p := []float64{0.01, 0.04, 0.03, 0.005}
	holm, _ := Holm(p)
	bh, _ := BenjaminiHochberg(p)
	for i, want := range []float64{0.03, 0.06, 0.06, 0.02} {
		near(t, "holm", holm[i], want, 1e-15)
	}
	for i, want := range []float64{0.02, 0.04, 0.04, 0.02} {
		near(t, "bh", bh[i], want, 1e-15)
	}
	if got, err := Holm(nil); err != nil || len(got) != 0 {
		t.Errorf("Holm(nil) = %v, %v", got, err)
	}
}

package stats

import (
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The fast t quantile agrees with gonum's inversion of the incomplete
// beta function.
func TestStudentsTQuantile(t *testing.T) {
	for _, nu := range []float64{1, 2, 3, 4, 5, 10, 30, 55.7, 137, 1000, 5841.7, 40000, 1e5} {
		for _, p := range []float64{0.5, 0.6, 0.9, 0.95, 0.975, 0.99, 0.995, 0.9995, 0.999999} {
			want := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}.Quantile(p)
			got := reference(nu).Quantile(p)
			near(t, "quantile", got, want, 1e-9*want+1e-12)
		}
	}
	// Beyond 10⁵ degrees of freedom the normal stands in for t.
	tdist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: 1e5}
	norm := reference(1e5 + 1)
	for _, p := range []float64{0.9, 0.95, 0.975, 0.99, 0.995, 0.9995} {
		near(t, "normal quantile for t", norm.Quantile(p), tdist.Quantile(p), 3e-5*tdist.Quantile(p))
	}
	for _, x := range []float64{0.5, 1, 1.96, 2.5, 3, 4, 6} {
		near(t, "normal survival for t", norm.Survival(x), tdist.Survival(x), 2e-6)
	}
}

// The closed forms for one and two degrees of freedom agree with gonum.
func TestChi2Survival(t *testing.T) {
	for _, k := range []int{1, 2, 3, 5} {
		for _, x := range []float64{0, 0.01, 0.5, 1, 3.84, 11.24, 40, 100} {
			want := distuv.ChiSquared{K: float64(k)}.Survival(x)
			near(t, "χ² survival", chi2Survival(x, k), want, 1e-12*want+1e-300)
		}
	}
}

func BenchmarkStudentsTQuantile(b *testing.B) {
	s := reference(5841.7)
	b.ReportAllocs()
	for b.Loop() {
		s.Quantile(0.975)
	}
}

func BenchmarkGonumStudentsTQuantile(b *testing.B) {
	s := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: 5841.7}
	b.ReportAllocs()
	for b.Loop() {
		s.Quantile(0.975)
	}
}

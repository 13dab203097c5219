package stats

import (
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The fast t quantile agrees with gonum's inversion of the incomplete
// beta function.
func TestStudentsTQuantile(t *testing.T) {
	for _, nu := range []float64{1, 2, 3, 4, 5, 10, 30, 55.7, 137, 1000, 5841.7, 1e5, 3e6} {
		for _, p := range []float64{0.5, 0.6, 0.9, 0.95, 0.975, 0.99, 0.995, 0.9995, 0.999999} {
			want := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}.Quantile(p)
			got := studentsT{distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}}.Quantile(p)
			near(t, "quantile", got, want, 1e-9*want+1e-12)
		}
	}
}

func BenchmarkStudentsTQuantile(b *testing.B) {
	s := studentsT{distuv.StudentsT{Mu: 0, Sigma: 1, Nu: 5841.7}}
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

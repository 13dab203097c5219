package stats

import "testing"

// Per-call costs: a report calls these a few times per metric and arm, the
// controller a few times per running experiment and guarded stage.

var (
	benchC = Paired{N: 5000, SumY: 10000, SumY2: 45000, SumX: 9000, SumX2: 36000, SumXY: 35000}
	benchT = Paired{N: 5000, SumY: 10400, SumY2: 47500, SumX: 9050, SumX2: 36300, SumXY: 36200}
	sinkD  Difference
	sinkF  float64
)

func BenchmarkMeans(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkD, _ = Means(gbControl, gbTreatment, 0.95)
	}
}

func BenchmarkProportions(b *testing.B) {
	c, t := Moments{N: 20000, Sum: 2000}, Moments{N: 20000, Sum: 2130}
	b.ReportAllocs()
	for b.Loop() {
		sinkD, _ = Proportions(c, t, 0.95)
	}
}

func BenchmarkRatios(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkD, _ = Ratios(benchC, benchT, 0.95)
	}
}

func BenchmarkCUPED(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkD, sinkF, _ = CUPED(benchC, benchT, 0.95)
	}
}

func BenchmarkSequentialDifference(b *testing.B) {
	d, _ := Means(gbControl, gbTreatment, 0.95)
	s := Sequential{NStar: 10000, Level: 0.95}
	b.ReportAllocs()
	for b.Loop() {
		sinkD, _ = s.Difference(d)
	}
}

func BenchmarkSampleRatio(b *testing.B) {
	o, w := []int64{3_400_120, 3_299_050, 3_300_830}, []float64{34, 33, 33}
	b.ReportAllocs()
	for b.Loop() {
		_, sinkF, _ = SampleRatio(o, w)
	}
}

func BenchmarkSequentialSampleRatio(b *testing.B) {
	o, w := []int64{3_400_120, 3_299_050, 3_300_830}, []float64{34, 33, 33}
	b.ReportAllocs()
	for b.Loop() {
		sinkF, _ = SequentialSampleRatio(o, w)
	}
}

func BenchmarkHolm(b *testing.B) {
	p := []float64{0.01, 0.2, 0.04, 0.5, 0.03, 0.9, 0.005, 0.06, 0.3, 0.001}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Holm(p)
	}
}

func BenchmarkGuardrail(b *testing.B) {
	var v Verdict
	b.ReportAllocs()
	for b.Loop() {
		v, _ = Guardrail(Interval{-0.01, 0.02}, 1, 0.005)
	}
	_ = v
}

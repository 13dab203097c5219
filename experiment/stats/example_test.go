package stats_test

import (
	"errors"
	"fmt"

	"github.com/ramp-flags/ramp/experiment/stats"
)

// Replies per user in dm-handoff-vs-inline: the per-arm sums the store
// computes (units, Σ replies, Σ replies²) go in, the difference comes out.
func ExampleMeans() {
	off := stats.Moments{N: 3407, Sum: 1396.87, SumSq: 52377.9767}
	inline := stats.Moments{N: 3461, Sum: 2422.7, SumSq: 134698.29}
	d, err := stats.Means(off, inline, 0.95)
	if err != nil {
		panic(err)
	}
	fmt.Printf("replies per user: %.2f → %.2f\n", d.Control, d.Treatment)
	fmt.Printf("absolute %+.3f, 95%% CI [%.3f, %.3f], p = %.4f\n", d.Abs, d.AbsCI.Low, d.AbsCI.High, d.AbsP)
	fmt.Printf("relative %+.1f%%, 95%% CI [%.1f%%, %.1f%%], p = %.4f\n", 100*d.Rel, 100*d.RelCI.Low, 100*d.RelCI.High, d.RelP)
	// Output:
	// replies per user: 0.41 → 0.70
	// absolute +0.290, 95% CI [0.045, 0.535], p = 0.0202
	// relative +70.7%, 95% CI [-3.5%, 145.0%], p = 0.0619
}

// Conversions: Sum is the number of units with at least one reply.
func ExampleProportions() {
	d, err := stats.Proportions(stats.Moments{N: 20000, Sum: 2000}, stats.Moments{N: 20000, Sum: 2130}, 0.95)
	if err != nil {
		panic(err)
	}
	fmt.Printf("reply rate %.2f%% → %.2f%%: %+.1f%% relative, 95%% CI [%.1f%%, %.1f%%], p = %.4f\n",
		100*d.Control, 100*d.Treatment, 100*d.Rel, 100*d.RelCI.Low, 100*d.RelCI.High, d.RelP)
	// A control that never converts has no relative difference; the
	// absolute one is still there.
	d, err = stats.Proportions(stats.Moments{N: 1000}, stats.Moments{N: 1000, Sum: 7}, 0.95)
	fmt.Println(errors.Is(err, stats.ErrZeroControl), d.Abs)
	// Output:
	// reply rate 10.00% → 10.65%: +6.5% relative, 95% CI [0.3%, 12.7%], p = 0.0385
	// true 0.007
}

// Send errors per message sent: y is a unit's errors, x its messages.
func ExampleRatios() {
	off := stats.Paired{N: 10000, SumY: 1200, SumY2: 2600, SumX: 50000, SumX2: 300000, SumXY: 7000}
	inline := stats.Paired{N: 10000, SumY: 1320, SumY2: 2900, SumX: 50500, SumX2: 305000, SumXY: 7700}
	d, err := stats.Ratios(off, inline, 0.95)
	if err != nil {
		panic(err)
	}
	fmt.Printf("errors per message %.5f → %.5f: %+.1f%% relative, 95%% CI [%.1f%%, %.1f%%]\n",
		d.Control, d.Treatment, 100*d.Rel, 100*d.RelCI.Low, 100*d.RelCI.High)
	// Output:
	// errors per message 0.02400 → 0.02614: +8.9% relative, 95% CI [-3.3%, 21.1%]
}

// CUPED with the same metric over the 14 days before first exposure as
// the covariate x.
func ExampleCUPED() {
	off := stats.Paired{N: 5000, SumY: 10000, SumY2: 45000, SumX: 9000, SumX2: 36000, SumXY: 35000}
	inline := stats.Paired{N: 5000, SumY: 10400, SumY2: 47500, SumX: 9050, SumX2: 36300, SumXY: 36200}
	d, reduction, err := stats.CUPED(off, inline, 0.95)
	if err != nil {
		panic(err)
	}
	plain, _ := stats.Means(off.Y(), inline.Y(), 0.95)
	fmt.Printf("plain:    %+.2f%% [%.2f%%, %.2f%%]\n", 100*plain.Rel, 100*plain.RelCI.Low, 100*plain.RelCI.High)
	fmt.Printf("adjusted: %+.2f%% [%.2f%%, %.2f%%], variance %.0f%% smaller\n", 100*d.Rel, 100*d.RelCI.Low, 100*d.RelCI.High, 100*reduction)
	// Output:
	// plain:    +4.00% [-0.51%, 8.51%]
	// adjusted: +3.57% [0.66%, 6.47%], variance 58% smaller
}

// The always-valid interval of a Difference, for a team that reads the
// report every morning: NStar is the planned sample (both arms).
func ExampleSequential_Difference() {
	d, err := stats.Means(stats.Moments{N: 3000, Sum: 1396.87, SumSq: 52377.9767},
		stats.Moments{N: 3461, Sum: 2422.7, SumSq: 134698.29}, 0.95)
	if err != nil {
		panic(err)
	}
	s, err := stats.Sequential{NStar: 1000, Level: 0.95}.Difference(d)
	if err != nil {
		panic(err)
	}
	fmt.Printf("fixed:        [%.5f, %.5f] p = %.3f\n", d.RelCI.Low, d.RelCI.High, d.RelP)
	fmt.Printf("always valid: [%.5f, %.5f] p = %.3f\n", s.RelCI.Low, s.RelCI.High, s.RelP)
	// Output:
	// fixed:        [-0.15024, 1.15697] p = 0.131
	// always valid: [-0.55844, 1.56516] p = 1.000
}

// Interval and PValue work on any estimate with a standard error.
func ExampleSequential_Interval() {
	s := stats.Sequential{NStar: 100000, Level: 0.95}
	for _, n := range []float64{10000, 100000, 1000000} {
		ci, _ := s.Interval(0.02, 0.005, n)
		p, _ := s.PValue(0.02, 0.005, n)
		fmt.Printf("n %7.0f: [%.4f, %.4f] p = %.4f\n", n, ci.Low, ci.High, p)
	}
	// Output:
	// n   10000: [0.0007, 0.0393] p = 0.0389
	// n  100000: [0.0048, 0.0352] p = 0.0025
	// n 1000000: [0.0038, 0.0362] p = 0.0033
}

// The report's sample-ratio check: units per arm against the phase's
// weights.
func ExampleSampleRatio() {
	chi2, p, err := stats.SampleRatio([]int64{44000, 45000}, []float64{50, 50})
	if err != nil {
		panic(err)
	}
	fmt.Printf("χ² = %.2f, p = %.4f\n", chi2, p)
	// Output:
	// χ² = 11.24, p = 0.0008
}

// The controller's daily check: the anytime-valid p-value of the counts
// so far, and the monitor that keeps the smallest one of the phase.
func ExampleSampleRatioMonitor() {
	var m stats.SampleRatioMonitor
	weights := []float64{34, 33, 33}
	for _, day := range [][]int64{
		{3400, 3300, 3300},
		{6750, 6620, 6590},
		{10020, 9910, 10500}, // inline starts receiving extra units
	} {
		now, _ := stats.SequentialSampleRatio(day, weights)
		low, err := m.Check(day, weights)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%v: p now %.3g, lowest %.3g, pause: %v\n", day, now, low, low < 0.001)
	}
	// Output:
	// [3400 3300 3300]: p now 1, lowest 1, pause: false
	// [6750 6620 6590]: p now 1, lowest 1, pause: false
	// [10020 9910 10500]: p now 1.78e-05, lowest 1.78e-05, pause: true
}

// Secondary metrics of one experiment, adjusted together.
func ExampleHolm() {
	p := []float64{0.01, 0.04, 0.03, 0.005}
	holm, _ := stats.Holm(p)
	bh, _ := stats.BenjaminiHochberg(p)
	fmt.Println(holm)
	fmt.Println(bh)
	// Output:
	// [0.03 0.06 0.06 0.02]
	// [0.02 0.04 0.04 0.02]
}

// A guardrail on send errors per message (decrease is good) with a 0.5%
// margin, judged one-sided at 95% from the 90% two-sided interval.
func ExampleGuardrail() {
	off := stats.Paired{N: 200000, SumY: 24000, SumY2: 52000, SumX: 1000000, SumX2: 6000000, SumXY: 140000}
	inline := stats.Paired{N: 200000, SumY: 26400, SumY2: 58000, SumX: 1010000, SumX2: 6100000, SumXY: 154000}
	d, err := stats.Ratios(off, inline, 0.90)
	if err != nil {
		panic(err)
	}
	v, err := stats.Guardrail(d.RelCI, -1, 0.005)
	if err != nil {
		panic(err)
	}
	fmt.Printf("errors per message %+.1f%% [%.1f%%, %.1f%%]: %v\n", 100*d.Rel, 100*d.RelCI.Low, 100*d.RelCI.High, v)
	// Output:
	// errors per message +8.9% [6.6%, 11.2%]: regressed
}

package report_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

var started = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// dm is dm-handoff-vs-inline in phase 1 with the given weights (percent).
func dm(off, handoff, inline int) (experiment.Experiment, experiment.Phase) {
	arms := []experiment.Arm{{Variant: "off", Weight: flags.Percent(off * 100)}, {Variant: "handoff", Weight: flags.Percent(handoff * 100)}, {Variant: "inline", Weight: flags.Percent(inline * 100)}}
	x := experiment.Experiment{Key: "dm-handoff-vs-inline", Flag: "ig-dm-via-whatsapp", Control: "off", Arms: arms, Traffic: 2000}
	return x, experiment.Phase{Number: 1, Traffic: 2000, Arms: arms, Started: started}
}

// sample returns an arm's statistics over n units whose value is normal
// with the given mean and sd (seeded), and, when rho != 0, a covariate
// with correlation rho to it.
func sample(arm string, n int, mean, sd, rho float64, seed uint64) report.ArmStats {
	r := rand.New(rand.NewPCG(seed, 7))
	s := report.ArmStats{Arm: arm, N: int64(n)}
	for range n {
		z := r.NormFloat64()
		y := mean + sd*z
		x := rho*z + math.Sqrt(1-rho*rho)*r.NormFloat64()
		s.SumY += y
		s.SumY2 += y * y
		s.SumX += x
		s.SumX2 += x * x
		s.SumXY += x * y
	}
	return s
}

// conversions returns an arm's statistics for k converted units of n.
func conversions(arm string, k, n int) report.ArmStats {
	return report.ArmStats{Arm: arm, N: int64(n), SumY: float64(k), SumY2: float64(k)}
}

func metric(key string, kind experiment.MetricKind, dir int, margin float64) experiment.Metric {
	return experiment.Metric{Key: key, Kind: kind, Event: "dm_reply", Direction: dir, Margin: margin, Window: rollout.Duration(7 * 24 * time.Hour)}
}

func comparison(t *testing.T, r report.Report, key, arm string) report.Comparison {
	t.Helper()
	for _, m := range r.Metrics {
		if m.Key != key {
			continue
		}
		for _, c := range m.Comparisons {
			if c.Arm == arm {
				return c
			}
		}
	}
	t.Fatalf("no comparison %s/%s in %+v", key, arm, r.Metrics)
	return report.Comparison{}
}

func TestSampleRatio(t *testing.T) {
	tests := []struct {
		name         string
		counts       []report.ArmCount
		weights      [3]int
		wantMismatch bool
		wantWarnings []string
	}{
		{"in proportion", []report.ArmCount{{Arm: "off", Units: 34000}, {Arm: "handoff", Units: 33010}, {Arm: "inline", Units: 32990}}, [3]int{34, 33, 33}, false, nil},
		// 44,000 vs 45,000 at 50/50: p ≈ 0.0008 (the example).
		{"44,000 vs 45,000 at 50/50", []report.ArmCount{{Arm: "off", Units: 44000}, {Arm: "handoff", Units: 45000}}, [3]int{50, 50, 0}, true, []string{"SAMPLE RATIO MISMATCH"}},
		{"units in two arms above 1%", []report.ArmCount{{Arm: "off", Units: 3400, MultiArm: 100}, {Arm: "handoff", Units: 3300, MultiArm: 30}, {Arm: "inline", Units: 3300}}, [3]int{34, 33, 33}, false, []string{"seen in two arms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, ph := dm(tt.weights[0], tt.weights[1], tt.weights[2])
			if tt.weights[2] == 0 {
				ph.Arms = ph.Arms[:2]
			}
			r, err := report.Build(report.Input{Experiment: x, Phase: ph, Exposures: tt.counts}, report.Options{})
			if err != nil {
				t.Fatal(err)
			}
			sr := r.SampleRatio
			if sr.Mismatch != tt.wantMismatch {
				t.Errorf("mismatch %v (p %g), want %v", sr.Mismatch, sr.P, tt.wantMismatch)
			}
			if tt.name == "44,000 vs 45,000 at 50/50" && math.Abs(sr.P-0.000801) > 0.00002 {
				t.Errorf("p = %g, want ≈ 0.0008", sr.P)
			}
			if len(r.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings %q, want %d", r.Warnings, len(tt.wantWarnings))
			}
			for i, w := range tt.wantWarnings {
				if !strings.Contains(r.Warnings[i], w) {
					t.Errorf("warning %q, want %q in it", r.Warnings[i], w)
				}
			}
			var sum float64
			for _, a := range sr.Arms {
				sum += a.Observed
			}
			if sr.Units > 0 && math.Abs(sum-1) > 1e-9 {
				t.Errorf("observed shares sum to %g", sum)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	x, ph := dm(34, 33, 33)
	x.Metrics = experiment.Metrics{Primary: "replies-per-user", Secondary: []string{"reply-rate"}, Guardrails: []string{"send-errors-per-message"}}
	replies := metric("replies-per-user", experiment.Mean, experiment.Increase, 0)
	errs := metric("send-errors-per-message", experiment.Mean, experiment.Decrease, 0.5)
	rate := metric("reply-rate", experiment.Conversion, experiment.Increase, 0)
	in := report.Input{Experiment: x, Phase: ph,
		Exposures: []report.ArmCount{{Arm: "off", Units: 20000}, {Arm: "handoff", Units: 20000}, {Arm: "inline", Units: 20000}},
		Metrics: []report.MetricData{
			// inline raises replies by 10%, handoff does nothing.
			{Metric: replies, Role: report.Primary, Arms: []report.ArmStats{
				sample("off", 20000, 2.0, 1.5, 0, 1), sample("handoff", 20000, 2.0, 1.5, 0, 2), sample("inline", 20000, 2.2, 1.5, 0, 3)}},
			{Metric: rate, Role: report.Secondary, Arms: []report.ArmStats{
				conversions("off", 6000, 20000), conversions("handoff", 6010, 20000), conversions("inline", 6600, 20000)}},
			// inline doubles send errors: a regression beyond 0.5%.
			{Metric: errs, Role: report.Guardrail, Arms: []report.ArmStats{
				sample("off", 20000, 0.05, 0.2, 0, 4), sample("handoff", 20000, 0.05, 0.2, 0, 5), sample("inline", 20000, 0.10, 0.2, 0, 6)}},
		}}
	r, err := report.Build(in, report.Options{NStar: 40000})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		metric, arm string
		want        report.Outcome
	}{
		{"replies-per-user", "inline", report.Better},
		{"replies-per-user", "handoff", report.Inconclusive},
		{"reply-rate", "inline", report.Better},
		{"reply-rate", "handoff", report.Inconclusive},
		{"send-errors-per-message", "inline", report.Regressed},
	}
	for _, tt := range tests {
		c := comparison(t, r, tt.metric, tt.arm)
		if c.Outcome != tt.want {
			t.Errorf("%s/%s: outcome %s (rel %.4f, always-valid %v p %.3g), want %s", tt.metric, tt.arm, c.Outcome, c.Fixed.Rel, c.Sequential.RelCI, c.Sequential.AbsP, tt.want)
		}
		// The always-valid interval is never narrower than the fixed one.
		if c.Sequential.AbsCI.High-c.Sequential.AbsCI.Low < c.Fixed.AbsCI.High-c.Fixed.AbsCI.Low {
			t.Errorf("%s/%s: always-valid %v narrower than fixed %v", tt.metric, tt.arm, c.Sequential.AbsCI, c.Fixed.AbsCI)
		}
	}
	// Holm: two secondary comparisons; the smaller p is doubled (or 1).
	hi, lo := comparison(t, r, "reply-rate", "handoff"), comparison(t, r, "reply-rate", "inline")
	if want := math.Min(1, 2*lo.Sequential.AbsP); math.Abs(lo.AdjustedP-want) > 1e-12 {
		t.Errorf("Holm-adjusted p %g, want %g", lo.AdjustedP, want)
	}
	if hi.AdjustedP < hi.Sequential.AbsP || hi.AdjustedP < lo.AdjustedP {
		t.Errorf("Holm-adjusted p %g below raw %g or below the smaller one's %g", hi.AdjustedP, hi.Sequential.AbsP, lo.AdjustedP)
	}
	if p := comparison(t, r, "replies-per-user", "inline"); p.AdjustedP != 0 {
		t.Errorf("a primary metric was adjusted: %g", p.AdjustedP)
	}
	// The relative lift is about 10% and its interval covers it.
	if c := comparison(t, r, "replies-per-user", "inline"); math.Abs(c.Fixed.Rel-0.10) > 0.02 || !c.Fixed.RelCI.Contains(0.10) {
		t.Errorf("relative lift %.4f %v, want ≈ 0.10 inside", c.Fixed.Rel, c.Fixed.RelCI)
	}
}

// TestGuardrailVerdicts: a guardrail is judged one-sided against its
// margin in the metric's direction.
func TestGuardrailVerdicts(t *testing.T) {
	x, ph := dm(50, 50, 0)
	ph.Arms = ph.Arms[:2]
	tests := []struct {
		name    string
		dir     int
		control float64
		treated float64
		n       int
		margin  float64
		want    report.Outcome
	}{
		{"no change, many units: ok", experiment.Decrease, 1.0, 1.0, 200000, 5, report.OK},
		{"errors up 20%: regressed", experiment.Decrease, 1.0, 1.2, 200000, 5, report.Regressed},
		{"errors down 20%: ok", experiment.Decrease, 1.0, 0.8, 200000, 5, report.OK},
		{"replies down 20%: regressed", experiment.Increase, 1.0, 0.8, 200000, 5, report.Regressed},
		{"too few units to tell", experiment.Decrease, 1.0, 1.03, 300, 5, report.Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metric("g", experiment.Mean, tt.dir, tt.margin)
			in := report.Input{Experiment: x, Phase: ph, Metrics: []report.MetricData{{Metric: m, Role: report.Guardrail,
				Arms: []report.ArmStats{sample("off", tt.n, tt.control, 0.5, 0, 11), sample("handoff", tt.n, tt.treated, 0.5, 0, 12)}}}}
			r, err := report.Build(in, report.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c := comparison(t, r, "g", "handoff"); c.Outcome != tt.want {
				t.Errorf("outcome %s (rel %v always-valid %v), want %s", c.Outcome, c.Fixed.Rel, c.Sequential.RelCI, tt.want)
			}
			if got := r.Metrics[0].Margin; math.Abs(got-tt.margin/100) > 1e-12 {
				t.Errorf("margin %g, want %g", got, tt.margin/100)
			}
		})
	}
}

// TestCUPEDAndSeries: a covariate adds an adjusted result with its
// variance reduction (about ρ² = 0.49 at ρ = 0.7), and snapshots give the
// estimate over time.
func TestCUPEDAndSeries(t *testing.T) {
	x, ph := dm(50, 50, 0)
	ph.Arms = ph.Arms[:2]
	m := metric("replies-per-user", experiment.Mean, experiment.Increase, 0)
	m.Covariate = &experiment.Covariate{Window: rollout.Duration(14 * 24 * time.Hour)}
	var series []report.Snapshot
	for d := 1; d <= 3; d++ {
		series = append(series, report.Snapshot{At: started.AddDate(0, 0, d), Arms: []report.ArmStats{
			sample("off", 5000*d, 2, 1, 0.7, uint64(20+d)), sample("handoff", 5000*d, 2.1, 1, 0.7, uint64(30+d))}})
	}
	in := report.Input{Experiment: x, Phase: ph, Metrics: []report.MetricData{{Metric: m, Role: report.Primary,
		Arms:   []report.ArmStats{sample("off", 20000, 2, 1, 0.7, 21), sample("handoff", 20000, 2.1, 1, 0.7, 22)},
		Series: series}}}
	r, err := report.Build(in, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := comparison(t, r, "replies-per-user", "handoff")
	if c.CUPED == nil {
		t.Fatal("no CUPED result")
	}
	if vr := c.CUPED.VarianceReduction; math.Abs(vr-0.49) > 0.03 {
		t.Errorf("variance reduction %.3f, want ≈ 0.49", vr)
	}
	if c.CUPED.Fixed.AbsSE >= c.Fixed.AbsSE {
		t.Errorf("CUPED standard error %g not below the plain %g", c.CUPED.Fixed.AbsSE, c.Fixed.AbsSE)
	}
	if len(c.Series) != 3 || !c.Series[0].At.Equal(started.AddDate(0, 0, 1)) {
		t.Fatalf("series %+v", c.Series)
	}
	for _, p := range c.Series {
		if !(p.Sequential.Low <= p.Fixed.Low && p.Fixed.High <= p.Sequential.High) {
			t.Errorf("at %s the confidence sequence %v does not contain the fixed interval %v", p.At, p.Sequential, p.Fixed)
		}
	}
}

func TestProblemsAreSaid(t *testing.T) {
	x, ph := dm(34, 33, 33)
	m := metric("replies-per-user", experiment.Mean, experiment.Increase, 0)
	in := report.Input{Experiment: x, Phase: ph, Metrics: []report.MetricData{{Metric: m, Role: report.Primary,
		Arms: []report.ArmStats{sample("off", 1000, 2, 1, 0, 1), sample("inline", 1, 2, 1, 0, 2)}}}}
	r, err := report.Build(in, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := comparison(t, r, "replies-per-user", "handoff"); c.Problem == "" || c.Outcome != report.Inconclusive {
		t.Errorf("an arm without units: problem %q outcome %s", c.Problem, c.Outcome)
	}
	if c := comparison(t, r, "replies-per-user", "inline"); c.Problem == "" || c.Outcome != report.Inconclusive {
		t.Errorf("an arm of one unit: problem %q outcome %s", c.Problem, c.Outcome)
	}
	if r.SampleRatio.Problem == "" {
		t.Errorf("no exposures, yet the sample-ratio check ran: %+v", r.SampleRatio)
	}
	x.Control = "nobody"
	if _, err := report.Build(report.Input{Experiment: x, Phase: ph}, report.Options{}); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("a control that is no arm: err %v", err)
	}
}

// TestJSON: a report always encodes, unbounded interval ends as null.
func TestJSON(t *testing.T) {
	b, err := json.Marshal(report.Interval{Low: math.Inf(-1), High: 0.25})
	if err != nil || string(b) != `{"low":null,"high":0.25}` {
		t.Errorf("Interval JSON %s, %v", b, err)
	}
	x, ph := dm(34, 33, 33)
	m := metric("replies-per-user", experiment.Mean, experiment.Increase, 0)
	in := report.Input{Experiment: x, Phase: ph, Metrics: []report.MetricData{{Metric: m, Role: report.Primary,
		Arms: []report.ArmStats{sample("off", 3, 2, 1, 0, 1), sample("handoff", 2, 2, 1, 0, 2), sample("inline", 0, 0, 0, 0, 3)}}}}
	r, err := report.Build(in, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("a report of almost no data does not encode: %v", err)
	}
}

package safety_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/experiment/stats"
	"github.com/ramp-flags/ramp/rollout"
)

// means are n units whose values have the given mean and variance.
func means(n int64, mean, variance float64) stats.Paired {
	f := float64(n)
	return stats.Paired{N: n, SumY: f * mean, SumY2: f * (variance + mean*mean)}
}

// conversions are n units of which k converted.
func conversions(n, k int64) stats.Paired {
	return stats.Paired{N: n, SumY: float64(k), SumY2: float64(k)}
}

// ratios are n units sending about 10 messages each (variance 4) with
// rate errors per message (noise variance 0.01 per unit).
func ratios(n int64, rate float64) stats.Paired {
	f := float64(n)
	return stats.Paired{N: n, SumX: 10 * f, SumX2: 104 * f, SumY: rate * 10 * f, SumY2: f * (rate*rate*104 + 0.01), SumXY: rate * 104 * f}
}

func TestJudgeGuardrail(t *testing.T) {
	tests := []struct {
		name string
		in   safety.GuardInput
		want safety.Verdict
		note string
	}{
		{"too few units", safety.GuardInput{Kind: safety.KindMean, Control: means(5000, 10, 4), Treatment: means(99, 10, 4)}, safety.VerdictNoData, "fewer than 100 units"},
		{"the same, plenty of data", safety.GuardInput{Kind: safety.KindMean, Margin: 1, Control: means(200_000, 10, 4), Treatment: means(200_000, 10, 4)}, safety.VerdictOK, ""},
		{"the same, little data", safety.GuardInput{Kind: safety.KindMean, Margin: 0.1, Control: means(500, 10, 4), Treatment: means(500, 10, 4)}, safety.VerdictInconclusive, ""},
		{"mean 5% down, higher is better", safety.GuardInput{Kind: safety.KindMean, Direction: 1, Margin: 1, Control: means(20_000, 10, 4), Treatment: means(20_000, 9.5, 4)}, safety.VerdictRegressed, ""},
		{"mean 5% down, lower is better", safety.GuardInput{Kind: safety.KindMean, Direction: -1, Margin: 1, Control: means(20_000, 10, 4), Treatment: means(20_000, 9.5, 4)}, safety.VerdictOK, ""},
		{"errors per message 30% up", safety.GuardInput{Kind: safety.KindRatio, Direction: -1, Margin: 0.5, Control: ratios(20_000, 0.010), Treatment: ratios(5_000, 0.013)}, safety.VerdictRegressed, ""},
		{"errors per message unchanged", safety.GuardInput{Kind: safety.KindRatio, Direction: -1, Margin: 5, Control: ratios(200_000, 0.010), Treatment: ratios(200_000, 0.010)}, safety.VerdictOK, ""},
		{"conversion down by a third", safety.GuardInput{Kind: safety.KindConversion, Margin: 1, Control: conversions(20_000, 3000), Treatment: conversions(20_000, 2000)}, safety.VerdictRegressed, ""},
		{"no conversions on the default's side", safety.GuardInput{Kind: safety.KindConversion, Control: conversions(5000, 0), Treatment: conversions(5000, 10)}, safety.VerdictNoData, "has no events yet"},
		{"no variation", safety.GuardInput{Kind: safety.KindConversion, Control: conversions(5000, 0), Treatment: conversions(5000, 0)}, safety.VerdictNoData, "no variation"},
		{"unknown kind", safety.GuardInput{Kind: "median", Control: means(500, 1, 1), Treatment: means(500, 1, 1)}, safety.VerdictNoData, "unknown metric kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := safety.JudgeGuardrail(tt.in)
			if got.Verdict != tt.want || !strings.Contains(got.Note, tt.note) {
				t.Fatalf("verdict %s (%s), rel %.4f in [%.4f, %.4f]; want %s (%q)", got.Verdict, got.Note, got.Rel, got.Interval.Low, got.Interval.High, tt.want, tt.note)
			}
			if got.Verdict != safety.VerdictNoData && !(got.Interval.Low <= got.Rel && got.Rel <= got.Interval.High) {
				t.Errorf("rel %v outside its interval %+v", got.Rel, got.Interval)
			}
		})
	}
}

// TestJudgeGuardrailWords: the verdict in words names the relative
// difference, its always-valid interval, the margin and the direction.
func TestJudgeGuardrailWords(t *testing.T) {
	v := safety.JudgeGuardrail(safety.GuardInput{Metric: "send-errors-per-message", Kind: safety.KindRatio, Direction: -1, Margin: 0.5,
		Control: ratios(20_000, 0.010), Treatment: ratios(5_000, 0.013)})
	w := v.Words()
	for _, frag := range []string{"+30.00% (always-valid 90% interval +", "margin 0.5%, lower is better): regressed"} {
		if !strings.Contains(w, frag) {
			t.Errorf("%q lacks %q", w, frag)
		}
	}
}

func TestJudgeStage(t *testing.T) {
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	stage := &rollout.Stage{Name: "us-10", Percent: 1000, MinSample: 1000, OnRegression: rollout.ReactRollback,
		Guardrails: []rollout.Guardrail{{Metric: "send-errors-per-message"}, {Metric: "replies-per-user"}}}
	bad := safety.JudgeGuardrail(safety.GuardInput{Metric: "send-errors-per-message", Kind: safety.KindRatio, Direction: -1, Margin: 0.5,
		Control: ratios(20_000, 0.010), Treatment: ratios(5_000, 0.013)})
	good := safety.JudgeGuardrail(safety.GuardInput{Metric: "replies-per-user", Kind: safety.KindMean, Margin: 1,
		Control: means(200_000, 10, 4), Treatment: means(200_000, 10, 4)})

	j := safety.JudgeStage(safety.StageInput{Flag: "interop", Stage: stage, Sample: rollout.Sample{Treatment: 5000, Control: 20_000}, Verdicts: []safety.GuardVerdict{good, bad}, At: at})
	if !j.Halt || !j.Enough || j.Reaction != rollout.ReactRollback {
		t.Fatalf("judgement %+v; want a halt by rollback", j)
	}
	for _, frag := range []string{"guardrail regression in stage us-10 at 2026-11-02T10:00:00Z: send-errors-per-message +30.00%",
		"20,000 units without the variant, 5,000 with it", "rolled back to the previous stage by the controller"} {
		if !strings.Contains(j.Reason, frag) {
			t.Errorf("reason %q lacks %q", j.Reason, frag)
		}
	}
	if strings.Contains(j.Reason, "replies-per-user") {
		t.Errorf("reason names a guardrail that did not regress: %q", j.Reason)
	}

	j = safety.JudgeStage(safety.StageInput{Stage: stage, Sample: rollout.Sample{Treatment: 999, Control: 20_000}, Verdicts: []safety.GuardVerdict{good}, At: at})
	if j.Halt || j.Enough || j.Reason != "" {
		t.Errorf("healthy, short of the minimum sample: %+v", j)
	}
	stage.OnRegression = ""
	j = safety.JudgeStage(safety.StageInput{Stage: stage, Sample: rollout.Sample{Treatment: 5000, Control: 20_000}, Verdicts: []safety.GuardVerdict{bad}, At: at})
	if !j.Halt || j.Reaction != rollout.ReactPause || !strings.Contains(j.Reason, "paused by the controller") {
		t.Errorf("pause on regression: %+v", j)
	}
}

// TestGuardrailHaltSimulation watches a guarded 10% stage the way the
// controller does, every day for 30 days, 5,000 users a day exposed, a
// conversion guardrail at 5% with a 1% margin, seeded:
//
//   - the variant exactly at the margin (1% worse): the stage is halted in
//     at most 5% of runs (+1.4% Monte Carlo margin), however often it is
//     looked at;
//   - the variant 20% worse: halted in at least 99% of runs.
func TestGuardrailHaltSimulation(t *testing.T) {
	// 600 runs keep it to seconds under -race (the fixed-horizon
	// Student t quantile stats computes and this test discards dominates).
	runs := 600
	if testing.Short() {
		runs = 200
	}
	const days, perDay, rate, margin = 30, 5000, 0.05, 1.0
	rng := rand.New(rand.NewPCG(13, 7))
	stage := &rollout.Stage{Name: "us-10", Percent: 1000, Guardrails: []rollout.Guardrail{{Metric: "reply-rate"}}}
	halted := func(rel float64) bool {
		var c, tr stats.Paired
		for range days {
			nt := int64(distuv.Binomial{N: perDay, P: 0.1, Src: rng}.Rand())
			nc := perDay - nt
			kc := int64(distuv.Binomial{N: float64(nc), P: rate, Src: rng}.Rand())
			kt := int64(distuv.Binomial{N: float64(nt), P: rate * (1 + rel), Src: rng}.Rand())
			c = stats.Paired{N: c.N + nc, SumY: c.SumY + float64(kc), SumY2: c.SumY2 + float64(kc)}
			tr = stats.Paired{N: tr.N + nt, SumY: tr.SumY + float64(kt), SumY2: tr.SumY2 + float64(kt)}
			v := safety.JudgeGuardrail(safety.GuardInput{Metric: "reply-rate", Kind: safety.KindConversion, Direction: 1, Margin: margin, Control: c, Treatment: tr})
			if safety.JudgeStage(safety.StageInput{Stage: stage, Verdicts: []safety.GuardVerdict{v}}).Halt {
				return true
			}
		}
		return false
	}
	atMargin, caught := 0, 0
	for range runs {
		if halted(-margin / 100) {
			atMargin++
		}
		if halted(-0.20) {
			caught++
		}
	}
	t.Logf("%d runs over %d daily checks: at the margin %d halted, 20%% worse %d halted", runs, days, atMargin, caught)
	if limit := 0.05 + 0.014; float64(atMargin)/float64(runs) > limit {
		t.Errorf("at the margin: %d of %d runs halted; want at most %.1f%%", atMargin, runs, 100*limit)
	}
	if float64(caught)/float64(runs) < 0.99 {
		t.Errorf("20%% worse: %d of %d runs halted; want at least 99%%", caught, runs)
	}
}

package chart

import (
	"math"
	"time"
)

// The fixtures: what `ramp experiments report --plot` draws for the
// dm-handoff-vs-inline experiment of docs/experiments.md, with made-up
// numbers of a realistic size.

// forest3x3 is three metrics × three treatment arms, with every verdict.
func forest3x3() Forest {
	return Forest{
		Title: "dm-handoff-vs-inline · phase 2 · lift vs control",
		Rows: []ForestRow{
			{Metric: "replies-per-user", Arm: "inline", Estimate: 0.052, Fixed: Interval{0.021, 0.083}, Sequential: Interval{0.008, 0.097}, Verdict: VerdictBetter, Note: "p 0.001"},
			{Metric: "replies-per-user", Arm: "handoff", Estimate: 0.011, Fixed: Interval{-0.019, 0.041}, Sequential: Interval{-0.034, 0.057}, Note: "p 0.47"},
			{Metric: "replies-per-user", Arm: "inline-with-preview", Estimate: -0.043, Fixed: Interval{-0.071, -0.015}, Sequential: Interval{-0.088, 0.001}, Verdict: VerdictWorse, Note: "p 0.003"},
			{Metric: "reply-rate", Arm: "inline", Estimate: 0.018, Fixed: Interval{-0.004, 0.040}, Sequential: Interval{-0.016, 0.052}, Note: "Holm p 0.21"},
			{Metric: "reply-rate", Arm: "handoff", Estimate: 0.004, Fixed: Interval{-0.018, 0.026}, Sequential: Interval{-0.030, 0.038}, Note: "Holm p 0.72"},
			{Metric: "reply-rate", Arm: "inline-with-preview", Estimate: 0.031, Fixed: Interval{0.009, 0.053}, Sequential: Interval{-0.003, 0.065}, Verdict: VerdictInconclusive, Note: "Holm p 0.02"},
			{Metric: "send-errors-per-message", Arm: "inline", Estimate: -0.002, Fixed: Interval{-0.012, 0.008}, Sequential: Interval{-0.018, 0.004}, Verdict: VerdictOK, Direction: -1, Margin: 0.005},
			{Metric: "send-errors-per-message", Arm: "handoff", Estimate: 0.009, Fixed: Interval{0.001, 0.017}, Sequential: Interval{-0.004, 0.022}, Verdict: VerdictInconclusive, Direction: -1, Margin: 0.005},
			{Metric: "send-errors-per-message", Arm: "inline-with-preview", Estimate: 0.028, Fixed: Interval{0.016, 0.040}, Sequential: Interval{0.009, 0.047}, Verdict: VerdictRegressed, Direction: -1, Margin: 0.005, Note: "regressed"},
		},
	}
}

// forest12 is twelve metrics with one arm each, long keys among them,
// and a sequential interval still unbounded after few units.
func forest12() Forest {
	keys := []string{
		"replies-per-user", "reply-rate", "send-errors-per-message",
		"messages-sent-per-active-user-in-the-first-seven-days-after-exposure",
		"time-to-first-reply-seconds", "thread-depth", "attachments-per-message",
		"notifications-opened", "daily-active-users", "session-length-minutes",
		"crash-free-sessions", "search-queries-per-user",
	}
	f := Forest{Title: "Twelve metrics, one arm"}
	for i, k := range keys {
		est := 0.03 * math.Sin(float64(i)*1.7)
		hw := 0.01 + 0.004*float64(i%4)
		r := ForestRow{Metric: k, Arm: "inline", Estimate: est,
			Fixed:      Interval{est - hw, est + hw},
			Sequential: Interval{est - 1.8*hw, est + 1.8*hw}}
		if i == 4 {
			r.Sequential = Interval{math.Inf(-1), math.Inf(1)}
			r.Note = "only 40 units"
		}
		if i == 10 {
			r.Direction = -1
			r.Margin = 0.01
		}
		f.Rows = append(f.Rows, r)
	}
	return f
}

// day0 is the phase's start.
var day0 = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

// series is one arm's lift over days of an experiment: noisy early,
// converging on truth, with a confidence sequence that starts unbounded.
func series(metric, arm string, truth float64, days int, seed int) Series {
	s := Series{Metric: metric, Arm: arm}
	for d := 1; d <= days; d++ {
		n := 2000.0 * float64(d)
		se := 0.9 / math.Sqrt(n)
		est := truth + se*math.Sin(float64(d*7+seed))*1.3
		p := Point{At: day0.AddDate(0, 0, d), Estimate: est,
			Fixed: Interval{est - 1.96*se, est + 1.96*se}}
		w := 1.96 * se * math.Sqrt(1+math.Log(1+200/float64(d)))
		p.Sequential = Interval{est - w, est + w}
		if d == 1 {
			p.Sequential = Interval{math.Inf(-1), math.Inf(1)}
		}
		s.Points = append(s.Points, p)
	}
	return s
}

// report3x3 is the report of forest3x3 with its series over 21 days.
func report3x3() Report {
	f := forest3x3()
	r := Report{Title: "dm-handoff-vs-inline · phase 2 · 21 days · 126,000 units", Forest: f}
	r.Forest.Title = "Relative lift vs control"
	for i, row := range f.Rows {
		r.Series = append(r.Series, series(row.Metric, row.Arm, row.Estimate, 21, i))
	}
	return r
}

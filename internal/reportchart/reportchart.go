// Package reportchart turns an experiment's report into the charts that
// `ramp experiments report --plot` writes and the dashboard serves: one
// conversion, so that the file and the page always show the same picture.
//
// It sits between experiment/report (the numbers) and internal/chart (the
// drawing), which stays ignorant of statistics code.
package reportchart

import (
	"fmt"
	"math"
	"time"

	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/internal/chart"
)

// Of turns a report into its charts: each metric's lift per treatment arm
// with both intervals (CUPED-adjusted when the metric has a covariate), a
// guardrail's margin, and the lift over time when the report carries a
// series.
func Of(r *report.Report) chart.Report {
	c := chart.Report{
		Title:  fmt.Sprintf("%s, phase %d (started %s)", r.Experiment, r.Phase, r.Started.UTC().Format(time.DateOnly)),
		Forest: chart.Forest{Title: "Lift over " + r.Control + " per metric and arm", Level: r.Level},
	}
	for _, m := range r.Metrics {
		dir := 1
		if m.Direction == "decrease" {
			dir = -1
		}
		for _, cmp := range m.Comparisons {
			if cmp.Problem != "" && cmp.Fixed.N == 0 {
				continue
			}
			fixed, seq, note := cmp.Fixed, cmp.Sequential, "p "+PValue(cmp.Sequential.AbsP)
			if cmp.CUPED != nil {
				fixed, seq, note = cmp.CUPED.Fixed, cmp.CUPED.Sequential, note+", CUPED"
			}
			row := chart.ForestRow{Metric: m.Key, Arm: cmp.Arm, Estimate: fixed.Rel, Direction: dir,
				Fixed: chart.Interval(fixed.RelCI), Sequential: chart.Interval(seq.RelCI), Verdict: Verdict(cmp.Outcome), Note: note}
			if m.Role == report.Guardrail {
				row.Margin = m.Margin
			}
			c.Forest.Rows = append(c.Forest.Rows, row)
			if len(cmp.Series) > 0 {
				s := chart.Series{Metric: m.Key, Arm: cmp.Arm, Level: r.Level}
				for _, p := range cmp.Series {
					s.Points = append(s.Points, chart.Point{At: p.At, Estimate: p.Rel, Fixed: chart.Interval(p.Fixed), Sequential: chart.Interval(p.Sequential)})
				}
				c.Series = append(c.Series, s)
			}
		}
	}
	return c
}

// Verdict is the chart's marker for a comparison's outcome.
func Verdict(o report.Outcome) chart.Verdict {
	switch o {
	case report.Better:
		return chart.VerdictBetter
	case report.Worse:
		return chart.VerdictWorse
	case report.OK:
		return chart.VerdictOK
	case report.Regressed:
		return chart.VerdictRegressed
	}
	return chart.VerdictInconclusive
}

// PValue writes a p-value as the report prints it: three decimals, four
// below 0.001, scientific below 0.0001, a dash for NaN.
func PValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case p < 0.0001:
		return fmt.Sprintf("%.1e", p)
	case p < 0.001:
		return fmt.Sprintf("%.4f", p)
	}
	return fmt.Sprintf("%.3f", p)
}

package reportchart_test

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/internal/chart"
	"github.com/ramp-flags/ramp/internal/reportchart"
)

func TestOf(t *testing.T) {
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := report.Report{Experiment: "x", Phase: 2, Started: day, Control: "off", Level: 0.95,
		Metrics: []report.MetricResult{
			{Key: "replies", Role: report.Primary, Direction: "increase", Comparisons: []report.Comparison{{
				Arm: "inline", Outcome: report.Better,
				Fixed:      report.Result{Rel: 0.2, RelCI: report.Interval{Low: 0.1, High: 0.3}, N: 100},
				Sequential: report.Result{Rel: 0.2, RelCI: report.Interval{Low: 0.05, High: 0.35}, AbsP: 0.0004},
				Series: []report.Point{{At: day.Add(24 * time.Hour), Rel: 0.2, Fixed: report.Interval{Low: 0.1, High: 0.3},
					Sequential: report.Interval{Low: 0.05, High: 0.35}}},
			}}},
			{Key: "errors", Role: report.Guardrail, Direction: "decrease", Margin: 0.01, Comparisons: []report.Comparison{
				{Arm: "inline", Outcome: report.OK, Fixed: report.Result{N: 100}, Sequential: report.Result{AbsP: 0.5}},
				{Arm: "none", Problem: "no units", Fixed: report.Result{N: 0}},
			}},
		}}
	c := reportchart.Of(&r)
	if c.Title != "x, phase 2 (started 2026-12-01)" || c.Forest.Title != "Lift over off per metric and arm" {
		t.Errorf("titles: %q, %q", c.Title, c.Forest.Title)
	}
	if len(c.Forest.Rows) != 2 {
		t.Fatalf("%d forest rows, want 2 (a comparison without units is left out)", len(c.Forest.Rows))
	}
	first, guard := c.Forest.Rows[0], c.Forest.Rows[1]
	if first.Verdict != chart.VerdictBetter || first.Direction != 1 || first.Note != "p 0.0004" || first.Fixed != (chart.Interval{Low: 0.1, High: 0.3}) {
		t.Errorf("primary row: %+v", first)
	}
	if guard.Verdict != chart.VerdictOK || guard.Direction != -1 || guard.Margin != 0.01 {
		t.Errorf("guardrail row: %+v", guard)
	}
	if len(c.Series) != 1 || len(c.Series[0].Points) != 1 {
		t.Fatalf("series: %+v", c.Series)
	}
	var svg bytes.Buffer
	if err := chart.WriteSVG(&svg, c); err != nil {
		t.Fatalf("the chart does not draw: %v", err)
	}
}

func TestPValue(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		want string
	}{{math.NaN(), "—"}, {0.00001, "1.0e-05"}, {0.0004, "0.0004"}, {0.0123, "0.012"}, {1, "1.000"}} {
		if got := reportchart.PValue(tc.p); got != tc.want {
			t.Errorf("PValue(%v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

package chart_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/internal/chart"
)

// A report as `ramp experiments report --plot` draws it: the lift of each
// metric and arm, and how the estimate of one of them evolved.
func Example() {
	start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	rep := chart.Report{
		Title: "dm-handoff-vs-inline · phase 1",
		Forest: chart.Forest{
			Title: "Relative lift vs control",
			Rows: []chart.ForestRow{
				{Metric: "replies-per-user", Arm: "inline", Estimate: 0.052,
					Fixed: chart.Interval{Low: 0.021, High: 0.083}, Sequential: chart.Interval{Low: 0.008, High: 0.097}},
				{Metric: "send-errors-per-message", Arm: "inline", Estimate: 0.004,
					Fixed: chart.Interval{Low: -0.006, High: 0.014}, Sequential: chart.Interval{Low: -0.012, High: 0.020},
					Direction: -1, Margin: 0.005, Verdict: chart.VerdictInconclusive},
			},
		},
	}
	s := chart.Series{Metric: "replies-per-user", Arm: "inline"}
	for day := 1; day <= 14; day++ {
		se := 0.2 / math.Sqrt(float64(day))
		s.Points = append(s.Points, chart.Point{
			At:         start.AddDate(0, 0, day),
			Estimate:   0.05,
			Fixed:      chart.Interval{Low: 0.05 - se, High: 0.05 + se},
			Sequential: chart.Interval{Low: 0.05 - 1.6*se, High: 0.05 + 1.6*se},
		})
	}
	rep.Series = []chart.Series{s}

	var svg bytes.Buffer
	if err := chart.WriteSVG(&svg, rep); err != nil {
		log.Fatal(err)
	}
	w, h, _ := chart.Size(rep)
	fmt.Println("size:", w, "×", h)
	fmt.Println("titled:", strings.Contains(svg.String(), "<title>dm-handoff-vs-inline · phase 1</title>"))
	// Output:
	// size: 900 × 549
	// titled: true
}

// Write picks the format by the file name, and refuses others before
// creating anything.
func ExampleWrite() {
	dir, err := os.MkdirTemp("", "chart")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	f := chart.Forest{Rows: []chart.ForestRow{
		{Metric: "reply-rate", Arm: "inline", Estimate: 0.018, Fixed: chart.Interval{Low: -0.004, High: 0.040}},
	}}
	for _, name := range []string{"lift.png", "lift.svg", "lift.pdf"} {
		err := chart.Write(filepath.Join(dir, name), f)
		fmt.Printf("%s: %v\n", name, errors.Is(err, chart.ErrFormat))
	}
	// Output:
	// lift.png: false
	// lift.svg: false
	// lift.pdf: true
}

// Bad input says what is wrong and where.
func ExampleWriteSVG_invalid() {
	f := chart.Forest{Rows: []chart.ForestRow{
		{Metric: "reply-rate", Arm: "inline", Estimate: math.NaN()},
	}}
	err := chart.WriteSVG(new(bytes.Buffer), f)
	fmt.Println(errors.Is(err, chart.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// chart: invalid data: forest plot: row 1 (reply-rate/inline): estimate NaN is not a finite number
}

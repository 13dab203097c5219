package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/chart"
	"github.com/ramp-flags/ramp/internal/reportchart"
)

func newExperimentsReportCmd(f *Factory) *cobra.Command {
	var (
		format    string
		phase     int
		plot      string
		level     float64
		nStar     float64
		noCompact bool
	)
	cmd := &cobra.Command{
		Use:   "report KEY [--phase N] [-o table|json|yaml] [--plot FILE.svg|FILE.png]",
		Short: "Read an experiment: the sample-ratio check, then each metric's arms against the control",
		Long: `Report reads one phase of an experiment (the current one unless --phase says
which): first the sample-ratio check of its exposed units against the phase's
weights, loud when it fails; then, for each metric the experiment names
(primary, secondary, guardrails), every arm's value and each treatment arm
against the control: the relative and absolute difference with 95% intervals
and p-values, fixed-horizon (valid when read once, at a planned sample size)
and always-valid (a confidence sequence: valid however often it is read).
Outcomes are read from the always-valid results. Metrics that declare a
covariate also get the CUPED-adjusted result; secondary metrics are corrected
for multiplicity (Holm); each guardrail gets a verdict against its margin.

Raw events are compacted into per-unit totals first (--no-compact skips it).
--plot also draws each metric's lift per arm with both intervals and the
estimate over time, to an SVG or PNG file. See docs/experiments.md for how to
read every number, and when to distrust it.`,
		Example: `  ramp experiments report dm-handoff-vs-inline
  ramp experiments report dm-handoff-vs-inline --phase 1 -o json
  ramp experiments report dm-handoff-vs-inline --plot report.svg`,
		Args:              exactArgs(1, "one experiment key"),
		ValidArgsFunction: experimentKeyArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			if level != 0 && (level <= 0.5 || level >= 1) {
				return &UsageError{Err: fmt.Errorf("--level %g: want a confidence level between 0.5 and 1, such as 0.95", level)}
			}
			if nStar < 0 {
				return &UsageError{Err: fmt.Errorf("--n-star %g: want a number of units above 0", nStar)}
			}
			if plot != "" {
				if err := checkPlotPath(plot); err != nil {
					return &UsageError{Err: err}
				}
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				r, err := a.Report(ctx, admin.ReportRequest{Key: args[0], Phase: phase, Compact: !noCompact, Series: plot != "",
					Options: report.Options{Level: level, NStar: nStar}})
				if err != nil {
					return experimentHint(err, args[0])
				}
				if plot != "" {
					if err := writePlot(plot, &r); err != nil {
						return err
					}
					fmt.Fprintf(f.IO.ErrOut, "wrote %s\n", plot)
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, r)
				}
				printReport(f.IO.Out, &r, a.Time())
				return nil
			})
		},
	}
	addOutputFlag(cmd, &format)
	cmd.Flags().IntVar(&phase, "phase", 0, "the phase to read, from 1 (default: the current one)")
	cmd.Flags().StringVar(&plot, "plot", "", "also draw the report's charts to this .svg or .png file")
	cmd.Flags().Float64Var(&level, "level", 0, "confidence level of every interval (default 0.95)")
	cmd.Flags().Float64Var(&nStar, "n-star", 0, fmt.Sprintf("tuning of the always-valid intervals: the units of a comparison at which they are tightest (default %d)", report.DefaultNStar))
	cmd.Flags().BoolVar(&noCompact, "no-compact", false, "do not compact raw events first (events stored since the last compaction are then not counted)")
	return cmd
}

// printReport writes a report for people: the warnings and the sample
// ratio first, then each metric.
func printReport(w io.Writer, r *report.Report, now time.Time) {
	state := "running"
	if r.Ended != nil {
		state = "ended " + r.Ended.UTC().Format("2006-01-02 15:04 UTC")
	}
	fmt.Fprintf(w, "%s, phase %d (started %s, %s; %s), flag %s, control %s\n", r.Experiment, r.Phase,
		r.Started.UTC().Format("2006-01-02 15:04 UTC"), state, ageWord(r.Started, r.Ended, now), r.Flag, r.Control)
	fmt.Fprintf(w, "%s intervals; always-valid ones are a confidence sequence tuned at %s units\n\n", pct(r.Level, 0), count(int64(r.NStar)))
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "!! %s\n", warn)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w)
	}
	printSampleRatio(w, &r.SampleRatio)
	for i := range r.Metrics {
		fmt.Fprintln(w)
		printMetricResult(w, &r.Metrics[i], r.Control)
	}
	if len(r.Metrics) == 0 {
		fmt.Fprintln(w, "\nno metrics: name them under the experiment's metrics: {primary, secondary, guardrails} and declare them under metrics:")
	}
}

func printSampleRatio(w io.Writer, sr *report.SampleRatio) {
	verdict := "ok"
	switch {
	case sr.Problem != "":
		verdict = "not checked: " + sr.Problem
	case sr.Mismatch:
		verdict = "MISMATCH"
	}
	fmt.Fprintf(w, "Sample ratio: %s", verdict)
	if sr.Problem == "" {
		fmt.Fprintf(w, " (χ² = %.2f, p = %s, %s units)", sr.Chi2, pValue(sr.P), count(sr.Units))
	}
	fmt.Fprintln(w)
	t := newTable(w, "  ARM", "WEIGHT", "UNITS", "EXPECTED", "OBSERVED", "DEVIATION")
	for _, a := range sr.Arms {
		observed, deviation := "—", "—"
		if sr.Units > 0 {
			observed, deviation = pct(a.Observed, 2), signedPoints(a.Observed-a.Expected)
		}
		t.row("  "+a.Arm, trimPct(a.Weight), count(a.Units), pct(a.Expected, 2), observed, deviation)
	}
	_ = t.flush()
	if sr.MultiArm > 0 {
		fmt.Fprintf(w, "  units seen in two arms: %s (%s of all, excluded from every result)\n", count(sr.MultiArm), pct(sr.MultiArmShare, 2))
	}
}

func printMetricResult(w io.Writer, m *report.MetricResult, control string) {
	better := "higher is better"
	if m.Direction == "decrease" {
		better = "lower is better"
	}
	desc := []string{string(m.Role), kindWord(m.Kind)}
	if m.WindowDays > 0 {
		desc = append(desc, fmt.Sprintf("%d-day window", m.WindowDays))
	}
	desc = append(desc, better)
	if m.Role == report.Guardrail {
		desc = append(desc, "margin "+pct(m.Margin, 2))
	}
	fmt.Fprintf(w, "%s (%s)\n", m.Key, strings.Join(desc, ", "))
	if m.Problem != "" {
		fmt.Fprintf(w, "  %s\n", m.Problem)
	}
	pHeader := "P"
	if m.Role == report.Secondary {
		pHeader = "P (HOLM)"
	}
	t := newTable(w, "  ARM", "UNITS", "VALUE", "LIFT", "CI (FIXED)", "P", "CI (ALWAYS VALID)", pHeader, "OUTCOME")
	values := map[string]report.ArmValue{}
	for _, a := range m.Arms {
		values[a.Arm] = a
	}
	t.row("  "+control, count(values[control].Units), num(values[control].Value), "control", "", "", "", "", "")
	for _, c := range m.Comparisons {
		v := values[c.Arm]
		if c.Problem != "" && c.Fixed.N == 0 {
			t.row("  "+c.Arm, count(v.Units), num(v.Value), "—", "", "", "", "", string(c.Outcome)+": "+c.Problem)
			continue
		}
		p := c.Sequential.AbsP
		if m.Role == report.Secondary {
			p = c.AdjustedP
		}
		outcome := string(c.Outcome)
		if b := c.Bound; b != nil && m.Role == report.Guardrail {
			worst := b.Low
			if m.Direction == "decrease" {
				worst = b.High
			}
			outcome += " (worst case " + signedPct(worst) + ")"
		}
		if c.Problem != "" {
			outcome += ": " + c.Problem
		}
		t.row("  "+c.Arm, count(v.Units), num(v.Value), signedPct(c.Fixed.Rel), interval(c.Fixed.RelCI), pValue(c.Fixed.AbsP),
			interval(c.Sequential.RelCI), pValue(p), outcome)
	}
	_ = t.flush()
	for _, c := range m.Comparisons {
		if c.CUPED == nil {
			continue
		}
		fmt.Fprintf(w, "  CUPED %s: %s %s (fixed), %s (always valid); variance reduced by %s\n", c.Arm,
			signedPct(c.CUPED.Fixed.Rel), interval(c.CUPED.Fixed.RelCI), interval(c.CUPED.Sequential.RelCI), pct(c.CUPED.VarianceReduction, 0))
	}
}

func kindWord(k experiment.MetricKind) string {
	switch k {
	case experiment.Conversion:
		return "conversion rate"
	case experiment.Ratio:
		return "ratio"
	}
	return "mean per unit"
}

// ageWord says how long the phase has run.
func ageWord(started time.Time, ended *time.Time, now time.Time) string {
	end := now
	if ended != nil {
		end = *ended
	}
	d := end.Sub(started)
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}

// pct writes a share as a percentage with the given decimals.
func pct(x float64, decimals int) string {
	return fmt.Sprintf("%.*f%%", decimals, 100*x)
}

// trimPct writes a percentage (already in percent) without trailing zeros.
func trimPct(x float64) string {
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", x), "0"), ".")
	return s + "%"
}

// signedPct writes a relative difference as a signed percentage.
func signedPct(x float64) string {
	switch {
	case math.IsNaN(x):
		return "—"
	case math.IsInf(x, 1):
		return "+∞"
	case math.IsInf(x, -1):
		return "−∞"
	}
	return strings.Replace(fmt.Sprintf("%+.2f%%", 100*x), "-", "−", 1)
}

// signedPoints writes a difference of shares in percentage points.
func signedPoints(x float64) string {
	return strings.Replace(fmt.Sprintf("%+.2f pt", 100*x), "-", "−", 1)
}

func interval(i report.Interval) string {
	return "[" + signedPct(i.Low) + ", " + signedPct(i.High) + "]"
}

// pValue writes a p-value as the report and its charts do.
func pValue(p float64) string { return reportchart.PValue(p) }

// num writes an arm's value with four significant digits.
func num(x float64) string { return fmt.Sprintf("%.4g", x) }

// count writes an integer with thousands separators, as the controller's
// sample-ratio reasons do.
func count(n int64) string { return safety.Thousands(n) }

// checkPlotPath refuses a --plot file whose format is unknown before any
// work is done.
func checkPlotPath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".png":
		return nil
	}
	return fmt.Errorf("--plot %s: want a file name ending in .svg or .png", path)
}

// writePlot draws the report's charts to path.
func writePlot(path string, r *report.Report) error {
	if err := chart.Write(path, reportchart.Of(r)); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

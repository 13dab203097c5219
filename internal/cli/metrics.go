package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
)

func newMetricsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "metrics",
		Aliases: []string{"metric"},
		Short:   "Metrics experiments are judged by: list, get",
		Long: `Metrics are declared under "metrics:" in the files "ramp apply" reads and
named by experiments (primary, secondary, guardrails). Each is computed per
exposed unit from tracked events: a conversion (the share of units with at
least one event), a mean (the sum of an event's values per unit) or a ratio
(one event's sum over another's), counted over whole UTC days from each
unit's first exposure. See docs/config.md#metrics.`,
		Example: `  ramp metrics list
  ramp metrics get send-errors-per-message -o json`,
	}
	cmd.AddCommand(newMetricsListCmd(f), newMetricsGetCmd(f))
	return cmd
}

// metricKeyArg completes a metric key, described by its kind.
func metricKeyArg(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var keys []string
		_ = f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
			list, err := a.Metrics(ctx)
			for _, m := range list {
				keys = append(keys, m.Key+"\t"+string(m.Kind)+" of "+eventsWord(&m))
			}
			return err
		})
		return keys, cobra.ShellCompDirectiveNoFileComp
	}
}

func newMetricsListCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List metrics: kind, events, window, direction, margin and the experiments that name them",
		Example: "  ramp metrics list\n  ramp metrics list -o json | jq '.[] | select(.kind == \"ratio\")'",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				list, err := a.Metrics(ctx)
				if err != nil {
					return err
				}
				if out != formatTable {
					if list == nil {
						list = []admin.MetricInfo{}
					}
					return writeData(f.IO.Out, out, list)
				}
				if len(list) == 0 {
					fmt.Fprintln(f.IO.ErrOut, "no metrics yet: declare them under metrics: in a file and run ramp apply -f FILE")
					return nil
				}
				t := newTable(f.IO.Out, "KEY", "KIND", "EVENTS", "WINDOW", "BETTER", "MARGIN", "USED BY")
				for _, m := range list {
					t.row(m.Key, string(m.Kind), eventsWord(&m), windowWord(&m), m.Direction, marginWord(m.Margin), usesWord(m.UsedBy))
				}
				return t.flush()
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func newMetricsGetCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "get KEY",
		Short:             "Show a metric: what it counts, over which days, which way is better, and who names it",
		Example:           "  ramp metrics get replies-per-user\n  ramp metrics get replies-per-user -o yaml",
		Args:              exactArgs(1, "one metric key"),
		ValidArgsFunction: metricKeyArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				m, err := a.Metric(ctx, args[0])
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, m)
				}
				printMetric(f.IO.Out, &m)
				return nil
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func printMetric(w io.Writer, m *admin.MetricInfo) {
	fmt.Fprintf(w, "%s: %s metric\n", m.Key, m.Kind)
	if m.Description != "" {
		fmt.Fprintf(w, "  description: %s\n", m.Description)
	}
	switch m.Kind {
	case experiment.Conversion:
		fmt.Fprintf(w, "  counts:      the share of exposed units with at least one %s event\n", m.Event)
	case experiment.Mean:
		fmt.Fprintf(w, "  counts:      the sum of %s values per exposed unit (0 for a unit without one)\n", m.Event)
	case experiment.Ratio:
		fmt.Fprintf(w, "  counts:      the sum of %s values over the sum of %s values, per arm\n", m.Numerator, m.Denominator)
	}
	fmt.Fprintf(w, "  window:      %s\n", windowLong(m))
	fmt.Fprintf(w, "  better:      %s\n", map[string]string{"increase": "higher (increase)", "decrease": "lower (decrease)"}[m.Direction])
	if m.Margin != 0 {
		fmt.Fprintf(w, "  margin:      %s%% (as a guardrail: worse by more than this, relative, is a regression)\n", marginWord(m.Margin))
	} else {
		fmt.Fprintln(w, "  margin:      none (as a guardrail: any significant regression counts)")
	}
	if c := m.Covariate; c != nil {
		fmt.Fprintf(w, "  covariate:   %s over the %s before first exposure (days %d to %d), for CUPED\n", c.Event, c.Window, c.Days.From, c.Days.To-1)
	}
	if len(m.UsedBy) == 0 {
		fmt.Fprintln(w, "  used by:     no experiment")
	} else {
		fmt.Fprintln(w, "  used by:")
		for _, u := range m.UsedBy {
			fmt.Fprintf(w, "    %s (%s, %s)\n", u.Experiment, u.Role, u.Status)
		}
	}
	fmt.Fprintf(w, "  version:     %d, by %s\n", m.Version, dash(m.UpdatedBy))
}

// eventsWord names the events a metric reads: "dm_reply", or
// "dm_send_error / dm_sent" for a ratio.
func eventsWord(m *admin.MetricInfo) string {
	if m.Kind == experiment.Ratio {
		return m.Numerator + " / " + m.Denominator
	}
	return m.Event
}

// windowWord writes a metric's window for a table: "7d", or "phase".
func windowWord(m *admin.MetricInfo) string {
	w := orWord(m.Window, "phase")
	if m.Covariate != nil {
		w += " (cov. " + m.Covariate.Window + ")"
	}
	return w
}

// windowLong writes a metric's window for people.
func windowLong(m *admin.MetricInfo) string {
	if m.Days == nil {
		return "every day from each unit's first exposure"
	}
	return fmt.Sprintf("%s from each unit's first exposure (days %d to %d, day 0 being the UTC day of first exposure)", m.Window, m.Days.From, m.Days.To-1)
}

// marginWord writes a margin in percent without its sign: "0.5", "-" for
// none.
func marginWord(margin float64) string {
	if margin == 0 {
		return "-"
	}
	return strconv.FormatFloat(margin, 'f', -1, 64)
}

// usesWord writes who names a metric: "dm-handoff-vs-inline (guardrail)".
func usesWord(uses []admin.MetricUse) string {
	if len(uses) == 0 {
		return "-"
	}
	parts := make([]string, len(uses))
	for i, u := range uses {
		parts[i] = u.Experiment + " (" + u.Role + ")"
	}
	return strings.Join(parts, ", ")
}

// printApplyMetrics prints an apply's metric changes on stdout, one line
// each.
func printApplyMetrics(io *IOStreams, res *admin.ApplyResult) {
	signs := map[flags.Action]string{flags.Create: "+", flags.Update: "~", flags.Delete: "-"}
	for _, c := range res.Metrics {
		line := fmt.Sprintf("%s metric %s", signs[c.Action], c.Key)
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		fmt.Fprintln(io.Out, line)
	}
}

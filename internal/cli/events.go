package cli

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/admin"
)

func newEventsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Import tracking events from CSV, compact them into per-unit totals, show counts",
		Long: `Experiments learn from exposures (recorded by "ramp serve" and the provider)
and tracking events: tracked by services through the provider or the HTTP
endpoint, or imported from a CSV file with "ramp events import".

Raw events are compacted into per-unit totals (per experiment, phase, unit,
event and day from the unit's first exposure) by "ramp events compact",
which also drops raw rows older than --retention once they are counted.`,
		Example: `  ramp events import replies.csv
  ramp events compact --retention 720h
  ramp events stats`,
	}
	cmd.AddCommand(newEventsImportCmd(f), newEventsCompactCmd(f), newEventsStatsCmd(f))
	return cmd
}

func newEventsImportCmd(f *Factory) *cobra.Command {
	var (
		delimiter    string
		maxRows      int
		maxLineBytes int
		format       string
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import tracking events from a CSV file, all or nothing",
		Long: `Import tracking events from a CSV file with a header row. FILE may be "-" for
stdin and may be gzip-compressed.

Columns are found by name, case-insensitively: "unit" (or "user_id"), "event",
"value" (optional; 1 when absent or empty) and "time" (RFC 3339, such as
2026-03-01T12:00:00Z, or Unix seconds); other columns are ignored. A unit is
matched against whatever each experiment buckets by (targetingKey,
accountCenterId…).

One invalid row rejects the whole file, naming its line and column, and
nothing is stored. Each row's event id is derived from its fields and its
ordinal among identical rows, so importing a file twice stores it once.`,
		Example: `  ramp events import replies.csv
  gzip -dc replies.csv.gz | ramp events import -
  ramp events import export.csv --delimiter ';'`,
		Args: exactArgs(1, "a file"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return []string{"csv", "gz"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			opt := admin.EventCSVOptions{MaxRows: maxRows, MaxLineBytes: maxLineBytes}
			switch d := delimiter; {
			case d == "":
			case d == "tab" || d == `\t`:
				opt.Delimiter = '\t'
			case utf8.RuneCountInString(d) == 1:
				opt.Delimiter, _ = utf8.DecodeRuneInString(d)
			default:
				return &UsageError{Err: fmt.Errorf("--delimiter %q: want one character", d)}
			}
			in, err := openInput(f.IO, args[0], 0)
			if err != nil {
				return err
			}
			defer in.Close()
			start := time.Now()
			bar := newProgress(f.IO, in.size)
			var res admin.EventImportResult
			err = f.withAdmin(cmd.Context(), true, func(ctx context.Context, a Control) error {
				res, err = a.ImportEvents(ctx, admin.EventImportRequest{Source: in, File: in.name, CSV: opt, Progress: bar.report()})
				return err
			})
			bar.finish()
			if err != nil {
				return err
			}
			// The summary is status, on stderr; the numbers are data, on
			// stdout for scripts.
			fmt.Fprintf(f.IO.ErrOut, "imported %s from %s in %s: %s new, %s stored already\n",
				pluralK(int(res.Rows), "row", "rows"), in.name, time.Since(start).Round(time.Millisecond),
				thousands(int(res.Stored)), thousands(int(res.Duplicates)))
			if out != formatTable {
				return writeData(f.IO.Out, out, res)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&delimiter, "delimiter", "", `field delimiter: one character, or "tab" (default: detected)`)
	cmd.Flags().IntVar(&maxRows, "max-rows", admin.DefaultEventMaxRows, "most data rows accepted")
	cmd.Flags().IntVar(&maxLineBytes, "max-line-bytes", admin.DefaultEventMaxLineBytes, "longest row accepted, in bytes")
	addOutputFlag(cmd, &format)
	return cmd
}

func newEventsCompactCmd(f *Factory) *cobra.Command {
	var (
		retention time.Duration
		rebuild   bool
		format    string
	)
	cmd := &cobra.Command{
		Use:   "compact",
		Short: "Compact raw events into per-unit totals; drop compacted rows past retention",
		Long: `Count the raw events stored since the last compaction into per-unit totals,
and the events stored before exposures that arrived since. Each chunk is one
transaction with its progress: interrupted, a compaction loses nothing and
counts nothing twice; run it again to go on.

With --retention, raw rows that are compacted and older than the retention
are dropped afterwards; the totals keep what they counted.

Compaction also keeps up to date the per-arm sums reports read for the
metrics of running experiments and of live guarded rollout stages. With
--rebuild-stats it builds them all again from the per-unit totals (sums of
fractional values drift by about n·2^-53 after n updates; see
docs/experiments.md); until each is rebuilt, reports read the slower grouped
query.`,
		Example: `  ramp events compact
  ramp events compact --retention 720h
  ramp events compact --rebuild-stats`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			if retention < 0 {
				return &UsageError{Err: fmt.Errorf("--retention %v: must not be negative", retention)}
			}
			start := time.Now()
			var res admin.CompactResult
			err = f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				res, err = a.Compact(ctx, admin.CompactOptions{Retention: retention, RebuildStats: rebuild})
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "compacted in %s: events to #%d, exposures to #%d; %s of totals written, %s dropped\n",
				time.Since(start).Round(time.Millisecond), res.EventsDone, res.ExposuresDone,
				pluralK(int(res.Totals), "row", "rows"), pluralK(int(res.Dropped), "raw row", "raw rows"))
			if out != formatTable {
				return writeData(f.IO.Out, out, res)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&retention, "retention", 0, "drop compacted raw events older than this (e.g. 720h); 0 keeps them")
	cmd.Flags().BoolVar(&rebuild, "rebuild-stats", false, "build the maintained per-arm statistics again from the per-unit totals")
	addOutputFlag(cmd, &format)
	return cmd
}

func newEventsStatsCmd(f *Factory) *cobra.Command {
	var (
		experiment string
		format     string
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show how many exposures, raw events and per-unit totals are stored",
		Example: `  ramp events stats
  ramp events stats --experiment dm-handoff-vs-inline -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				if experiment != "" {
					counts, err := a.ExposureCounts(ctx, experiment)
					if err != nil {
						return err
					}
					if out != formatTable {
						if counts == nil {
							counts = []admin.ExposureCount{}
						}
						return writeData(f.IO.Out, out, counts)
					}
					t := newTable(f.IO.Out, "PHASE", "ARM", "UNITS", "MULTI-ARM")
					for _, c := range counts {
						t.row(fmt.Sprint(c.Phase), c.Arm, thousands(int(c.Units)), thousands(int(c.MultiArm)))
					}
					return t.flush()
				}
				st, err := a.TrackingStats(ctx)
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, st)
				}
				t := newTable(f.IO.Out, "EXPOSURES", "MULTI-ARM", "EVENT ROWS", "PENDING", "TOTALS")
				t.row(thousands(int(st.Exposures)), thousands(int(st.MultiArm)), thousands(int(st.EventRows)),
					thousands(int(st.Pending)), thousands(int(st.Totals)))
				if err := t.flush(); err != nil {
					return err
				}
				if !st.LastRefresh.IsZero() {
					_, err = fmt.Fprintf(f.IO.Out, "statistics last refreshed %s (%s ago)\n",
						st.LastRefresh.Format(time.RFC3339), time.Since(st.LastRefresh).Round(time.Second))
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&experiment, "experiment", "", "show an experiment's exposed units per phase and arm instead")
	addOutputFlag(cmd, &format)
	return cmd
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/admin"
)

// auditKinds are the kinds of object the audit log records.
var auditKinds = []string{"flag", "cohort", "key", "rollout", "layer", "experiment", "metric", "token", "session"}

// defaultAuditLimit is how many entries `ramp audit` shows without --limit.
const defaultAuditLimit = 100

type auditOptions struct {
	f      *Factory
	now    func() time.Time // what --since and --until are relative to
	flag   string
	cohort string
	// experiment narrows to one experiment's changes.
	experiment string
	kinds      []string
	actor      string
	action     string
	since      string
	until      string
	limit      int
	diff       bool
	format     string
}

func newAuditCmd(f *Factory, runF func(*auditOptions) error) *cobra.Command {
	opts := &auditOptions{f: f, now: time.Now}
	cmd := &cobra.Command{
		Use:   "audit [--flag F | --cohort C] [--since 24h] [--actor A]",
		Short: "Show the audit log: who changed what, when, and how",
		Long: `Every change ramp makes (apply, enabling and disabling flags, cohort members,
imports, API keys, rollouts) is appended to an audit log with its time, actor,
action, target and the object's JSON before and after. The log is append-only:
no command edits or deletes entries, and the database itself refuses to.

The newest entries that match are shown, oldest first (--limit, default 100;
0 for all). The table's CHANGE column summarizes each change by the fields
that changed ("enabled: true → false"); --diff shows their full values, and
-o json every entry with its whole before and after.

Here --actor selects entries by who made them (ramp audit records nothing).

--since and --until take a duration back from now (90m, 24h, 7d, 1d12h), a
date (2026-03-01, UTC) or an RFC 3339 time (2026-03-01T12:00:00Z).`,
		Example: `  ramp audit
  ramp audit --flag messenger-ig-interop --since 7d
  ramp audit --actor alice --since 24h --diff
  ramp audit --action rollout. --since 2026-03-01 --until 2026-03-08
  ramp audit --kind key -o json`,
		Args: exactArgs(0, "no arguments (filter with --flag, --cohort, --actor…)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return auditRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.flag, "flag", "", "changes to this flag and its rollout")
	cmd.Flags().StringVar(&opts.cohort, "cohort", "", "changes to this cohort")
	cmd.Flags().StringVar(&opts.experiment, "experiment", "", "changes to this experiment (its lifecycle and phases)")
	cmd.Flags().StringSliceVar(&opts.kinds, "kind", nil, "changes to objects of these kinds: flag, cohort, key, rollout, layer, experiment, metric (comma-separated or repeated)")
	cmd.Flags().StringVar(&opts.actor, "actor", "", "changes made by this actor")
	cmd.Flags().StringVar(&opts.action, "action", "", "actions starting with this (rollout., flag.disable, apply.)")
	cmd.Flags().StringVar(&opts.since, "since", "", "changes at or after this time: 24h, 7d, 2026-03-01 or an RFC 3339 time")
	cmd.Flags().StringVar(&opts.until, "until", "", "changes before this time, in the same forms as --since")
	cmd.Flags().IntVar(&opts.limit, "limit", defaultAuditLimit, "show at most this many entries, the newest (0: all)")
	cmd.Flags().BoolVar(&opts.diff, "diff", false, "show the full old and new value of every changed field")
	addOutputFlag(cmd, &opts.format)
	_ = cmd.RegisterFlagCompletionFunc("flag", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return completeFlagKeys(cmd.Context(), f, nil)
	})
	_ = cmd.RegisterFlagCompletionFunc("cohort", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return completeCohortKeys(cmd, f, nil)
	})
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(auditKinds, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// filter turns the command line into a store filter, or a usage error.
func (opts *auditOptions) filter() (admin.AuditFilter, error) {
	usage := func(format string, args ...any) error {
		return &UsageError{Err: fmt.Errorf(format, args...), Command: "ramp audit"}
	}
	f := admin.AuditFilter{Actor: opts.actor, Action: opts.action, Limit: opts.limit}
	targets := 0
	for _, t := range []string{opts.flag, opts.cohort, opts.experiment} {
		if t != "" {
			targets++
		}
	}
	switch {
	case targets > 1:
		return f, usage("--flag, --cohort and --experiment cannot be combined")
	case targets > 0 && len(opts.kinds) > 0:
		return f, usage("--kind cannot be combined with --flag, --cohort or --experiment (narrow with --action instead: --action rollout.)")
	}
	switch {
	case opts.experiment != "":
		f.Target, f.Kind = opts.experiment, "experiment"
	case opts.flag != "":
		// A flag's history includes its rollout's.
		f.Target, f.Kinds = opts.flag, []string{"flag", "rollout"}
	case opts.cohort != "":
		f.Target, f.Kind = opts.cohort, "cohort"
	}
	for _, k := range opts.kinds {
		if !slices.Contains(auditKinds, k) {
			return f, usage("unknown --kind %q: want %s", k, strings.Join(auditKinds, ", "))
		}
		f.Kinds = append(f.Kinds, k)
	}
	now := opts.now()
	var err error
	if f.Since, err = parseAuditTime(opts.since, now); err != nil {
		return f, usage("--since: %v", err)
	}
	if f.Until, err = parseAuditTime(opts.until, now); err != nil {
		return f, usage("--until: %v", err)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, usage("--since (%s) is not before --until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	if opts.limit < 0 {
		return f, usage("--limit must be 0 (all) or more, not %d", opts.limit)
	}
	return f, nil
}

// parseAuditTime reads a --since or --until value: empty for none, a
// duration back from now (Go's "90m", "24h", or days "7d", "1d12h"), a date
// (UTC midnight) or an RFC 3339 time.
func parseAuditTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a duration (24h, 90m, 7d), a date (2026-03-01) or an RFC 3339 time (2026-03-01T12:00:00Z)", s)
	}
	return now.Add(-d).UTC(), nil
}

// parseAgo parses a non-negative Go duration, optionally preceded by a
// number of days: "7d", "1d12h", "90m".
func parseAgo(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100*366 {
			return 0, fmt.Errorf("bad number of days %q", s[:i])
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return days + d, nil
}

func auditRun(ctx context.Context, opts *auditOptions) error {
	filter, err := opts.filter()
	if err != nil {
		return err
	}
	out, err := resolveFormat(opts.f.IO, opts.format)
	if err != nil {
		return err
	}
	var log admin.AuditLog
	err = opts.f.withAdmin(ctx, false, func(ctx context.Context, a Control) error {
		log, err = a.Audit(ctx, filter)
		return err
	})
	if err != nil {
		return err
	}
	entries, more := log.Entries, log.More
	moreNote := fmt.Sprintf("showing the newest %d entries; older ones match too: raise --limit (0 for all) or narrow with --since/--until", opts.limit)

	if out != formatTable {
		if more {
			fmt.Fprintln(opts.f.IO.ErrOut, moreNote)
		}
		return writeData(opts.f.IO.Out, out, entries)
	}
	w := opts.f.IO.Out
	if len(entries) == 0 {
		fmt.Fprintln(opts.f.IO.ErrOut, "no audit entries match")
		return nil
	}
	if opts.diff {
		for i, e := range entries {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s  %s  %s  %s\n", e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Kind+"/"+e.Target)
			writeChangeDiff(w, e.Before, e.After, "    ")
		}
	} else {
		t := newTable(w, "TIME", "ACTOR", "ACTION", "TARGET", "CHANGE")
		for _, e := range entries {
			t.row(e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Kind+"/"+e.Target, admin.SummarizeChange(e.Before, e.After))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if more {
		fmt.Fprintf(w, "(%s)\n", moreNote)
	}
	return nil
}

// writeChangeDiff writes a change's line diff (admin.DiffChange), each line
// after indent: "-" for lines only before has, "+" for those only after
// has, "…" where unchanged lines are skipped.
func writeChangeDiff(w io.Writer, before, after json.RawMessage, indent string) {
	lines := admin.DiffChange(before, after)
	if len(lines) == 0 {
		fmt.Fprintf(w, "%sno change\n", indent)
		return
	}
	for _, l := range lines {
		if l.Op == admin.DiffSkipped {
			fmt.Fprintf(w, "%s  …\n", indent)
			continue
		}
		fmt.Fprintf(w, "%s%s %s\n", indent, l.Op, l.Text)
	}
}

package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/rollout"
)

func newRolloutCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rollout",
		Aliases: []string{"rollouts"},
		Short:   "Staged rollouts: status, advance, pause, resume, roll back, approve, history",
		Long: `Staged rollout plans move a flag's rollout variant through stages: employees,
then 1% of the US, then 10%, … then the world. Plans are declared under
"rollouts:" in the files "ramp apply" reads (see docs/rollouts.md), or built
here with add-stage.

A plan starts before its first stage: nobody gets the variant from it until
"ramp rollout advance" starts the first stage. Later stages start by hand or,
when they say after: or at:, on the schedule that "ramp serve" (or "ramp
rollout tick" from cron) runs. "ramp flags disable" stays the kill switch: it
overrides every plan at once, and "ramp flags enable" restores the live stage.`,
		Example: `  ramp rollout status
  ramp rollout advance messenger-ig-interop --dry-run
  ramp rollout advance messenger-ig-interop
  ramp rollout pause messenger-ig-interop
  ramp rollout rollback messenger-ig-interop --to us-1 --yes
  ramp rollout history messenger-ig-interop`,
	}
	cmd.AddCommand(newRolloutStatusCmd(f), newRolloutAdvanceCmd(f), newRolloutApproveCmd(f),
		newRolloutPauseCmd(f, true), newRolloutPauseCmd(f, false), newRolloutRollbackCmd(f),
		newRolloutHistoryCmd(f), newRolloutTickCmd(f), newRolloutGetCmd(f), newRolloutAddStageCmd(f), newRolloutEditStageCmd(f),
		newRolloutRemoveStageCmd(f), newRolloutDeleteCmd(f))
	return cmd
}

// rolloutFlagArg completes a command's first argument with the flags that
// have a rollout plan, described by their live stage.
func rolloutFlagArg(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return completeRolloutFlags(cmd.Context(), f, args)
	}
}

// rolloutStageArg completes FLAG STAGE: the flags with a plan, then the
// stages of the plan named.
func rolloutStageArg(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) != 1 {
			return completeRolloutFlags(cmd.Context(), f, args)
		}
		var names []string
		_ = f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
			r, err := a.RolloutGet(ctx, args[0])
			for _, st := range r.Stages {
				names = append(names, st.Name+"\t"+describeStage(&st))
			}
			return err
		})
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func completeRolloutFlags(ctx context.Context, f *Factory, args []string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var keys []string
	_ = f.withAdmin(ctx, false, func(ctx context.Context, a Control) error {
		sts, err := a.RolloutStatuses(ctx)
		for _, st := range sts {
			keys = append(keys, st.Flag+"\t"+orWord(st.Stage, "not started"))
		}
		return err
	})
	return keys, cobra.ShellCompDirectiveNoFileComp
}

// stageWord names a plan's live stage: "not started" before the first.
func stageWord(r *rollout.Rollout) string {
	if r.Progress.Stage == "" {
		return "not started"
	}
	return r.Progress.Stage
}

// rolloutStatus is what `rollout status` prints for one plan.
type rolloutStatus = admin.RolloutStatus

// newRolloutStatus is the status of plan r of flag f (flags get shows it).
func newRolloutStatus(r *rollout.Rollout, f *flags.Flag) rolloutStatus { return admin.StatusOf(r, f) }

type rolloutStatusOptions struct {
	f      *Factory
	format string
}

func newRolloutStatusCmd(f *Factory) *cobra.Command {
	opts := &rolloutStatusOptions{f: f}
	cmd := &cobra.Command{
		Use:   "status [FLAG]",
		Short: "Show every rollout (or one): live stage, audience, paused, next stage and when it is due",
		Example: `  ramp rollout status
  ramp rollout status messenger-ig-interop
  ramp rollout status -o json | jq '.[] | select(.awaitingApproval)'`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: rolloutFlagArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := resolveFormat(f.IO, opts.format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				var statuses []rolloutStatus
				if len(args) == 1 {
					st, err := a.RolloutStatus(ctx, args[0])
					if err != nil {
						return err
					}
					statuses = []rolloutStatus{st}
				} else {
					var err error
					if statuses, err = a.RolloutStatuses(ctx); err != nil {
						return err
					}
				}
				now := a.Time()
				if len(args) == 1 {
					if format != formatTable {
						return writeData(f.IO.Out, format, statuses[0])
					}
					printRolloutStatus(f.IO.Out, &statuses[0], now)
					return nil
				}
				if format != formatTable {
					return writeData(f.IO.Out, format, statuses)
				}
				if len(statuses) == 0 {
					fmt.Fprintln(f.IO.ErrOut, "no rollout plans yet: declare them under rollouts: in a file and run ramp apply -f FILE")
					return nil
				}
				t := newTable(f.IO.Out, "FLAG", "STAGE", "SINCE", "BY", "STATE", "NEXT", "DUE")
				for i := range statuses {
					st := &statuses[i]
					stage := "-"
					if st.Stage != "" {
						stage = fmt.Sprintf("%s (%d/%d)", st.Stage, st.Position, st.Stages)
					}
					since := "-"
					if !st.Since.IsZero() && st.Stage != "" {
						since = ago(st.Since, now)
					}
					next, due := "-", "-"
					if st.Next.Stage >= 0 {
						next = st.Next.Name
						due = dueWord(&st.Next, now)
					}
					by := dash(st.By)
					if st.ApprovedBy != "" {
						by += " (approved by " + st.ApprovedBy + ")"
					}
					t.row(st.Flag, stage, since, by, stateOf(st), next, due)
				}
				return t.flush()
			})
		},
	}
	addOutputFlag(cmd, &opts.format)
	return cmd
}

func dash(s string) string { return orWord(s, "-") }

// orWord returns s, or word when s is empty.
func orWord(s, word string) string {
	if s == "" {
		return word
	}
	return s
}

func stateOf(st *rolloutStatus) string {
	var parts []string
	if st.Killed {
		parts = append(parts, "KILLED")
	}
	if st.Paused {
		parts = append(parts, "paused")
	}
	if st.Pending != nil {
		parts = append(parts, "awaiting approval")
	}
	switch {
	case len(parts) > 0:
	case st.Stage == "":
		parts = append(parts, "not started")
	case st.Next.Stage < 0:
		parts = append(parts, "complete")
	default:
		parts = append(parts, "running")
	}
	return strings.Join(parts, ", ")
}

func dueWord(n *rollout.Next, now time.Time) string {
	if n.Blocked != "" {
		return n.Blocked
	}
	if !n.Due.After(now) {
		return "now (at the next controller pass)"
	}
	return n.Due.UTC().Format(time.RFC3339) + " (in " + span(n.Due.Sub(now)) + ")"
}

func ago(t, now time.Time) string {
	return t.UTC().Format(time.RFC3339) + " (" + span(now.Sub(t)) + " ago)"
}

// span writes a duration for people: 3d4h, 5h12m, 42s.
func span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func printRolloutStatus(w io.Writer, st *rolloutStatus, now time.Time) {
	fmt.Fprintf(w, "%s: rolls out %q (others get %q)\n", st.Flag, st.Variant, st.Default)
	if st.Stage == "" {
		fmt.Fprintf(w, "  stage:    not started (0 of %d)\n", st.Stages)
	} else {
		by := st.By
		if st.ApprovedBy != "" {
			by += ", approved by " + st.ApprovedBy
		}
		fmt.Fprintf(w, "  stage:    %s (%d of %d), live since %s, started by %s\n", st.Stage, st.Position, st.Stages, ago(st.Since, now), by)
	}
	fmt.Fprintf(w, "  state:    %s\n", stateOf(st))
	if st.Paused {
		fmt.Fprintf(w, "            %s; nobody advances it (nor does the schedule) until ramp rollout resume %s\n", pauseWords(st.Pause, now), st.Flag)
	}
	if st.Killed {
		fmt.Fprintf(w, "            the kill switch is thrown: everyone gets %q; ramp flags enable %s restores stage %s\n", st.Default, st.Flag, dash(st.Stage))
	}
	printHalt(w, st, now) // rollout_safety.go
	fmt.Fprintln(w, "  audience:")
	if len(st.Audience) == 0 {
		fmt.Fprintln(w, "    nobody yet")
	}
	for _, g := range st.Audience {
		fmt.Fprintf(w, "    %-28s %6s%%   since %s, set by %s\n", g.Target, g.Percent, g.Since, g.SetBy)
	}
	printGuard(w, st) // rollout_safety.go
	if st.Next.Stage >= 0 {
		fmt.Fprintf(w, "  next:     %s, %s\n", st.Next.Name, dueWord(&st.Next, now))
		for _, s := range st.NextSteps {
			fmt.Fprintf(w, "    %-28s %6s%% → %s%%\n", s.Target, s.From, s.To)
		}
	}
	if p := st.Pending; p != nil {
		fmt.Fprintf(w, "  awaiting: approval of stage %s, asked by %s at %s; anyone but %s runs: ramp rollout approve %s %s\n",
			p.Stage, p.By, p.At.UTC().Format(time.RFC3339), p.By, st.Flag, p.Stage)
	}
	fmt.Fprintln(w, "  plan:")
	for i, s := range st.Plan {
		mark := " "
		switch {
		case i+1 < st.Position:
			mark = "✓"
		case i+1 == st.Position:
			mark = "▶"
		}
		fmt.Fprintf(w, "    %s %-14s %s\n", mark, s.Name, describeStage(&s))
	}
}

// pauseWords says who paused a plan, when and why: "paused by alice at
// 2026-11-24T10:00:00Z (5m00s ago): error rate up"; a zero now leaves out
// how long ago.
func pauseWords(p *admin.Pause, now time.Time) string {
	s := "paused"
	if p == nil {
		return s
	}
	if p.By != "" {
		s += " by " + p.By
	}
	switch {
	case p.At.IsZero():
	case now.IsZero():
		s += " at " + p.At.UTC().Format(time.RFC3339)
	default:
		s += " at " + ago(p.At, now)
	}
	if p.Reason != "" {
		s += ": " + p.Reason
	}
	return s
}

// describeStage writes a stage on one line: "region US 10%, after 48h".
func describeStage(s *rollout.Stage) string {
	var targets []string
	for _, t := range s.Targets() {
		targets = append(targets, t.String())
	}
	out := strings.Join(targets, ", ") + " " + s.Percent.String() + "%"
	if s.After > 0 {
		out += ", after " + s.After.String()
	}
	if s.At != nil {
		out += ", at " + s.At.UTC().Format(time.RFC3339)
	}
	for _, x := range []struct {
		on   bool
		word string
	}{{s.Approval, "approval required"}, {s.Halt, "hold point"}, {s.Decrease, "may decrease"}, {s.Replace, "replaces earlier targets"}} {
		if x.on {
			out += ", " + x.word
		}
	}
	return out + stageGuardWord(s)
}

func newRolloutHistoryCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "history FLAG",
		Short: "Show a rollout's history: plan changes, stage moves, approvals, pauses and kill switch uses",
		Example: `  ramp rollout history messenger-ig-interop
  ramp rollout history messenger-ig-interop -o json`,
		Args:              exactArgs(1, "one flag key"),
		ValidArgsFunction: rolloutFlagArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				events, err := a.RolloutHistory(ctx, args[0])
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, events)
				}
				t := newTable(f.IO.Out, "TIME", "ACTOR", "EVENT", "DETAIL")
				for _, e := range events {
					t.row(e.At.UTC().Format(time.RFC3339), e.Actor, e.Event, e.Detail)
				}
				return t.flush()
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
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
		_ = f.withStore(cmd.Context(), func(s *store.Store) error {
			r, err := s.Rollout(cmd.Context(), args[0])
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
	_ = f.withStore(ctx, func(s *store.Store) error {
		rs, err := s.Rollouts(ctx)
		for _, r := range rs {
			keys = append(keys, r.Flag+"\t"+stageWord(&r))
		}
		return err
	})
	return keys, cobra.ShellCompDirectiveNoFileComp
}

func stageWord(r *rollout.Rollout) string {
	if r.Progress.Stage == "" {
		return "not started"
	}
	return r.Progress.Stage
}

// rolloutStatus is what `rollout status` prints for one plan.
type rolloutStatus struct {
	Flag    string `json:"flag"`
	Variant string `json:"variant"`
	// Stage is the live stage ("" before the first), Position its number
	// (1-based, 0 before the first) of Stages.
	Stage      string           `json:"stage"`
	Position   int              `json:"position"`
	Stages     int              `json:"stages"`
	Since      time.Time        `json:"since,omitzero"`
	By         string           `json:"by,omitempty"`
	ApprovedBy string           `json:"approvedBy,omitempty"`
	Paused     bool             `json:"paused"`
	Killed     bool             `json:"killed"`
	Pending    *rollout.Request `json:"awaitingApproval,omitempty"`
	Audience   []rollout.Grant  `json:"audience"`
	Next       rollout.Next     `json:"next"`
	NextSteps  []rollout.Step   `json:"nextChanges,omitempty"`
	Plan       []rollout.Stage  `json:"plan"`
	Version    int64            `json:"version"`
	UpdatedBy  string           `json:"updatedBy,omitempty"`
	UpdatedAt  time.Time        `json:"updatedAt,omitzero"`
	Default    string           `json:"defaultVariant"`
}

func newRolloutStatus(r *rollout.Rollout, f *flags.Flag) rolloutStatus {
	live := r.Live()
	st := rolloutStatus{Flag: r.Flag, Variant: r.Variant, Stage: r.Progress.Stage, Position: live + 1, Stages: len(r.Stages),
		Since: r.Progress.Since, By: r.Progress.By, ApprovedBy: r.Progress.ApprovedBy, Paused: r.Progress.Paused,
		Killed: !f.Enabled, Pending: r.Progress.Pending, Audience: r.Audience(live), Next: r.Next(!f.Enabled),
		Plan: r.Stages, Version: r.Version, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt, Default: f.DefaultVariant}
	if st.Audience == nil {
		st.Audience = []rollout.Grant{}
	}
	if st.Next.Stage >= 0 {
		st.NextSteps = r.Changes(live, st.Next.Stage)
	}
	return st
}

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
			ctx := cmd.Context()
			return f.withStore(ctx, func(s *store.Store) error {
				statuses, err := loadStatuses(ctx, s, args)
				if err != nil {
					return err
				}
				now := s.Now()
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

func loadStatuses(ctx context.Context, s *store.Store, args []string) ([]rolloutStatus, error) {
	var rs []rollout.Rollout
	if len(args) == 1 {
		r, err := s.Rollout(ctx, args[0])
		if err != nil {
			return nil, noPlan(ctx, s, args[0], err)
		}
		rs = []rollout.Rollout{r}
	} else {
		var err error
		if rs, err = s.Rollouts(ctx); err != nil {
			return nil, err
		}
	}
	fs, err := s.Flags(ctx)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*flags.Flag{}
	for i := range fs {
		byKey[fs[i].Key] = &fs[i]
	}
	out := make([]rolloutStatus, 0, len(rs))
	for i := range rs {
		fl := byKey[rs[i].Flag]
		if fl == nil {
			continue // deleted meanwhile
		}
		out = append(out, newRolloutStatus(&rs[i], fl))
	}
	return out, nil
}

// noPlan turns "rollout not found" into a message that says whether the
// flag exists at all.
func noPlan(ctx context.Context, s *store.Store, flag string, err error) error {
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, ferr := s.Flag(ctx, flag); ferr != nil {
		return ferr
	}
	return &store.NotFoundError{Kind: "rollout plan for flag", Key: flag}
}

func dash(s string) string {
	if s == "" {
		return "-"
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
	if st.Killed {
		fmt.Fprintf(w, "            the kill switch is thrown: everyone gets %q; ramp flags enable %s restores stage %s\n", st.Default, st.Flag, dash(st.Stage))
	}
	fmt.Fprintln(w, "  audience:")
	if len(st.Audience) == 0 {
		fmt.Fprintln(w, "    nobody yet")
	}
	for _, g := range st.Audience {
		fmt.Fprintf(w, "    %-28s %6s%%   since %s, set by %s\n", g.Target, g.Percent, g.Since, g.SetBy)
	}
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
	return out
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
			ctx := cmd.Context()
			return f.withStore(ctx, func(s *store.Store) error {
				if _, err := s.Rollout(ctx, args[0]); err != nil {
					return noPlan(ctx, s, args[0], err)
				}
				entries, err := s.Audit(ctx, store.AuditFilter{Target: args[0]})
				if err != nil {
					return err
				}
				events := historyOf(entries)
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

// historyEvent is one line of a rollout's history.
type historyEvent struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Event  string    `json:"event"`
	Detail string    `json:"detail"`
	// Stage is the live stage after the event, for rollout events.
	Stage string `json:"stage,omitempty"`
}

// historyOf turns the audit entries of a flag and its plan into history
// events, oldest first.
func historyOf(entries []store.AuditEntry) []historyEvent {
	var out []historyEvent
	for _, e := range entries {
		ev := historyEvent{At: e.At, Actor: e.Actor, Event: e.Action}
		switch e.Kind {
		case "flag":
			switch e.Action {
			case "flag.disable":
				ev.Event, ev.Detail = "killed", "kill switch thrown: everyone gets the default variant"
			case "flag.enable":
				ev.Event, ev.Detail = "enabled", "kill switch released: the live stage serves again"
			default:
				continue
			}
		case "rollout":
			before, after := decodeRolloutJSON(e.Before), decodeRolloutJSON(e.After)
			ev.Event, ev.Detail = describeMove(e.Action, before, after)
			if after != nil {
				ev.Stage = after.Progress.Stage
			}
		default:
			continue
		}
		out = append(out, ev)
	}
	if out == nil {
		out = []historyEvent{}
	}
	return out
}

func decodeRolloutJSON(b []byte) *rollout.Rollout {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	var r rollout.Rollout
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

// describeMove names a rollout audit entry and says what it changed.
func describeMove(action string, before, after *rollout.Rollout) (string, string) {
	from, to := "not started", "not started"
	if before != nil && before.Progress.Stage != "" {
		from = before.Progress.Stage
	}
	if after != nil && after.Progress.Stage != "" {
		to = after.Progress.Stage
	}
	switch action {
	case "apply.create":
		return "plan created", fmt.Sprintf("%d stages", len(after.Stages))
	case "apply.update":
		return "plan changed", fmt.Sprintf("%d stages; live stage %s", len(after.Stages), to)
	case "apply.delete":
		return "plan deleted", ""
	case "rollout.pause":
		return "paused", "the schedule stops at " + to
	case "rollout.resume":
		return "resumed", "the schedule continues from " + to
	case "rollout.rollback":
		return "rolled back", from + " → " + to + " (and paused)"
	case "rollout.approve":
		return "approved", fmt.Sprintf("%s → %s, asked by %s", from, to, after.Progress.By)
	}
	// Advances, by a person or the schedule, and approval requests.
	if after != nil && after.Progress.Pending != nil && (before == nil || before.Progress.Pending == nil) {
		return "approval requested", "stage " + after.Progress.Pending.Stage + " awaits someone other than " + after.Progress.Pending.By
	}
	name := "advanced"
	if action == "rollout.schedule" {
		name = "advanced by schedule"
	}
	return name, from + " → " + to
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
)

func newExperimentsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "experiments",
		Aliases: []string{"experiment", "exp"},
		Short:   "Experiments: list, get, start, pause, resume, stop, set-traffic, set-weights, report",
		Long: `Experiments compare the arms (variants) of a flag on a share of a layer's
units. They are declared under "experiments:" (and their layers under
"layers:") in the files "ramp apply" reads, as drafts that serve nothing,
and move through their life here: start → pause ⇄ resume → stop.

A running experiment's audience, arms, weights and traffic are locked within
its phase, so that nobody changes arm in the middle of it; raising the
traffic is the exception (it adds units and keeps every assignment). Other
changes are made as a new phase: "set-weights --new-phase" here, or
"phase: next" in the file. See docs/experiments.md.`,
		Example: `  ramp experiments list
  ramp experiments start dm-handoff-vs-inline
  ramp experiments set-weights dm-handoff-vs-inline off=50,handoff=25,inline=25 --new-phase --dry-run
  ramp experiments report dm-handoff-vs-inline
  ramp experiments stop dm-handoff-vs-inline --ship inline`,
	}
	cmd.AddCommand(newExperimentsListCmd(f), newExperimentsGetCmd(f),
		newExperimentMoveCmd(f, "start", "Start a draft experiment: phase 1 with its declared arms and traffic",
			"  ramp experiments start dm-handoff-vs-inline", Control.StartExperiment),
		newExperimentMoveCmd(f, "pause", "Pause a running experiment: it serves nothing and keeps its units' arms for resume",
			"  ramp experiments pause dm-handoff-vs-inline", Control.PauseExperiment),
		newExperimentMoveCmd(f, "resume", "Resume a paused experiment in its phase: every unit gets its arm back",
			"  ramp experiments resume dm-handoff-vs-inline", Control.ResumeExperiment),
		newExperimentsStopCmd(f), newExperimentsTrafficCmd(f), newExperimentsWeightsCmd(f), newExperimentsReportCmd(f))
	return cmd
}

// experimentKeyArg completes an experiment key, described by its status.
func experimentKeyArg(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var keys []string
		_ = f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
			list, err := a.Experiments(ctx)
			for _, e := range list {
				keys = append(keys, e.Key+"\t"+string(e.Status)+" on "+e.Flag)
			}
			return err
		})
		return keys, cobra.ShellCompDirectiveNoFileComp
	}
}

// experimentArms returns the arms of the experiment key, or none.
func experimentArms(ctx context.Context, f *Factory, key string) []admin.ArmWeight {
	var arms []admin.ArmWeight
	_ = f.withAdmin(ctx, false, func(ctx context.Context, a Control) error {
		e, err := a.Experiment(ctx, key)
		arms = e.Arms
		return err
	})
	return arms
}

// completeShip completes --ship with the experiment's arms.
func completeShip(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) != 1 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, a := range experimentArms(cmd.Context(), f, args[0]) {
			out = append(out, a.Variant+"\t"+a.Weight.String()+"%")
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// weightsArg completes KEY, then ARM=WEIGHT,… starting from the current
// weights.
func weightsArg(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return experimentKeyArg(f)(cmd, args, "")
		}
		if len(args) > 1 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		arms := experimentArms(cmd.Context(), f, args[0])
		if len(arms) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		parts := make([]string, len(arms))
		for i, a := range arms {
			parts[i] = a.Variant + "=" + a.Weight.String()
		}
		return []string{strings.Join(parts, ",") + "\tthe current weights"}, cobra.ShellCompDirectiveNoFileComp
	}
}

func newExperimentsListCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List experiments: flag, layer, status, phase, traffic and arms",
		Example: "  ramp experiments list\n  ramp experiments list -o json | jq '.[] | select(.status == \"running\")'",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				list, err := a.Experiments(ctx)
				if err != nil {
					return err
				}
				if out != formatTable {
					if list == nil {
						list = []admin.ExperimentInfo{}
					}
					return writeData(f.IO.Out, out, list)
				}
				if len(list) == 0 {
					fmt.Fprintln(f.IO.ErrOut, "no experiments yet: declare them under experiments: in a file and run ramp apply -f FILE")
					return nil
				}
				t := newTable(f.IO.Out, "KEY", "FLAG", "LAYER", "STATUS", "PHASE", "TRAFFIC", "ARMS")
				for _, e := range list {
					t.row(e.Key, e.Flag, layerWord(&e.Layer), statusWord(&e), phaseWord(e.Phase), e.Traffic.String()+"%", armsWord(e.Arms))
				}
				return t.flush()
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func layerWord(l *admin.LayerInfo) string {
	if l.Own {
		return "(own)"
	}
	return l.Key
}

func statusWord(e *admin.ExperimentInfo) string {
	if e.Status == experiment.Stopped && e.Shipped != "" {
		if e.ShipVia == experiment.ShipViaRollout {
			return "stopped, ships " + e.Shipped + " through the flag's rollout plan"
		}
		return "stopped, ships " + e.Shipped
	}
	return string(e.Status)
}

func phaseWord(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// armsWord writes arms as "off 34%, handoff 33%, inline 33%".
func armsWord(arms []admin.ArmWeight) string {
	parts := make([]string, len(arms))
	for i, a := range arms {
		parts[i] = a.Variant + " " + a.Weight.String() + "%"
	}
	return strings.Join(parts, ", ")
}

func newExperimentsGetCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "get KEY",
		Short:             "Show an experiment: its declaration, status and every phase",
		Example:           "  ramp experiments get dm-handoff-vs-inline\n  ramp experiments get dm-handoff-vs-inline -o yaml",
		Args:              exactArgs(1, "one experiment key"),
		ValidArgsFunction: experimentKeyArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				e, err := a.Experiment(ctx, args[0])
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, e)
				}
				printExperiment(f.IO.Out, &e, a.Time())
				return nil
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func printExperiment(w io.Writer, e *admin.ExperimentInfo, now time.Time) {
	fmt.Fprintf(w, "%s: experiment on flag %s\n", e.Key, e.Flag)
	if e.Hypothesis != "" {
		fmt.Fprintf(w, "  hypothesis: %s\n", e.Hypothesis)
	}
	if e.Owner != "" {
		fmt.Fprintf(w, "  owner:      %s\n", e.Owner)
	}
	fmt.Fprintf(w, "  status:     %s\n", statusWord(e))
	printPause(w, e)                     // experiments_safety.go
	printSRMCheck(w, e.SampleRatio, now) // experiments_safety.go
	layer := e.Layer.Key
	if e.Layer.Own {
		layer = "its own (" + layer + ")"
	}
	fmt.Fprintf(w, "  layer:      %s, bucketed by %s, holdout %s%%\n", layer, orWord(e.Layer.BucketBy, "targetingKey"), e.Layer.Holdout)
	fmt.Fprintf(w, "  audience:   %s\n", audienceWord(&e.Audience))
	switch {
	case len(e.RampUp) > 0 && e.PhaseTraffic > 0 && e.PhaseTraffic < e.Traffic && e.Status != experiment.Stopped:
		fmt.Fprintf(w, "  traffic:    %s%% of the layer, ramping up to at most %s%%\n", e.PhaseTraffic, e.Traffic)
	default:
		fmt.Fprintf(w, "  traffic:    %s%% of the layer\n", e.Traffic)
	}
	if len(e.RampUp) > 0 {
		fmt.Fprintf(w, "  ramp-up:    %s\n", rampWord(e.RampUp))
		if n := e.NextStep; n != nil {
			due := n.Due.UTC().Format(time.RFC3339)
			switch {
			case n.Held != "":
				due += ", waiting while " + n.Held
			case !n.Due.After(now):
				due += " (due now: the next schedule pass takes it)"
			default:
				due += " (in " + span(n.Due.Sub(now)) + ")"
			}
			fmt.Fprintf(w, "  next step:  %s%%, due %s\n", n.Traffic, due)
		}
	}
	fmt.Fprintf(w, "  arms:       %s (control %s)\n", armsWord(e.Arms), e.Control)
	if m := e.Metrics; m.Primary != "" || len(m.Guardrails) > 0 || len(m.Secondary) > 0 {
		fmt.Fprintf(w, "  metrics:    primary %s", orWord(m.Primary, "-"))
		if len(m.Secondary) > 0 {
			fmt.Fprintf(w, "; secondary %s", strings.Join(m.Secondary, ", "))
		}
		if len(m.Guardrails) > 0 {
			fmt.Fprintf(w, "; guardrails %s", strings.Join(m.Guardrails, ", "))
		}
		fmt.Fprintln(w)
	}
	if len(e.Phases) == 0 {
		fmt.Fprintln(w, "  phases:     none yet (a draft serves nothing: ramp experiments start "+e.Key+")")
		return
	}
	fmt.Fprintln(w, "  phases:")
	for _, p := range e.Phases {
		end := "running"
		if p.Ended != nil {
			end = "ended " + p.Ended.UTC().Format(time.RFC3339)
		} else if e.Status == experiment.Paused {
			end = "paused"
		}
		fmt.Fprintf(w, "    %d  started %s by %s, %s\n", p.Number, ago(p.Started, now), dash(p.StartedBy), end)
		fmt.Fprintf(w, "       traffic %s%%, %s; layer buckets %s\n", p.Traffic, armsWord(p.Arms), rangesWord(p.Buckets))
	}
}

// rampWord writes a ramp-up as "5% ✓, 20% after 24h, 50% after 72h", a
// check mark on the steps reached.
func rampWord(steps []admin.RampStep) string {
	parts := make([]string, len(steps))
	for i, st := range steps {
		parts[i] = st.Traffic.String() + "%"
		if st.After != "" {
			parts[i] += " after " + st.After
		}
		if st.Reached {
			parts[i] += " (reached)"
		}
	}
	return strings.Join(parts, ", ")
}

func audienceWord(a *experiment.Audience) string {
	var parts []string
	if len(a.Regions) > 0 {
		parts = append(parts, "regions "+strings.Join(a.Regions, ", "))
	}
	if len(a.Cohorts) > 0 {
		parts = append(parts, "cohorts "+strings.Join(a.Cohorts, ", "))
	}
	for _, c := range a.When {
		parts = append(parts, fmt.Sprintf("%s %s %v", c.Attribute, c.Op, c.Values))
	}
	if len(parts) == 0 {
		return "everyone"
	}
	return strings.Join(parts, "; ")
}

// rangesWord writes bucket ranges as "500–2499, 4000–4999" (inclusive).
func rangesWord(rs []flags.BucketRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d–%d", r.From, r.To-1)
	}
	return strings.Join(parts, ", ")
}

// newExperimentMoveCmd builds start, pause and resume.
func newExperimentMoveCmd(f *Factory, verb, short, example string, move func(Control, context.Context, string) (admin.ExperimentResult, error)) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               verb + " KEY",
		Short:             short,
		Example:           example,
		Args:              exactArgs(1, "one experiment key"),
		ValidArgsFunction: experimentKeyArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				res, err := move(a, ctx, args[0])
				if err != nil {
					return experimentHint(err, args[0])
				}
				return printExperimentResult(f, out, &res)
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// experimentHint adds the command line's hints to a refusal.
func experimentHint(err error, key string) error {
	var locked *admin.LockedError
	if errors.As(err, &locked) {
		if locked.Where != "" {
			return fmt.Errorf("%w, or run ramp experiments set-weights %s ARM=WEIGHT,… --new-phase", err, key)
		}
		return fmt.Errorf("%w: pass --new-phase (ramp experiments set-weights %s ARM=WEIGHT,… --new-phase)", err, key)
	}
	return err
}

func printExperimentResult(f *Factory, format string, res *admin.ExperimentResult) error {
	if format != formatTable {
		return writeData(f.IO.Out, format, res)
	}
	w := f.IO.Out
	dry := ""
	if res.DryRun {
		dry = " (dry run: nothing written)"
	}
	fmt.Fprintf(w, "%s: %s, %s → %s%s\n", res.Key, res.Action, res.From, res.To, dry)
	if res.Overrode != "" {
		fmt.Fprintf(w, "  overrides the sample-ratio check, which had paused it (%s): it no longer pauses phase %d\n", res.Overrode, res.Phase)
	}
	if res.TrafficFrom != res.TrafficTo {
		fmt.Fprintf(w, "  traffic: %s%% → %s%% of the layer; every unit keeps its arm\n", res.TrafficFrom, res.TrafficTo)
	}
	if res.NewPhase {
		fmt.Fprintf(w, "  phase %d starts\n", res.Phase)
	}
	printMoved(w, res.Moved, res.Known)
	if e := res.Experiment; e != nil && e.Status == experiment.Stopped {
		if r := res.Rollout; r != nil {
			fmt.Fprintf(w, "  serves nothing; flag %s's rollout plan serves %s, stage %s live:\n", r.Flag, r.Variant, r.Stage)
			for _, st := range r.Plan {
				fmt.Fprintf(w, "    %-16s %s%%\n", st.Name, st.Percent)
			}
			fmt.Fprintf(w, "  advance it with: ramp rollout advance %s\n", r.Flag)
		} else if e.Shipped != "" {
			fmt.Fprintf(w, "  serves %s to its whole audience from now on\n", e.Shipped)
		} else {
			fmt.Fprintln(w, "  serves nothing: the flag's other rules decide for its units")
		}
	}
	return nil
}

// printMoved says how many units a new phase moves between arms.
func printMoved(w io.Writer, moved *admin.Percent, k *admin.KnownUnits) {
	if moved == nil {
		return
	}
	fmt.Fprintf(w, "  %s%% of the experiment's units change arm\n", moved)
	switch {
	case k == nil:
	case k.Source == admin.KnownSourceExposures:
		fmt.Fprintf(w, "  known units (exposed to this phase): %d of %d change arm\n", k.Move, k.InExperiment)
	default:
		fmt.Fprintf(w, "  known units (none exposed yet; listed in the audience's cohorts): %d of the %d in the experiment change arm (%d listed)\n", k.Move, k.InExperiment, k.Listed)
	}
}

func newExperimentsStopCmd(f *Factory) *cobra.Command {
	var (
		format, ship string
		yes, plan    bool
	)
	cmd := &cobra.Command{
		Use:   "stop KEY [--ship ARM [--rollout]]",
		Short: "End an experiment for good, serving the winning arm to its whole audience (--ship), through a rollout plan (--rollout) or nothing",
		Long: `End a running or paused experiment for good: its phase ends and its layer
buckets become free for other experiments. With --ship ARM it serves that arm
to its whole audience from then on; without, its units get what the flag's
other rules give them.

With --ship ARM --rollout the experiment serves nothing and the flag gets a
rollout plan serving ARM to the experiment's audience: stage from-experiment
at the share the experiment took (live at once), then half (50%) and all
(100%), advanced with "ramp rollout advance". A flag that already has a plan
is refused.

Stopping asks for confirmation on a terminal and needs --yes elsewhere.`,
		Example:           "  ramp experiments stop dm-handoff-vs-inline --ship inline\n  ramp experiments stop dm-handoff-vs-inline --ship inline --rollout\n  ramp experiments stop link-code-ttl --yes",
		Args:              exactArgs(1, "one experiment key"),
		ValidArgsFunction: experimentKeyArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				if plan && ship == "" {
					return &UsageError{Err: fmt.Errorf("--rollout hands the shipped arm to a rollout plan: pass --ship ARM with it")}
				}
				req := admin.StopRequest{Key: args[0], Ship: ship, Rollout: plan, Confirmed: yes}
				res, err := confirmedExperiment(f.IO, func(base int64) (admin.ExperimentResult, error) {
					if base != 0 {
						req.Confirmed, req.BaseVersion = true, base
					}
					return a.StopExperiment(ctx, req)
				})
				if err != nil {
					return experimentHint(err, args[0])
				}
				return printExperimentResult(f, out, &res)
			})
		},
	}
	cmd.Flags().StringVar(&ship, "ship", "", "the arm to serve to the experiment's whole audience from now on")
	cmd.Flags().BoolVar(&plan, "rollout", false, "hand the flag to a rollout plan serving the --ship arm, from the experiment's share of its audience up to all of it")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	_ = cmd.RegisterFlagCompletionFunc("ship", completeShip(f))
	addOutputFlag(cmd, &format)
	return cmd
}

// confirmedExperiment runs a change; refused for want of confirmation, it
// asks on a terminal (off one it fails with "pass --yes") and runs it
// again, confirmed, on the version that was shown.
func confirmedExperiment(io *IOStreams, change func(base int64) (admin.ExperimentResult, error)) (admin.ExperimentResult, error) {
	res, err := change(0)
	var c *admin.ExperimentConfirmError
	if !errors.As(err, &c) {
		return res, err
	}
	printMoved(io.ErrOut, c.Result.Moved, c.Result.Known)
	if err := confirm(io, false, c.Question); err != nil {
		return res, err
	}
	return change(c.Result.Version)
}

func newExperimentsTrafficCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "set-traffic KEY PERCENT",
		Short: "Raise a running experiment's share of its layer (keeps every assignment), or set a draft's",
		Long: `Set an experiment's traffic: its share of its layer's units. Raising a running
or paused experiment's traffic adds free buckets of the layer to its phase:
units join it, and every unit already in it keeps its arm. Lowering it would
take units out of the phase and is refused (exit 5): lower it in a new phase
with "ramp experiments set-weights KEY CURRENT-WEIGHTS --new-phase --traffic PCT".`,
		Example:           "  ramp experiments set-traffic dm-handoff-vs-inline 30",
		Args:              exactArgs(2, "an experiment key and a percentage"),
		ValidArgsFunction: experimentKeyArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			pct, err := flags.ParsePercent(args[1])
			if err != nil {
				return &UsageError{Err: err, Command: cmd.CommandPath()}
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				res, err := a.SetExperimentTraffic(ctx, admin.TrafficRequest{Key: args[0], Traffic: pct})
				if err != nil {
					var locked *admin.LockedError
					if errors.As(err, &locked) {
						return fmt.Errorf("%w: ramp experiments set-weights %s ARM=WEIGHT,… --new-phase --traffic %s", err, args[0], pct)
					}
					return err
				}
				return printExperimentResult(f, out, &res)
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// parseArms reads "off=34,handoff=33,inline=33".
func parseArms(s string) ([]experiment.Arm, error) {
	var arms []experiment.Arm
	for part := range strings.SplitSeq(s, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("arm %q: want ARM=WEIGHT, such as off=34", part)
		}
		w, err := flags.ParsePercent(weight)
		if err != nil {
			return nil, fmt.Errorf("arm %s: %w", name, err)
		}
		arms = append(arms, experiment.Arm{Variant: name, Weight: w})
	}
	return arms, nil
}

func newExperimentsWeightsCmd(f *Factory) *cobra.Command {
	var (
		format, traffic       string
		newPhase, dryRun, yes bool
	)
	cmd := &cobra.Command{
		Use:   "set-weights KEY ARM=WEIGHT,… [--new-phase] [--dry-run]",
		Short: "Change an experiment's arms and weights; a running one's as a new phase that moves the fewest units",
		Long: `Change an experiment's arms and weights (summing to 100). A draft's declared
arms change. A running or paused experiment's weights are locked within its
phase: --new-phase ends the phase and starts the next, whose arm table moves
as few units as possible between arms — exactly the total-variation
distance ½·Σ|w′ − w| of the experiment's units (34/33/33 → 50/25/25 moves
16%). --traffic sets the new phase's traffic too.

Before writing it prints the share of units that change arm and how many
known units (the ids listed in the cohorts its audience names) change arm,
and asks for confirmation (--yes off a terminal). --dry-run prints the same
and writes nothing.`,
		Example: `  ramp experiments set-weights dm-handoff-vs-inline off=50,handoff=25,inline=25 --new-phase --dry-run
  ramp experiments set-weights dm-handoff-vs-inline off=50,handoff=25,inline=25 --new-phase --yes`,
		Args:              exactArgs(2, "an experiment key and ARM=WEIGHT,…"),
		ValidArgsFunction: weightsArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			arms, err := parseArms(args[1])
			if err != nil {
				return &UsageError{Err: err, Command: cmd.CommandPath()}
			}
			req := admin.WeightsRequest{Key: args[0], Arms: arms, NewPhase: newPhase, DryRun: dryRun, Confirmed: yes}
			if traffic != "" {
				if req.Traffic, err = flags.ParsePercent(traffic); err != nil {
					return &UsageError{Err: err, Command: cmd.CommandPath()}
				}
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				res, err := confirmedExperiment(f.IO, func(base int64) (admin.ExperimentResult, error) {
					if base != 0 {
						req.Confirmed, req.BaseVersion = true, base
					}
					return a.SetExperimentWeights(ctx, req)
				})
				if err != nil {
					var locked *admin.LockedError
					if errors.As(err, &locked) {
						return fmt.Errorf("%w: pass --new-phase", err)
					}
					return err
				}
				return printExperimentResult(f, out, &res)
			})
		},
	}
	cmd.Flags().BoolVar(&newPhase, "new-phase", false, "make the change a new phase (needed for a running or paused experiment)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change, and how many known units change arm, and write nothing")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&traffic, "traffic", "", "the new phase's traffic (default: the current)")
	addOutputFlag(cmd, &format)
	return cmd
}

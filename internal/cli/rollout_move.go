package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/rollout"
)

// moveResult is what a move prints as JSON.
type moveResult = admin.MoveResult

type rolloutAdvanceOptions struct {
	f      *Factory
	to     string
	dryRun bool
	yes    bool
	force  bool
	format string
}

func newRolloutAdvanceCmd(f *Factory) *cobra.Command {
	opts := &rolloutAdvanceOptions{f: f}
	cmd := &cobra.Command{
		Use:   "advance FLAG",
		Short: "Start the next stage of a rollout (or a later one with --to)",
		Long: `Start the next stage of a flag's rollout plan, or the stage --to names,
whatever its schedule says: a person advancing overrides "after" and "at".

--dry-run prints what would change (targets and percentages from → to, and
how many of the users listed in cohorts would gain the variant, judged by
their listed region) and writes nothing.

A stage marked "approval: required" (or one the move skips over) is not
started: the move is recorded as a request, and the stage starts when
someone else runs "ramp rollout approve". A stage marked "decrease" or
"replace" takes the variant away from some users: it asks for confirmation
on a terminal and needs --yes elsewhere. A killed flag (ramp flags disable)
does not advance: enable it first. A paused plan does not advance either
(the refusal says who paused it, when and why) until "ramp rollout resume",
unless --force overrides the pause: the plan stays paused and the audit log
records the move as rollout.advance.forced.

If someone else moves the rollout between the moment ramp reads it and the
moment it writes, nothing is written and the error says what it is now.`,
		Example: `  ramp rollout advance messenger-ig-interop --dry-run
  ramp rollout advance messenger-ig-interop
  ramp rollout advance messenger-ig-interop --to us-50`,
		Args:              exactArgs(1, "one flag key"),
		ValidArgsFunction: rolloutFlagArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			return rolloutAdvance(cmd.Context(), opts, args[0])
		},
	}
	cmd.Flags().StringVar(&opts.to, "to", "", "the stage to start (default: the next one)")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "print what would change and write nothing")
	cmd.Flags().BoolVarP(&opts.yes, "yes", "y", false, "do not ask for confirmation when the move takes the variant away from some users")
	cmd.Flags().BoolVar(&opts.force, "force", false, "advance a paused plan (it stays paused; the audit log records the override)")
	addOutputFlag(cmd, &opts.format)
	return cmd
}

func rolloutAdvance(ctx context.Context, opts *rolloutAdvanceOptions, flag string) error {
	f := opts.f
	format, err := resolveFormat(f.IO, opts.format)
	if err != nil {
		return err
	}
	return f.withAdmin(ctx, false, func(ctx context.Context, a Control) error {
		req := admin.AdvanceRequest{Flag: flag, To: opts.to, DryRun: opts.dryRun, Force: opts.force, Confirmed: opts.yes}
		res, err := confirmed(f.IO, func(base int64) (admin.MoveResult, error) {
			if base != 0 {
				req.Confirmed, req.BaseVersion = true, base
			}
			return a.Advance(ctx, req)
		})
		if err != nil {
			return moveHint(err, flag, "--to")
		}
		return printMove(f, format, &res)
	})
}

// confirmed runs a move; when it is refused for want of confirmation (it
// takes the variant away from users), it asks on a terminal (off one it
// fails with "pass --yes") and runs it again, confirmed, on the plan
// version that was shown.
func confirmed(io *IOStreams, move func(base int64) (admin.MoveResult, error)) (admin.MoveResult, error) {
	res, err := move(0)
	var c *admin.ConfirmError
	if !errors.As(err, &c) {
		return res, err
	}
	if err := confirm(io, false, c.Question); err != nil {
		return res, err
	}
	return move(c.Move.Version)
}

// moveHint adds the command line's hints to a refused move: the command
// that lifts the refusal, or a usage error for a stage named by flagName.
func moveHint(err error, flag, flagName string) error {
	var (
		stage  *admin.StageError
		paused *rollout.PausedError
		killed *rollout.KilledError
	)
	switch {
	case errors.As(err, &stage) && !stage.Exists && flagName != "":
		return &UsageError{Err: err}
	case errors.As(err, &paused):
		return fmt.Errorf("%w (ramp rollout resume %s, or pass --force)", err, flag)
	case errors.As(err, &killed):
		return fmt.Errorf("%w: run ramp flags enable %s", err, flag)
	}
	return err
}

func printMove(f *Factory, format string, res *moveResult) error {
	if res.Changes == nil {
		res.Changes = []rollout.Step{}
	}
	if format != formatTable {
		return writeData(f.IO.Out, format, res)
	}
	w := f.IO.Out
	switch res.Outcome {
	case "dry-run":
		fmt.Fprintf(w, "%s: %s %s → %s (dry run: nothing written)\n", res.Flag, res.Action, res.From, res.To)
	case string(rollout.Requested):
		p := res.Status.Pending
		fmt.Fprintf(w, "%s: stage %s needs approval; asked as %s. It starts when someone else runs:\n  ramp rollout approve %s %s\n",
			res.Flag, p.Stage, p.By, res.Flag, p.Stage)
		return nil
	default:
		fmt.Fprintf(w, "%s: %s → %s\n", res.Flag, res.From, res.To)
	}
	for _, s := range res.Changes {
		fmt.Fprintf(w, "  %-28s %6s%% → %s%%\n", s.Target, s.From, s.To)
	}
	if k := res.Known; k != nil {
		fmt.Fprintf(w, "  users listed in cohorts: %d gain the variant, %d lose it (of %d listed; by their listed region)\n", k.Gain, k.Lose, k.Listed)
	}
	if st := res.Status; st != nil && st.Paused {
		if res.Forced {
			fmt.Fprintf(w, "  forced past the pause; the rollout stays %s\n", pauseWords(st.Pause, time.Time{}))
		} else {
			why := ""
			if st.Pause != nil && st.Pause.Reason != "" {
				why = " (" + st.Pause.Reason + ")"
			}
			fmt.Fprintf(w, "  the rollout is paused%s: nobody advances it (nor does the schedule) until ramp rollout resume %s\n", why, res.Flag)
		}
	}
	return nil
}

func newRolloutApproveCmd(f *Factory) *cobra.Command {
	var (
		format string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "approve FLAG STAGE",
		Short: "Approve a stage that awaits approval, and start it (the approver must not be who asked)",
		Example: `  ramp rollout approve messenger-ig-interop us-50
  RAMP_ACTOR=bob ramp rollout approve messenger-ig-interop us-50`,
		Args:              exactArgs(2, "a flag key and a stage name"),
		ValidArgsFunction: rolloutStageArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				res, err := a.Approve(ctx, admin.ApproveRequest{Flag: args[0], Stage: args[1], Force: force})
				if err != nil {
					return moveHint(err, args[0], "")
				}
				return printMove(f, out, &res)
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "approve while the plan is paused (it stays paused; the audit log records the override)")
	addOutputFlag(cmd, &format)
	return cmd
}

func newRolloutPauseCmd(f *Factory, pause bool) *cobra.Command {
	var reason string
	use, short := "pause FLAG [--reason TEXT]", "Hold a rollout: the schedule stops and nobody advances it until resume"
	example := `  ramp rollout pause messenger-ig-interop --reason "crash rate up in us-10, investigating"`
	long := `Hold a rollout where it is: the schedule stops, and "ramp rollout advance"
and "approve" refuse (exit 5, naming who paused it, when and why) until
"ramp rollout resume", unless they pass --force. Rolling back still works.
--reason tells the next person why; status shows it.`
	if !pause {
		use, short, long = "resume FLAG", "Resume a paused rollout: people may advance it and the schedule continues", ""
		example = "  ramp rollout resume messenger-ig-interop"
	}
	cmd := &cobra.Command{
		Use:               use,
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              exactArgs(1, "one flag key"),
		ValidArgsFunction: rolloutFlagArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				if pause {
					res, err := a.Pause(ctx, admin.PauseRequest{Flag: args[0], Reason: reason})
					if err != nil {
						return err
					}
					fmt.Fprintf(f.IO.ErrOut, "%s: paused at %s; nobody advances it (nor does the schedule) until ramp rollout resume %s\n", args[0], res.To, args[0])
					return nil
				}
				res, err := a.Resume(ctx, args[0])
				if err != nil {
					return err
				}
				next := "no next stage"
				if n := res.Status.Next; n.Stage >= 0 {
					next = "next: " + n.Name + ", " + dueWord(&n, a.Time())
				}
				fmt.Fprintf(f.IO.ErrOut, "%s: resumed at %s; %s\n", args[0], res.To, next)
				return nil
			})
		},
	}
	if pause {
		cmd.Flags().StringVar(&reason, "reason", "", "why the rollout is held, shown to whoever wants to move it next")
	}
	return cmd
}

type rolloutRollbackOptions struct {
	f      *Factory
	to     string
	reason string
	yes    bool
	dryRun bool
	format string
}

func newRolloutRollbackCmd(f *Factory) *cobra.Command {
	opts := &rolloutRollbackOptions{f: f}
	cmd := &cobra.Command{
		Use:   "rollback FLAG",
		Short: "Go back to an earlier stage (the previous one by default) and pause the rollout",
		Long: `Roll a rollout back to an earlier stage: the previous one, or the one --to
names, or "none" for before the first stage. The users that stage had keep
the variant (they are in the same buckets); everyone it did not have loses
it. The rollout is paused so that the schedule does not advance it again
before someone runs "ramp rollout resume".

This takes the variant away from users: ramp asks for confirmation on a
terminal and needs --yes elsewhere. Every server and provider applies it
within a second. To take the variant away from everyone at once, use the
kill switch, "ramp flags disable".`,
		Example: `  ramp rollout rollback messenger-ig-interop --yes
  ramp rollout rollback messenger-ig-interop --to dogfood --dry-run
  ramp rollout rollback messenger-ig-interop --to none --yes`,
		Args:              exactArgs(1, "one flag key"),
		ValidArgsFunction: rolloutFlagArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			return rolloutRollback(cmd.Context(), opts, args[0])
		},
	}
	cmd.Flags().StringVar(&opts.to, "to", "", `the stage to go back to, or "none" (default: the previous one)`)
	cmd.Flags().StringVar(&opts.reason, "reason", "", `why, kept with the pause the rollback makes (default "rolled back from stage X by ACTOR")`)
	cmd.Flags().BoolVarP(&opts.yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "print what would change and write nothing")
	addOutputFlag(cmd, &opts.format)
	return cmd
}

func rolloutRollback(ctx context.Context, opts *rolloutRollbackOptions, flag string) error {
	f := opts.f
	format, err := resolveFormat(f.IO, opts.format)
	if err != nil {
		return err
	}
	return f.withAdmin(ctx, false, func(ctx context.Context, a Control) error {
		req := admin.RollbackRequest{Flag: flag, To: opts.to, Reason: opts.reason, DryRun: opts.dryRun, Confirmed: opts.yes}
		res, err := confirmed(f.IO, func(base int64) (admin.MoveResult, error) {
			if base != 0 {
				req.Confirmed, req.BaseVersion = true, base
			}
			return a.Rollback(ctx, req)
		})
		if err != nil {
			return moveHint(err, flag, "--to")
		}
		return printMove(f, format, &res)
	})
}

func newRolloutTickCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "tick",
		Short: "Run one pass of the rollout schedule (for cron, where no ramp serve runs the controller)",
		Long: `Start every scheduled stage that is due and take every experiment ramp-up step
that is due, as the controller in "ramp serve" does every few seconds, and
exit (-o json lists the stage events only). The same pass halts a plan whose
live guarded stage regresses a guardrail and pauses a running experiment
whose sample ratio says its assignment is broken (docs/safety.md). Safe to run from several machines at once: a
stage is started exactly once.`,
		Example: `  ramp rollout tick
  */5 * * * * ramp --db /var/lib/ramp/ramp.db rollout tick   # crontab`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				res, err := a.Tick(ctx)
				events := res.Events
				if events == nil {
					events = []admin.ScheduleEvent{}
				}
				if out != formatTable {
					if werr := writeData(f.IO.Out, out, events); werr != nil {
						return errors.Join(err, werr)
					}
					return err
				}
				for _, e := range events {
					if e.Outcome == rollout.Requested {
						fmt.Fprintf(f.IO.Out, "%s: stage %s is due and awaits approval\n", e.Flag, e.Stage)
					} else {
						fmt.Fprintf(f.IO.Out, "%s: started stage %s\n", e.Flag, e.Stage)
					}
				}
				for _, e := range res.RampUps {
					if e.Outcome == admin.RampRefused {
						fmt.Fprintf(f.IO.Out, "experiment %s: ramp-up step %d (%s%% → %s%%) is due but refused: %s\n",
							e.Experiment, e.Step, flags.Percent(e.From), flags.Percent(e.To), e.Reason)
					} else {
						fmt.Fprintf(f.IO.Out, "experiment %s: ramp-up step %d, traffic %s%% → %s%% (phase %d, every unit keeps its arm)\n",
							e.Experiment, e.Step, flags.Percent(e.From), flags.Percent(e.To), e.Phase)
					}
				}
				halts := printSafetyTick(f.IO.Out, &res) // rollout_safety.go
				if len(events) == 0 && len(res.RampUps) == 0 && halts == 0 {
					fmt.Fprintln(f.IO.ErrOut, "no stage or ramp-up step is due")
				}
				return err
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

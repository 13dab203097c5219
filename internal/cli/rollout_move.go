package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/controller"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// moveResult is what a move prints as JSON.
type moveResult struct {
	Flag    string           `json:"flag"`
	Action  string           `json:"action"`
	DryRun  bool             `json:"dryRun"`
	From    string           `json:"from"`
	To      string           `json:"to"`
	Outcome string           `json:"outcome"`
	Changes []rollout.Step   `json:"changes"`
	Known   *knownEstimate   `json:"knownUsers,omitempty"`
	Status  *rolloutStatus   `json:"status,omitempty"`
	Plan    *rollout.Rollout `json:"-"`
}

// knownEstimate counts the users listed in cohorts (with their regions)
// who gain or lose the rollout variant with a move.
type knownEstimate struct {
	Listed int `json:"listed"`
	Gain   int `json:"gain"`
	Lose   int `json:"lose"`
}

type rolloutAdvanceOptions struct {
	f      *Factory
	to     string
	dryRun bool
	yes    bool
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
does not advance: enable it first.

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
	addOutputFlag(cmd, &opts.format)
	return cmd
}

func rolloutAdvance(ctx context.Context, opts *rolloutAdvanceOptions, flag string) error {
	f := opts.f
	format, err := resolveFormat(f.IO, opts.format)
	if err != nil {
		return err
	}
	return f.withStore(ctx, func(s *store.Store) error {
		r, fl, err := readRollout(ctx, s, flag)
		if err != nil {
			return err
		}
		live := r.Live()
		to := live + 1
		if opts.to != "" {
			if to = r.StageIndex(opts.to); to < 0 {
				return &UsageError{Err: fmt.Errorf("rollout %s has no stage %q (stages: %s)", flag, opts.to, strings.Join(r.StageNames(), ", "))}
			}
		}
		if to >= len(r.Stages) {
			return fmt.Errorf("rollout %s is at its last stage, %s: %w", flag, r.Progress.Stage, rollout.ErrMove)
		}
		if !fl.Enabled {
			return fmt.Errorf("flag %s is disabled (kill switch): run ramp flags enable %s first (it restores stage %s): %w",
				flag, flag, stageWord(&r), rollout.ErrMove)
		}
		// Check the move before estimating anything.
		if _, _, err := r.Advance(to, f.Actor, s.Now()); err != nil {
			return err
		}
		res := moveResult{Flag: flag, Action: "advance", DryRun: opts.dryRun, From: stageWord(&r), To: r.Stages[to].Name,
			Changes: r.Changes(live, to)}
		takesAway := false
		for i := live + 1; i <= to; i++ {
			takesAway = takesAway || r.Stages[i].TakesAway()
		}
		if opts.dryRun {
			return printDryRun(ctx, s, f, format, &res, &r, fl, live, to)
		}
		if takesAway {
			if err := confirm(f.IO, opts.yes, fmt.Sprintf("Stage %s takes %s away from some users. Advance?", r.Stages[to].Name, r.Variant)); err != nil {
				return err
			}
		}
		var outcome rollout.Outcome
		moved, err := s.MoveRollout(ctx, store.Move{Flag: flag, Action: "rollout.advance", BaseVersion: r.Version,
			Apply: func(cur *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
				p, o, err := cur.Advance(to, f.Actor, now)
				outcome = o
				return p, err
			}}, f.Actor)
		if err != nil {
			return err
		}
		res.Outcome = string(outcome)
		res.Plan = &moved
		return printMove(f, format, &res, fl)
	})
}

func readRollout(ctx context.Context, s *store.Store, flag string) (rollout.Rollout, *flags.Flag, error) {
	r, err := s.Rollout(ctx, flag)
	if err != nil {
		return r, nil, noPlan(ctx, s, flag, err)
	}
	fl, err := s.Flag(ctx, flag)
	if err != nil {
		return r, nil, err
	}
	return r, &fl, nil
}

// estimateKnown evaluates every user listed in a cohort, with the region the
// list gives, at stages from and to, and counts who gains and who loses the
// rollout variant. Users the lists do not know are not counted: for a
// region, the estimate covers only its listed users. It reads every list
// (seconds for lists of millions), so only dry runs make it: a real move,
// a rollback above all, must not wait for it.
func estimateKnown(ctx context.Context, s *store.Store, r *rollout.Rollout, fl *flags.Flag, from, to int) (*knownEstimate, error) {
	planner, err := newStagePlanner(ctx, s, r, fl)
	if err != nil {
		return nil, err
	}
	before, err := planner.at(from)
	if err != nil {
		return nil, err
	}
	after, err := planner.at(to)
	if err != nil {
		return nil, err
	}
	st := planner.base
	est := &knownEstimate{}
	seen := map[string]bool{}
	ctxMap := map[string]any{}
	for _, c := range st.Cohorts {
		if st.MemberSets[c.Key] == nil {
			continue
		}
		err := s.EachMember(ctx, c.Key, func(m cohorts.Member) error {
			if seen[m.ID] {
				return nil
			}
			seen[m.ID] = true
			est.Listed++
			ctxMap[flags.TargetingKey] = m.ID
			if m.Region != "" {
				ctxMap[flags.RegionAttribute] = string(m.Region)
			} else {
				delete(ctxMap, flags.RegionAttribute)
			}
			a := before.Evaluate(fl.Key, ctxMap).Variant == r.Variant
			b := after.Evaluate(fl.Key, ctxMap).Variant == r.Variant
			switch {
			case b && !a:
				est.Gain++
			case a && !b:
				est.Lose++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return est, nil
}

// printDryRun completes a move's result with the estimate of the listed
// users it would change, and prints it.
func printDryRun(ctx context.Context, s *store.Store, f *Factory, format string, res *moveResult, r *rollout.Rollout, fl *flags.Flag, from, to int) error {
	var err error
	if res.Known, err = estimateKnown(ctx, s, r, fl, from, to); err != nil {
		return err
	}
	res.Outcome = "dry-run"
	return printMove(f, format, res, fl)
}

func printMove(f *Factory, format string, res *moveResult, fl *flags.Flag) error {
	if res.Changes == nil {
		res.Changes = []rollout.Step{}
	}
	if format != formatTable {
		if res.Plan != nil {
			st := newRolloutStatus(res.Plan, fl)
			res.Status = &st
		}
		return writeData(f.IO.Out, format, res)
	}
	w := f.IO.Out
	switch res.Outcome {
	case "dry-run":
		fmt.Fprintf(w, "%s: %s %s → %s (dry run: nothing written)\n", res.Flag, res.Action, res.From, res.To)
	case string(rollout.Requested):
		p := res.Plan.Progress.Pending
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
	if res.Plan != nil && res.Plan.Progress.Paused {
		fmt.Fprintf(w, "  the rollout is paused: the schedule will not advance it until ramp rollout resume %s\n", res.Flag)
	}
	return nil
}

func newRolloutApproveCmd(f *Factory) *cobra.Command {
	var format string
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
			ctx := cmd.Context()
			return f.withStore(ctx, func(s *store.Store) error {
				r, fl, err := readRollout(ctx, s, args[0])
				if err != nil {
					return err
				}
				if _, err := r.Approve(args[1], f.Actor, s.Now()); err != nil {
					return err
				}
				moved, err := s.MoveRollout(ctx, store.Move{Flag: args[0], Action: "rollout.approve", BaseVersion: r.Version,
					Apply: func(cur *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
						return cur.Approve(args[1], f.Actor, now)
					}}, f.Actor)
				if err != nil {
					return err
				}
				res := moveResult{Flag: args[0], Action: "approve", From: stageWord(&r), To: args[1], Outcome: string(rollout.Started),
					Changes: r.Changes(r.Live(), moved.Live()), Plan: &moved}
				return printMove(f, out, &res, fl)
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func newRolloutPauseCmd(f *Factory, pause bool) *cobra.Command {
	use, short, action := "pause FLAG", "Pause a rollout's schedule (people can still advance or roll back)", "rollout.pause"
	example := "  ramp rollout pause messenger-ig-interop"
	if !pause {
		use, short, action = "resume FLAG", "Resume a paused rollout's schedule", "rollout.resume"
		example = "  ramp rollout resume messenger-ig-interop"
	}
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Example:           example,
		Args:              exactArgs(1, "one flag key"),
		ValidArgsFunction: rolloutFlagArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return f.withStore(ctx, func(s *store.Store) error {
				if _, _, err := readRollout(ctx, s, args[0]); err != nil {
					return err
				}
				moved, err := s.MoveRollout(ctx, store.Move{Flag: args[0], Action: action,
					Apply: func(cur *rollout.Rollout, _ *flags.Flag, _ time.Time) (rollout.Progress, error) {
						return cur.SetPaused(pause)
					}}, f.Actor)
				if err != nil {
					return err
				}
				if pause {
					fmt.Fprintf(f.IO.ErrOut, "%s: paused at %s; the schedule will not advance it until ramp rollout resume %s\n", args[0], stageWord(&moved), args[0])
				} else {
					fl, err := s.Flag(ctx, args[0])
					if err != nil {
						return err
					}
					n := moved.Next(!fl.Enabled)
					next := "no next stage"
					if n.Stage >= 0 {
						next = "next: " + n.Name + ", " + dueWord(&n, s.Now())
					}
					fmt.Fprintf(f.IO.ErrOut, "%s: resumed at %s; %s\n", args[0], stageWord(&moved), next)
				}
				return nil
			})
		},
	}
}

type rolloutRollbackOptions struct {
	f      *Factory
	to     string
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
	return f.withStore(ctx, func(s *store.Store) error {
		r, fl, err := readRollout(ctx, s, flag)
		if err != nil {
			return err
		}
		live := r.Live()
		to := live - 1
		switch opts.to {
		case "":
		case "none":
			to = -1
		default:
			if to = r.StageIndex(opts.to); to < 0 {
				return &UsageError{Err: fmt.Errorf("rollout %s has no stage %q (stages: %s, or none)", flag, opts.to, strings.Join(r.StageNames(), ", "))}
			}
		}
		if _, err := r.Rollback(to, f.Actor, s.Now()); err != nil {
			return err
		}
		toName := "none"
		if to >= 0 {
			toName = r.Stages[to].Name
		}
		res := moveResult{Flag: flag, Action: "rollback", DryRun: opts.dryRun, From: stageWord(&r), To: toName, Changes: r.Changes(live, to)}
		if opts.dryRun {
			return printDryRun(ctx, s, f, format, &res, &r, fl, live, to)
		}
		if err := confirm(f.IO, opts.yes, fmt.Sprintf("Roll %s back from %s to %s? Users outside that stage lose %q.", flag, stageWord(&r), toName, r.Variant)); err != nil {
			return err
		}
		moved, err := s.MoveRollout(ctx, store.Move{Flag: flag, Action: "rollout.rollback", BaseVersion: r.Version,
			Apply: func(cur *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
				return cur.Rollback(to, f.Actor, now)
			}}, f.Actor)
		if err != nil {
			return err
		}
		res.Outcome, res.Plan = "rolled back", &moved
		return printMove(f, format, &res, fl)
	})
}

func newRolloutTickCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "tick",
		Short: "Run one pass of the rollout schedule (for cron, where no ramp serve runs the controller)",
		Long: `Start every scheduled stage that is due, as the controller in "ramp serve" does
every few seconds, and exit. Safe to run from several machines at once: a
stage is started exactly once.`,
		Example: `  ramp rollout tick
  */5 * * * * ramp --db /var/lib/ramp/ramp.db rollout tick   # crontab`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return f.withStore(ctx, func(s *store.Store) error {
				events, err := controller.Tick(ctx, s)
				if events == nil {
					events = []controller.Event{}
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
				if len(events) == 0 {
					fmt.Fprintln(f.IO.ErrOut, "no stage is due")
				}
				return err
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

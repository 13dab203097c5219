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
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/rollout"
)

func newRolloutGetCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "get FLAG",
		Short: "Print a flag's rollout plan as configuration (YAML), ready to edit and apply",
		Example: `  ramp rollout get messenger-ig-interop
  ramp rollout get messenger-ig-interop > plan.yaml && $EDITOR plan.yaml && ramp apply -f plan.yaml`,
		Args:              exactArgs(1, "one flag key"),
		ValidArgsFunction: rolloutFlagArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				r, err := a.RolloutGet(ctx, args[0])
				if err != nil {
					return err
				}
				return config.Encode(f.IO.Out, &flags.State{}, config.YAML, r.Plan)
			})
		},
	}
}

type stageOptions struct {
	variant  string
	before   string
	cohorts  []string
	regions  []string
	when     []string
	percent  string
	after    string
	at       string
	approval bool
	halt     bool
	decrease bool
	replace  bool
}

func newRolloutAddStageCmd(f *Factory) *cobra.Command {
	o := &stageOptions{}
	cmd := &cobra.Command{
		Use:   "add-stage FLAG STAGE --percent P [--cohorts …] [--regions …] [--when …]",
		Short: "Add a stage to a flag's rollout plan (creating the plan with --variant)",
		Long: `Add a stage at the end of a flag's rollout plan, or before the stage --before
names. The first stage added creates the plan, which needs --variant (the
variant the plan rolls out). The plan is validated as "ramp apply" validates
it: known cohorts and regions, and no stage lowering a target's percentage
unless it says --decrease.

Conditions are written "attribute op value[,value…]", as in configuration
files: --when "platform in ios,android" --when "appVersion semver_gte 300.0.0".`,
		Example: `  ramp rollout add-stage messenger-ig-interop dogfood --variant on --cohorts employees --percent 100
  ramp rollout add-stage messenger-ig-interop us-1 --regions US --percent 1
  ramp rollout add-stage messenger-ig-interop us-10 --regions US --percent 10 --after 48h --approval`,
		Args: exactArgs(2, "a flag key and a stage name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.percent == "" {
				return &UsageError{Err: fmt.Errorf("--percent is required")}
			}
			st, err := o.stage(args[1], cmd.Flags().Changed)
			if err != nil {
				return err
			}
			return editPlan(cmd.Context(), f, args[0], o.variant, func(ctx context.Context, a Control) (admin.PlanEditResult, error) {
				res, err := a.AddStage(ctx, admin.AddStageRequest{Flag: args[0], Variant: o.variant, Stage: st, Before: o.before})
				var se *admin.StageError
				if errors.As(err, &se) && !se.Exists {
					err = &UsageError{Err: fmt.Errorf("--before: %w", err)}
				}
				return res, err
			})
		},
	}
	o.register(cmd, true)
	return cmd
}

// register adds the stage flags to add-stage (adding, with --variant and
// --before) or edit-stage.
func (o *stageOptions) register(cmd *cobra.Command, adding bool) {
	fl := cmd.Flags()
	if adding {
		fl.StringVar(&o.variant, "variant", "", "the variant the plan rolls out (needed to create the plan; changes it otherwise)")
		fl.StringVar(&o.before, "before", "", "insert the stage before this one (default: at the end)")
	}
	fl.StringSliceVar(&o.cohorts, "cohorts", nil, "cohorts the stage targets")
	fl.StringSliceVar(&o.regions, "regions", nil, "regions the stage targets: countries (US), groups (NA, EU) or *")
	fl.StringArrayVar(&o.when, "when", nil, `a condition every target of the stage must meet: "attribute op value[,value…]" (repeatable)`)
	fl.StringVar(&o.percent, "percent", "", "the share of each target that gets the variant, 0–100 with up to two decimals")
	fl.StringVar(&o.after, "after", "", "the schedule may start the stage this long after the previous one began (48h, 7d)")
	fl.StringVar(&o.at, "at", "", "the schedule may start the stage from this RFC 3339 time")
	fl.BoolVar(&o.approval, "approval", false, "starting the stage needs approval by a second person")
	fl.BoolVar(&o.halt, "halt", false, "a hold point: the schedule never advances past the stage on its own")
	fl.BoolVar(&o.decrease, "decrease", false, "the stage may lower percentages earlier stages gave")
	fl.BoolVar(&o.replace, "replace", false, "the stage's targets replace all earlier ones")
}

// stage builds a new stage from the command line.
func (o *stageOptions) stage(name string, changed func(string) bool) (rollout.Stage, error) {
	st := rollout.Stage{Name: name}
	return st, o.apply(&st, changed)
}

// parseCondition reads --when "attribute op value[,value…]".
func parseCondition(w string) (cohorts.Condition, error) {
	parts := strings.Fields(w)
	if len(parts) < 2 {
		return cohorts.Condition{}, &UsageError{Err: fmt.Errorf(`--when %q: want "attribute op value[,value…]"`, w)}
	}
	c := cohorts.Condition{Attribute: parts[0], Op: cohorts.Operator(parts[1])}
	if len(parts) > 2 {
		c.Values = strings.Split(strings.Join(parts[2:], " "), ",")
	}
	if _, err := c.Compile(); err != nil {
		return c, &UsageError{Err: fmt.Errorf("--when %q: %w", w, err)}
	}
	return c, nil
}

func newRolloutEditStageCmd(f *Factory) *cobra.Command {
	o := &stageOptions{}
	cmd := &cobra.Command{
		Use:   "edit-stage FLAG STAGE [--percent P] [--after D] …",
		Short: "Change fields of one stage of a flag's rollout plan (only the flags given)",
		Long: `Change one stage of a flag's rollout plan: only the fields whose flags are
given change (--cohorts "" and --regions "" clear a list, --when "" clears
the conditions, --after 0 and --at "" clear the schedule). The plan is
validated as a whole, as "ramp apply" validates it. Editing the live stage
changes who gets the variant at once.`,
		Example: `  ramp rollout edit-stage messenger-ig-interop us-10 --after 72h
  ramp rollout edit-stage messenger-ig-interop us-50 --approval
  ramp rollout edit-stage messenger-ig-interop world-5 --percent 2 --at 2026-12-01T09:00:00Z`,
		Args:              exactArgs(2, "a flag key and a stage name"),
		ValidArgsFunction: rolloutStageArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			var set rollout.Stage
			if err := o.apply(&set, cmd.Flags().Changed); err != nil {
				return err
			}
			var fields []string
			for _, name := range stageFields {
				if cmd.Flags().Changed(name) {
					fields = append(fields, name)
				}
			}
			return editPlan(cmd.Context(), f, args[0], "", func(ctx context.Context, a Control) (admin.PlanEditResult, error) {
				res, err := a.EditStage(ctx, admin.EditStageRequest{Flag: args[0], Stage: args[1], Set: set, Fields: fields})
				var se *admin.StageError
				if errors.As(err, &se) {
					err = &UsageError{Err: err}
				}
				return res, err
			})
		},
	}
	o.register(cmd, false)
	return cmd
}

// stageFields are the command-line flags that set a stage's fields, named
// as admin.EditStageRequest names the fields.
var stageFields = []string{admin.FieldPercent, admin.FieldCohorts, admin.FieldRegions, admin.FieldWhen, admin.FieldAfter,
	admin.FieldAt, admin.FieldApproval, admin.FieldHalt, admin.FieldDecrease, admin.FieldReplace}

// apply sets the fields of st whose flags were given.
func (o *stageOptions) apply(st *rollout.Stage, changed func(string) bool) error {
	var err error
	if changed("percent") {
		if st.Percent, err = flags.ParsePercent(o.percent); err != nil {
			return &UsageError{Err: fmt.Errorf("--percent: %w", err)}
		}
	}
	if changed("cohorts") {
		st.Cohorts = nonEmpty(o.cohorts)
	}
	if changed("regions") {
		st.Regions = nonEmpty(o.regions)
	}
	if changed("when") {
		st.When = nil
		for _, w := range o.when {
			if strings.TrimSpace(w) == "" {
				continue
			}
			c, err := parseCondition(w)
			if err != nil {
				return err
			}
			st.When = append(st.When, c)
		}
	}
	if changed("after") {
		st.After = 0
		if o.after != "" && o.after != "0" {
			if st.After, err = rollout.ParseDuration(o.after); err != nil {
				return &UsageError{Err: fmt.Errorf("--after: %w", err)}
			}
		}
	}
	if changed("at") {
		st.At = nil
		if o.at != "" {
			t, err := time.Parse(time.RFC3339, o.at)
			if err != nil {
				return &UsageError{Err: fmt.Errorf("--at: want an RFC 3339 time such as 2026-12-01T09:00:00Z: %w", err)}
			}
			t = t.UTC()
			st.At = &t
		}
	}
	for name, field := range map[string]*bool{"approval": &st.Approval, "halt": &st.Halt, "decrease": &st.Decrease, "replace": &st.Replace} {
		if changed(name) {
			*field = map[string]bool{"approval": o.approval, "halt": o.halt, "decrease": o.decrease, "replace": o.replace}[name]
		}
	}
	return nil
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func newRolloutRemoveStageCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:               "remove-stage FLAG STAGE",
		Short:             "Remove a stage that is not live from a flag's rollout plan",
		Example:           `  ramp rollout remove-stage messenger-ig-interop na-25`,
		Args:              exactArgs(2, "a flag key and a stage name"),
		ValidArgsFunction: rolloutStageArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editPlan(cmd.Context(), f, args[0], "", func(ctx context.Context, a Control) (admin.PlanEditResult, error) {
				res, err := a.RemoveStage(ctx, admin.RemoveStageRequest{Flag: args[0], Stage: args[1]})
				if errors.Is(err, admin.ErrNoStageLeft) {
					err = &UsageError{Err: fmt.Errorf("%w: ramp rollout delete %s", err, args[0])}
				}
				return res, err
			})
		},
	}
}

// editPlan runs a plan edit and says what it did; a flag without a plan
// asks for --variant.
func editPlan(ctx context.Context, f *Factory, flag, variant string, edit func(context.Context, Control) (admin.PlanEditResult, error)) error {
	return f.withAdmin(ctx, false, func(ctx context.Context, a Control) error {
		res, err := edit(ctx, a)
		var np *admin.NoPlanError
		if errors.As(err, &np) && variant == "" {
			return &UsageError{Err: fmt.Errorf("flag %s has no rollout plan yet: give --variant (the variant to roll out) to create one", flag)}
		}
		if err != nil {
			return err
		}
		if res.Action == "unchanged" {
			fmt.Fprintf(f.IO.ErrOut, "rollout %s unchanged\n", flag)
			return nil
		}
		fmt.Fprintf(f.IO.ErrOut, "rollout %s %s: %s (%s)\n", flag, res.Action, plural(len(res.Stages), "stage", "stages"), strings.Join(res.Stages, " → "))
		return nil
	})
}

func newRolloutDeleteCmd(f *Factory) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete FLAG",
		Short: "Delete a flag's rollout plan (its users go back to the flag's own rules)",
		Long: `Delete a flag's rollout plan. Users the live stage gave the variant to lose it
unless the flag's own rules give it to them: ramp asks for confirmation on a
terminal and needs --yes elsewhere.`,
		Example:           `  ramp rollout delete messenger-ig-interop --yes`,
		Args:              exactArgs(1, "one flag key"),
		ValidArgsFunction: rolloutFlagArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				r, err := a.RolloutGet(ctx, args[0])
				if err != nil {
					return err
				}
				if err := confirm(f.IO, yes, fmt.Sprintf("Delete the rollout plan of %s (live stage: %s)?", args[0], stageWord(&r))); err != nil {
					return err
				}
				if _, err := a.DeleteRollout(ctx, args[0], r.Version); err != nil {
					return err
				}
				fmt.Fprintf(f.IO.ErrOut, "rollout plan of %s deleted\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

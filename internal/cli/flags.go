package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/rollout"
)

func newFlagsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "flags",
		Aliases: []string{"flag"},
		Short:   "List, inspect, enable, disable (kill switch) and delete flags",
		Example: `  ramp flags list
  ramp flags get messenger-ig-interop
  ramp flags disable messenger-ig-interop   # kill switch: everyone gets the default
  ramp flags enable messenger-ig-interop`,
	}
	cmd.AddCommand(newFlagsListCmd(f), newFlagsGetCmd(f), newFlagsSetEnabledCmd(f, true), newFlagsSetEnabledCmd(f, false), newFlagsDeleteCmd(f))
	return cmd
}

func completeFlagKeys(ctx context.Context, f *Factory, args []string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var keys []string
	_ = f.withAdmin(ctx, false, func(ctx context.Context, a Control) error {
		fs, err := a.Flags(ctx)
		for _, fl := range fs {
			keys = append(keys, fl.Flag.Key+"\t"+fl.Flag.Description)
		}
		return err
	})
	return keys, cobra.ShellCompDirectiveNoFileComp
}

type flagsListOptions struct {
	f      *Factory
	format string
}

func newFlagsListCmd(f *Factory) *cobra.Command {
	opts := &flagsListOptions{f: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List flags",
		Example: `  ramp flags list
  ramp flags list -o json | jq -r '.[] | select(.enabled == false) | .key'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := resolveFormat(f.IO, opts.format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				fs, err := a.Flags(ctx)
				if err != nil {
					return err
				}
				if format != formatTable {
					views := make([]flagView, len(fs))
					for i := range fs {
						views[i] = newFlagView(&fs[i].Flag)
					}
					return writeData(f.IO.Out, format, views)
				}
				if len(fs) == 0 {
					fmt.Fprintln(f.IO.ErrOut, "no flags yet: declare them in a file and run ramp apply -f FILE")
					return nil
				}
				t := newTable(f.IO.Out, "KEY", "TYPE", "STATE", "DEFAULT", "RULES", "ROLLOUT", "VERSION", "DESCRIPTION")
				for _, info := range fs {
					fl, stage := &info.Flag, ""
					if r := info.Rollout; r != nil {
						stage = fmt.Sprintf("%s (%d/%d)", stageWord(r), r.Live()+1, len(r.Stages))
					}
					t.row(fl.Key, string(fl.Type), stateWord(fl.Enabled), fl.DefaultVariant, itoa(len(fl.Rules)), dash(stage),
						fmt.Sprint(fl.Version), truncate(fl.Description, 60))
				}
				return t.flush()
			})
		},
	}
	addOutputFlag(cmd, &opts.format)
	return cmd
}

func stateWord(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "DISABLED"
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// flagView is a flag as `flags get -o json` prints it: the configuration
// fields plus the stored version.
type flagView struct {
	flags.Flag
	Version int64 `json:"version"`
	// Rollout is the flag's rollout plan and where it stands, if it has one.
	Rollout *rolloutStatus `json:"rollout,omitempty"`
	// Experiments are the experiments on the flag, in any status.
	Experiments []admin.ExperimentInfo `json:"experiments,omitempty"`
}

func newFlagView(f *flags.Flag) flagView { return flagView{Flag: *f, Version: f.Version} }

func newFlagsGetCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "get FLAG",
		Short:   "Show a flag: variants, rules and state",
		Example: `  ramp flags get ig-dm-via-whatsapp`,
		Args:    exactArgs(1, "one flag key"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeFlagKeys(cmd.Context(), f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				info, err := a.Flag(ctx, args[0])
				if err != nil {
					return err
				}
				fl, plan := info.Flag, info.Rollout
				if out != formatTable {
					view := newFlagView(&fl)
					if plan != nil {
						st := newRolloutStatus(plan, &fl)
						view.Rollout = &st
					}
					view.Experiments = info.Experiments
					return writeData(f.IO.Out, out, view)
				}
				return printFlag(f.IO, &fl, plan, info.Experiments)
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func printFlag(io *IOStreams, fl *flags.Flag, plan *rollout.Rollout, xs []admin.ExperimentInfo) error {
	w := io.Out
	fmt.Fprintf(w, "%s (%s, %s, version %d)\n", fl.Key, fl.Type, stateWord(fl.Enabled), fl.Version)
	if fl.Description != "" {
		fmt.Fprintf(w, "  %s\n", fl.Description)
	}
	if fl.Owner != "" || len(fl.Tags) > 0 {
		fmt.Fprintf(w, "  owner: %s  tags: %s\n", orDash(fl.Owner), orDash(strings.Join(fl.Tags, ", ")))
	}
	fmt.Fprintln(w, "variants:")
	for _, v := range fl.Variants {
		b, _ := json.Marshal(v.Value)
		def := ""
		if v.Key == fl.DefaultVariant {
			def = "  (default)"
		}
		fmt.Fprintf(w, "  %-12s %s%s\n", v.Key, b, def)
	}
	bucketBy := "targetingKey"
	if fl.BucketBy != "" {
		bucketBy = fl.BucketBy + ", else targetingKey"
	}
	fmt.Fprintf(w, "bucketing: by %s, salt %q, algorithm v%d\n", bucketBy, fl.EffectiveSalt(), fl.Bucketing)
	if len(fl.Rules) == 0 && plan == nil && len(xs) == 0 {
		fmt.Fprintln(w, "rules: none: every context gets the default variant")
		return nil
	}
	fmt.Fprintln(w, "rules (first match wins):")
	for i, r := range fl.Rules {
		fmt.Fprintf(w, "  %d. %s\n", i, describeRule(&r))
	}
	for _, x := range xs {
		fmt.Fprintf(w, "  then %s\n", describeExperiment(&x))
	}
	if plan != nil {
		live := plan.Live()
		if live < 0 {
			fmt.Fprintf(w, "  then the rollout plan (%d stages, not started): nobody yet\n", len(plan.Stages))
		} else {
			fmt.Fprintf(w, "  then the rollout plan at stage %s (%d of %d): %s to\n", plan.Progress.Stage, live+1, len(plan.Stages), plan.Variant)
			for _, g := range plan.Audience(live) {
				fmt.Fprintf(w, "       %s%% of %s\n", g.Percent, g.Target)
			}
		}
	}
	fmt.Fprintf(w, "  otherwise: %s\n", fl.DefaultVariant)
	if plan != nil {
		fmt.Fprintf(w, "rollout: ramp rollout status %s\n", fl.Key)
	}
	for _, x := range xs {
		fmt.Fprintf(w, "experiment: ramp experiments get %s\n", x.Key)
	}
	return nil
}

// describeExperiment says in one line what an experiment does to its
// flag's decisions in its present status.
func describeExperiment(x *admin.ExperimentInfo) string {
	head := fmt.Sprintf("experiment %s (%s", x.Key, x.Status)
	if x.Phase > 0 && x.Status != experiment.Stopped {
		head += fmt.Sprintf(", phase %d", x.Phase)
	}
	head += ")"
	switch x.Status {
	case experiment.Running:
	case experiment.Stopped:
		if x.Shipped != "" {
			return head + ": serves " + x.Shipped + " to its audience"
		}
		return head + ": serves nothing"
	default:
		return head + ": serves nothing"
	}
	arms := make([]string, len(x.Arms))
	for i, a := range x.Arms {
		arms[i] = fmt.Sprintf("%s %s%%", a.Variant, flags.Percent(a.Weight))
	}
	return fmt.Sprintf("%s: %s to %s%% of layer %s", head, strings.Join(arms, " / "), flags.Percent(x.Traffic), x.Layer.Key)
}

func describeRule(r *flags.Rule) string {
	var when []string
	if len(r.Cohorts) > 0 {
		when = append(when, "cohort "+strings.Join(r.Cohorts, " or "))
	}
	if len(r.Regions) > 0 {
		when = append(when, "region "+strings.Join(r.Regions, " or "))
	}
	for _, c := range r.When {
		when = append(when, c.String())
	}
	cond := "everyone"
	if len(when) > 0 {
		cond = strings.Join(when, " and ")
	}
	var serve string
	if r.Serve != "" {
		serve = "serve " + r.Serve
	} else {
		parts := make([]string, len(r.Rollout))
		for i, s := range r.Rollout {
			parts[i] = fmt.Sprintf("%s %s%%", s.Variant, s.Weight)
		}
		serve = "split " + strings.Join(parts, " / ")
	}
	name := ""
	if r.Name != "" {
		name = "[" + r.Name + "] "
	}
	return name + cond + " → " + serve
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newFlagsSetEnabledCmd(f *Factory, enable bool) *cobra.Command {
	use, short, example := "enable FLAG", "Serve a flag's rules again after a kill", "  ramp flags enable messenger-ig-interop"
	if !enable {
		use, short = "disable FLAG", "Kill switch: serve every context the flag's default variant"
		example = "  ramp flags disable messenger-ig-interop --actor alice"
	}
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    exactArgs(1, "one flag key"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeFlagKeys(cmd.Context(), f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				fl, err := a.SetEnabled(ctx, args[0], enable)
				if err != nil {
					return err
				}
				if enable {
					fmt.Fprintf(f.IO.ErrOut, "%s enabled (version %d): its rules decide again\n", fl.Key, fl.Version)
				} else {
					fmt.Fprintf(f.IO.ErrOut, "%s disabled (version %d): every context now gets %q\n", fl.Key, fl.Version, fl.DefaultVariant)
				}
				return nil
			})
		},
	}
}

func newFlagsDeleteCmd(f *Factory) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete FLAG",
		Short: "Delete a flag (services then get their own defaults with FLAG_NOT_FOUND)",
		Long: `Delete a flag. Services that still ask for it get their code default and the
FLAG_NOT_FOUND error code. On a terminal ramp asks for confirmation;
elsewhere --yes is required. To stop a feature quickly, prefer
"ramp flags disable", which keeps the flag and its history.`,
		Example: `  ramp flags delete old-experiment --yes`,
		Args:    exactArgs(1, "one flag key"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeFlagKeys(cmd.Context(), f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := confirm(f.IO, yes, fmt.Sprintf("Delete flag %s? Services will get FLAG_NOT_FOUND.", args[0])); err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				if err := a.DeleteFlag(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(f.IO.ErrOut, "flag %s deleted\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// confirm asks on a terminal, and requires --yes elsewhere.
func confirm(io *IOStreams, yes bool, question string) error {
	if yes {
		return nil
	}
	if !io.StdinTTY || !io.StderrTTY {
		return &UsageError{Err: fmt.Errorf("%s Not a terminal: pass --yes to confirm", question)}
	}
	fmt.Fprintf(io.ErrOut, "%s [y/N] ", question)
	var answer string
	_, _ = fmt.Fscanln(io.In, &answer)
	if a := strings.ToLower(strings.TrimSpace(answer)); a == "y" || a == "yes" {
		return nil
	}
	return errAborted
}

func errFlagNotFound(key string) error {
	return ramp.Errorf(ramp.KindNotFound, "flag %q not found", key)
}

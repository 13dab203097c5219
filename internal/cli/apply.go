package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

type applyOptions struct {
	f      *Factory
	file   string
	dryRun bool
	prune  bool
	format string
}

func newApplyCmd(f *Factory, runF func(*applyOptions) error) *cobra.Command {
	opts := &applyOptions{f: f}
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create, update (and with --prune delete) cohorts and flags from a YAML or JSON file",
		Long: `Apply a configuration file (YAML, or JSON) declaring cohorts and flags.

Everything is validated first; if anything is wrong nothing is written and
every problem is listed with its file, line and field. Otherwise the changes
are written in one transaction: either all of them or none.

Objects the file does not declare are left alone, unless --prune deletes them.
A flag without "enabled" keeps its current state (a flag killed with "ramp flags
disable" stays killed); a cohort without "members" keeps its member list (lists
imported from CSV are not part of the file).

If someone changes an object between the moment ramp reads it and the moment
it writes, the whole apply is refused ("changed meanwhile"): read and retry.`,
		Example: `  ramp apply -f testdata/scenario.yaml
  ramp apply -f flags.yaml --dry-run
  ramp export > backup.yaml && ramp apply -f backup.yaml   # a no-op
  cat flags.json | ramp apply -f -`,
		Args: exactArgs(0, "no arguments (the file is given with -f)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.file == "" {
				return &UsageError{Err: fmt.Errorf("a file is required: ramp apply -f FILE (or -f - for stdin)")}
			}
			if runF != nil {
				return runF(opts)
			}
			return applyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.file, "file", "f", "", "configuration file (YAML or JSON), or - for stdin")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "print what would change and write nothing")
	cmd.Flags().BoolVar(&opts.prune, "prune", false, "delete cohorts and flags that the file does not declare")
	addOutputFlag(cmd, &opts.format)
	_ = cmd.MarkFlagFilename("file", "yaml", "yml", "json")
	return cmd
}

func readInput(in io.Reader, name string) ([]byte, string, error) {
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(in, config.MaxSize+1))
		return b, "<stdin>", err
	}
	st, err := os.Stat(name)
	if err != nil {
		return nil, name, &InvalidError{err}
	}
	if st.IsDir() {
		return nil, name, &InvalidError{fmt.Errorf("%s is a directory", name)}
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, name, &InvalidError{err}
	}
	return b, name, nil
}

// applyResult is what apply prints: the plan and whether it was written.
type applyResult struct {
	File    string         `json:"file"`
	DryRun  bool           `json:"dryRun"`
	Applied bool           `json:"applied"`
	Changes []flags.Change `json:"changes"`
	// Rollouts are the rollout plans created, updated or deleted.
	Rollouts []rollout.Change `json:"rollouts"`
	Summary  map[string]int   `json:"summary"`
}

func applyRun(ctx context.Context, opts *applyOptions) error {
	io := opts.f.IO
	format, err := resolveFormat(io, opts.format)
	if err != nil {
		return err
	}
	data, name, err := readInput(io.In, opts.file)
	if err != nil {
		return err
	}
	// Structural problems do not stop here: validation below adds those of
	// the values that did decode, so the user sees every problem at once.
	doc, err := config.ParsePartial(name, data)
	if doc == nil {
		return err
	}
	return opts.f.withStore(ctx, func(s *store.Store) error {
		current, _, err := s.State(ctx)
		if err != nil {
			return err
		}
		desired := doc.Resolve(&current)
		if err := doc.Validate(validationState(&current, &desired, opts.prune)); err != nil {
			return err
		}
		stored, err := s.Rollouts(ctx)
		if err != nil {
			return err
		}
		plan := flags.Diff(&current, &desired, opts.prune)
		rchanges, runchanged := rollout.Diff(stored, doc.Rollouts(), opts.prune)
		if err := checkLiveStages(stored, rchanges); err != nil {
			return err
		}
		res := applyResult{File: name, DryRun: opts.dryRun, Changes: plan.Changes, Rollouts: rchanges, Summary: map[string]int{
			"create": plan.Count(flags.Create), "update": plan.Count(flags.Update), "delete": plan.Count(flags.Delete),
			"unchanged": plan.Unchanged + runchanged,
		}}
		for _, c := range rchanges {
			res.Summary[string(c.Action)]++
		}
		if res.Changes == nil {
			res.Changes = []flags.Change{}
		}
		if res.Rollouts == nil {
			res.Rollouts = []rollout.Change{}
		}
		if !opts.dryRun && (!plan.Empty() || len(rchanges) > 0) {
			if err := s.ApplyWithRollouts(ctx, &desired, plan, rchanges, opts.f.Actor); err != nil {
				return err
			}
			res.Applied = true
		}
		if format != formatTable {
			return writeData(io.Out, format, res)
		}
		printPlan(io, &res)
		return nil
	})
}

// checkLiveStages refuses plan updates that drop a plan's live stage: the
// users it serves would be left without a stage.
func checkLiveStages(stored []rollout.Rollout, changes []rollout.Change) error {
	live := map[string]string{}
	for _, r := range stored {
		live[r.Flag] = r.Progress.Stage
	}
	for _, c := range changes {
		if stage := live[c.Flag]; c.Action == flags.Update && stage != "" && c.Plan.StageIndex(stage) < 0 {
			return &InvalidError{fmt.Errorf("rollout %s: the live stage %s is not in the new plan: keep it, or first roll back to a stage the new plan keeps (ramp rollout rollback %s --to STAGE)",
				c.Flag, stage, c.Flag)}
		}
	}
	return nil
}

// validationState is what the database will hold after the apply, for
// validation: the file's objects at their positions in the file (so that
// problems map to its lines), then, without --prune, the stored cohorts and
// flags the file does not declare, which its flags and plans may still name.
func validationState(current, desired *flags.State, prune bool) *flags.State {
	st := &flags.State{Cohorts: append([]cohorts.Cohort(nil), desired.Cohorts...), Flags: slices.Clip(desired.Flags)}
	if prune {
		return st
	}
	declaredFlags := map[string]bool{}
	for _, f := range desired.Flags {
		declaredFlags[f.Key] = true
	}
	for _, f := range current.Flags {
		if !declaredFlags[f.Key] {
			st.Flags = append(st.Flags, f)
		}
	}
	declared := map[string]bool{}
	for _, c := range desired.Cohorts {
		declared[c.Key] = true
	}
	for _, c := range current.Cohorts {
		if !declared[c.Key] {
			st.Cohorts = append(st.Cohorts, cohorts.Cohort{Key: c.Key})
		}
	}
	return st
}

func printPlan(io *IOStreams, res *applyResult) {
	w := io.Out
	for _, c := range res.Changes {
		sign := map[flags.Action]string{flags.Create: "+", flags.Update: "~", flags.Delete: "-"}[c.Action]
		line := fmt.Sprintf("%s %s %s", sign, c.Kind, c.Key)
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
	for _, c := range res.Rollouts {
		sign := map[flags.Action]string{flags.Create: "+", flags.Update: "~", flags.Delete: "-"}[c.Action]
		line := fmt.Sprintf("%s rollout %s", sign, c.Flag)
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
	sum := res.Summary
	counts := fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged", sum["create"], sum["update"], sum["delete"], sum["unchanged"])
	switch {
	case len(res.Changes) == 0:
		fmt.Fprintf(io.ErrOut, "%s: nothing to change (%d unchanged)\n", res.File, sum["unchanged"])
	case res.DryRun:
		fmt.Fprintf(io.ErrOut, "dry run: %s; nothing written\n", counts)
	default:
		fmt.Fprintf(io.ErrOut, "applied %s: %d created, %d updated, %d deleted, %d unchanged\n", res.File, sum["create"], sum["update"], sum["delete"], sum["unchanged"])
	}
}

type exportOptions struct {
	f      *Factory
	format string
	file   string
}

func newExportCmd(f *Factory, runF func(*exportOptions) error) *cobra.Command {
	opts := &exportOptions{f: f}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every cohort and flag in the apply format",
		Long: `Write the current configuration — every cohort (with its listed members) and
every flag — in the format "ramp apply" reads. Applying the export to the same
database changes nothing; applying it to a new database reproduces the
configuration (the audit log and versions are not part of it).`,
		Example: `  ramp export > backup.yaml
  ramp export -o json --file backup.json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.format == "" {
				opts.format = formatYAML
			}
			if opts.format != formatYAML && opts.format != formatJSON {
				return &UsageError{Err: fmt.Errorf("export writes yaml or json, not %q", opts.format)}
			}
			if runF != nil {
				return runF(opts)
			}
			return exportRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.format, "output", "o", "", "yaml (default) or json")
	cmd.Flags().StringVar(&opts.file, "file", "", "write to this file instead of stdout")
	return cmd
}

func exportRun(ctx context.Context, opts *exportOptions) error {
	return opts.f.withStore(ctx, func(s *store.Store) error {
		st, _, err := s.State(ctx)
		if err != nil {
			return err
		}
		rs, err := s.Rollouts(ctx)
		if err != nil {
			return err
		}
		plans := make([]rollout.Plan, len(rs))
		for i := range rs {
			plans[i] = rs[i].Plan
		}
		if opts.file == "" {
			return config.Encode(opts.f.IO.Out, &st, opts.format, plans...)
		}
		tmp, err := os.CreateTemp(filepath.Dir(opts.file), ".ramp-export-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if err := config.Encode(tmp, &st, opts.format, plans...); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), opts.file); err != nil {
			return err
		}
		fmt.Fprintf(opts.f.IO.ErrOut, "exported %s and %s to %s\n", plural(len(st.Cohorts), "cohort", "cohorts"), plural(len(st.Flags), "flag", "flags"), opts.file)
		return nil
	})
}

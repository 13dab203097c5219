package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
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
		Short: "Create, update (and with --prune delete) cohorts, flags, rollout plans, layers, metrics and experiments from a YAML or JSON file",
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

// readInput reads an input file named on the command line, or stdin for
// "-", through config.MaxSize: the policy of every input file of the CLI.
// A file that does not exist, is neither a regular file nor a pipe, or is
// larger than the limit is invalid input (exit 3) naming the path; a
// failure while reading is an I/O error (exit 1).
func readInput(streams *IOStreams, name string) ([]byte, string, error) {
	in, err := openInput(streams, name, config.MaxSize)
	if err != nil {
		return nil, name, err
	}
	defer in.Close()
	if name == "-" {
		name = "<stdin>"
	}
	return readLimited(in, name)
}

// readLimited reads r to its end, refusing more than config.MaxSize bytes.
func readLimited(r io.Reader, name string) ([]byte, string, error) {
	b, err := io.ReadAll(io.LimitReader(r, config.MaxSize+1))
	if err != nil {
		return nil, name, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > config.MaxSize {
		return nil, name, ramp.Errorf(ramp.KindInvalid, "%s: %w: more than %d MiB", name, config.ErrTooLarge, config.MaxSize>>20)
	}
	return b, name, nil
}

func applyRun(ctx context.Context, opts *applyOptions) error {
	io := opts.f.IO
	format, err := resolveFormat(io, opts.format)
	if err != nil {
		return err
	}
	data, name, err := readInput(io, opts.file)
	if err != nil {
		return err
	}
	// Structural problems do not stop here: validation adds those of the
	// values that did decode, so the user sees every problem at once.
	doc, err := config.ParsePartial(name, data)
	if doc == nil {
		return err
	}
	run := func(ctx context.Context, a Control) error {
		res, err := a.Apply(ctx, admin.ApplyRequest{Doc: doc, DryRun: opts.dryRun, Prune: opts.prune})
		var live *admin.LiveStageError
		if errors.As(err, &live) {
			return fmt.Errorf("%w (ramp rollout rollback %s --to STAGE)", err, live.Flag)
		}
		if err != nil {
			return experimentApplyHint(err) // experiments_apply.go
		}
		if format != formatTable {
			return writeData(io.Out, format, res)
		}
		printApply(io, res)
		return nil
	}
	if !opts.dryRun {
		return opts.f.withAdmin(ctx, true, run)
	}
	// A dry run is a read: it never creates the database. Where there is
	// none yet, it compares the file with an empty one, made and thrown
	// away in a temporary directory.
	err = opts.f.withAdmin(ctx, false, run)
	if !errors.Is(err, admin.ErrNoDatabase) {
		return err
	}
	tmp, terr := os.MkdirTemp("", "ramp-dry-run-")
	if terr != nil {
		return terr
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(io.ErrOut, "no database at %s yet: comparing with an empty one (nothing is created)\n", admin.RedactDSN(opts.f.dsn()))
	empty := *opts.f
	empty.DB = filepath.Join(tmp, "empty.db")
	return empty.withAdmin(ctx, true, run)
}

// printApply prints an apply's changes on stdout, one line each, then notes
// and a summary on stderr.
func printApply(io *IOStreams, res *admin.ApplyResult) {
	w := io.Out
	signs := map[flags.Action]string{flags.Create: "+", flags.Update: "~", flags.Delete: "-"}
	for _, c := range res.Changes {
		line := fmt.Sprintf("%s %s %s", signs[c.Action], c.Kind, c.Key)
		var parts []string
		for _, f := range c.Fields {
			if f == "members" && c.Members != nil {
				f = c.Members.String()
			}
			parts = append(parts, f)
		}
		if c.Action == flags.Create && c.Members != nil {
			parts = append(parts, plural(c.Members.After, "member", "members"))
		}
		if len(parts) > 0 {
			line += " (" + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
	set := map[string]*admin.ProgressNote{}
	for i := range res.Progress {
		set[res.Progress[i].Flag] = &res.Progress[i]
	}
	for _, c := range res.Rollouts {
		line := fmt.Sprintf("%s rollout %s", signs[c.Action], c.Flag)
		parts := slices.Clone(c.Fields)
		if n := set[c.Flag]; n != nil && n.Action == admin.ProgressSet {
			parts = append(parts, "progress: "+describeProgress(&n.File))
		}
		if len(parts) > 0 {
			line += " (" + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
	printApplyMetrics(io, res)     // metrics.go
	printApplyExperiments(io, res) // experiments_apply.go
	for _, n := range res.Progress {
		if n.Action == admin.ProgressKept {
			fmt.Fprintf(io.ErrOut, "note: rollout %s stays %s; the file says %s, which apply never applies to an existing plan (move it with ramp rollout advance or rollback)\n",
				n.Flag, describeProgress(n.Stored), describeProgress(&n.File))
		}
	}
	for _, l := range res.Imported {
		fmt.Fprintf(io.ErrOut, "note: cohort %s: %s the file does not list stay, because imports set the list (replaceMembers: true in the file replaces it)\n",
			l.Cohort, plural(l.Kept, "imported member", "imported members"))
	}
	sum := res.Summary
	counts := fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged", sum["create"], sum["update"], sum["delete"], sum["unchanged"])
	switch {
	case !res.Changed():
		fmt.Fprintf(io.ErrOut, "%s: nothing to change (%d unchanged)\n", res.File, sum["unchanged"])
	case res.DryRun:
		fmt.Fprintf(io.ErrOut, "dry run: %s; nothing written\n", counts)
	default:
		fmt.Fprintf(io.ErrOut, "applied %s: %d created, %d updated, %d deleted, %d unchanged\n", res.File, sum["create"], sum["update"], sum["delete"], sum["unchanged"])
	}
}

// describeProgress says where a plan stands: "at stage us-10 since … by
// alice, paused".
func describeProgress(p *rollout.Progress) string {
	s := "not started"
	if p.Stage != "" {
		s = "at stage " + p.Stage
		if !p.Since.IsZero() {
			s += " since " + p.Since.UTC().Format(time.RFC3339)
		}
		if p.By != "" {
			s += " by " + p.By
		}
	}
	if p.Paused {
		s += ", paused"
	}
	if p.Pending != nil {
		s += fmt.Sprintf(", stage %s awaiting approval", p.Pending.Stage)
	}
	return s
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
		Short: "Write every cohort, flag, rollout plan, layer, metric and experiment in the apply format",
		Long: `Write the current configuration — every cohort (with its listed members),
every flag and every rollout plan (with its progress) — in the format "ramp
apply" reads. Applying the export to the same database changes nothing;
applying it to a new database reproduces the configuration, live rollouts
included (the audit log, API keys and versions are not part of it).

Member lists stream from the database to the output: memory stays flat
whatever their size.`,
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
	return opts.f.withAdmin(ctx, false, func(ctx context.Context, a Control) error {
		if opts.file == "" {
			_, err := a.Export(ctx, opts.f.IO.Out, opts.format)
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(opts.file), ".ramp-export-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		res, err := a.Export(ctx, tmp, opts.format)
		if err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), opts.file); err != nil {
			return err
		}
		fmt.Fprintf(opts.f.IO.ErrOut, "exported %s, %s and %s to %s\n", plural(res.Cohorts, "cohort", "cohorts"),
			plural(res.Flags, "flag", "flags"), plural(res.Rollouts, "rollout plan", "rollout plans"), opts.file)
		return nil
	})
}

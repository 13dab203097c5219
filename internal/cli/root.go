// Package cli implements the ramp command line: one file per noun, each verb
// an options struct, a NewCmd constructor and a run function that tests can
// drive with real argv against in-memory streams and a real database.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/admin"
)

// Factory carries what every command needs: streams, where the database is
// and who is acting. Commands open the store lazily, so that `ramp regions`
// or `ramp --help` never touch a database.
type Factory struct {
	IO     *IOStreams
	DB     string
	Actor  string
	Getenv func(string) string
	// Events is --events: where exposures and tracking events live when
	// not in the database (a clickhouse:// URL; default $RAMP_EVENTS).
	Events string

	// Server and Token are --server and --token: commands then go through
	// the server's admin API (see target for the precedence).
	Server string
	Token  string

	// dbSet and actorSet say whether --db and --actor (or RAMP_ACTOR) were
	// given: --db keeps commands local, an actor is refused remotely.
	dbSet    bool
	actorSet bool
}

// dsn returns the database to open: --db, else $RAMP_DB, else ramp.db in
// the working directory.
func (f *Factory) dsn() string {
	if f.DB == "" {
		f.DB = "ramp.db"
		if v := f.Getenv("RAMP_DB"); v != "" {
			f.DB = v
		}
	}
	return f.DB
}

// withAdmin runs fn on the control plane: through a server's admin API
// when one is configured (--server, RAMP_SERVER, the current context),
// else on the configured database, with a context naming the actor.
// create says whether the command may create the database (apply, imports,
// key creation); reads and edits of existing objects never do.
func (f *Factory) withAdmin(ctx context.Context, create bool, fn func(ctx context.Context, a Control) error) error {
	return f.withControl(ctx, create, fn)
}

// withLocal opens the control plane on the configured database, runs fn
// and closes it.
func (f *Factory) withLocal(ctx context.Context, create bool, fn func(ctx context.Context, a Control) error) error {
	return f.withAdminOptions(ctx, admin.Options{Create: create}, func(ctx context.Context, a *admin.Service) error {
		return fn(ctx, local{a})
	})
}

// withAdminOptions is withAdmin with every option of admin.Open.
func (f *Factory) withAdminOptions(ctx context.Context, opt admin.Options, fn func(ctx context.Context, a *admin.Service) error) (err error) {
	a, err := admin.Open(ctx, f.dsn(), opt)
	if errors.Is(err, admin.ErrNoDatabase) {
		return withHint(err, "--db or $RAMP_DB names another; ramp apply -f FILE creates one")
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := a.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
	}()
	if f.Events == "" {
		f.Events = f.Getenv("RAMP_EVENTS")
	}
	if err := a.OpenEvents(ctx, f.Events); err != nil {
		return withHint(err, "--events or $RAMP_EVENTS names the events database")
	}
	return fn(admin.WithActor(ctx, f.Actor), a)
}

func defaultActor(getenv func(string) string) string {
	if a := getenv("RAMP_ACTOR"); a != "" {
		return a
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// NewRootCmd builds the ramp command tree.
func NewRootCmd(io *IOStreams) *cobra.Command {
	f := &Factory{IO: io, Getenv: os.Getenv}
	root := &cobra.Command{
		Use:   "ramp",
		Short: "Feature-flag rollouts and experiments",
		Long: `ramp decides, for every user, which features they get: cohorts, staged
percentage rollouts and experiments, served to services through OpenFeature.

Configuration lives in YAML files applied with "ramp apply"; the state is kept
in a database (an embedded SQLite file by default).`,
		Example: `  ramp apply -f testdata/scenario.yaml
  ramp flags list
  ramp eval messenger-ig-interop --context '{"targetingKey":"u1","region":"US"}'
  ramp flags disable messenger-ig-interop`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			f.dbSet = cmd.Flags().Changed("db")
			f.actorSet = cmd.Flags().Changed("actor") || f.Getenv("RAMP_ACTOR") != ""
			if strings.TrimSpace(f.Actor) == "" {
				f.Actor = defaultActor(f.Getenv)
			}
			return nil
		},
	}
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.PersistentFlags().StringVar(&f.DB, "db", "", "database: a SQLite file path (default ramp.db, or $RAMP_DB)")
	root.PersistentFlags().StringVar(&f.Events, "events", "", "events database for exposures, tracking events and reports, when not --db: clickhouse://host:port/database (default $RAMP_EVENTS)")
	root.PersistentFlags().StringVar(&f.Actor, "actor", "", "who is making changes, recorded in the audit log (default $RAMP_ACTOR, else the OS user; not with a server)")
	root.PersistentFlags().StringVar(&f.Server, "server", "", "work through this ramp server's admin API (default $RAMP_SERVER, else the current context: ramp login)")
	root.PersistentFlags().StringVar(&f.Token, "token", "", "token for --server (default $RAMP_TOKEN, else the context's; prefer RAMP_TOKEN: flags show in process lists)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &UsageError{Err: err, Command: cmd.CommandPath()}
	})

	root.AddCommand(
		newApplyCmd(f, nil),
		newExportCmd(f, nil),
		newFlagsCmd(f),
		newCohortsCmd(f),
		newEvalCmd(f, nil),
		newSimulateCmd(f, nil),
		newKeysCmd(f),
		newTokensCmd(f),
		newAuditCmd(f, nil),
		newRolloutCmd(f),
		newExperimentsCmd(f),
		newMetricsCmd(f),
		newServeCmd(f, nil),
		newDBCmd(f),
		newEventsCmd(f),
		newRegionsCmd(f),
		newVersionCmd(f),
		newLoginCmd(f),
		newLogoutCmd(f),
		newAuthCmd(f),
		newContextCmd(f),
	)
	guardGroups(root)
	return root
}

// guardGroups makes every command that only groups others (ramp rollout,
// ramp keys…) refuse an unknown subcommand with exit 2 and a "did you
// mean", as the root does: cobra would print the group's help and exit 0,
// so a cron job running `ramp rollout tik` would never notice. Without an
// argument a group prints its help. Unknown flags are left for the
// subcommand to judge, so that `ramp keys craete --role sdk` names the
// misspelt command rather than the flag.
func guardGroups(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		guardGroups(c)
	}
	if cmd.Runnable() || !cmd.HasSubCommands() || !cmd.HasParent() {
		return
	}
	cmd.FParseErrWhitelist.UnknownFlags = true
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
		}
		return &UsageError{Err: errors.New(msg), Command: cmd.CommandPath()}
	}
}

// Execute runs ramp with the process's arguments and returns its exit code.
//
// When ctx is canceled (the first Ctrl-C or SIGTERM: see cmd/ramp), reads of
// standard input stop at once, the command's transaction is rolled back,
// and the exit status is ExitInterrupted whatever error the cancellation
// surfaced as.
func Execute(ctx context.Context, args []string, io *IOStreams) int {
	streams := *io
	streams.interrupt = ctx
	streams.In = streams.cancelable(io.In)
	io = &streams
	root := NewRootCmd(io)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, errEvalFailed) {
		return ExitEvalError // the decision is already on stdout
	}
	if ctx.Err() != nil {
		fmt.Fprintf(io.ErrOut, "ramp: interrupted: nothing was written (%v)\n", err)
		return ExitInterrupted
	}
	var usage *UsageError
	if cmd == root && !errors.As(err, &usage) {
		// The root command runs nothing itself: its only failures are an
		// unknown command or flag.
		err = &UsageError{Err: err, Command: "ramp"}
	}
	fmt.Fprintf(io.ErrOut, "ramp: %v\n", err)
	if errors.As(err, &usage) && usage.Command != "" {
		fmt.Fprintf(io.ErrOut, "See '%s --help'.\n", usage.Command)
	}
	return ExitCode(err)
}

// exactArgs is cobra.ExactArgs with a message that names what is missing.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &UsageError{Err: fmt.Errorf("%s takes %s, got %d argument(s) (usage: %s)", cmd.CommandPath(), names, len(args), cmd.UseLine()), Command: cmd.CommandPath()}
		}
		return nil
	}
}

package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
)

func newDBCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Show the database's epoch and version; renew the epoch after a restore; copy a database into a new one",
		Long: `Every database has an epoch: a random identifier drawn when it is created,
so that servers and providers can tell its configuration versions from those
of another database. Providers take a snapshot when its version is newer than
theirs or when its epoch differs; "ramp db copy" gives the new database an
epoch of its own by itself.

A database restored from a backup keeps the epoch of the database it was
taken from, at a lower version than providers may hold: they would ignore it.
Run "ramp db renew-epoch" on it once restored.

"ramp db copy FROM TO" moves everything from one database to a new one (from
SQLite to PostgreSQL, say): configuration, rollout progress, API keys, the
audit log.`,
		Example: `  ramp db status
  ramp --db restored.db db renew-epoch
  ramp db copy ramp.db 'postgres://ramp@db.internal/ramp'`,
	}
	cmd.AddCommand(newDBStatusCmd(f), newDBRenewEpochCmd(f), newDBCopyCmd(f))
	return cmd
}

func newDBStatusCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the database's epoch and configuration version",
		Example: `  ramp db status
  ramp --db postgres://ramp@db.internal/ramp db status -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				rev, err := a.Revision(ctx)
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, rev)
				}
				t := newTable(f.IO.Out, "EPOCH", "VERSION")
				t.row(rev.Epoch, fmt.Sprint(rev.Version))
				return t.flush()
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func newDBRenewEpochCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "renew-epoch",
		Short: "Give the database a new epoch, so that providers take its configuration whatever version they hold",
		Long: `Give the database a new epoch and bump its configuration version. Run it on
a database restored from a backup: providers that synced from the database
before the restore hold a newer version of the same epoch and ignore the
restored configuration until its epoch changes. Servers reload within a poll
interval; providers follow at their next event or poll.`,
		Example: `  ramp --db restored.db db renew-epoch`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				rev, err := a.RenewEpoch(ctx)
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, rev)
				}
				fmt.Fprintf(f.IO.ErrOut, "epoch renewed: %s, configuration version %d\n", rev.Epoch, rev.Version)
				return nil
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

type dbCopyOptions struct {
	f        *Factory
	from, to string
	format   string
}

func newDBCopyCmd(f *Factory) *cobra.Command {
	opts := &dbCopyOptions{f: f}
	cmd := &cobra.Command{
		Use:   "copy FROM TO",
		Short: "Copy everything from one database into a new, empty one (SQLite to PostgreSQL, say)",
		Long: `Copy everything database FROM holds into database TO: flags, cohorts and
their member lists, rollout plans with their progress (live stages stay
live), API keys (their secrets keep working), the record of cohort imports
and the audit log. FROM and TO are SQLite file paths or postgres:// URLs;
--db is not used.

TO must be new or empty: a database that holds anything is refused (exit 5)
and left as it is. The copy is one transaction on TO: interrupted, TO stays
empty. Member lists stream through in batches, so memory stays flat whatever
their size. FROM is only read; stop the servers writing to it (their rollout
schedule included) before copying, as later changes are not carried.

TO gets an epoch of its own and a configuration version above FROM's, so that
providers that synced from FROM take TO's configuration once servers point at
it; its audit log records the copy (db.copy). Then point every ramp serve and
every command (--db or RAMP_DB) at TO.`,
		Example: `  ramp db copy ramp.db 'postgres://ramp@db.internal/ramp?sslmode=require'
  ramp db copy 'postgres://ramp@old/ramp' backup.db -o json`,
		Args: exactArgs(2, "two databases, FROM and TO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.from, opts.to = args[0], args[1]
			return dbCopyRun(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.format)
	return cmd
}

func dbCopyRun(ctx context.Context, opts *dbCopyOptions) (err error) {
	out, err := resolveFormat(opts.f.IO, opts.format)
	if err != nil {
		return err
	}
	if opts.from == opts.to {
		return &UsageError{Err: fmt.Errorf("FROM and TO are the same database (%s)", admin.RedactDSN(opts.from)), Command: "ramp db copy"}
	}
	ctx = admin.WithActor(ctx, opts.f.Actor)
	src, err := admin.Open(ctx, opts.from, admin.Options{})
	if err != nil {
		return fmt.Errorf("FROM: %w", err)
	}
	defer src.Close()
	dst, err := admin.Open(ctx, opts.to, admin.Options{Create: true})
	if err != nil {
		return fmt.Errorf("TO: %w", err)
	}
	defer func() {
		if cerr := dst.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close TO: %w", cerr)
		}
	}()
	res, err := src.CopyTo(ctx, dst)
	if err != nil {
		if ramp.KindOf(err) == ramp.KindRefused {
			return fmt.Errorf("%w; copy into a new database, or empty this one first", err)
		}
		return err
	}
	if out != formatTable {
		return writeData(opts.f.IO.Out, out, res)
	}
	tables := make([]string, 0, len(res.Rows))
	for t := range res.Rows {
		tables = append(tables, t)
	}
	slices.Sort(tables)
	t := newTable(opts.f.IO.Out, "TABLE", "ROWS")
	for _, name := range tables {
		t.row(name, thousands(int(res.Rows[name])))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(opts.f.IO.ErrOut, "copied version %d (epoch %s) into the new database, now at version %d (epoch %s).\nPoint every ramp serve and command (--db, RAMP_DB) at the new database.\n",
		res.From.Version, res.From.Epoch, res.To.Version, res.To.Epoch)
	return nil
}

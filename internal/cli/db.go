package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/store"
)

func newDBCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Show the database's epoch and version; renew the epoch after a restore",
		Long: `Every database has an epoch: a random identifier drawn when it is created,
so that servers and providers can tell its configuration versions from those
of another database. Providers take a snapshot when its version is newer than
theirs or when its epoch differs; "ramp export" and "ramp apply" into a new
database give it a new epoch by themselves.

A database restored from a backup keeps the epoch of the database it was
taken from, at a lower version than providers may hold: they would ignore it.
Run "ramp db renew-epoch" on it once restored.`,
		Example: `  ramp db status
  ramp --db restored.db db renew-epoch`,
	}
	cmd.AddCommand(newDBStatusCmd(f), newDBRenewEpochCmd(f))
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
			return f.withStore(cmd.Context(), func(s *store.Store) error {
				rev, err := s.Revision(cmd.Context())
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
			return f.withStore(cmd.Context(), func(s *store.Store) error {
				rev, err := s.RenewEpoch(cmd.Context(), f.Actor)
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

package cli_test

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/cli"
)

// TestUnknownSubcommands: a misspelt subcommand exits 2 with a suggestion at
// every level of the tree, so that a cron job notices; cobra alone printed
// the group's help and exited 0 ("ramp rollout tik"), or blamed a flag of
// the intended subcommand ("ramp keys craete --role sdk": unknown flag).
func TestUnknownSubcommands(t *testing.T) {
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"rollout", "advanc", "messenger-ig-interop"}, "Did you mean this?\n\tadvance"},
		{[]string{"rollout", "tik"}, "Did you mean this?\n\ttick"},
		{[]string{"keys", "craete", "--role", "sdk"}, "Did you mean this?\n\tcreate"},
		{[]string{"rollot"}, "Did you mean this?\n\trollout"},
		{[]string{"db", "zzz"}, `unknown command "zzz" for "ramp db"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := newRamp(t)
			out, errOut, code := r.run("", tt.args...)
			if code != cli.ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q (stdout %q)", code, errOut, cli.ExitUsage, tt.want, out)
			}
		})
	}
}

// TestEveryGroupRefusesUnknownSubcommands walks the whole tree, so that a
// group added later gets the same treatment; a group without arguments
// still prints its help and succeeds.
func TestEveryGroupRefusesUnknownSubcommands(t *testing.T) {
	io, _, _, _ := cli.Test()
	var groups []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && c.HasParent() {
			groups = append(groups, strings.TrimPrefix(c.CommandPath(), "ramp "))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cli.NewRootCmd(io))
	if len(groups) < 4 {
		t.Fatalf("found only the groups %q", groups)
	}
	for _, g := range groups {
		args := strings.Fields(g)
		r := newRamp(t)
		if _, errOut, code := r.run("", append(args, "no-such-verb")...); code != cli.ExitUsage {
			t.Errorf("ramp %s no-such-verb: exit %d, want %d (stderr %q)", g, code, cli.ExitUsage, errOut)
		}
		if out, errOut, code := r.run("", args...); code != 0 || !strings.Contains(out+errOut, "Available Commands") {
			t.Errorf("ramp %s: exit %d, want its help and 0 (stdout %q)", g, code, out)
		}
	}
}

// TestReadsNeverCreate: a command that reads, or edits what exists, run
// where there is no database says so (exit 4) and creates none: `flags
// list` in the wrong directory made an empty ramp.db, and after a database
// was deleted `flags disable` answered "flag not found" from a new empty
// one. A dry run compares with an empty database and creates nothing; the
// commands that create (apply, import --create, keys create) still do.
func TestReadsNeverCreate(t *testing.T) {
	reads := [][]string{
		{"flags", "list"},
		{"flags", "disable", "messenger-ig-interop"},
		{"cohorts", "list"},
		{"cohorts", "add", "employees", "emp-9"},
		{"rollout", "status"},
		{"audit"},
		{"keys", "list"},
		{"eval", "messenger-ig-interop", "--context", `{"targetingKey":"u1"}`},
		{"export"},
		{"db", "status"},
	}
	for _, args := range reads {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := newRamp(t)
			_, errOut, code := r.run("", args...)
			if code != cli.ExitNotFound || !strings.Contains(errOut, "does not exist") {
				t.Errorf("exit %d, want %d saying the database does not exist:\n%s", code, cli.ExitNotFound, errOut)
			}
			if _, err := os.Stat(r.db); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the command created %s (%v)", r.db, err)
			}
		})
	}
	t.Run("apply --dry-run", func(t *testing.T) {
		r := newRamp(t)
		out, errOut, code := r.run("", "apply", "-f", testdata("example.yaml"), "--dry-run", "-o", "table")
		if code != 0 || !strings.Contains(out, "+ flag messenger-ig-interop") || !strings.Contains(errOut, "comparing with an empty one") {
			t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
		}
		if _, err := os.Stat(r.db); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the dry run created %s (%v)", r.db, err)
		}
	})
	t.Run("creating commands", func(t *testing.T) {
		r := newRamp(t)
		r.ok("keys", "create", "--role", "sdk", "--name", "x")
		if fi, err := os.Stat(r.db); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("keys create: %v, mode %v; want the database, readable by its owner only", err, fi)
		}
	})
}

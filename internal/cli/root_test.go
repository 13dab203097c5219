package cli_test

import (
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

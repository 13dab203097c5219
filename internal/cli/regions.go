package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/cohorts"
)

type regionsOptions struct {
	io     *IOStreams
	format string
}

func newRegionsCmd(f *Factory) *cobra.Command {
	opts := &regionsOptions{io: f.IO}
	cmd := &cobra.Command{
		Use:   "regions",
		Short: "List region codes and region groups",
		Long: `List the region selectors that rules accept: ISO 3166-1 alpha-2 country codes
(case-insensitive), named groups, and "*" for everywhere.

"NA" is both a group (North America) and Namibia's code: a bare NA means the
group; write "country:NA" for Namibia ("group:NAME" is also accepted).`,
		Example: `  ramp regions
  ramp regions -o json | jq '.groups[] | select(.name=="EU") | .members'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error { return regionsRun(opts) },
	}
	addOutputFlag(cmd, &opts.format)
	return cmd
}

type regionsView struct {
	Everywhere string           `json:"everywhere"`
	Groups     []cohorts.Group  `json:"groups"`
	Countries  []cohorts.Region `json:"countries"`
}

func regionsRun(opts *regionsOptions) error {
	format, err := resolveFormat(opts.io, opts.format)
	if err != nil {
		return err
	}
	view := regionsView{Everywhere: cohorts.Everywhere, Groups: cohorts.Groups(), Countries: cohorts.Countries()}
	if format != formatTable {
		return writeData(opts.io.Out, format, view)
	}
	t := newTable(opts.io.Out, "SELECTOR", "COUNTRIES", "DESCRIPTION")
	t.row("*", "all", "Everywhere, including contexts without a region")
	for _, g := range view.Groups {
		codes := make([]string, len(g.Members))
		for i, m := range g.Members {
			codes[i] = string(m)
		}
		t.row(g.Name, itoa(len(codes)), g.Description+": "+strings.Join(codes, " "))
	}
	if err := t.flush(); err != nil {
		return err
	}
	codes := make([]string, len(view.Countries))
	for i, c := range view.Countries {
		codes[i] = string(c)
	}
	_, err = opts.io.Out.Write([]byte("\nCountries (ISO 3166-1 alpha-2, " + itoa(len(codes)) + "):\n" + wrap(codes, 20) + "\n"))
	return err
}

func wrap(words []string, perLine int) string {
	var lines []string
	for i := 0; i < len(words); i += perLine {
		lines = append(lines, "  "+strings.Join(words[i:min(i+perLine, len(words))], " "))
	}
	return strings.Join(lines, "\n")
}

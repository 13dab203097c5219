package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/flags/bucket"
)

// version is set at build time with -ldflags "-X …/internal/cli.version=v1.2.3".
var version = ""

// Version returns ramp's version: the one stamped at build time, else the
// module version, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print ramp's version",
		Example: "  ramp version\n  ramp version -o json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			v := map[string]any{"version": Version(), "go": runtime.Version(), "bucketing": int(bucket.Latest)}
			if out != formatTable {
				return writeData(f.IO.Out, out, v)
			}
			_, err = fmt.Fprintf(f.IO.Out, "ramp %s (%s, bucketing v%d)\n", Version(), runtime.Version(), bucket.Latest)
			return err
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func itoa(n int) string { return strconv.Itoa(n) }

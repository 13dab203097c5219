package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Output formats for commands that print data.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// addOutputFlag registers -o/--output on a command that prints data.
func addOutputFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVarP(target, "output", "o", "", "output format: table, json or yaml (default: table on a terminal, json otherwise)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{formatTable, formatJSON, formatYAML}, cobra.ShellCompDirectiveNoFileComp))
}

// resolveFormat picks the output format: the one asked for, else a table for
// people and JSON for scripts.
func resolveFormat(io *IOStreams, asked string) (string, error) {
	switch asked {
	case "":
		if io.StdoutTTY {
			return formatTable, nil
		}
		return formatJSON, nil
	case formatTable, formatJSON, formatYAML:
		return asked, nil
	}
	return "", &UsageError{Err: fmt.Errorf("unknown output format %q: want table, json or yaml", asked)}
}

// writeData prints v as JSON or YAML.
func writeData(w io.Writer, format string, v any) error {
	switch format {
	case formatYAML:
		// Go through JSON so that field names, their order and omissions
		// are the same in both formats.
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var node yaml.Node
		if err := yaml.Unmarshal(b, &node); err != nil {
			return err
		}
		blockStyle(&node)
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(&node); err != nil {
			return err
		}
		return enc.Close()
	default:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
}

// blockStyle turns JSON's flow style into YAML's block style. Strings are
// left to the encoder's quoting, except words that YAML 1.1 readers take
// for booleans ("on", "off", "yes"…), which stay quoted.
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style = 0
		switch strings.ToLower(n.Value) {
		case "y", "yes", "n", "no", "on", "off", "true", "false", "null", "~":
			n.Style = yaml.DoubleQuotedStyle
		}
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// table writes aligned columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(strings.ReplaceAll(c, "\t", " "), "\n", " ")
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

package config

import (
	"bytes"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/cohorts"
)

// TestYAMLMemberFast checks that the members written directly read as the
// YAML encoder writes them.
func TestYAMLMemberFast(t *testing.T) {
	ids := []string{"emp-1", "u", "12345", "007", "1e3", "0x1F", "2026-01-02", "1_000", "true", "No", "off", "null",
		"a.b@c/d-e", "_x", "-x", ".x", "x:y", "x y", "#x", "x#", "é", strings.Repeat("long-id-", 40), "NaN", "inf",
		".inf", "Y", "on", "~", "x'y", `x"y`, "a,b", "[x]", "{x}", "*x", "&x", "!x", "%x", "@x", "`x", "|x", ">x"}
	regions := []cohorts.Region{"", "US", "NO", "ON", "FR"}
	for _, id := range ids {
		for _, r := range regions {
			m := cohorts.Member{ID: id, Region: r}
			got, err := yamlMember(nil, "    ", m)
			if err != nil {
				t.Fatal(err)
			}
			var e encoder
			item := e.str(m.ID)
			if r != "" {
				item = mapping(true)
				add(item, "id", e.str(m.ID))
				add(item, "region", e.str(string(r)))
			}
			list := sequence(false)
			list.Content = append(list.Content, item)
			var want bytes.Buffer
			enc := yaml.NewEncoder(&want)
			enc.SetIndent(2)
			if err := enc.Encode(list); err != nil {
				t.Fatal(err)
			}
			w := "    " + strings.ReplaceAll(strings.TrimSuffix(want.String(), "\n"), "\n", "\n    ") + "\n"
			if string(got) != w {
				t.Errorf("member %+v: got %q, want %q", m, got, w)
			}
		}
	}
}

package api_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/internal/api"
)

// TestOpenAPIMatchesRoutes: the OpenAPI document describes every route
// and nothing else, every reference resolves, and docs/openapi.yaml is the
// document served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
		Comps   struct {
			Schemas   map[string]any `yaml:"schemas"`
			Responses map[string]any `yaml:"responses"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %q", doc.OpenAPI)
	}
	var documented []string
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for method, v := range item {
			op, ok := v.(map[string]any)
			if method == "parameters" || !ok {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+api.Prefix+path)
			id, _ := op["operationId"].(string)
			if id == "" || ops[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ops[id] = true
			if op["x-permission"] == nil || op["responses"] == nil {
				t.Errorf("%s %s: no permission or responses", method, path)
			}
		}
	}
	slices.Sort(documented)
	routes := api.Routes()
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not documented", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("%s is documented but not routed", d)
		}
	}
	for _, m := range regexp.MustCompile(`#/components/(schemas|responses)/(\w+)`).FindAllSubmatch(api.OpenAPI, -1) {
		kind, name := string(m[1]), string(m[2])
		found := doc.Comps.Schemas[name] != nil
		if kind == "responses" {
			found = doc.Comps.Responses[name] != nil
		}
		if !found {
			t.Errorf("unresolved reference %s/%s", kind, name)
		}
	}
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(docs, api.OpenAPI) {
		t.Error("docs/openapi.yaml differs from internal/api/openapi.yaml: copy it over")
	}
}

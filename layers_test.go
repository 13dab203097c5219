package ramp_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLayers keeps dependencies pointing one way (docs/architecture.md):
// each package's whole dependency graph, as `go list -deps` prints it (or,
// with direct, its own imports), must not reach the packages listed against
// it.
func TestLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/ramp-flags/ramp"
	// Pure helpers under internal/ that depend on nothing of ramp's and
	// that domain packages may share.
	pure := []string{mod + "/internal/spelling"}
	tests := []struct {
		pkg       string
		direct    bool
		forbidden []string
		allowed   []string
	}{
		// The shared vocabulary and the composer are as pure as the engine.
		{mod, false, []string{"gorm.io/", "github.com/spf13/cobra", "net/http", "database/sql", mod + "/internal/"}, pure},
		// Experiments are pure domain, as the engine and rollout plans.
		{mod + "/experiment", false, []string{"gorm.io/", "github.com/spf13/cobra", "net/http", "database/sql", mod + "/internal/"}, pure},
		// The pure helpers stay pure.
		{mod + "/internal/spelling", false, []string{mod + "/"}, pure},
		// The data plane answers from what a Source gives it: it never
		// writes, so it never sees the store.
		{mod + "/internal/server", false, []string{mod + "/internal/store", mod + "/internal/admin", "gorm.io/", "github.com/mattn/go-sqlite3", "github.com/jackc/pgx", "github.com/spf13/cobra"}, nil},
		// Front-ends call the control plane, never the store.
		// (They reach it through admin: only their own imports count.)
		{mod + "/internal/cli", true, []string{mod + "/internal/store", "gorm.io/"}, nil},
		// The control plane serves every front-end; it knows none of them.
		{mod + "/internal/admin", false, []string{mod + "/internal/cli", mod + "/internal/server", "github.com/spf13/cobra"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			args := []string{"list", "-deps", tt.pkg}
			if tt.direct {
				args = []string{"list", "-f", `{{join .Imports "\n"}}`, tt.pkg}
			}
			out, err := exec.Command("go", args...).CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				if slices.Contains(tt.allowed, dep) {
					continue
				}
				for _, f := range tt.forbidden {
					if dep == f || strings.HasPrefix(dep, f) && (strings.HasSuffix(f, "/") || strings.HasPrefix(dep, f+"/")) {
						t.Errorf("%s depends on %s", tt.pkg, dep)
					}
				}
			}
		})
	}
}

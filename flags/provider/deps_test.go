package provider_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies keeps the provider light for the services that import it:
// no database, no SQL driver, no CLI framework and none of ramp's internal
// packages (store, server, CLI) in their binaries.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/ramp-flags/ramp/flags/provider").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	// Guard against a vacuous pass (wrong package, empty output).
	for _, want := range []string{"github.com/ramp-flags/ramp/flags", "github.com/open-feature/go-sdk/openfeature"} {
		if !slices.Contains(deps, want) {
			t.Fatalf("go list -deps does not list %s: %v", want, deps)
		}
	}
	forbidden := []string{"gorm.io/", "github.com/mattn/go-sqlite3", "github.com/spf13/cobra", "database/sql", "github.com/ramp-flags/ramp/internal/"}
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("provider depends on %s", dep)
			}
		}
	}
}

package flags_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineImportsNoInfrastructure keeps the engine embeddable: the flags,
// cohorts and rollout packages must not pull a database, an HTTP stack or the CLI
// framework into the binaries of services that import them.
func TestEngineImportsNoInfrastructure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	// flags/provider talks HTTP by design and has its own dependency test.
	engine := []string{"github.com/ramp-flags/ramp/flags", "github.com/ramp-flags/ramp/flags/bucket",
		"github.com/ramp-flags/ramp/flags/wire", "github.com/ramp-flags/ramp/cohorts", "github.com/ramp-flags/ramp/rollout"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, engine...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"gorm.io/", "github.com/spf13/cobra", "net/http", "database/sql", "github.com/mattn/go-sqlite3", "github.com/ramp-flags/ramp/internal/"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("engine depends on %s", dep)
			}
		}
	}
}

package admin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
)

// Apply a configuration file: a dry run says what would change, then the
// apply writes it in one transaction.
func ExampleService_Apply() {
	dir, _ := os.MkdirTemp("", "ramp-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	a, err := admin.Open(ctx, filepath.Join(dir, "ramp.db"), admin.Options{Create: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	ctx = admin.WithActor(ctx, "alice")

	doc, err := config.Parse("flags.yaml", []byte(`
cohorts:
  - key: employees
    members: [emp-1, emp-2]
flags:
  - key: new-inbox
    type: boolean
    variants: {"on": true, "off": false}
    defaultVariant: "off"
    rules:
      - {cohorts: [employees], serve: "on"}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, dryRun := range []bool{true, false} {
		res, err := a.Apply(ctx, admin.ApplyRequest{Doc: doc, DryRun: dryRun})
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, c := range res.Changes {
			fmt.Println(c.Action, c.Kind, c.Key)
		}
		fmt.Println("applied:", res.Applied)
	}
	// Output:
	// create cohort employees
	// create flag new-inbox
	// applied: false
	// create cohort employees
	// create flag new-inbox
	// applied: true
}

package admin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ramp-flags/ramp/internal/admin"
)

// Importing a CSV file into a cohort: the first import creates it (Create),
// a misspelled name is refused with the closest existing one.
func ExampleService_ImportMembers() {
	dir, _ := os.MkdirTemp("", "ramp-example")
	defer os.RemoveAll(dir)
	ctx := admin.WithActor(context.Background(), "alice")
	a, err := admin.Open(ctx, filepath.Join(dir, "ramp.db"), admin.Options{Create: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()

	res, err := a.ImportMembers(ctx, admin.ImportRequest{
		Cohort: "beta-testers",
		Create: true,
		Source: strings.NewReader("user_id,region\nu-1001,US\nu-1002,country:NA\n"),
		File:   "testers.csv",
	})
	fmt.Println(res.Created, res.Added, res.Members, res.ByRegion, err)

	_, err = a.ImportMembers(ctx, admin.ImportRequest{
		Cohort: "beta-tester",
		Source: strings.NewReader("user_id\nu-1003\n"),
	})
	fmt.Println(err)
	// Output:
	// true 2 2 map[NA:1 US:1] <nil>
	// cohort "beta-tester" does not exist; did you mean "beta-testers"?
}

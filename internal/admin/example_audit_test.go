package admin_test

import (
	"encoding/json"
	"fmt"

	"github.com/ramp-flags/ramp/internal/admin"
)

// A change as the audit log's CHANGE column summarizes it, and as
// `ramp audit --diff` shows it in full.
func ExampleDiffChange() {
	before := json.RawMessage(`{"key":"checkout","enabled":true,"tags":["payments"]}`)
	after := json.RawMessage(`{"key":"checkout","enabled":false,"tags":["payments"]}`)
	fmt.Println(admin.SummarizeChange(before, after))
	for _, l := range admin.DiffChange(before, after) {
		fmt.Printf("%s %s\n", l.Op, l.Text)
	}
	// Output:
	// enabled: true → false
	//   {
	//     "key": "checkout",
	// -   "enabled": true,
	// +   "enabled": false,
	//     "tags": ["payments"]
	//   }
}

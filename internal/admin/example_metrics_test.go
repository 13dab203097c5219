package admin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
)

// Metrics are declared in a file and named by experiments; Metric shows
// the days a metric counts and who names it.
func ExampleService_Metric() {
	dir, _ := os.MkdirTemp("", "ramp-example")
	defer os.RemoveAll(dir)
	ctx := admin.WithActor(context.Background(), "alice")
	s, err := store.Open(ctx, filepath.Join(dir, "ramp.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	a := admin.New(s)
	doc, err := config.Parse("metrics.yaml", []byte(`
flags:
  - key: ig-dm-via-whatsapp
    type: string
    variants: {"off": "off", inline: inline}
    defaultVariant: "off"
metrics:
  - {key: replies-per-user, event: dm_reply, kind: mean, window: 7d, covariate: {window: 14d}}
  - {key: send-errors-per-message, kind: ratio, numerator: dm_send_error, denominator: dm_sent, direction: decrease, margin: 0.5}
experiments:
  - key: dm-handoff-vs-inline
    flag: ig-dm-via-whatsapp
    traffic: 20
    arms: {"off": 50, inline: 50}
    control: "off"
    metrics: {primary: replies-per-user, guardrails: send-errors-per-message}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := a.Apply(ctx, admin.ApplyRequest{Doc: doc})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range res.Metrics {
		fmt.Println(c.Action, "metric", c.Key)
	}
	for _, key := range []string{"replies-per-user", "send-errors-per-message"} {
		m, err := a.Metric(ctx, key)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %s, %s is better", m.Key, m.Kind, m.Direction)
		if m.Days != nil {
			fmt.Printf(", days %d to %d", m.Days.From, m.Days.To-1)
		}
		if c := m.Covariate; c != nil {
			fmt.Printf(", covariate on days %d to %d", c.Days.From, c.Days.To-1)
		}
		if m.Margin != 0 {
			fmt.Printf(", margin %v%%", m.Margin)
		}
		fmt.Printf("; %s of %s\n", m.UsedBy[0].Role, m.UsedBy[0].Experiment)
	}
	// Output:
	// create metric replies-per-user
	// create metric send-errors-per-message
	// replies-per-user: mean, increase is better, days 0 to 6, covariate on days -14 to -1; primary of dm-handoff-vs-inline
	// send-errors-per-message: ratio, decrease is better, margin 0.5%; guardrail of dm-handoff-vs-inline
}

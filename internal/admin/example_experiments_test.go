package admin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
)

// A running experiment's weights change only as a new phase, which moves
// exactly the total-variation share of its units between arms.
func ExampleService_SetExperimentWeights() {
	dir, _ := os.MkdirTemp("", "ramp-example")
	defer os.RemoveAll(dir)
	ctx := admin.WithActor(context.Background(), "alice")
	s, err := store.Open(ctx, filepath.Join(dir, "ramp.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	s.Now = func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) }
	a := admin.New(s)
	doc, err := config.Parse("exp.yaml", []byte(`
flags:
  - key: ig-dm-via-whatsapp
    type: string
    variants: {"off": "off", handoff: handoff, inline: inline}
    defaultVariant: "off"
experiments:
  - key: dm-handoff-vs-inline
    flag: ig-dm-via-whatsapp
    traffic: 20
    arms: {"off": 34, handoff: 33, inline: 33}
    control: "off"
    status: running
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := a.Apply(ctx, admin.ApplyRequest{Doc: doc}); err != nil {
		fmt.Println(err)
		return
	}
	arms := []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}}
	_, err = a.SetExperimentWeights(ctx, admin.WeightsRequest{Key: "dm-handoff-vs-inline", Arms: arms})
	fmt.Println("refused:", err)
	res, err := a.SetExperimentWeights(ctx, admin.WeightsRequest{Key: "dm-handoff-vs-inline", Arms: arms, NewPhase: true, Confirmed: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("phase %d: %s%% of the units change arm\n", res.Phase, res.Moved)
	// Output:
	// refused: experiment dm-handoff-vs-inline is running in phase 1: its arms and weights cannot change within a phase (units would change arm mid-phase and the phase's analysis would mix allocations); make the change a new phase
	// phase 2: 16% of the units change arm
}

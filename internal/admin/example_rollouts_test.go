package admin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// A paused plan is held: an advance is refused, saying who paused it, when
// and why, until someone resumes it or forces the move.
func ExampleService_Pause() {
	dir, _ := os.MkdirTemp("", "ramp-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(dir, "ramp.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	s.Now = func() time.Time { return time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) }
	// A flag and its plan, as `ramp apply` would store them.
	desired := flags.State{
		Cohorts: []cohorts.Cohort{{Key: "employees", Members: []cohorts.Member{{ID: "emp-1"}}}},
		Flags: []flags.Flag{{Key: "interop", Type: flags.Boolean, Enabled: true, DefaultVariant: "off", Bucketing: 1,
			Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}}},
	}
	plan := rollout.Plan{Flag: "interop", Variant: "on", Stages: []rollout.Stage{
		{Name: "dogfood", Cohorts: []string{"employees"}, Percent: flags.Hundred},
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
	}}
	changes, _ := rollout.Diff(nil, []rollout.Plan{plan}, false)
	if err := s.ApplyWithRollouts(ctx, &desired, flags.Diff(&flags.State{}, &desired, false), changes, "alice"); err != nil {
		fmt.Println(err)
		return
	}

	a := admin.New(s)
	alice, bob := admin.WithActor(ctx, "alice"), admin.WithActor(ctx, "bob")
	res, _ := a.Advance(alice, admin.AdvanceRequest{Flag: "interop"})
	fmt.Println("advanced:", res.From, "→", res.To)
	_, _ = a.Pause(alice, admin.PauseRequest{Flag: "interop", Reason: "crash rate up"})
	_, err = a.Advance(bob, admin.AdvanceRequest{Flag: "interop"})
	fmt.Println("refused:", err)
	res, _ = a.Advance(bob, admin.AdvanceRequest{Flag: "interop", Force: true})
	fmt.Println("forced:", res.From, "→", res.To, "paused:", res.Status.Paused)
	// Output:
	// advanced: not started → dogfood
	// refused: rollout interop is paused by alice at 2026-11-24T10:00:00Z: crash rate up: resume it first, or force the move
	// forced: dogfood → us-1 paused: true
}

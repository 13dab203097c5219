package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

// A mean over the 7 days from each unit's first exposure, with the 14
// days before as CUPED's covariate.
func ExampleStore_ArmStats() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ramp-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := store.Open(ctx, filepath.Join(dir, "ramp.db"))
	if err != nil {
		panic(err)
	}
	defer s.Close()

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	expose := func(unit, arm string) tracking.Exposure {
		return tracking.Exposure{Experiment: "dm-handoff-vs-inline", Phase: 1, UnitAttr: "targetingKey", Unit: unit, Arm: arm, Time: at}
	}
	reply := func(id, unit string, days int) tracking.Event {
		return tracking.Event{ID: id, Name: "dm_reply", Value: 1, Time: at.AddDate(0, 0, days), Units: map[string]string{"targetingKey": unit}}
	}
	if err := s.WriteExposures(ctx, []tracking.Exposure{expose("ann", "handoff"), expose("bob", "handoff"), expose("cy", "inline")}); err != nil {
		panic(err)
	}
	if err := s.WriteEvents(ctx, []tracking.Event{
		reply("1", "ann", -3), reply("2", "ann", 0), reply("3", "ann", 2), // ann: x 1, y 2
		reply("4", "cy", 1), reply("5", "cy", 9), // cy: y 1 (day 9 is after the window)
	}); err != nil {
		panic(err)
	}
	if _, err := s.Compact(ctx, store.CompactOptions{}); err != nil {
		panic(err)
	}

	arms, multiArm, err := s.ArmStats(ctx, store.ArmQuery{
		Experiment: "dm-handoff-vs-inline", Phase: 1,
		Y: store.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: 7},
		X: &store.UnitValue{Event: "dm_reply", FromDay: -14, ToDay: 0},
	})
	if err != nil {
		panic(err)
	}
	for _, a := range arms {
		fmt.Printf("%s: n=%d Σy=%g Σy²=%g Σx=%g Σx²=%g Σxy=%g\n", a.Arm, a.N, a.SumY, a.SumY2, a.SumX, a.SumX2, a.SumXY)
	}
	fmt.Println("multi-arm:", multiArm)
	// Output:
	// handoff: n=2 Σy=2 Σy²=4 Σx=1 Σx²=1 Σxy=2
	// inline: n=1 Σy=1 Σy²=1 Σx=0 Σx²=0 Σxy=0
	// multi-arm: 0
}

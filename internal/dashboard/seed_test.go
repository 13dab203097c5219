package dashboard_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/tracking"
)

// seedExperiment gives the scenario's dm-handoff-vs-inline experiment
// exposed units in each arm, in its weights, and their events (inline
// users reply more; send errors are alike), then folds the events into
// the per-unit totals the report reads: enough for a report with numbers
// and a chart.
func (e *env) seedExperiment() {
	e.t.Helper()
	ctx := context.Background()
	x, err := e.admin.Experiment(ctx, "dm-handoff-vs-inline")
	if err != nil {
		e.t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(15, 15))
	at := x.Since.Add(time.Second)
	var exposures []tracking.Exposure
	var events []tracking.Event
	arms := []struct {
		name  string
		units int
		reply float64
	}{{"off", 680, 2.0}, {"handoff", 660, 2.1}, {"inline", 660, 2.6}}
	n := 0
	for _, a := range arms {
		for i := 0; i < a.units; i++ {
			n++
			unit := fmt.Sprintf("ac-%d", n)
			exposures = append(exposures, tracking.Exposure{Experiment: x.Key, Phase: x.Phase, UnitAttr: "accountCenterId",
				Unit: unit, Arm: a.name, Flag: x.Flag, Time: at})
			units := map[string]string{"accountCenterId": unit}
			replies := int(rng.ExpFloat64() * a.reply)
			for r := 0; r < replies; r++ {
				events = append(events, tracking.Event{ID: fmt.Sprintf("%s-r%d", unit, r), Name: "dm_reply", Value: 1, Time: at.Add(time.Minute), Units: units})
			}
			events = append(events, tracking.Event{ID: unit + "-sent", Name: "dm_sent", Value: 10, Time: at.Add(time.Minute), Units: units})
			if rng.IntN(10) == 0 {
				events = append(events, tracking.Event{ID: unit + "-err", Name: "dm_send_error", Value: 1, Time: at.Add(time.Minute), Units: units})
			}
		}
	}
	if err := e.admin.WriteExposures(ctx, exposures); err != nil {
		e.t.Fatal(err)
	}
	for len(events) > 0 {
		batch := events[:min(len(events), 1000)]
		events = events[len(batch):]
		if err := e.admin.WriteEvents(ctx, batch); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.admin.Compact(ctx, admin.CompactOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

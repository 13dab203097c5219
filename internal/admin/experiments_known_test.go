package admin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/tracking"
)

// Once units are exposed, a weight change's dry run counts them: exactly
// the exposed units whose arm the new phase changes, as evaluation then
// shows. Units never exposed are not counted, though they are in the
// experiment.
func TestDryRunCountsExposedUnits(t *testing.T) {
	a, _ := startedLifecycle(t)
	before, _ := arms(t, a)
	var batch []tracking.Exposure
	exposed := map[string]bool{}
	for i := range units {
		id := fmt.Sprintf("u%d", i)
		arm, ok := before[id]
		if !ok || i%2 == 1 { // every other unit in the experiment was seen
			continue
		}
		exposed[id] = true
		batch = append(batch, tracking.Exposure{Experiment: "dm", Phase: 1, UnitAttr: "targetingKey", Unit: id,
			Arm: arm, Flag: "dm", Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	}
	if len(batch) < 100 {
		t.Fatalf("only %d units exposed; the check needs more", len(batch))
	}
	if err := a.WriteExposures(alice, batch); err != nil {
		t.Fatal(err)
	}
	newArms := []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}}
	dry, err := a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm", Arms: newArms, NewPhase: true, DryRun: true})
	if err != nil || dry.Known == nil {
		t.Fatalf("dry run = %+v, %v", dry, err)
	}
	if _, err := a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm", Arms: newArms, NewPhase: true, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	after, _ := arms(t, a)
	changed := 0
	for id := range exposed {
		if after[id] != before[id] {
			changed++
		}
	}
	want := admin.KnownUnits{Source: admin.KnownSourceExposures, Listed: len(exposed), InExperiment: len(exposed), Move: changed}
	if *dry.Known != want {
		t.Errorf("dry run counted %+v; evaluation saw %+v", *dry.Known, want)
	}
	if changed == 0 {
		t.Errorf("no exposed unit changed arm: the check proves nothing")
	}
}

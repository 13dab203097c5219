package tracking_test

import (
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	plans "github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/tracking"
)

// guardedState is a flag whose rollout plan's live stage, us-10, is
// guarded: its split's decisions are exposures of rollout:interop, phase 2.
func guardedState() flags.State {
	plan := plans.Plan{Flag: "interop", Variant: "on", Stages: []plans.Stage{
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
		{Name: "us-10", Regions: []string{"US"}, Percent: 1000, Guardrails: []plans.Guardrail{{Metric: "crash-rate"}}},
	}}
	st := flags.State{Flags: []flags.Flag{{Key: "interop", Type: flags.Boolean, Enabled: true, Bucketing: bucket.Latest, BucketBy: "accountCenterId",
		DefaultVariant: "off", Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}}}}
	return plans.Apply(st, []plans.Rollout{{Plan: plan, Progress: plans.Progress{Stage: "us-10"}}})
}

// The check knows a guarded rollout stage's split: the engine's exposures
// pass, on both sides, and the same exposure with the other arm does not.
func TestExposureCheckGuardedRolloutStage(t *testing.T) {
	st := guardedState()
	snap, err := flags.Compile(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	check := tracking.NewExposureCheck(&st)
	if !check.Running("rollout:interop", 2) {
		t.Fatal("the guarded stage's phase is not known to the check")
	}
	arms := map[string]int{}
	for i := range 5000 {
		unit := fmt.Sprint("ac-", i)
		d := snap.Evaluate("interop", map[string]any{"targetingKey": "u", "accountCenterId": unit, "region": "US"})
		e := tracking.Exposure{Experiment: d.Origin.ExperimentKey(), Phase: d.Origin.Phase, UnitAttr: "accountCenterId", Unit: unit, Arm: d.Variant}
		if e.Experiment != "rollout:interop" || e.Phase != 2 {
			t.Fatalf("decision %+v is not an exposure of the stage", d)
		}
		arms[d.Variant]++
		if !check.Consistent(&e) {
			t.Fatalf("the engine's exposure %+v is refused", e)
		}
		e.Arm = map[string]string{"on": "off", "off": "on"}[e.Arm]
		if check.Consistent(&e) {
			t.Fatalf("exposure %+v with the other arm passes", e)
		}
	}
	if arms["on"] < 300 || arms["off"] < 4000 {
		t.Errorf("arms %v: want about 10%% on", arms)
	}
}

// The recorder records both sides of a guarded stage's split, under the
// plan's experiment key and the stage's phase, for the flag's unit.
func TestRecorderExposesGuardedRolloutStage(t *testing.T) {
	st := guardedState()
	snap, err := flags.Compile(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	sink := newMemSink()
	rec := tracking.NewRecorder(sink, tracking.Options{Logger: quietLogger()})
	arms := map[string]bool{}
	for i := range 200 {
		ctx := map[string]any{"targetingKey": fmt.Sprint("u", i), "accountCenterId": fmt.Sprint("ac-", i), "region": "US"}
		d := snap.Evaluate("interop", ctx)
		rec.Expose(&d, ctx)
		rec.Expose(&d, ctx) // once per unit
	}
	closeRecorder(t, rec)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.exposures) != 200 {
		t.Fatalf("%d exposures recorded for 200 units", len(sink.exposures))
	}
	for _, e := range sink.exposures {
		if e.Experiment != "rollout:interop" || e.Phase != 2 || e.UnitAttr != "accountCenterId" || e.Flag != "interop" {
			t.Fatalf("exposure %+v", e)
		}
		arms[e.Arm] = true
	}
	if !arms["on"] || !arms["off"] {
		t.Errorf("arms recorded %v: want both sides", arms)
	}
}

package admin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/tracking"
)

// guardedPlan is the interop plan with us-10 guarded: it holds for 50
// units each side, and the schedule would start us-50 an hour later.
func guardedPlan() rollout.Plan {
	return rollout.Plan{Flag: interop, Variant: "on", Stages: []rollout.Stage{
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
		{Name: "us-10", Regions: []string{"US"}, Percent: 1000, MinSample: 50, Guardrails: []rollout.Guardrail{{Metric: "crash-rate"}}},
		{Name: "us-50", Regions: []string{"US"}, Percent: 5000, After: rollout.Duration(time.Hour)},
	}}
}

// guardSetup opens a database holding the interop flag and plan, with a
// clock the test moves, and starts us-10.
func guardSetup(t *testing.T, plan rollout.Plan) (*admin.Service, *store.Store, func(time.Duration)) {
	t.Helper()
	ctx := context.Background()
	a, s := open(t)
	now := t0
	s.Now = func() time.Time { return now }
	desired := flags.State{Flags: []flags.Flag{{Key: interop, Type: flags.Boolean, Enabled: true, DefaultVariant: "off", Bucketing: 1,
		Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}}}}
	changes, _ := rollout.Diff(nil, []rollout.Plan{plan}, false)
	if err := s.ApplyWithRollouts(ctx, &desired, flags.Diff(&flags.State{}, &desired, false), changes, "setup"); err != nil {
		t.Fatal(err)
	}
	mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-10"}))
	return a, s, func(d time.Duration) { now = now.Add(d) }
}

// exposeStage stores exposures of the interop plan's stage (phase): on
// units with the variant and off without, numbered from first.
func exposeStage(t *testing.T, a *admin.Service, phase, first, on, off int) {
	t.Helper()
	var batch []tracking.Exposure
	for i := range on + off {
		arm := "off"
		if i < on {
			arm = "on"
		}
		batch = append(batch, tracking.Exposure{Experiment: rollout.ExperimentKey(interop), Phase: phase, UnitAttr: tracking.TargetingKey,
			Unit: fmt.Sprint("u", first+i), Arm: arm, Flag: interop, Time: t0})
	}
	if err := a.WriteExposures(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

// TestGuardedStageHoldsForItsSample: a guarded stage with a minimum
// sample is left forward neither by a person nor by the schedule until
// each side of its split has that many exposed units; status says what it
// waits for; a forced move overrides it and is audited as forced.
func TestGuardedStageHoldsForItsSample(t *testing.T) {
	a, _, wait := guardSetup(t, guardedPlan())
	exposeStage(t, a, 2, 0, 49, 500)
	wait(2 * time.Hour) // us-50 is due by the schedule

	_, err := a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop})
	var se *rollout.SampleError
	if !errors.As(err, &se) || ramp.KindOf(err) != ramp.KindRefused || se.Sample != (rollout.Sample{Treatment: 49, Control: 500}) {
		t.Fatalf("advance: %v; want refused for the sample (49 with, 500 without)", err)
	}
	if _, err := a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop, DryRun: true}); !errors.As(err, &se) {
		t.Errorf("dry run: %v; want the same refusal", err)
	}
	res, err := a.Tick(as("alice"))
	if err != nil || len(res.Events) != 0 {
		t.Fatalf("tick: %+v, %v; want the stage held", res.Events, err)
	}
	st, err := a.RolloutStatus(as("alice"), interop)
	if err != nil {
		t.Fatal(err)
	}
	if st.Guard == nil || st.Guard.Sample != se.Sample || st.Guard.Enough || st.Guard.MinSample != 50 || st.Guard.Phase != 2 || !st.Guard.Judged ||
		!strings.Contains(st.Next.Blocked, "waits for its guardrails' data: 49 units with the variant and 500 without, of the 50 each side needs") {
		t.Fatalf("status: guard %+v, next %+v", st.Guard, st.Next)
	}

	// Enough on both sides: the schedule starts us-50.
	exposeStage(t, a, 2, 549, 1, 0)
	res, err = a.Tick(as("alice"))
	if err != nil || len(res.Events) != 1 || res.Events[0].Stage != "us-50" {
		t.Fatalf("tick with the sample: %+v, %v; want us-50 started", res.Events, err)
	}
}

func TestGuardedStageForcedAdvance(t *testing.T) {
	a, s, _ := guardSetup(t, guardedPlan())
	res, err := a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop, Force: true})
	if err != nil || !res.Forced || res.To != "us-50" {
		t.Fatalf("forced advance: %+v, %v", res, err)
	}
	entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "rollout", Target: interop})
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Action != "rollout.advance.forced" || last.Actor != "bob" {
		t.Errorf("audited as %s by %s; want rollout.advance.forced by bob", last.Action, last.Actor)
	}
}

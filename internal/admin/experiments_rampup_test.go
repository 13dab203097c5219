package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// rampDoc declares dm running with a ramp-up to 50% in three steps.
var rampDoc = expFile("traffic: 50", `arms: {"off": 34, handoff: 33, inline: 33}`,
	"rampUp: [{traffic: 5}, {traffic: 20, after: 24h}, {traffic: 50, after: 72h}]", "status: running")

// rampClock opens a service whose clock is set, and returns the setter.
func rampClock(t *testing.T) (*admin.Service, *store.Store, func(time.Time)) {
	t.Helper()
	a, s := open(t)
	now := t0
	s.Now = func() time.Time { return now }
	return a, s, func(at time.Time) { now = at }
}

// phaseTraffic reads dm's current phase traffic.
func phaseTraffic(t *testing.T, a *admin.Service) admin.Percent {
	t.Helper()
	info, err := a.Experiment(alice, "dm")
	if err != nil {
		t.Fatal(err)
	}
	return info.PhaseTraffic
}

// tick runs the schedule's pass and returns its ramp-up events.
func tick(t *testing.T, a *admin.Service) []admin.RampEvent {
	t.Helper()
	res, err := a.Tick(alice)
	if err != nil {
		t.Fatal(err)
	}
	return res.RampUps
}

// TestRampUpSchedule drives a ramp-up through ticks at injected times:
// each step is taken once, when due, its After counting from the step
// before; every unit keeps its arm and the experiment only gains units.
func TestRampUpSchedule(t *testing.T) {
	a, s, set := rampClock(t)
	mustApply(t, a, rampDoc)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	steps := []struct {
		at      time.Time
		outcome admin.RampOutcome // "" for no event
		traffic admin.Percent
		next    admin.Percent // the next step's traffic, 0 for none
		due     time.Time
	}{
		{h(0), "", 500, 2000, h(24)},
		{h(23), "", 500, 2000, h(24)},
		{h(24), admin.RampTaken, 2000, 5000, h(96)},
		{h(24), "", 2000, 5000, h(96)}, // a second server ticking at once
		{h(95), "", 2000, 5000, h(96)},
		{h(100), admin.RampTaken, 5000, 0, time.Time{}},
		{h(500), "", 5000, 0, time.Time{}},
	}
	before, _ := arms(t, a)
	for i, st := range steps {
		set(st.at)
		events := tick(t, a)
		switch {
		case st.outcome == "" && len(events) != 0:
			t.Fatalf("step %d at %v: events %+v, want none", i, st.at, events)
		case st.outcome != "" && (len(events) != 1 || events[0].Outcome != st.outcome || events[0].To != st.traffic):
			t.Fatalf("step %d at %v: events %+v, want %s to %v", i, st.at, events, st.outcome, st.traffic)
		}
		info, err := a.Experiment(alice, "dm")
		if err != nil {
			t.Fatal(err)
		}
		if info.PhaseTraffic != st.traffic || info.Traffic != 5000 || info.Phase != 1 {
			t.Errorf("step %d: phase %d traffic %v (declared %v), want phase 1 at %v of 50", i, info.Phase, info.PhaseTraffic, info.Traffic, st.traffic)
		}
		switch n := info.NextStep; {
		case st.next == 0 && n != nil:
			t.Errorf("step %d: next step %+v, want none", i, n)
		case st.next != 0 && (n == nil || n.Traffic != st.next || !n.Due.Equal(st.due)):
			t.Errorf("step %d: next step %+v, want %v due %v", i, n, st.next, st.due)
		}
		after, _ := arms(t, a)
		for id, arm := range before {
			if after[id] != arm {
				t.Fatalf("step %d: unit %s moved from %s to %q", i, id, arm, after[id])
			}
		}
		if len(after) < len(before) {
			t.Errorf("step %d: %d units in the experiment, fewer than %d", i, len(after), len(before))
		}
		before = after
	}
	if share := float64(len(before)) / units; share < 0.45 || share > 0.55 {
		t.Errorf("%.1f%% of the units after the ramp-up to 50%%", 100*share)
	}
	// Each step is audited, by the scheduler, with the traffic before and
	// after.
	entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "experiment", Target: "dm"})
	if err != nil {
		t.Fatal(err)
	}
	var ramps []store.AuditEntry
	for _, e := range entries {
		if e.Action == "experiment.ramp-up" {
			ramps = append(ramps, e)
		}
	}
	if len(ramps) != 2 {
		t.Fatalf("%d ramp-up entries, want 2", len(ramps))
	}
	for i, want := range [][2]flags.Percent{{500, 2000}, {2000, 5000}} {
		var b, af experiment.Experiment
		_ = json.Unmarshal(ramps[i].Before, &b)
		_ = json.Unmarshal(ramps[i].After, &af)
		if ramps[i].Actor != rollout.Scheduler || b.Current().Traffic != want[0] || af.Current().Traffic != want[1] {
			t.Errorf("ramp-up entry %d by %s: %v → %v, want %v → %v", i, ramps[i].Actor, b.Current().Traffic, af.Current().Traffic, want[0], want[1])
		}
	}
	// The file, applied again, changes nothing: traffic is the ceiling.
	if res := mustApply(t, a, rampDoc); res.Changed() {
		t.Errorf("applying the file again changed %+v", res.Experiments)
	}
}

// TestRampUpPauseHolds: a paused experiment's schedule waits, and the time
// it spent paused does not count toward its next step.
func TestRampUpPauseHolds(t *testing.T) {
	a, _, set := rampClock(t)
	mustApply(t, a, rampDoc)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	steps := []struct {
		at      time.Time
		do      func() error
		traffic admin.Percent
		held    string
		due     time.Time
	}{
		{h(10), func() error { _, err := a.PauseExperiment(alice, "dm"); return err }, 500, "paused", h(24)},
		{h(30), nil, 500, "paused", h(44)}, // due moves with the pause
		{h(40), func() error { _, err := a.ResumeExperiment(alice, "dm"); return err }, 500, "", h(54)},
		{h(53), nil, 500, "", h(54)},
		{h(54), nil, 2000, "", h(126)},
	}
	for i, st := range steps {
		set(st.at)
		if st.do != nil {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
		}
		tick(t, a)
		info, err := a.Experiment(alice, "dm")
		if err != nil {
			t.Fatal(err)
		}
		if info.PhaseTraffic != st.traffic {
			t.Errorf("step %d: traffic %v, want %v", i, info.PhaseTraffic, st.traffic)
		}
		if n := info.NextStep; n == nil || n.Held != st.held || !n.Due.Equal(st.due) {
			t.Errorf("step %d: next step %+v, want held %q due %v", i, n, st.held, st.due)
		}
	}
}

// TestRampUpLayerFull: a step the layer cannot give is refused, reported
// and written nowhere; the next pass tries again.
func TestRampUpLayerFull(t *testing.T) {
	a, s, set := rampClock(t)
	doc := append(expFile("traffic: 20", `arms: {"off": 50, inline: 50}`, "rampUp: [{traffic: 5}, {traffic: 20, after: 1h}]", "status: running"),
		[]byte(`  - {key: other, flag: dm, layer: msg, traffic: 40, arms: {"off": 50, handoff: 50}, control: "off", status: running}
`)...)
	mustApply(t, a, doc)
	// Another experiment takes the room a person gives it by hand.
	if _, err := a.SetExperimentTraffic(alice, admin.TrafficRequest{Key: "other", Traffic: 9000}); err != nil {
		t.Fatal(err)
	}
	set(t0.Add(2 * time.Hour))
	v, err := s.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	events := tick(t, a)
	if len(events) != 1 || events[0].Outcome != admin.RampRefused || events[0].Experiment != "dm" || !strings.Contains(events[0].Reason, "free") {
		t.Fatalf("events = %+v, want dm's step refused for want of free buckets", events)
	}
	if got, _ := s.Version(context.Background()); got != v {
		t.Errorf("config version %d after a refused step, want %d", got, v)
	}
	if got := phaseTraffic(t, a); got != 500 {
		t.Errorf("traffic %v after a refused step, want 5", got)
	}
	// Room made, the next pass takes the step.
	if _, err := a.StopExperiment(alice, admin.StopRequest{Key: "other", Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	if events := tick(t, a); len(events) != 1 || events[0].Outcome != admin.RampTaken {
		t.Errorf("events after room was made = %+v", events)
	}
}

// TestStopHandsFlagToRollout stops an experiment with its arm handed to a
// rollout plan, and evaluates through the snapshot: no experiment rule
// serves, the plan serves the arm to the experiment's share of the
// audience, the plan's first stage is live. The refusals change nothing.
func TestStopHandsFlagToRollout(t *testing.T) {
	a, s := startedLifecycle(t)
	ctx := context.Background()
	refusals := []struct {
		name string
		req  admin.StopRequest
		kind ramp.Kind
		want string
	}{
		{"no arm", admin.StopRequest{Key: "dm", Rollout: true, Confirmed: true}, ramp.KindInvalid, "needs the arm"},
		{"the default variant", admin.StopRequest{Key: "dm", Ship: "off", Rollout: true, Confirmed: true}, ramp.KindRefused, "default variant"},
		{"unconfirmed", admin.StopRequest{Key: "dm", Ship: "inline", Rollout: true}, ramp.KindRefused, "hand flag dm to a rollout plan serving inline to 20% of its audience (then 50%, 100%"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := s.Version(ctx)
			_, err := a.StopExperiment(alice, tt.req)
			if ramp.KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("StopExperiment = %v (kind %v); want kind %v saying %q", err, ramp.KindOf(err), tt.kind, tt.want)
			}
			if got, _ := s.Version(ctx); got != v {
				t.Errorf("config version %d after a refusal, want %d", got, v)
			}
		})
	}

	res, err := a.StopExperiment(alice, admin.StopRequest{Key: "dm", Ship: "inline", Rollout: true, Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	if x := res.Experiment; x.Status != experiment.Stopped || x.Shipped != "inline" || x.ShipVia != experiment.ShipViaRollout {
		t.Errorf("experiment after the handoff = %s, shipped %q via %q", x.Status, x.Shipped, x.ShipVia)
	}
	st := res.Rollout
	if st == nil || st.Variant != "inline" || st.Stage != admin.HandoffFirstStage || st.By != "alice" || len(st.Plan) != 3 {
		t.Fatalf("plan after the handoff = %+v", st)
	}
	for i, want := range []flags.Percent{2000, 5000, flags.Hundred} {
		p := st.Plan[i]
		if p.Percent != want || len(p.Cohorts) != 1 || p.Cohorts[0] != "testers" || len(p.Regions) != 0 || len(p.When) != 1 || p.When[0].Attribute != "region" {
			t.Errorf("stage %d = %+v, want %v of cohort testers in region US", i, p, want)
		}
	}
	// Through the snapshot: no unit is in the experiment; the plan gives
	// inline to about 20% of the audience, with the stage as origin.
	snap, err := a.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inline := 0
	for i := range units {
		d := snap.Evaluate("dm", map[string]any{"targetingKey": "u" + strconv.Itoa(i), "region": "us"})
		if d.Origin != nil && d.Origin.Kind == flags.OriginExperiment {
			t.Fatalf("u%d decided by the experiment (%+v)", i, d.Origin)
		}
		if d.Variant == "inline" {
			inline++
			if d.Origin == nil || d.Origin.Kind != rollout.OriginKind || d.Origin.Part != admin.HandoffFirstStage {
				t.Fatalf("u%d served inline by %+v, want the plan's first stage", i, d.Origin)
			}
		}
	}
	if share := float64(inline) / units; share < 0.15 || share > 0.25 {
		t.Errorf("the plan serves inline to %.1f%% of the audience, want about 20%%", 100*share)
	}
	if d := snap.Evaluate("dm", map[string]any{"targetingKey": "u1", "region": "FR"}); d.Variant != "off" {
		t.Errorf("a tester outside the audience's regions gets %s", d.Variant)
	}
	// Audited: the stop, then the plan.
	entries, err := s.Audit(ctx, store.AuditFilter{Target: "dm"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entries); n < 2 || entries[n-2].Action != "experiment.stop" || entries[n-1].Action != "rollout.handoff" || entries[n-1].Before != nil {
		t.Errorf("last audit entries = %+v", entries)
	}
}

// TestStopRolloutRefusedWithPlan: a flag that already has a plan keeps it
// and the experiment keeps running.
func TestStopRolloutRefusedWithPlan(t *testing.T) {
	a, s := open(t)
	mustApply(t, a, append(expFile(append(base, "status: running")...), []byte(`rollouts:
  - flag: dm
    variant: handoff
    stages: [{name: us, regions: [US], percent: 10}]
`)...))
	v, _ := s.Version(context.Background())
	_, err := a.StopExperiment(alice, admin.StopRequest{Key: "dm", Ship: "inline", Rollout: true, Confirmed: true})
	if !errors.Is(err, ramp.ErrRefused) || !strings.Contains(err.Error(), "already has a rollout plan (rolling out handoff, not started)") {
		t.Fatalf("StopExperiment = %v; want refused, naming the plan", err)
	}
	if got, _ := s.Version(context.Background()); got != v {
		t.Errorf("config version %d after a refusal, want %d", got, v)
	}
	if info, _ := a.Experiment(alice, "dm"); info.Status != experiment.Running {
		t.Errorf("experiment %s after a refused handoff, want running", info.Status)
	}
}

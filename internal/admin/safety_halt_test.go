package admin_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/tracking"
)

// haltDoc declares the interop flag, a crash-rate guardrail metric (lower
// is better, 1% margin) and a plan whose us-10 stage is guarded.
func haltDoc(reaction string) []byte {
	return []byte(`
metrics:
  - {key: crash-rate, kind: conversion, event: app_crash, direction: decrease, margin: 1}
flags:
  - key: messenger-ig-interop
    type: boolean
    variants: {"on": true, "off": false}
    defaultVariant: "off"
rollouts:
  - flag: messenger-ig-interop
    variant: "on"
    stages:
      - {name: us-1, regions: [US], percent: 1}
      - {name: us-10, regions: [US], percent: 10, guardrails: [crash-rate], onRegression: ` + reaction + `}
      - {name: us-50, regions: [US], percent: 50, after: 1h}
`)
}

// haltSetup applies haltDoc, starts us-1 then us-10 by hand, and returns
// the control plane with a clock the test moves.
func haltSetup(t *testing.T, reaction string) (*admin.Service, *store.Store, func(time.Duration)) {
	t.Helper()
	a, s, _ := haltSetupDSN(t, reaction)
	return a, s, func(d time.Duration) { s.Now = shifted(s.Now(), d) }
}

func shifted(now time.Time, d time.Duration) func() time.Time {
	at := now.Add(d)
	return func() time.Time { return at }
}

// haltSetupDSN is haltSetup with the database's DSN.
func haltSetupDSN(t *testing.T, reaction string) (*admin.Service, *store.Store, string) {
	t.Helper()
	a, s, dsn := openDSN(t)
	now := t0
	s.Now = func() time.Time { return now }
	a.Safety.CheckEvery = -1 // judge on every pass
	mustApply(t, a, haltDoc(reaction))
	mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-1"}))
	mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-10"}))
	return a, s, dsn
}

// plantCrashes exposes n units on each side of us-10 (phase 2) and gives
// each side's units crashes at the rates given, then compacts.
func plantCrashes(t *testing.T, a *admin.Service, n int, offRate, onRate float64) {
	t.Helper()
	ctx := context.Background()
	var xs []tracking.Exposure
	var es []tracking.Event
	for side, arm := range []string{"off", "on"} {
		rate := []float64{offRate, onRate}[side]
		crashes := int(rate * float64(n))
		for i := range n {
			unit := fmt.Sprintf("%s-%d", arm, i)
			xs = append(xs, tracking.Exposure{Experiment: rollout.ExperimentKey(interop), Phase: 2, UnitAttr: tracking.TargetingKey,
				Unit: unit, Arm: arm, Flag: interop, Time: t0})
			if i < crashes {
				es = append(es, tracking.Event{ID: "crash-" + unit, Name: "app_crash", Value: 1, Time: t0.Add(time.Minute),
					Units: map[string]string{tracking.TargetingKey: unit}})
			}
		}
	}
	if err := a.WriteExposures(ctx, xs); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteEvents(ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Compact(ctx, admin.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestGuardrailRegressionHalts: planted crashes make the variant's side
// crash far more; one pass of the schedule halts the plan, pausing it
// with a reason that names the metric, by how much and when (in status,
// history and the audit log); with onRegression rollback it also goes
// back to us-1, whose audience alone keeps the variant.
func TestGuardrailRegressionHalts(t *testing.T) {
	for _, reaction := range []string{"pause", "rollback"} {
		t.Run(reaction, func(t *testing.T) {
			a, s, wait := haltSetup(t, reaction)
			plantCrashes(t, a, 4000, 0.02, 0.05)
			wait(2 * time.Hour) // us-50 is due: the halt must come first
			res, err := a.Tick(as("alice"))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Guards) != 1 || !res.Guards[0].Halted || res.Guards[0].RolledBack != (reaction == "rollback") {
				t.Fatalf("guards %+v; want one halt", res.Guards)
			}
			if len(res.Events) != 0 {
				t.Fatalf("the schedule moved a halted plan: %+v", res.Events)
			}
			st, err := a.RolloutStatus(as("alice"), interop)
			if err != nil {
				t.Fatal(err)
			}
			wantStage := map[string]string{"pause": "us-10", "rollback": "us-1"}[reaction]
			if !st.Paused || st.Stage != wantStage || st.Pause == nil || st.Pause.By != rollout.Scheduler || st.Halted == nil || st.Halted.Stage != "us-10" {
				t.Fatalf("status: stage %s, paused %v by %+v, halted %+v", st.Stage, st.Paused, st.Pause, st.Halted)
			}
			for _, frag := range []string{"guardrail regression in stage us-10 at " + t0.Add(2*time.Hour).Format(time.RFC3339), "crash-rate +150.00%", "margin 1%, lower is better): regressed", "4,000 units without the variant, 4,000 with it"} {
				if !strings.Contains(st.Pause.Reason, frag) {
					t.Errorf("reason %q lacks %q", st.Pause.Reason, frag)
				}
			}
			action := map[string]string{"pause": "rollout.halt", "rollback": "rollout.halt.rollback"}[reaction]
			entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "rollout", Target: interop})
			if err != nil {
				t.Fatal(err)
			}
			if last := entries[len(entries)-1]; last.Action != action || last.Actor != rollout.Scheduler {
				t.Errorf("audited %s by %s; want %s by %s", last.Action, last.Actor, action, rollout.Scheduler)
			}
			hist, err := a.RolloutHistory(as("alice"), interop)
			if err != nil {
				t.Fatal(err)
			}
			if last := hist[len(hist)-1]; last.Event != "halted by a guardrail" || !strings.Contains(last.Detail, "crash-rate") {
				t.Errorf("history ends with %+v", last)
			}
			// Held: the schedule does not move it, and the next pass
			// does not halt it again.
			wait(2 * time.Hour)
			if res, err := a.Tick(as("alice")); err != nil || len(res.Events) != 0 || len(res.Guards) != 0 {
				t.Errorf("next pass: %+v, %v", res, err)
			}
			if reaction == "rollback" {
				checkAudience(t, a, 100) // us-1's 1%, nobody beyond
			}
		})
	}
}

// checkAudience evaluates the flag for 20,000 US users and checks that at
// most pct basis points of them (plus noise) get the variant.
func checkAudience(t *testing.T, a *admin.Service, bp int) {
	t.Helper()
	snap, err := a.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	on := 0
	for i := range 20000 {
		d := snap.Evaluate(interop, map[string]any{"targetingKey": fmt.Sprint("user-", i), "region": "US"})
		if d.Variant == "on" {
			on++
		}
		if d.Origin.Exposes() {
			t.Fatalf("after the rollback, decisions are still exposures: %+v", d.Origin)
		}
	}
	if max := 20000 * bp / 10000 * 3 / 2; on > max {
		t.Errorf("%d of 20,000 US users get the variant after the rollback; want about %d", on, 20000*bp/10000)
	}
}

// TestGuardrailHealthyAdvances: healthy data lets the stage advance on
// the schedule; status shows each guardrail's verdict and data.
func TestGuardrailHealthyAdvances(t *testing.T) {
	a, _, wait := haltSetup(t, "pause")
	plantCrashes(t, a, 4000, 0.02, 0.02)
	st, err := a.RolloutStatus(as("alice"), interop)
	if err != nil {
		t.Fatal(err)
	}
	g := st.Guard
	if g == nil || len(g.Verdicts) != 1 || g.Verdicts[0].Verdict == safety.VerdictRegressed || g.Verdicts[0].Verdict == safety.VerdictNoData ||
		g.Verdicts[0].Control.Units != 4000 || g.Verdicts[0].Treatment.Units != 4000 || g.Sample != (rollout.Sample{Treatment: 4000, Control: 4000}) {
		t.Fatalf("status guard %+v", g)
	}
	wait(2 * time.Hour)
	res, err := a.Tick(as("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Guards) != 1 || res.Guards[0].Halted || len(res.Events) != 1 || res.Events[0].Stage != "us-50" {
		t.Fatalf("tick: guards %+v, events %+v; want us-50 started", res.Guards, res.Events)
	}
}

// TestGuardrailHaltedOnce: servers ticking together halt a regressed
// plan once.
func TestGuardrailHaltedOnce(t *testing.T) {
	a, s, dsn := haltSetupDSN(t, "rollback")
	plantCrashes(t, a, 4000, 0.02, 0.05)
	servers := []*admin.Service{a}
	for range 3 {
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		st.Now = s.Now
		b := admin.New(st)
		b.Safety.CheckEvery = -1
		servers = append(servers, b)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		halted int
	)
	for _, srv := range servers {
		wg.Go(func() {
			res, err := srv.Tick(as("alice"))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range res.Guards {
				if e.Halted {
					halted++
				}
			}
		})
	}
	wg.Wait()
	entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "rollout", Target: interop})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "rollout.halt") {
			n++
		}
	}
	if halted != 1 || n != 1 {
		t.Fatalf("%d passes halted the plan, %d halt entries; want 1 and 1", halted, n)
	}
	if st, _ := a.RolloutStatus(as("alice"), interop); st.Stage != "us-1" {
		t.Errorf("stage %s after the halt; want us-1", st.Stage)
	}
}

// TestGuardrailHaltOverridden: a person who resumes a plan the controller
// halted overrides the halt: the stage is not halted again while it stays
// live, and status says so.
func TestGuardrailHaltOverridden(t *testing.T) {
	a, s, wait := haltSetup(t, "pause")
	plantCrashes(t, a, 4000, 0.02, 0.05)
	if res, err := a.Tick(as("alice")); err != nil || len(res.Guards) != 1 || !res.Guards[0].Halted {
		t.Fatalf("tick: %+v, %v; want a halt", res.Guards, err)
	}
	mustMove(t)(a.Resume(as("bob"), interop))
	wait(30 * time.Minute) // us-50 is not due yet
	if res, err := a.Tick(as("alice")); err != nil || len(res.Guards) != 0 {
		t.Fatalf("tick after the override: %+v, %v; want the stage not judged", res.Guards, err)
	}
	st, err := a.RolloutStatus(as("alice"), interop)
	if err != nil {
		t.Fatal(err)
	}
	if st.Paused || st.Guard == nil || !st.Guard.Overridden || st.Guard.Judged || !st.Guard.Halt || st.Halted == nil {
		t.Errorf("status after the override: paused %v, guard %+v, halted %+v", st.Paused, st.Guard, st.Halted)
	}
	entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "rollout", Target: interop})
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Action != "rollout.resume" || last.Actor != "bob" {
		t.Errorf("last entry %s by %s", last.Action, last.Actor)
	}
}

package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/tracking"
)

const guardedYAML = `
metrics:
  - {key: crash-rate, kind: conversion, event: app_crash, direction: decrease, margin: 1}
  - {key: replies-per-user, kind: mean, event: dm_reply, window: 7d}
flags:
  - key: interop
    type: boolean
    variants: {"on": true, "off": false}
    defaultVariant: "off"
rollouts:
  - flag: interop
    variant: "on"
    stages:
      - {name: us-1, regions: [US], percent: 1}
      - {name: us-10, regions: [US], percent: 10, guardrails: [crash-rate, {metric: replies-per-user, margin: 2}], minSample: 1000, onRegression: rollback}
      - {name: us-50, regions: [US], percent: 50}
`

// plant stores exposures of interop's us-10 (phase 2), n per side, and
// crashes at the rates given, then compacts.
func plant(t *testing.T, db string, n int, offRate, onRate float64) {
	t.Helper()
	ctx := context.Background()
	a, err := admin.Open(ctx, db, admin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	now := time.Now()
	var xs []tracking.Exposure
	var es []tracking.Event
	for side, arm := range []string{"off", "on"} {
		crashes := int([]float64{offRate, onRate}[side] * float64(n))
		for i := range n {
			unit := fmt.Sprintf("%s-%d", arm, i)
			xs = append(xs, tracking.Exposure{Experiment: rollout.ExperimentKey("interop"), Phase: 2, UnitAttr: tracking.TargetingKey, Unit: unit, Arm: arm, Flag: "interop", Time: now})
			if i < crashes {
				es = append(es, tracking.Event{ID: "c-" + unit, Name: "app_crash", Value: 1, Time: now, Units: map[string]string{tracking.TargetingKey: unit}})
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

// TestRolloutGuardrails: status shows a live guarded stage's comparison
// and verdicts; a regression makes `rollout tick` roll the plan back, and
// status, history and get say so; export writes the stage back.
func TestRolloutGuardrails(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", writeFile(t, "plan.yaml", guardedYAML))
	r.ok("rollout", "advance", "interop", "--to", "us-10")

	out, errOut, code := r.run("", "rollout", "advance", "interop")
	if code != 5 || !strings.Contains(errOut, "stage us-10 of rollout interop waits for its guardrails' data: 0 units with the variant and 0 without, of the 1000 each side needs") {
		t.Fatalf("advance without data: exit %d\n%s%s", code, out, errOut)
	}
	plant(t, r.db, 1200, 0.02, 0.06)
	out = r.ok("rollout", "status", "interop", "-o", "table")
	for _, want := range []string{
		`guarded:  stage us-10 compares 1,200 units with "on" and 1,200 without (at least 1,000 each side before it may advance: reached)`,
		"a regression rolls back and pauses the plan (the controller judges it on its passes)",
		"crash-rate                   +200.00% (always-valid 90% interval",
		"margin 1%, lower is better): regressed",
		"without 2.000% of 1,200 units, with 6.000% of 1,200",
		"replies-per-user             no data: no variation yet",
		"guardrails crash-rate, replies-per-user (margin 2%); at least 1000 units each side; on regression rollback",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not say %q:\n%s", want, out)
		}
	}
	if out := r.ok("rollout", "tick", "-o", "table"); !strings.Contains(out, "interop: halted by a guardrail, rolled back to the previous stage and paused: guardrail regression in stage us-10") {
		t.Errorf("tick:\n%s", out)
	}
	out = r.ok("rollout", "status", "interop", "-o", "table")
	for _, want := range []string{
		"stage:    us-1 (1 of 3)",
		"paused by ramp-scheduler at ",
		": guardrail regression in stage us-10 at ",
		"halted:   stage us-10 at ",
		"rolled back to the previous stage: guardrail regression",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status after the halt does not say %q:\n%s", want, out)
		}
	}
	js := decode[map[string]any](t, r.ok("rollout", "status", "interop", "-o", "json"))
	if h, _ := js["halted"].(map[string]any); h["stage"] != "us-10" || h["rolledBack"] != true {
		t.Errorf("status -o json: halted %v", js["halted"])
	}
	if out := r.ok("rollout", "history", "interop", "-o", "table"); !strings.Contains(out, "halted by a guardrail") {
		t.Errorf("history:\n%s", out)
	}
	if out := r.ok("export"); !strings.Contains(out, "guardrails: [crash-rate, {metric: replies-per-user, margin: 2}], minSample: 1000, onRegression: rollback}") {
		t.Errorf("export:\n%s", out)
	}
}

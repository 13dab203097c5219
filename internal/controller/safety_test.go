package controller_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/controller"
	"github.com/ramp-flags/ramp/internal/testdb"
	"github.com/ramp-flags/ramp/tracking"
)

// syncBuffer is a log destination safe for the controller's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// runOnce runs Run until its first pass is counted, and returns its log.
func runOnce(t *testing.T, a *admin.Service, m *controller.Metrics, reg *prometheus.Registry) string {
	t.Helper()
	var log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		controller.Run(ctx, a, time.Hour, slog.New(slog.NewTextHandler(&log, nil)), m)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(t, reg, "ramp_rollout_controller_passes_total") < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	return log.String()
}

// TestRunPausesOnSampleRatioMismatch: the controller's pass pauses a
// running experiment whose exposures contradict its weights, logs it as a
// warning and counts it.
func TestRunPausesOnSampleRatioMismatch(t *testing.T) {
	ctx := context.Background()
	s := open(t, testdb.DSN(t))
	s.Now = func() time.Time { return t0 }
	a := admin.New(s)
	doc, err := config.Parse("exp.yaml", []byte(`
flags:
  - key: dm
    type: string
    variants: {"off": "off", inline: inline}
    defaultVariant: "off"
experiments:
  - key: dm
    flag: dm
    traffic: 100
    arms: {"off": 50, inline: 50}
    control: "off"
    status: running
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(admin.WithActor(ctx, "alice"), admin.ApplyRequest{Doc: doc}); err != nil {
		t.Fatal(err)
	}
	var batch []tracking.Exposure
	for i := range 6000 {
		arm := "off"
		if i%5 < 3 {
			arm = "inline" // 60% inline
		}
		batch = append(batch, tracking.Exposure{Experiment: "dm", Phase: 1, UnitAttr: tracking.TargetingKey, Unit: fmt.Sprint(i), Arm: arm, Flag: "dm", Time: t0})
	}
	if err := a.WriteExposures(ctx, batch); err != nil {
		t.Fatal(err)
	}
	m := controller.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	log := runOnce(t, a, m, reg)
	if !strings.Contains(log, "level=WARN msg=\"experiment paused: sample ratio mismatch\" experiment=dm phase=1 units=6000") {
		t.Errorf("log does not warn of the pause:\n%s", log)
	}
	if got := counterValue(t, reg, "ramp_safety_halts_total"); got != 1 {
		t.Errorf("ramp_safety_halts_total = %v; want 1", got)
	}
	if got := counterValue(t, reg, "ramp_safety_checks_total"); got != 1 {
		t.Errorf("ramp_safety_checks_total = %v; want 1", got)
	}
}

// TestRunHaltsOnGuardrailRegression: the controller's pass halts a plan
// whose live guarded stage regresses, logs it as a warning and counts it.
func TestRunHaltsOnGuardrailRegression(t *testing.T) {
	ctx := context.Background()
	s := open(t, testdb.DSN(t))
	s.Now = func() time.Time { return t0 }
	a := admin.New(s)
	doc, err := config.Parse("plan.yaml", []byte(`
metrics:
  - {key: crash-rate, kind: conversion, event: app_crash, direction: decrease}
flags:
  - key: interop
    type: boolean
    variants: {"on": true, "off": false}
    defaultVariant: "off"
rollouts:
  - flag: interop
    variant: "on"
    stages:
      - {name: us-10, regions: [US], percent: 10, guardrails: [crash-rate], onRegression: rollback}
`))
	if err != nil {
		t.Fatal(err)
	}
	alice := admin.WithActor(ctx, "alice")
	if _, err := a.Apply(alice, admin.ApplyRequest{Doc: doc}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Advance(alice, admin.AdvanceRequest{Flag: "interop"}); err != nil {
		t.Fatal(err)
	}
	var xs []tracking.Exposure
	var es []tracking.Event
	for i := range 4000 {
		arm, crash := "off", i%50 == 0 // 2% without the variant
		if i%2 == 1 {
			arm, crash = "on", i%20 == 1 // 10% with it
		}
		unit := fmt.Sprint("u", i)
		xs = append(xs, tracking.Exposure{Experiment: "rollout:interop", Phase: 1, UnitAttr: tracking.TargetingKey, Unit: unit, Arm: arm, Flag: "interop", Time: t0})
		if crash {
			es = append(es, tracking.Event{ID: unit, Name: "app_crash", Value: 1, Time: t0, Units: map[string]string{tracking.TargetingKey: unit}})
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
	m := controller.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	log := runOnce(t, a, m, reg)
	if !strings.Contains(log, `level=WARN msg="rollout halted: guardrail regression (rolled back to the previous stage and paused)" flag=interop stage=us-10 reason="guardrail regression in stage us-10`) {
		t.Errorf("log does not warn of the halt:\n%s", log)
	}
	if got := counterValue(t, reg, "ramp_safety_halts_total"); got != 1 {
		t.Errorf("ramp_safety_halts_total = %v; want 1", got)
	}
	st, err := a.RolloutStatus(alice, "interop")
	if err != nil || st.Stage != "" || !st.Paused {
		t.Errorf("after the halt: stage %q, paused %v, %v; want rolled back before the first stage", st.Stage, st.Paused, err)
	}
}

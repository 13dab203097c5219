package admin_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/tracking"
)

const maintainedMetrics = `
metrics:
  - {key: replies, kind: mean, event: dm_reply, window: 7d, covariate: {window: 14d}}
  - {key: reply-rate, kind: conversion, event: dm_reply}
  - {key: errors, kind: ratio, numerator: dm_send_error, denominator: dm_sent, direction: decrease}
`

// TestMaintainedStatisticsFollowConfig: compaction maintains the
// statistics of the metrics a started experiment names, in its current
// phase, and of a live guarded stage's guardrails; a changed metric is
// built again, a metric no longer named is dropped; and the report reads
// the same numbers from the maintained sums as from the grouped query.
func TestMaintainedStatisticsFollowConfig(t *testing.T) {
	ctx := context.Background()
	a, s := open(t)
	doc := func(metrics string) []byte {
		return append(expFile(append(base, "metrics: "+metrics)...), maintainedMetrics...)
	}
	mustApply(t, a, doc(`{primary: replies, secondary: [reply-rate], guardrails: [errors]}`))
	qs, err := a.MaintainedQueries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 0 {
		t.Errorf("a draft experiment: maintained %+v, want none", qs)
	}
	if _, err := a.StartExperiment(alice, "dm"); err != nil {
		t.Fatal(err)
	}
	y := func(ev string, from, to int, ind bool) store.UnitValue {
		return store.UnitValue{Event: ev, FromDay: from, ToDay: to, Indicator: ind}
	}
	want := []store.ArmQuery{
		{Experiment: "dm", Phase: 1, Y: y("dm_reply", 0, 7, false), X: ptr(y("dm_reply", -14, 0, false))},
		{Experiment: "dm", Phase: 1, Y: y("dm_reply", 0, math.MaxInt32, true)},
		{Experiment: "dm", Phase: 1, Y: y("dm_send_error", 0, math.MaxInt32, false), X: ptr(y("dm_sent", 0, math.MaxInt32, false))},
	}
	if qs, err = a.MaintainedQueries(ctx); err != nil {
		t.Fatal(err)
	} else if d := cmp.Diff(want, qs); d != "" {
		t.Fatalf("maintained queries (-want +got):\n%s", d)
	}
	// Units in the three arms, some seen in two, with events.
	var xs []tracking.Exposure
	var es []tracking.Event
	for i := range 300 {
		unit := fmt.Sprintf("u%d", i)
		arm := []string{"off", "handoff", "inline"}[i%3]
		xs = append(xs, tracking.Exposure{Experiment: "dm", Phase: 1, UnitAttr: tracking.TargetingKey, Unit: unit, Arm: arm, Flag: "dm", Time: t0})
		if i%50 == 0 {
			xs = append(xs, tracking.Exposure{Experiment: "dm", Phase: 1, UnitAttr: tracking.TargetingKey, Unit: unit, Arm: "inline", Flag: "dm", Time: t0})
		}
		for k := range i % 7 {
			es = append(es, tracking.Event{ID: fmt.Sprintf("%s-%d", unit, k), Name: []string{"dm_reply", "dm_sent", "dm_send_error"}[k%3],
				Value: float64(1 + k%2), Time: t0.Add(time.Duration(k-3) * 24 * time.Hour), Units: map[string]string{tracking.TargetingKey: unit}})
		}
	}
	if err := a.WriteExposures(ctx, xs); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteEvents(ctx, es); err != nil {
		t.Fatal(err)
	}
	// A report compacting first does not build: it reads the grouped query.
	join, err := a.Report(ctx, admin.ReportRequest{Key: "dm", Compact: true})
	if err != nil {
		t.Fatal(err)
	}
	checkCurrent(t, s, 0)
	res, err := a.Compact(ctx, admin.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatsBuilt != 3 {
		t.Errorf("compaction built %d statistics, want 3", res.StatsBuilt)
	}
	checkCurrent(t, s, 3)
	maintained, err := a.Report(ctx, admin.ReportRequest{Key: "dm"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(join, maintained); d != "" {
		t.Errorf("report from the maintained sums differs from the grouped query's (-join +maintained):\n%s", d)
	}
	if len(maintained.Metrics) != 3 || maintained.Metrics[0].Arms[0].Units == 0 || maintained.Metrics[0].Arms[0].Value == 0 {
		t.Fatalf("report %+v: want three metrics with data", maintained.Metrics)
	}
	if due, err := a.CompactionDue(ctx); err != nil || due {
		t.Errorf("CompactionDue = %v, %v after compacting: want false", due, err)
	}
	// The primary metric's window changes, the guardrail goes: one new
	// statistic to build, two dropped.
	mustApply(t, a, append(expFile(append(base, "metrics: {primary: replies, secondary: [reply-rate]}")...),
		[]byte(`
metrics:
  - {key: replies, kind: mean, event: dm_reply, window: 3d, covariate: {window: 14d}}
  - {key: reply-rate, kind: conversion, event: dm_reply}
  - {key: errors, kind: ratio, numerator: dm_send_error, denominator: dm_sent, direction: decrease}
`)...))
	if due, err := a.CompactionDue(ctx); err != nil || !due {
		t.Errorf("CompactionDue = %v, %v after a metric changed: want true", due, err)
	}
	if _, err := a.Compact(ctx, admin.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	st := checkCurrent(t, s, 2)
	if st[0].Query.Y.ToDay != math.MaxInt32 || st[1].Query.Y.ToDay != 3 {
		t.Errorf("maintained after the change: %+v", st)
	}
	// A rebuild makes them again, the same.
	before, err := a.Report(ctx, admin.ReportRequest{Key: "dm"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Compact(ctx, admin.CompactOptions{RebuildStats: true}); err != nil {
		t.Fatal(err)
	}
	checkCurrent(t, s, 2)
	after, err := a.Report(ctx, admin.ReportRequest{Key: "dm"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("report after a rebuild (-before +after):\n%s", d)
	}
}

// TestMaintainedGuardrails: a live guarded stage's guardrails are
// maintained under the plan's exposures key and the stage's phase, and
// dropped once the plan leaves the stage.
func TestMaintainedGuardrails(t *testing.T) {
	ctx := context.Background()
	a, s, _ := haltSetupDSN(t, "pause")
	qs, err := a.MaintainedQueries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ArmQuery{{Experiment: rollout.ExperimentKey(interop), Phase: 2,
		Y: store.UnitValue{Event: "app_crash", FromDay: 0, ToDay: math.MaxInt32, Indicator: true}}}
	if d := cmp.Diff(want, qs); d != "" {
		t.Fatalf("maintained queries (-want +got):\n%s", d)
	}
	plantCrashes(t, a, 200, 0.01, 0.01)
	checkCurrent(t, s, 1)
}

// checkCurrent checks that n statistics are current, and that (n > 0)
// no other is maintained, and returns them.
func checkCurrent(t *testing.T, s *store.Store, n int) []store.ArmStatStatus {
	t.Helper()
	st, err := s.MaintainedArmStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	current := 0
	for _, m := range st {
		if m.Current && !m.Dropping {
			current++
		}
	}
	if current != n || n > 0 && len(st) != n {
		t.Errorf("maintained statistics %+v: want %d, all current", st, n)
	}
	return st
}

func ptr[T any](v T) *T { return &v }

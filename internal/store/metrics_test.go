package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// storeMetrics are the metrics, one with a covariate.
func storeMetrics() []experiment.Metric {
	week := rollout.Duration(7 * 24 * time.Hour)
	return []experiment.Metric{
		{Key: "replies-per-user", Description: "DM replies per linked user", Kind: experiment.Mean, Event: "dm_reply", Window: week,
			Direction: experiment.Increase, Covariate: &experiment.Covariate{Window: 2 * week}},
		{Key: "reply-rate", Kind: experiment.Conversion, Event: "dm_reply", Direction: experiment.Increase,
			Covariate: &experiment.Covariate{Event: "dm_open", Window: week}},
		{Key: "send-errors-per-message", Kind: experiment.Ratio, Numerator: "dm_send_error", Denominator: "dm_sent",
			Direction: experiment.Decrease, Margin: 0.5},
	}
}

// applyMetrics writes metric changes (and optional flags) through an
// apply's transaction, as ramp apply does.
func applyMetrics(t *testing.T, s *store.Store, actor string, ch []store.MetricChange, fs ...flags.Flag) error {
	t.Helper()
	return s.ApplyFunc(context.Background(), actor, false, func(*store.ApplyTx) (*store.Changes, error) {
		out := &store.Changes{Metrics: ch}
		if len(fs) > 0 {
			desired := flags.State{Flags: fs}
			out.Desired, out.Set = &desired, flags.Diff(&flags.State{}, &desired, false)
		}
		return out, nil
	})
}

func createAll(ms []experiment.Metric) []store.MetricChange {
	out := make([]store.MetricChange, len(ms))
	for i, m := range ms {
		out[i] = store.MetricChange{Action: flags.Create, Key: m.Key, Metric: m}
	}
	return out
}

// TestMetricsStored creates, reads, updates and deletes metrics: every
// field reads back as written, each change is audited as kind "metric",
// versions guard updates, and the configuration version does not move,
// since evaluation does not read metrics.
func TestMetricsStored(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	set := clock(s)
	v0 := mustVersion(t, s)
	want := storeMetrics()
	if err := applyMetrics(t, s, "alice", createAll(want)); err != nil {
		t.Fatal(err)
	}
	if v := mustVersion(t, s); v != v0 {
		t.Errorf("config version %d after creating metrics, want %d (evaluation does not read them)", v, v0)
	}
	got, err := s.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, store.MetricsOf(got)); d != "" {
		t.Errorf("Metrics (-want +got):\n%s", d)
	}
	for _, m := range got {
		if m.Version != 1 || m.UpdatedBy != "alice" || !m.UpdatedAt.Equal(t0) {
			t.Errorf("%s: version %d by %s at %v; want 1 by alice at %v", m.Metric.Key, m.Version, m.UpdatedBy, m.UpdatedAt, t0)
		}
	}
	one, err := s.Metric(ctx, "send-errors-per-message")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want[2], one.Metric); d != "" {
		t.Errorf("Metric (-want +got):\n%s", d)
	}
	if _, err := s.Metric(ctx, "crashes"); !errors.Is(err, ramp.ErrNotFound) {
		t.Errorf("Metric of an unknown key: %v, want ErrNotFound", err)
	}
	// Every configuration the store builds has them.
	for name, read := range map[string]func(context.Context) (ramp.Config, error){"Configuration": s.Configuration, "Catalogue": s.Catalogue} {
		cfg, err := read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(want, cfg.Metrics); d != "" {
			t.Errorf("%s metrics (-want +got):\n%s", name, d)
		}
	}
	audit := mustAudit(t, s, store.AuditFilter{Kind: "metric"})
	if len(audit) != 3 || audit[0].Action != "apply.create" || audit[0].Actor != "alice" || audit[0].Before != nil {
		t.Fatalf("audit = %+v", audit)
	}

	// An update from the version read; one from an older version is a
	// conflict and writes nothing.
	set(t0.Add(time.Hour))
	next := want[2]
	next.Margin, next.Description = 1, "Failed sends per message"
	err = applyMetrics(t, s, "bob", []store.MetricChange{{Action: flags.Update, Key: next.Key, Metric: next, BaseVersion: 1, Fields: []string{"description", "margin"}}})
	if err != nil {
		t.Fatal(err)
	}
	one, err = s.Metric(ctx, next.Key)
	if err != nil || one.Version != 2 || one.UpdatedBy != "bob" || one.Metric.Margin != 1 {
		t.Errorf("after the update: %+v, %v", one, err)
	}
	err = applyMetrics(t, s, "carol", []store.MetricChange{{Action: flags.Update, Key: next.Key, Metric: want[2], BaseVersion: 1}})
	var conflict *store.ConflictError
	if !errors.As(err, &conflict) || conflict.Kind != "metric" || conflict.Actual != 2 || conflict.UpdatedBy != "bob" {
		t.Errorf("an update from version 1 of a metric at version 2: %v, want a *ConflictError naming bob", err)
	}
	if err := applyMetrics(t, s, "carol", createAll(want[:1])); !errors.As(err, &conflict) {
		t.Errorf("creating a metric that exists: %v, want a *ConflictError", err)
	}
	entries := mustAudit(t, s, store.AuditFilter{Kind: "metric", Target: next.Key})
	if len(entries) != 2 || entries[1].Action != "apply.update" {
		t.Fatalf("audit of %s = %+v", next.Key, entries)
	}
	var before, after experiment.Metric
	if err := json.Unmarshal(entries[1].Before, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(entries[1].After, &after); err != nil {
		t.Fatal(err)
	}
	if before.Margin != 0.5 || after.Margin != 1 {
		t.Errorf("audit of the update: margin %v → %v, want 0.5 → 1", before.Margin, after.Margin)
	}

	// A deletion.
	err = applyMetrics(t, s, "alice", []store.MetricChange{{Action: flags.Delete, Key: "reply-rate", BaseVersion: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Metric(ctx, "reply-rate"); !errors.Is(err, ramp.ErrNotFound) {
		t.Errorf("Metric after the deletion: %v, want ErrNotFound", err)
	}
	if last := mustAudit(t, s, store.AuditFilter{Kind: "metric", Target: "reply-rate"}); len(last) != 2 || last[1].Action != "apply.delete" || last[1].After != nil {
		t.Errorf("audit of the deletion = %+v", last)
	}
	if v := mustVersion(t, s); v != v0 {
		t.Errorf("config version %d after metric changes only, want %d", v, v0)
	}

	// An apply that also changes a flag bumps the version, once.
	err = applyMetrics(t, s, "alice", createAll([]experiment.Metric{{Key: "sends", Kind: experiment.Mean, Event: "dm_sent"}}), boolFlag("interop"))
	if err != nil {
		t.Fatal(err)
	}
	if v := mustVersion(t, s); v != v0+1 {
		t.Errorf("config version %d after an apply of a flag and a metric, want %d", v, v0+1)
	}
	if m, err := s.Metric(ctx, "sends"); err != nil || m.Metric.Direction != experiment.Increase {
		t.Errorf("a metric stored without a direction reads back %+v, %v; want increase", m, err)
	}
}

// TestMetricsInApplyTx: an apply's plan reads the metrics as its
// transaction sees them.
func TestMetricsInApplyTx(t *testing.T) {
	s := openTestStore(t)
	clock(s)
	if err := applyMetrics(t, s, "alice", createAll(storeMetrics())); err != nil {
		t.Fatal(err)
	}
	var seen []store.StoredMetric
	err := s.ApplyFunc(context.Background(), "alice", true, func(tx *store.ApplyTx) (*store.Changes, error) {
		var err error
		seen, err = tx.Metrics()
		return nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(storeMetrics(), store.MetricsOf(seen)); d != "" {
		t.Errorf("ApplyTx.Metrics (-want +got):\n%s", d)
	}
}

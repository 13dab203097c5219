package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
)

// scenarioMetricKeys are the metrics testdata/scenario.yaml declares, in
// file order.
var scenarioMetricKeys = []string{"replies-per-user", "reply-rate", "send-errors-per-message", "links-completed-per-user", "link-abuse-reports-per-user"}

func metricKeys(cs []admin.MetricChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c.Action)+" "+c.Key)
	}
	return out
}

func version(t *testing.T, s *store.Store) int64 {
	t.Helper()
	v, err := s.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestApplyMetrics applies the scenario's metrics, changes one (dry run,
// then for real), and prunes one: each change is listed with the fields it
// changes, audited, and leaves the configuration version alone when it is
// the apply's only change.
func TestApplyMetrics(t *testing.T) {
	a, s := open(t)
	scenario := readTestdata(t, "scenario.yaml")
	res := apply(t, a, "scenario.yaml", scenario, false)
	var want []string
	for _, k := range scenarioMetricKeys {
		want = append(want, "create "+k)
	}
	if d := cmp.Diff(want, metricKeys(res.Metrics)); d != "" {
		t.Errorf("metric changes (-want +got):\n%s", d)
	}
	again := apply(t, a, "scenario.yaml", scenario, false)
	if again.Changed() || len(again.Metrics) != 0 {
		t.Errorf("re-applying the scenario changes %+v", again.Metrics)
	}

	// A change to a guardrail's margin and window: a dry run lists it and
	// writes nothing; the apply writes it without a new config version.
	v0 := version(t, s)
	edited := strings.Replace(string(scenario), "    margin: 0.5 ", "    window: 14d\n    margin: 1 ", 1)
	if edited == string(scenario) {
		t.Fatal("the scenario no longer has the margin this test edits")
	}
	for _, dryRun := range []bool{true, false} {
		res := apply(t, a, "edited.yaml", []byte(edited), dryRun)
		want := []admin.MetricChange{{Key: "send-errors-per-message", Action: flags.Update, Fields: []string{"window", "margin"}}}
		if d := cmp.Diff(want, res.Metrics); d != "" {
			t.Errorf("dry run %v: metric changes (-want +got):\n%s", dryRun, d)
		}
		if !res.Changed() || res.Summary["update"] != 1 || res.Applied == dryRun {
			t.Errorf("dry run %v: changed %v, summary %v, applied %v", dryRun, res.Changed(), res.Summary, res.Applied)
		}
		m, err := a.Metric(alice, "send-errors-per-message")
		if err != nil {
			t.Fatal(err)
		}
		if wantMargin := map[bool]float64{true: 0.5, false: 1}[dryRun]; m.Margin != wantMargin {
			t.Errorf("dry run %v: margin %v, want %v", dryRun, m.Margin, wantMargin)
		}
	}
	if v := version(t, s); v != v0 {
		t.Errorf("config version %d after an apply that changes a metric only, want %d: evaluation does not read metrics", v, v0)
	}
	entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "metric", Target: "send-errors-per-message"})
	if err != nil || len(entries) != 2 || entries[1].Action != "apply.update" || entries[1].Actor != "alice" {
		t.Fatalf("audit = %+v, %v", entries, err)
	}

	// --prune deletes a metric the file no longer declares and nobody
	// names; one still named is refused at the experiment's line.
	apply(t, a, "extra.yaml", []byte("metrics:\n  - {key: extra, kind: mean, event: x}\n"), false)
	res, err = a.Apply(alice, admin.ApplyRequest{Doc: parse(t, "scenario.yaml", scenario), DryRun: true, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, c := range res.Metrics {
		if c.Action == flags.Delete {
			deleted = append(deleted, c.Key)
		}
	}
	if !cmp.Equal(deleted, []string{"extra"}) {
		t.Errorf("prune deletes metrics %v, want [extra]", deleted)
	}
	dropped := strings.Replace(string(scenario), "  - key: reply-rate\n", "  - key: reply-rates\n", 1)
	_, err = a.Apply(alice, admin.ApplyRequest{Doc: parse(t, "dropped.yaml", []byte(dropped)), Prune: true})
	var ce *config.Error
	if !errors.As(err, &ce) || !errors.Is(err, ramp.ErrInvalid) || !strings.Contains(err.Error(), `experiments[0].metrics.secondary[0]: unknown metric "reply-rate" (did you mean reply-rates?`) {
		t.Errorf("pruning a metric an experiment names: %v, want a located config error", err)
	}
	if _, err := a.Metric(alice, "reply-rate"); err != nil {
		t.Errorf("the refused apply changed reply-rate: %v", err)
	}
}

// TestMetricsReadModel reads the scenario's metrics as `ramp metrics`
// shows them: windows in days, day offsets, direction, margin, covariate
// and the experiments that name each.
func TestMetricsReadModel(t *testing.T) {
	a, _ := open(t)
	apply(t, a, "scenario.yaml", readTestdata(t, "scenario.yaml"), false)
	list, err := a.Metrics(alice)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range list {
		keys = append(keys, m.Key)
	}
	if want := []string{"link-abuse-reports-per-user", "links-completed-per-user", "replies-per-user", "reply-rate", "send-errors-per-message"}; !cmp.Equal(keys, want) {
		t.Errorf("Metrics keys %v, want %v (by key)", keys, want)
	}
	got, err := a.Metric(alice, "replies-per-user")
	if err != nil {
		t.Fatal(err)
	}
	got.UpdatedAt = got.UpdatedAt.UTC()
	want := admin.MetricInfo{Key: "replies-per-user", Description: "DM replies per linked user in the week after first exposure",
		Kind: experiment.Mean, Event: "dm_reply", Window: "7d", Days: &admin.DayRange{From: 0, To: 7}, Direction: "increase",
		Covariate: &admin.CovariateInfo{Event: "dm_reply", Window: "14d", Days: admin.DayRange{From: -14, To: 0}},
		UsedBy:    []admin.MetricUse{{Experiment: "dm-handoff-vs-inline", Role: "primary", Status: experiment.Running}},
		Version:   1, UpdatedBy: "alice", UpdatedAt: got.UpdatedAt}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Metric (-want +got):\n%s", d)
	}
	guard, err := a.Metric(alice, "send-errors-per-message")
	if err != nil {
		t.Fatal(err)
	}
	if guard.Direction != "decrease" || guard.Margin != 0.5 || guard.Days != nil || guard.Window != "" ||
		!cmp.Equal(guard.UsedBy, []admin.MetricUse{{Experiment: "dm-handoff-vs-inline", Role: "guardrail", Status: experiment.Running}}) {
		t.Errorf("send-errors-per-message = %+v", guard)
	}
	if _, err := a.Metric(alice, "crashes-per-user"); !errors.Is(err, ramp.ErrNotFound) {
		t.Errorf("an unknown metric: %v, want ErrNotFound", err)
	}
}

// TestExportMetrics: the export writes the metrics between the layers and
// the experiments; applying it to the same database changes nothing, and
// to a new one reproduces them.
func TestExportMetrics(t *testing.T) {
	a, _ := open(t)
	apply(t, a, "scenario.yaml", readTestdata(t, "scenario.yaml"), false)
	out := exportOf(t, a)
	layers, metrics, exps := strings.Index(out, "\nlayers:\n"), strings.Index(out, "\nmetrics:\n"), strings.Index(out, "\nexperiments:\n")
	if layers < 0 || metrics < layers || exps < metrics {
		t.Fatalf("export does not have layers, metrics, experiments in that order:\n%s", out)
	}
	if !strings.Contains(out, "    window: 7d\n") || !strings.Contains(out, "    covariate: {window: 14d}\n") || !strings.Contains(out, "    margin: 0.5\n") {
		t.Errorf("export of the metrics:\n%s", out[metrics:exps])
	}
	if res := apply(t, a, "export.yaml", []byte(out), false); res.Changed() {
		t.Errorf("applying the export changes metrics %+v, the rest %+v", res.Metrics, res.Changes)
	}
	b, _ := open(t)
	apply(t, b, "export.yaml", []byte(out), false)
	want, err := a.Metrics(alice)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Metrics(alice)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i].UpdatedAt, want[i].UpdatedBy = got[i].UpdatedAt, got[i].UpdatedBy
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metrics in the new database (-first +new):\n%s", d)
	}
	res, err := a.Export(alice, &strings.Builder{}, config.YAML)
	if err != nil || res.Metrics != len(scenarioMetricKeys) {
		t.Errorf("ExportResult = %+v, %v; want %d metrics", res, err, len(scenarioMetricKeys))
	}
}

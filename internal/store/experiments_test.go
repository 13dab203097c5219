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
)

// dmExperiment is the scenario's experiment on a boolean flag.
func dmExperiment(flag string) experiment.Experiment {
	return experiment.Experiment{Key: "dm-test", Flag: flag, Layer: "cross-app", Hypothesis: "on beats off", Owner: "messaging",
		Audience: experiment.Audience{Regions: []string{"US", "CA"}}, Traffic: 2000,
		Arms:    []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "on", Weight: 5000}},
		Control: "off", Metrics: experiment.Metrics{Primary: "replies", Guardrails: []string{"crashes"}}}
}

var crossApp = experiment.Layer{Key: "cross-app", BucketBy: "accountCenterId", Holdout: 500}

// applyExperiments writes layer and experiment changes through an apply's
// transaction, as ramp apply does.
func applyExperiments(t *testing.T, s *store.Store, ch store.ExperimentChanges) error {
	t.Helper()
	return s.ApplyFunc(context.Background(), "alice", false, func(*store.ApplyTx) (*store.Changes, error) {
		return &store.Changes{Experiments: &ch}, nil
	})
}

func TestExperimentsStored(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	set := clock(s)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("interop")}}, false, "alice")
	v0 := mustVersion(t, s)

	// Create a layer and a draft experiment together.
	e := dmExperiment("interop")
	e.Status = experiment.Draft
	err := applyExperiments(t, s, store.ExperimentChanges{
		Layers:      []store.LayerChange{{Action: flags.Create, Key: crossApp.Key, Layer: crossApp}},
		Experiments: []store.ExperimentChange{{Action: flags.Create, Key: e.Key, Steps: []store.ExperimentStep{{Action: "apply.create", After: e}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := mustVersion(t, s); v != v0+1 {
		t.Errorf("config version %d after the apply, want %d", v, v0+1)
	}
	cfg, err := s.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]experiment.Layer{crossApp}, cfg.Layers); d != "" {
		t.Errorf("Configuration layers (-want +got):\n%s", d)
	}
	if d := diff([]experiment.Experiment{e}, cfg.Experiments); d != "" {
		t.Errorf("Configuration experiments (-want +got):\n%s", d)
	}
	cat, err := s.Catalogue(ctx)
	if err != nil || len(cat.Experiments) != 1 || len(cat.Layers) != 1 {
		t.Errorf("Catalogue = %d layers, %d experiments, %v; want 1, 1", len(cat.Layers), len(cat.Experiments), err)
	}
	forOne, err := s.ConfigurationFor(ctx, []string{"u1"})
	if err != nil || len(forOne.Experiments) != 1 {
		t.Errorf("ConfigurationFor = %d experiments, %v; want 1", len(forOne.Experiments), err)
	}

	// Start it: phase 1 with buckets and table, written with the version
	// bumped and recorded before and after.
	set(t0.Add(time.Hour))
	started, err := s.MoveExperiment(ctx, store.ExperimentMove{Key: e.Key, Action: "experiment.start", BaseVersion: 1,
		Apply: func(x *experiment.Experiment, env *store.ExperimentEnv) error {
			l, _ := experiment.LayerOf(x, env.Layers, env.State)
			return x.Start(l, env.Experiments, env.Now, env.Actor)
		}}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if started.Version != 2 || started.UpdatedBy != "bob" || started.Experiment.Status != experiment.Running {
		t.Errorf("started = version %d by %s, %s; want 2 by bob, running", started.Version, started.UpdatedBy, started.Experiment.Status)
	}
	got, err := s.Experiment(ctx, e.Key)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(started, got); d != "" {
		t.Errorf("Experiment after start (-returned +read):\n%s", d)
	}
	p := got.Experiment.Current()
	if p == nil || p.Number != 1 || p.StartedBy != "bob" || !p.Started.Equal(t0.Add(time.Hour)) || p.Ended != nil || len(p.Table) == 0 || len(p.Buckets) == 0 {
		t.Errorf("phase 1 = %+v", p)
	}
	audit := mustAudit(t, s, store.AuditFilter{Kind: "experiment", Target: e.Key})
	if len(audit) != 2 || audit[0].Action != "apply.create" || audit[1].Action != "experiment.start" || audit[1].Actor != "bob" {
		t.Fatalf("audit = %+v", audit)
	}
	var before, after experiment.Experiment
	if err := json.Unmarshal(audit[1].Before, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(audit[1].After, &after); err != nil {
		t.Fatal(err)
	}
	if before.Status != experiment.Draft || after.Status != experiment.Running || len(after.Phases) != 1 {
		t.Errorf("audit of the start: before %s, after %s with %d phases", before.Status, after.Status, len(after.Phases))
	}

	// A new phase keeps the first, ended.
	set(t0.Add(2 * time.Hour))
	_, err = s.MoveExperiment(ctx, store.ExperimentMove{Key: e.Key, Action: "experiment.new-phase",
		Apply: func(x *experiment.Experiment, env *store.ExperimentEnv) error {
			l, _ := experiment.LayerOf(x, env.Layers, env.State)
			_, err := x.NewPhase(l, env.Experiments, []experiment.Arm{{Variant: "off", Weight: 3000}, {Variant: "on", Weight: 7000}}, x.Traffic, env.Now, env.Actor)
			return err
		}}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.Experiment(ctx, e.Key)
	if err != nil {
		t.Fatal(err)
	}
	if ph := got.Experiment.Phases; len(ph) != 2 || ph[0].Ended == nil || !ph[0].Ended.Equal(t0.Add(2*time.Hour)) || ph[1].Number != 2 || ph[1].Arms[1].Weight != 7000 {
		t.Errorf("phases after a new phase = %+v", ph)
	}
}

func TestExperimentRefusals(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	clock(s)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("interop")}}, false, "alice")
	e := dmExperiment("interop")
	if err := applyExperiments(t, s, store.ExperimentChanges{
		Layers:      []store.LayerChange{{Action: flags.Create, Key: crossApp.Key, Layer: crossApp}},
		Experiments: []store.ExperimentChange{{Action: flags.Create, Key: e.Key, Steps: []store.ExperimentStep{{Action: "apply.create", After: e}}}},
	}); err != nil {
		t.Fatal(err)
	}
	v := mustVersion(t, s)
	noop := func(*experiment.Experiment, *store.ExperimentEnv) error { return nil }
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"create an existing experiment", func() error {
			return applyExperiments(t, s, store.ExperimentChanges{Experiments: []store.ExperimentChange{{Action: flags.Create, Key: e.Key,
				Steps: []store.ExperimentStep{{Action: "apply.create", After: e}}}}})
		}, ramp.ErrConflict},
		{"update from a stale version", func() error {
			return applyExperiments(t, s, store.ExperimentChanges{Experiments: []store.ExperimentChange{{Action: flags.Update, Key: e.Key, BaseVersion: 7,
				Steps: []store.ExperimentStep{{Action: "apply.update", After: e}}}}})
		}, ramp.ErrConflict},
		{"update a layer from a stale version", func() error {
			return applyExperiments(t, s, store.ExperimentChanges{Layers: []store.LayerChange{{Action: flags.Update, Key: crossApp.Key, BaseVersion: 3, Layer: crossApp}}})
		}, ramp.ErrConflict},
		{"move from a stale version", func() error {
			_, err := s.MoveExperiment(ctx, store.ExperimentMove{Key: e.Key, Action: "experiment.pause", BaseVersion: 9, Apply: noop}, "alice")
			return err
		}, ramp.ErrConflict},
		{"move an unknown experiment", func() error {
			_, err := s.MoveExperiment(ctx, store.ExperimentMove{Key: "nope", Action: "experiment.pause", Apply: noop}, "alice")
			return err
		}, ramp.ErrNotFound},
		{"a refused move", func() error {
			_, err := s.MoveExperiment(ctx, store.ExperimentMove{Key: e.Key, Action: "experiment.pause",
				Apply: func(x *experiment.Experiment, _ *store.ExperimentEnv) error { return x.Pause() }}, "alice")
			return err
		}, ramp.ErrRefused},
		{"nothing to change", func() error {
			_, err := s.MoveExperiment(ctx, store.ExperimentMove{Key: e.Key, Action: "experiment.pause",
				Apply: func(*experiment.Experiment, *store.ExperimentEnv) error { return store.ErrNoChange }}, "alice")
			return err
		}, store.ErrNoChange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !errors.Is(err, tt.want) && ramp.KindOf(err) != ramp.KindOf(tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if got := mustVersion(t, s); got != v {
				t.Errorf("config version %d after a refusal, want %d (nothing written)", got, v)
			}
		})
	}
	if _, err := s.Experiment(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Experiment(nope) = %v, want not found", err)
	}

	// Deleting removes the experiment and its phases.
	if err := applyExperiments(t, s, store.ExperimentChanges{Experiments: []store.ExperimentChange{{Action: flags.Delete, Key: e.Key, BaseVersion: 1}},
		Layers: []store.LayerChange{{Action: flags.Delete, Key: crossApp.Key, BaseVersion: 1}}}); err != nil {
		t.Fatal(err)
	}
	ls, es, err := s.ExperimentsAndLayers(ctx)
	if err != nil || len(ls) != 0 || len(es) != 0 {
		t.Errorf("after deletion: %d layers, %d experiments, %v", len(ls), len(es), err)
	}
}

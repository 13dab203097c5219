package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// TestExperimentRampUpStored stores an experiment's ramp-up, where it
// stands and how its arm is shipped, and reads them back as written.
func TestExperimentRampUpStored(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	set := clock(s)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("interop")}}, false, "alice")
	e := dmExperiment("interop")
	e.Traffic = 5000
	e.RampUp = []experiment.Step{{Traffic: 500}, {Traffic: 2000, After: rollout.Duration(24 * time.Hour)}, {Traffic: 5000, After: rollout.Duration(72 * time.Hour)}}
	if err := applyExperiments(t, s, store.ExperimentChanges{
		Layers:      []store.LayerChange{{Action: flags.Create, Key: crossApp.Key, Layer: crossApp}},
		Experiments: []store.ExperimentChange{{Action: flags.Create, Key: e.Key, Steps: []store.ExperimentStep{{Action: "apply.create", After: e}}}},
	}); err != nil {
		t.Fatal(err)
	}
	set(t0.Add(time.Hour))
	moved, err := s.MoveExperiment(ctx, store.ExperimentMove{Key: e.Key, Action: "experiment.start",
		Apply: func(x *experiment.Experiment, env *store.ExperimentEnv) error {
			l, _ := experiment.LayerOf(x, env.Layers, env.State)
			if err := x.Start(l, env.Experiments, env.Now, env.Actor); err != nil {
				return err
			}
			return x.PauseAt(env.Now.Add(time.Minute))
		}}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Experiment(ctx, e.Key)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(moved, got); d != "" {
		t.Errorf("Experiment after the move (-returned +read):\n%s", d)
	}
	x := got.Experiment
	if d := diff(e.RampUp, x.RampUp); d != "" {
		t.Errorf("ramp-up (-want +got):\n%s", d)
	}
	if !x.RampedAt.Equal(t0.Add(time.Hour)) || x.PausedAt == nil || !x.PausedAt.Equal(t0.Add(time.Hour+time.Minute)) || x.Current().Traffic != 500 || x.Traffic != 5000 {
		t.Errorf("after the start: ramped at %v, paused at %v, phase traffic %v, traffic %v", x.RampedAt, x.PausedAt, x.Current().Traffic, x.Traffic)
	}
	// The audit log writes the schedule for people: "24h", not nanoseconds.
	audit := mustAudit(t, s, store.AuditFilter{Kind: "experiment", Target: e.Key})
	var after map[string]any
	if err := json.Unmarshal(audit[len(audit)-1].After, &after); err != nil {
		t.Fatal(err)
	}
	if steps, _ := after["rampUp"].([]any); len(steps) != 3 || steps[1].(map[string]any)["after"] != "24h" {
		t.Errorf("audited rampUp = %v", after["rampUp"])
	}
}

// TestExperimentHandoff stops an experiment and creates its flag's plan in
// one transaction; a flag that has a plan is refused and nothing is
// written.
func TestExperimentHandoff(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	clock(s)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("interop"), boolFlag("other")}}, false, "alice")
	plan := func(flag string) *rollout.Rollout {
		return &rollout.Rollout{Plan: rollout.Plan{Flag: flag, Variant: "on", Stages: []rollout.Stage{{Name: "from-experiment", Percent: 2000}, {Name: "all", Percent: flags.Hundred}}},
			Progress: rollout.Progress{Stage: "from-experiment", Since: t0, By: "alice"}}
	}
	var exps []store.ExperimentChange
	for _, key := range []string{"a", "b"} {
		e := dmExperiment("interop")
		e.Key, e.Layer, e.Status = key, "", experiment.Stopped
		if key == "b" {
			e.Flag = "other"
		}
		exps = append(exps, store.ExperimentChange{Action: flags.Create, Key: key, Steps: []store.ExperimentStep{{Action: "apply.create", After: e}}})
	}
	if err := applyExperiments(t, s, store.ExperimentChanges{Experiments: exps}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyFunc(ctx, "alice", false, func(*store.ApplyTx) (*store.Changes, error) {
		return &store.Changes{Rollouts: []rollout.Change{{Flag: "other", Action: flags.Create, Plan: plan("other").Plan}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	ship := func(x *experiment.Experiment, _ *store.ExperimentEnv) error {
		x.Shipped, x.ShipVia = "on", experiment.ShipViaRollout
		return nil
	}
	tests := []struct {
		key      string
		wantKind ramp.Kind
	}{
		{"a", 0},
		{"b", ramp.KindRefused},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			v := mustVersion(t, s)
			var seen *rollout.Rollout
			_, err := s.MoveExperiment(ctx, store.ExperimentMove{Key: tt.key, Action: "experiment.stop", Apply: ship,
				Handoff: func(x *experiment.Experiment, env *store.ExperimentEnv) (*rollout.Rollout, error) {
					seen = env.Rollout
					return plan(x.Flag), nil
				}}, "alice")
			if tt.wantKind != 0 {
				if ramp.KindOf(err) != tt.wantKind || seen == nil {
					t.Fatalf("err = %v (kind %v), plan seen %v; want kind %v", err, ramp.KindOf(err), seen, tt.wantKind)
				}
				if got := mustVersion(t, s); got != v {
					t.Errorf("config version %d after a refusal, want %d", got, v)
				}
				if x, _ := s.Experiment(ctx, tt.key); x.Experiment.Shipped != "" {
					t.Errorf("refused handoff shipped %q", x.Experiment.Shipped)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Rollout(ctx, "interop")
			if err != nil || r.Progress.Stage != "from-experiment" || r.Version != 1 || len(r.Stages) != 2 {
				t.Errorf("plan after the handoff = %+v, %v", r, err)
			}
			audit := mustAudit(t, s, store.AuditFilter{Kind: "rollout", Target: "interop"})
			if len(audit) != 1 || audit[0].Action != "rollout.handoff" || audit[0].Before != nil {
				t.Errorf("rollout audit = %+v", audit)
			}
		})
	}
}

package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
)

// units is how many units the evaluation checks look at.
const units = 4000

// testers lists the units the checks evaluate, all in the US.
func testers() string {
	var b strings.Builder
	for i := range units {
		fmt.Fprintf(&b, "      - {id: u%d, region: US}\n", i)
	}
	return b.String()
}

// expFile declares the flag, a layer and the experiment dm with the given
// experiment fields (YAML lines at the experiment's indentation).
func expFile(fields ...string) []byte {
	return []byte(`
cohorts:
  - key: testers
    members:
` + testers() + `
flags:
  - key: dm
    type: string
    variants: {"off": "off", handoff: handoff, inline: inline}
    defaultVariant: "off"
layers:
  - key: msg
    holdout: 5
experiments:
  - key: dm
    flag: dm
    layer: msg
    audience: {regions: [US], cohorts: [testers]}
    control: "off"
` + "    " + strings.Join(fields, "\n    ") + "\n")
}

var (
	base     = []string{"traffic: 20", `arms: {"off": 34, handoff: 33, inline: 33}`}
	draftDoc = expFile(base...)
)

// arms evaluates the flag for every tester through a compiled snapshot
// and returns the arm each gets from the experiment ("" when the
// experiment did not decide) and the variant each is served.
func arms(t *testing.T, a *admin.Service) (arm, served map[string]string) {
	t.Helper()
	snap, err := a.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	arm, served = map[string]string{}, map[string]string{}
	for i := range units {
		id := fmt.Sprintf("u%d", i)
		d := snap.Evaluate("dm", map[string]any{"targetingKey": id, "region": "US"})
		if d.IsError() {
			t.Fatalf("%s: %s %s", id, d.ErrorCode, d.ErrorDetails)
		}
		served[id] = d.Variant
		if d.Origin != nil && d.Origin.Kind == flags.OriginExperiment && d.Origin.Phase > 0 {
			arm[id] = d.Variant
		}
	}
	return arm, served
}

func applyDoc(t *testing.T, a *admin.Service, data []byte, prune bool) (*admin.ApplyResult, error) {
	t.Helper()
	return a.Apply(alice, admin.ApplyRequest{Doc: parse(t, "exp.yaml", data), Prune: prune})
}

func mustApply(t *testing.T, a *admin.Service, data []byte) *admin.ApplyResult {
	t.Helper()
	res, err := applyDoc(t, a, data, false)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// startedLifecycle applies the draft and starts it.
func startedLifecycle(t *testing.T) (*admin.Service, *store.Store) {
	t.Helper()
	a, s := open(t)
	mustApply(t, a, draftDoc)
	if _, err := a.StartExperiment(alice, "dm"); err != nil {
		t.Fatal(err)
	}
	return a, s
}

func TestExperimentDraftServesNothing(t *testing.T) {
	a, _ := open(t)
	res := mustApply(t, a, draftDoc)
	if len(res.Experiments) != 2 || res.Experiments[1].Start {
		t.Errorf("apply experiments = %+v; want a layer and a draft created", res.Experiments)
	}
	if arm, _ := arms(t, a); len(arm) != 0 {
		t.Errorf("a draft gave %d units an arm", len(arm))
	}
	info, err := a.Experiment(alice, "dm")
	if err != nil || info.Status != experiment.Draft || info.Phase != 0 {
		t.Errorf("Experiment = %+v, %v; want a draft without phase", info, err)
	}
	// Applying the same file again changes nothing.
	if again := mustApply(t, a, draftDoc); again.Changed() {
		t.Errorf("second apply changed %+v", again.Experiments)
	}
}

func TestExperimentStartAndServe(t *testing.T) {
	a, _ := startedLifecycle(t)
	arm, _ := arms(t, a)
	share := float64(len(arm)) / units
	if share < 0.15 || share > 0.25 {
		t.Errorf("%.1f%% of units in a 20%% experiment", 100*share)
	}
	d, err := a.Evaluate(alice, "dm", map[string]any{"targetingKey": "u1", "region": "FR"})
	if err != nil || d.Origin != nil {
		t.Errorf("a unit outside the audience: %+v, %v", d, err)
	}
	info, err := a.Experiment(alice, "dm")
	if err != nil || info.Status != experiment.Running || len(info.Phases) != 1 || info.Phases[0].StartedBy != "alice" {
		t.Errorf("Experiment = %+v, %v", info, err)
	}
}

func TestExperimentStartFromFile(t *testing.T) {
	a, s := open(t)
	res := mustApply(t, a, expFile(append(base, "status: running")...))
	if c := res.Experiments[1]; !c.Start || c.Phase != 1 {
		t.Errorf("apply = %+v; want the experiment started", c)
	}
	if arm, _ := arms(t, a); len(arm) == 0 {
		t.Error("an experiment started by apply serves nothing")
	}
	entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "experiment", Target: "dm"})
	if err != nil || len(entries) != 2 || entries[0].Action != "apply.create" || entries[1].Action != "experiment.start" {
		t.Fatalf("audit = %+v, %v", entries, err)
	}
	var before, after experiment.Experiment
	_ = json.Unmarshal(entries[1].Before, &before)
	_ = json.Unmarshal(entries[1].After, &after)
	if before.Status != experiment.Draft || after.Status != experiment.Running {
		t.Errorf("audit of the start: %s → %s", before.Status, after.Status)
	}
}

func TestApplyRefusesLockedChanges(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		prune  bool
		doc    []byte
		want   string
	}{
		{"weights", []string{"traffic: 20", `arms: {"off": 50, handoff: 25, inline: 25}`}, false, nil, "phase: next"},
		{"lower traffic", []string{"traffic: 10", `arms: {"off": 34, handoff: 33, inline: 33}`}, false, nil, "traffic (lowered)"},
		{"raise traffic and change weights", []string{"traffic: 30", `arms: {"off": 50, handoff: 25, inline: 25}`}, false, nil, "arms"},
		{"salt", append(base, "salt: other"), false, nil, "stop it and declare a new experiment"},
		{"prune a running experiment", nil, true, []byte("flags: []\n"), "stop it first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s := startedLifecycle(t)
			v, err := s.Version(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			doc := tt.doc
			if doc == nil {
				doc = expFile(tt.fields...)
			}
			_, err = applyDoc(t, a, doc, tt.prune)
			if !errors.Is(err, ramp.ErrRefused) || ramp.KindOf(err) != ramp.KindRefused {
				t.Fatalf("apply = %v (kind %v); want refused", err, ramp.KindOf(err))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("message %q does not say %q", err, tt.want)
			}
			if got, _ := s.Version(context.Background()); got != v {
				t.Errorf("config version %d after a refusal, want %d", got, v)
			}
		})
	}
}

func TestLockedErrorLocatesTheField(t *testing.T) {
	a, _ := startedLifecycle(t)
	_, err := applyDoc(t, a, expFile("traffic: 20", `arms: {"off": 50, handoff: 25, inline: 25}`), false)
	var locked *admin.LockedError
	if !errors.As(err, &locked) || !strings.HasPrefix(locked.Where, "exp.yaml:") || locked.Phase != 1 {
		t.Fatalf("err = %#v; want a *LockedError at exp.yaml:LINE in phase 1", err)
	}
}

func TestTrafficRaiseKeepsAssignments(t *testing.T) {
	a, _ := startedLifecycle(t)
	before, _ := arms(t, a)
	res := mustApply(t, a, expFile("traffic: 40", `arms: {"off": 34, handoff: 33, inline: 33}`))
	c := res.Experiments[0]
	if c.Phase != 0 || c.TrafficTo == nil || *c.TrafficTo != admin.Percent(4000) {
		t.Errorf("apply = %+v; want traffic raised to 40%% in the phase", c)
	}
	after, _ := arms(t, a)
	for id, was := range before {
		if after[id] != was {
			t.Fatalf("unit %s: arm %q before the raise, %q after", id, was, after[id])
		}
	}
	if len(after) <= len(before) {
		t.Errorf("%d units in the experiment after the raise, %d before", len(after), len(before))
	}
	// Raised through the admin API too.
	r, err := a.SetExperimentTraffic(alice, admin.TrafficRequest{Key: "dm", Traffic: 5000})
	if err != nil || r.TrafficFrom != 4000 || r.TrafficTo != 5000 || r.Phase != 1 {
		t.Errorf("SetExperimentTraffic = %+v, %v", r, err)
	}
	_, err = a.SetExperimentTraffic(alice, admin.TrafficRequest{Key: "dm", Traffic: 1000})
	var locked *admin.LockedError
	if !errors.As(err, &locked) || ramp.KindOf(err) != ramp.KindRefused {
		t.Errorf("lowering = %v; want a *LockedError", err)
	}
}

func TestNewPhaseMovesTheTotalVariation(t *testing.T) {
	for _, via := range []string{"file", "admin"} {
		t.Run(via, func(t *testing.T) {
			a, s := startedLifecycle(t)
			before, _ := arms(t, a)
			newArms := []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}}
			var moved admin.Percent
			var known *admin.KnownUnits
			switch via {
			case "file":
				res := mustApply(t, a, expFile("traffic: 20", `arms: {"off": 50, handoff: 25, inline: 25}`, "phase: next"))
				c := res.Experiments[0]
				if c.Phase != 2 || c.Moved == nil {
					t.Fatalf("apply = %+v; want phase 2", c)
				}
				moved, known = *c.Moved, c.Known
			case "admin":
				// Without --new-phase: locked.
				_, err := a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm", Arms: newArms})
				if !errors.Is(err, ramp.ErrRefused) {
					t.Fatalf("weights without a new phase = %v; want refused", err)
				}
				dry, err := a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm", Arms: newArms, NewPhase: true, DryRun: true})
				if err != nil || dry.Moved == nil || dry.Known == nil {
					t.Fatalf("dry run = %+v, %v", dry, err)
				}
				// Unconfirmed: refused with the counts, nothing written.
				_, err = a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm", Arms: newArms, NewPhase: true})
				var confirm *admin.ExperimentConfirmError
				if !errors.As(err, &confirm) || confirm.Result.Known == nil || confirm.Result.Version == 0 {
					t.Fatalf("unconfirmed = %v; want an *ExperimentConfirmError with counts", err)
				}
				res, err := a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm", Arms: newArms, NewPhase: true,
					Confirmed: true, BaseVersion: confirm.Result.Version})
				if err != nil || !res.NewPhase || res.Phase != 2 {
					t.Fatalf("SetExperimentWeights = %+v, %v", res, err)
				}
				if *res.Known != *dry.Known {
					t.Errorf("known units: written %+v, dry run %+v", res.Known, dry.Known)
				}
				moved, known = *res.Moved, res.Known
			}
			if moved != 1600 {
				t.Errorf("moved %s%%, want 16%% (the total variation of 34/33/33 → 50/25/25)", moved)
			}
			after, _ := arms(t, a)
			changed := 0
			for id, was := range before {
				if after[id] != was {
					changed++
				}
			}
			if known == nil || known.Source != admin.KnownSourceCohorts || known.InExperiment != len(before) || known.Move != changed {
				t.Errorf("known units %+v; the evaluation saw %d of %d units change arm", known, changed, len(before))
			}
			if share := float64(changed) / float64(len(before)); share < 0.12 || share > 0.20 {
				t.Errorf("%.1f%% of the experiment's units changed arm, want about 16%%", 100*share)
			}
			info, err := a.Experiment(alice, "dm")
			if err != nil || len(info.Phases) != 2 || info.Phases[0].Ended == nil || info.Phase != 2 {
				t.Errorf("Experiment = %+v, %v", info, err)
			}
			entries, _ := s.Audit(context.Background(), store.AuditFilter{Kind: "experiment", Target: "dm"})
			if last := entries[len(entries)-1]; last.Action != "experiment.new-phase" && last.Action != "experiment.set-weights" || last.Before == nil || last.After == nil {
				t.Errorf("last audit entry = %+v", last)
			}
		})
	}
}

func TestExperimentLifecycle(t *testing.T) {
	a, s := startedLifecycle(t)
	running, _ := arms(t, a)
	steps := []struct {
		name string
		do   func() (admin.ExperimentResult, error)
		want error // nil, or the kind of refusal
		// check looks at what the units are served afterwards.
		check func(t *testing.T, arm, served map[string]string)
	}{
		{"start again", func() (admin.ExperimentResult, error) { return a.StartExperiment(alice, "dm") }, ramp.ErrRefused, nil},
		{"resume a running one", func() (admin.ExperimentResult, error) { return a.ResumeExperiment(alice, "dm") }, ramp.ErrRefused, nil},
		{"pause", func() (admin.ExperimentResult, error) { return a.PauseExperiment(alice, "dm") }, nil,
			func(t *testing.T, arm, _ map[string]string) {
				if len(arm) != 0 {
					t.Errorf("a paused experiment gave %d units an arm", len(arm))
				}
			}},
		{"pause again", func() (admin.ExperimentResult, error) { return a.PauseExperiment(alice, "dm") }, ramp.ErrRefused, nil},
		{"resume", func() (admin.ExperimentResult, error) { return a.ResumeExperiment(alice, "dm") }, nil,
			func(t *testing.T, arm, _ map[string]string) {
				if len(arm) != len(running) {
					t.Errorf("%d units in the resumed experiment, %d before the pause", len(arm), len(running))
				}
				for id, was := range running {
					if arm[id] != was {
						t.Fatalf("unit %s: arm %q before the pause, %q after", id, was, arm[id])
					}
				}
			}},
		{"stop unconfirmed", func() (admin.ExperimentResult, error) {
			return a.StopExperiment(alice, admin.StopRequest{Key: "dm", Ship: "inline"})
		}, ramp.ErrRefused, nil},
		{"ship an unknown arm", func() (admin.ExperimentResult, error) {
			return a.StopExperiment(alice, admin.StopRequest{Key: "dm", Ship: "nope", Confirmed: true})
		}, ramp.ErrInvalid, nil},
		{"stop and ship", func() (admin.ExperimentResult, error) {
			return a.StopExperiment(alice, admin.StopRequest{Key: "dm", Ship: "inline", Confirmed: true})
		}, nil, func(t *testing.T, arm, served map[string]string) {
			if len(arm) != 0 {
				t.Errorf("a stopped experiment gave %d units an arm of a phase", len(arm))
			}
			for id, v := range served {
				if v != "inline" {
					t.Fatalf("unit %s in the audience is served %q after shipping inline", id, v)
				}
			}
		}},
		{"stop again", func() (admin.ExperimentResult, error) {
			return a.StopExperiment(alice, admin.StopRequest{Key: "dm", Confirmed: true})
		}, ramp.ErrRefused, nil},
		{"new weights for a stopped one", func() (admin.ExperimentResult, error) {
			return a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm", NewPhase: true, Confirmed: true,
				Arms: []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "inline", Weight: 5000}}})
		}, ramp.ErrRefused, nil},
		{"unknown experiment", func() (admin.ExperimentResult, error) { return a.PauseExperiment(alice, "nope") }, ramp.ErrNotFound, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			v, _ := s.Version(context.Background())
			res, err := st.do()
			switch {
			case st.want == nil && err != nil:
				t.Fatalf("%v", err)
			case st.want != nil && ramp.KindOf(err) != ramp.KindOf(st.want):
				t.Fatalf("err = %v (kind %v), want kind %v", err, ramp.KindOf(err), st.want)
			case st.want != nil:
				if got, _ := s.Version(context.Background()); got != v {
					t.Errorf("config version %d after a refusal, want %d", got, v)
				}
				return
			}
			if res.Experiment == nil || res.Experiment.Status != res.To {
				t.Errorf("result = %+v", res)
			}
			arm, served := arms(t, a)
			st.check(t, arm, served)
		})
	}
	entries, err := s.Audit(context.Background(), store.AuditFilter{Kind: "experiment", Target: "dm"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		if e.Before == nil || e.After == nil {
			if e.Action != "apply.create" {
				t.Errorf("%s without before and after", e.Action)
			}
		}
	}
	want := "apply.create experiment.start experiment.pause experiment.resume experiment.stop"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit actions %q, want %q", got, want)
	}
	// A stopped experiment is no longer locked by apply, and its shipped
	// arm stays.
	mustApply(t, a, expFile("traffic: 20", `arms: {"off": 50, handoff: 25, inline: 25}`))
	if _, served := arms(t, a); served["u1"] != "inline" {
		t.Errorf("after editing the stopped experiment, u1 is served %q, want inline", served["u1"])
	}
}

func TestExperimentsRead(t *testing.T) {
	a, _ := startedLifecycle(t)
	list, err := a.Experiments(alice)
	if err != nil || len(list) != 1 {
		t.Fatalf("Experiments = %+v, %v", list, err)
	}
	got := list[0]
	if got.Key != "dm" || got.Layer.Key != "msg" || got.Layer.Holdout != 500 || got.Traffic != 2000 || got.Phase != 1 || got.Phases != nil {
		t.Errorf("Experiments()[0] = %+v", got)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"traffic":20,`) || !strings.Contains(string(b), `{"variant":"off","weight":34}`) {
		t.Errorf("JSON does not write percentages in percent units: %s", b)
	}
	if _, err := a.Experiment(alice, "nope"); !errors.Is(err, ramp.ErrNotFound) {
		t.Errorf("Experiment(nope) = %v, want not found", err)
	}
}

// TestConcurrentStops: of two confirmed stops computed from one version,
// one wins and the other is a conflict.
func TestConcurrentStops(t *testing.T) {
	a, _ := startedLifecycle(t)
	info, err := a.Experiment(alice, "dm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.PauseExperiment(admin.WithActor(context.Background(), "bob"), "dm"); err != nil {
		t.Fatal(err)
	}
	_, err = a.StopExperiment(alice, admin.StopRequest{Key: "dm", Confirmed: true, BaseVersion: info.Version})
	if !errors.Is(err, ramp.ErrConflict) || !strings.Contains(err.Error(), "bob") {
		t.Errorf("stop from a stale version = %v; want a conflict naming bob", err)
	}
}

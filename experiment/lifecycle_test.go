package experiment_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
)

func TestStartTakesLowestFreeBuckets(t *testing.T) {
	// dm takes 20% after the 5% holdout, inbox the next 30%; once dm
	// stops, a third experiment of 25% takes dm's freed 20% and then the
	// 5% after inbox: a set that is not contiguous.
	exps := []experiment.Experiment{dmExperiment(2000), inboxExperiment(3000)}
	start(t, crossApp, exps)
	if diff := cmp.Diff([]flags.BucketRange{{From: 500, To: 2500}}, exps[0].Current().Buckets); diff != "" {
		t.Errorf("dm buckets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]flags.BucketRange{{From: 2500, To: 5500}}, exps[1].Current().Buckets); diff != "" {
		t.Errorf("inbox buckets (-want +got):\n%s", diff)
	}
	if err := exps[0].Stop("", t0); err != nil {
		t.Fatal(err)
	}
	third := dmExperiment(2500)
	third.Key = "dm-again"
	if err := third.Start(crossApp, exps, t0, "ana"); err != nil {
		t.Fatal(err)
	}
	want := []flags.BucketRange{{From: 500, To: 2500}, {From: 5500, To: 6000}}
	if diff := cmp.Diff(want, third.Current().Buckets); diff != "" {
		t.Errorf("buckets after a stop (-want +got):\n%s", diff)
	}
	if got, want := experiment.Free(crossApp, append(exps, third)), 10000-500-3000-2500; got != want {
		t.Errorf("Free = %d, want %d", got, want)
	}
	p := third.Current()
	if p.Number != 1 || p.StartedBy != "ana" || !p.Started.Equal(t0) || p.Ended != nil || third.Status != experiment.Running {
		t.Errorf("phase 1 = %+v, status %s", p, third.Status)
	}
}

func TestSetTrafficAddsBuckets(t *testing.T) {
	exps := []experiment.Experiment{dmExperiment(1000), inboxExperiment(1000)}
	start(t, crossApp, exps)
	if err := exps[0].SetTraffic(crossApp, exps, 2000); err != nil {
		t.Fatal(err)
	}
	want := []flags.BucketRange{{From: 500, To: 1500}, {From: 2500, To: 3500}}
	if diff := cmp.Diff(want, exps[0].Current().Buckets); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	if exps[0].Traffic != 2000 || exps[0].Current().Traffic != 2000 || len(exps[0].Phases) != 1 {
		t.Errorf("traffic %s, phase traffic %s, %d phases; want 20, 20, 1", exps[0].Traffic, exps[0].Current().Traffic, len(exps[0].Phases))
	}
}

// TestRefusals lists every change the lifecycle refuses, with the error it
// wraps and what the message must say.
func TestRefusals(t *testing.T) {
	running := func() []experiment.Experiment {
		exps := []experiment.Experiment{dmExperiment(2000), inboxExperiment(7000)}
		start(t, crossApp, exps)
		return exps
	}
	tests := []struct {
		name    string
		do      func(exps []experiment.Experiment) error
		want    error
		kind    ramp.Kind
		message string
	}{
		{"start a running experiment", func(exps []experiment.Experiment) error {
			return exps[0].Start(crossApp, exps, t0, "bo")
		}, experiment.ErrLocked, ramp.KindRefused, "it is running; only a draft starts"},
		{"start beyond the free buckets", func(exps []experiment.Experiment) error {
			e := dmExperiment(1000)
			e.Key = "third"
			return e.Start(crossApp, exps, t0, "bo")
		}, experiment.ErrLayerFull, ramp.KindRefused, "layer cross-app-messaging has 5% free, and 10% more is needed"},
		{"start with weights that do not sum to 100", func(exps []experiment.Experiment) error {
			e := ttlExperiment()
			e.Arms[0].Weight = 4000
			return e.Start(experiment.Layer{Key: "experiment-link-code-ttl"}, nil, t0, "bo")
		}, experiment.ErrInvalid, ramp.KindInvalid, "arm weights sum to 90%, not 100"},
		{"start with one arm", func(exps []experiment.Experiment) error {
			e := ttlExperiment()
			e.Arms = arms("short", 10000)
			return e.Start(experiment.Layer{Key: "experiment-link-code-ttl"}, nil, t0, "bo")
		}, experiment.ErrInvalid, ramp.KindInvalid, "1 arm(s) of positive weight; an experiment compares at least 2"},
		{"start with no traffic", func(exps []experiment.Experiment) error {
			e := ttlExperiment()
			e.Traffic = 0
			return e.Start(experiment.Layer{Key: "experiment-link-code-ttl"}, nil, t0, "bo")
		}, experiment.ErrInvalid, ramp.KindInvalid, "traffic 0% is outside 0–100"},
		{"lower the traffic in a phase", func(exps []experiment.Experiment) error {
			return exps[0].SetTraffic(crossApp, exps, 1000)
		}, experiment.ErrLocked, ramp.KindRefused, "lowering it from 20% to 10% would take units out of phase 1; lower it in a new phase"},
		{"raise the traffic beyond the free buckets", func(exps []experiment.Experiment) error {
			return exps[0].SetTraffic(crossApp, exps, 3000)
		}, experiment.ErrLayerFull, ramp.KindRefused, "has 5% free, and 10% more is needed"},
		{"set the traffic of a draft", func(exps []experiment.Experiment) error {
			e := ttlExperiment()
			return e.SetTraffic(experiment.Layer{Key: "experiment-link-code-ttl"}, nil, 5000)
		}, experiment.ErrLocked, ramp.KindRefused, "it is a draft"},
		{"set the traffic of a stopped experiment", func(exps []experiment.Experiment) error {
			if err := exps[0].Stop("", t0); err != nil {
				return err
			}
			return exps[0].SetTraffic(crossApp, exps, 2500)
		}, experiment.ErrLocked, ramp.KindRefused, "it is stopped"},
		{"pause a paused experiment", func(exps []experiment.Experiment) error {
			if err := exps[0].Pause(); err != nil {
				return err
			}
			return exps[0].Pause()
		}, experiment.ErrLocked, ramp.KindRefused, "cannot pause it: it is paused; only a running experiment pauses"},
		{"pause a draft", func(exps []experiment.Experiment) error {
			e := ttlExperiment()
			return e.Pause()
		}, experiment.ErrLocked, ramp.KindRefused, "cannot pause it: it is a draft"},
		{"resume a running experiment", func(exps []experiment.Experiment) error {
			return exps[0].Resume()
		}, experiment.ErrLocked, ramp.KindRefused, "cannot resume it: it is running; only a paused experiment resumes"},
		{"stop a draft", func(exps []experiment.Experiment) error {
			e := ttlExperiment()
			return e.Stop("short", t0)
		}, experiment.ErrLocked, ramp.KindRefused, "cannot stop it: it is a draft"},
		{"stop twice", func(exps []experiment.Experiment) error {
			if err := exps[0].Stop("inline", t0); err != nil {
				return err
			}
			return exps[0].Stop("inline", t0)
		}, experiment.ErrLocked, ramp.KindRefused, "cannot stop it: it is stopped"},
		{"ship an arm that is not one", func(exps []experiment.Experiment) error {
			return exps[0].Stop("on", t0)
		}, experiment.ErrInvalid, ramp.KindInvalid, `cannot ship "on": not an arm of phase 1 (arms off 34%, handoff 33%, inline 33%)`},
		{"a new phase of a draft", func(exps []experiment.Experiment) error {
			e := ttlExperiment()
			_, err := e.NewPhase(experiment.Layer{Key: "experiment-link-code-ttl"}, nil, e.Arms, 5000, t0, "bo")
			return err
		}, experiment.ErrLocked, ramp.KindRefused, "cannot start a new phase of it: it is a draft"},
		{"a new phase with an arm twice", func(exps []experiment.Experiment) error {
			_, err := exps[0].NewPhase(crossApp, exps, arms("off", 5000, "off", 5000), 2000, t0, "bo")
			return err
		}, experiment.ErrInvalid, ramp.KindInvalid, `arm "off" appears twice`},
		{"a new phase beyond the free buckets", func(exps []experiment.Experiment) error {
			_, err := exps[0].NewPhase(crossApp, exps, exps[0].Arms, 2600, t0, "bo")
			return err
		}, experiment.ErrLayerFull, ramp.KindRefused, "has 5% free, and 6% more is needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exps := running()
			before := exps[0].Status
			err := tt.do(exps)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if k := ramp.KindOf(err); k != tt.kind {
				t.Errorf("kind %s, want %s", k, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %q, want it to say %q", err, tt.message)
			}
			if exps[0].Status == experiment.Running && before == experiment.Running && len(exps[0].Phases) != 1 {
				t.Errorf("a refused change left %d phases", len(exps[0].Phases))
			}
		})
	}
}

func TestPauseResumeStop(t *testing.T) {
	exps := []experiment.Experiment{dmExperiment(2000)}
	start(t, crossApp, exps)
	e := &exps[0]
	steps := []struct {
		name string
		do   func() error
		want experiment.Status
	}{
		{"pause", e.Pause, experiment.Paused},
		{"resume", e.Resume, experiment.Running},
		{"pause again", e.Pause, experiment.Paused},
		{"stop while paused, shipping inline", func() error { return e.Stop("inline", t0.Add(48*3600e9)) }, experiment.Stopped},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if e.Status != s.want {
			t.Fatalf("after %s: status %s, want %s", s.name, e.Status, s.want)
		}
	}
	if e.Shipped != "inline" || e.Current().Ended == nil || !e.Current().Ended.Equal(t0.Add(48*3600e9)) {
		t.Errorf("shipped %q, phase ended %v", e.Shipped, e.Current().Ended)
	}
	if got := experiment.Free(crossApp, exps); got != 9500 {
		t.Errorf("a stopped experiment still holds buckets: %d free, want 9500", got)
	}
}

func TestNewPhase(t *testing.T) {
	exps := []experiment.Experiment{dmExperiment(2000), inboxExperiment(1000)}
	start(t, crossApp, exps)
	orig := exps[0]
	e := exps[0]
	t1 := t0.Add(7 * 24 * 3600e9)
	moved, err := e.NewPhase(crossApp, exps, arms("off", 5000, "handoff", 2500, "inline", 2500), 3000, t1, "bo")
	if err != nil {
		t.Fatal(err)
	}
	if moved != 1600 {
		t.Errorf("moved %s%%, want 16%%", moved)
	}
	if len(e.Phases) != 2 || e.Phases[0].Ended == nil || !e.Phases[0].Ended.Equal(t1) {
		t.Fatalf("phases %+v", e.Phases)
	}
	p := e.Current()
	// 20% kept (500–2499), 10% more after inbox's 2500–3499.
	wantBuckets := []flags.BucketRange{{From: 500, To: 2500}, {From: 3500, To: 4500}}
	if diff := cmp.Diff(wantBuckets, p.Buckets); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	if p.Number != 2 || p.Traffic != 3000 || p.StartedBy != "bo" || e.Traffic != 3000 || e.Arms[0].Weight != 5000 {
		t.Errorf("phase 2 = %+v; experiment traffic %s, arms %v", p, e.Traffic, e.Arms)
	}
	if orig.Phases[0].Ended != nil || len(orig.Phases) != 1 {
		t.Errorf("NewPhase changed the phases of a copy taken before it: %+v", orig.Phases)
	}
	// A lower traffic in a new phase keeps the lowest buckets of the set.
	if _, err := e.NewPhase(crossApp, exps, e.Arms, 2500, t1, "bo"); err != nil {
		t.Fatal(err)
	}
	wantBuckets = []flags.BucketRange{{From: 500, To: 2500}, {From: 3500, To: 4000}}
	if diff := cmp.Diff(wantBuckets, e.Current().Buckets); diff != "" {
		t.Errorf("buckets after lowering (-want +got):\n%s", diff)
	}
}

func TestLayerOf(t *testing.T) {
	st := scenario()
	tests := []struct {
		name   string
		e      experiment.Experiment
		want   experiment.Layer
		wantOK bool
	}{
		{"a declared layer", dmExperiment(2000), crossApp, true},
		{"a layer of its own, bucketed as its flag", ttlExperiment(), experiment.Layer{Key: "experiment-link-code-ttl"}, true},
		{"a layer of its own takes the flag's bucketBy", experiment.Experiment{Key: "x", Flag: "ig-dm-via-whatsapp"},
			experiment.Layer{Key: "experiment-x", BucketBy: "accountCenterId"}, true},
		{"an unknown layer", experiment.Experiment{Key: "x", Flag: "ig-dm-via-whatsapp", Layer: "nope"}, experiment.Layer{}, false},
		{"an unknown flag without a layer", experiment.Experiment{Key: "x", Flag: "nope"}, experiment.Layer{Key: "experiment-x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := experiment.LayerOf(&tt.e, []experiment.Layer{crossApp}, &st)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("layer (-want +got):\n%s", diff)
			}
		})
	}
}

package experiment_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

func TestRules(t *testing.T) {
	running := dmExperiment(2000)
	if err := running.Start(crossApp, nil, t0, "ana"); err != nil {
		t.Fatal(err)
	}
	paused := running
	paused.Status = experiment.Paused
	shipped := running
	shipped.Status, shipped.Shipped = experiment.Stopped, "inline"
	stopped := running
	stopped.Status = experiment.Stopped
	audience := func(r flags.Rule) flags.Rule {
		r.Name = "experiment:dm-handoff-vs-inline"
		r.Regions, r.Cohorts, r.When = running.Audience.Regions, running.Audience.Cohorts, running.Audience.When
		return r
	}
	tests := []struct {
		name string
		e    experiment.Experiment
		want []flags.Rule
	}{
		{"a draft serves nothing", dmExperiment(2000), nil},
		{"a running experiment: its sample of the layer, its arm table", running, []flags.Rule{audience(flags.Rule{
			Sample:     &flags.Sample{BucketBy: "accountCenterId", Salt: "layer-cross-app-messaging", Buckets: []flags.BucketRange{{From: 500, To: 2500}}},
			Allocation: &flags.Allocation{BucketBy: "accountCenterId", Salt: "experiment-dm-handoff-vs-inline", Ranges: experiment.Table(running.Arms)},
			Origin:     &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 1, Unit: "accountCenterId"},
		})}},
		{"a paused experiment serves nothing", paused, nil},
		{"a stopped experiment serves its shipped arm to its audience, as phase 0", shipped, []flags.Rule{audience(flags.Rule{
			Serve:  "inline",
			Origin: &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Part: "inline", Unit: "accountCenterId"},
		})}},
		{"a stopped experiment without a shipped arm serves nothing", stopped, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, experiment.Rules(crossApp, &tt.e)); diff != "" {
				t.Errorf("Rules (-want +got):\n%s", diff)
			}
		})
	}
}

// TestComposeOrder: the flag's own rules first, then the experiment, then
// the rollout's live stage; st and the experiments are not modified.
func TestComposeOrder(t *testing.T) {
	st := scenario()
	st.Flags[0].Rules = []flags.Rule{{Name: "qa", Cohorts: []string{"employees"}, Serve: "inline"}}
	exps := []experiment.Experiment{dmExperiment(2000)}
	start(t, crossApp, exps)
	shippedOld := ttlExperiment()
	shippedOld.Key, shippedOld.Flag = "old-dm", "ig-dm-via-whatsapp"
	shippedOld.Arms = arms("off", 5000, "handoff", 5000)
	if err := shippedOld.Start(experiment.Layer{Key: "experiment-old-dm"}, nil, t0, "ana"); err != nil {
		t.Fatal(err)
	}
	if err := shippedOld.Stop("handoff", t0); err != nil {
		t.Fatal(err)
	}
	exps = append([]experiment.Experiment{shippedOld}, exps...)
	cfg := ramp.Config{
		State: st, Layers: []experiment.Layer{crossApp}, Experiments: exps,
		Rollouts: []rollout.Rollout{{
			Plan:     rollout.Plan{Flag: "ig-dm-via-whatsapp", Variant: "handoff", Stages: []rollout.Stage{{Name: "us-5", Regions: []string{"US"}, Percent: 500}}},
			Progress: rollout.Progress{Stage: "us-5"},
		}},
	}
	before := scenario()
	before.Flags[0].Rules = []flags.Rule{{Name: "qa", Cohorts: []string{"employees"}, Serve: "inline"}}
	composed := ramp.Compose(&cfg)
	f, _ := composed.Flag("ig-dm-via-whatsapp")
	var got []string
	for _, r := range f.Rules {
		got = append(got, r.Name)
	}
	want := []string{"qa", "experiment:dm-handoff-vs-inline", "experiment:old-dm", "rollout:us-5 region US"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, cfg.State); diff != "" {
		t.Errorf("Compose changed the stored state (-before +after):\n%s", diff)
	}
	if _, err := flags.Compile(composed, 1); err != nil {
		t.Errorf("composed state does not compile: %v", err)
	}
}

// TestApplyPausedAndUnknown: a paused experiment adds nothing, and an
// experiment whose layer or flag is unknown adds nothing (Validate says
// why); the state comes back as it was.
func TestApplyAddsNothing(t *testing.T) {
	exps := []experiment.Experiment{dmExperiment(2000)}
	start(t, crossApp, exps)
	paused := exps[0]
	paused.Status = experiment.Paused
	lost := exps[0]
	lost.Layer = "unknown"
	for _, e := range []experiment.Experiment{paused, lost} {
		st := scenario()
		got := experiment.Apply(st, []experiment.Layer{crossApp}, []experiment.Experiment{e})
		if diff := cmp.Diff(scenario(), got); diff != "" {
			t.Errorf("%s %s: Apply added (-want +got):\n%s", e.Status, e.Layer, diff)
		}
	}
}

package ramp_test

import (
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/rollout"
)

// Compose turns the configuration as stored into the rules evaluation runs
// on: the flag's own rules, then its plan's live stage, whose rules carry
// their origin into each decision.
func ExampleCompose() {
	cfg := ramp.Config{
		State: flags.State{
			Cohorts: []cohorts.Cohort{{Key: "employees", Members: []cohorts.Member{{ID: "emp-1"}}}},
			Flags: []flags.Flag{{
				Key: "common-mailbox", Type: flags.Boolean, Enabled: true, DefaultVariant: "off", Bucketing: bucket.V1,
				Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
			}},
		},
		Rollouts: []rollout.Rollout{{
			Plan: rollout.Plan{Flag: "common-mailbox", Variant: "on", Stages: []rollout.Stage{
				{Name: "dogfood", Cohorts: []string{"employees"}, Percent: flags.Hundred},
				{Name: "us-1", Regions: []string{"US"}, Percent: 100},
			}},
			Progress: rollout.Progress{Stage: "dogfood"},
		}},
		Revision: ramp.Revision{Epoch: "3e408e983f0047e0", Version: 7},
	}
	snap, err := flags.Compile(ramp.Compose(&cfg), cfg.Revision.Version)
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"emp-1", "u-42"} {
		d := snap.Evaluate("common-mailbox", map[string]any{"targetingKey": id, "region": "US"})
		origin := "the flag itself"
		if d.Origin != nil {
			origin = d.Origin.Kind + " " + d.Origin.Key + ", stage " + d.Origin.Part
		}
		fmt.Printf("%s: %s (%s, from %s)\n", id, d.Variant, d.Reason, origin)
	}
	// Output:
	// emp-1: on (TARGETING_MATCH, from rollout common-mailbox, stage dogfood)
	// u-42: off (DEFAULT, from the flag itself)
}

// Compose adds a running experiment's rule after the flag's own rules and
// before its rollout's live stage; a decision made by the experiment names
// it, its phase, and (as its variant) the arm.
func ExampleCompose_experiment() {
	layer := experiment.Layer{Key: "cross-app-messaging", BucketBy: "accountCenterId", Holdout: 500}
	dm := experiment.Experiment{
		Key: "dm-handoff-vs-inline", Flag: "ig-dm-via-whatsapp", Layer: layer.Key, Traffic: 9500,
		Audience: experiment.Audience{Regions: []string{"US", "CA"}},
		Arms:     []experiment.Arm{{Variant: "off", Weight: 3400}, {Variant: "handoff", Weight: 3300}, {Variant: "inline", Weight: 3300}},
		Control:  "off",
	}
	if err := dm.Start(layer, nil, time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), "ana"); err != nil {
		panic(err)
	}
	cfg := ramp.Config{
		State: flags.State{Flags: []flags.Flag{{
			Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, DefaultVariant: "off", Bucketing: bucket.V1,
			BucketBy: "accountCenterId",
			Variants: []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
		}}},
		Layers:      []experiment.Layer{layer},
		Experiments: []experiment.Experiment{dm},
	}
	snap, err := flags.Compile(ramp.Compose(&cfg), 1)
	if err != nil {
		panic(err)
	}
	for _, center := range []string{"ac-1", "ac-2", "ac-5"} {
		d := snap.Evaluate("ig-dm-via-whatsapp", map[string]any{"targetingKey": "ig-" + center, "accountCenterId": center, "region": "US"})
		if o := d.Origin; o != nil {
			fmt.Printf("%s: %s (experiment %s, phase %d)\n", center, d.Variant, o.Key, o.Phase)
		} else {
			fmt.Printf("%s: %s (%s: in the layer's holdout)\n", center, d.Variant, d.Reason)
		}
	}
	// Output:
	// ac-1: inline (experiment dm-handoff-vs-inline, phase 1)
	// ac-2: handoff (experiment dm-handoff-vs-inline, phase 1)
	// ac-5: off (DEFAULT: in the layer's holdout)
}

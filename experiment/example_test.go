package experiment_test

import (
	"fmt"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// Start gives an experiment the lowest free buckets of its layer (after
// the holdout and the other experiments) and its first arm table.
func ExampleExperiment_Start() {
	layer := experiment.Layer{Key: "cross-app-messaging", BucketBy: "accountCenterId", Holdout: 500}
	exps := []experiment.Experiment{
		{Key: "inbox-tools", Flag: "ig-business-inbox-tools", Layer: layer.Key, Traffic: 1000,
			Arms: []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "on", Weight: 5000}}, Control: "off"},
		{Key: "dm-handoff-vs-inline", Flag: "ig-dm-via-whatsapp", Layer: layer.Key, Traffic: 2000,
			Arms:    []experiment.Arm{{Variant: "off", Weight: 3400}, {Variant: "handoff", Weight: 3300}, {Variant: "inline", Weight: 3300}},
			Control: "off"},
	}
	now := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	for i := range exps {
		if err := exps[i].Start(layer, exps, now, "ana"); err != nil {
			panic(err)
		}
		p := exps[i].Current()
		fmt.Printf("%s phase %d: layer buckets %v, arms %v\n", exps[i].Key, p.Number, p.Buckets, p.Table)
	}
	fmt.Println("free:", experiment.Free(layer, exps))
	// Output:
	// inbox-tools phase 1: layer buckets [{500 1500}], arms [{0 5000 off} {5000 10000 on}]
	// dm-handoff-vs-inline phase 1: layer buckets [{1500 3500}], arms [{0 3400 off} {3400 6700 handoff} {6700 10000 inline}]
	// free: 6500
}

// NewPhase changes the weights of a running experiment and moves only the
// total-variation share of its units: 34/33/33 → 50/25/25 moves 16%, the
// surplus of handoff and inline going to off.
func ExampleExperiment_NewPhase() {
	layer := experiment.Layer{Key: "experiment-dm-handoff-vs-inline", BucketBy: "accountCenterId"}
	e := experiment.Experiment{Key: "dm-handoff-vs-inline", Flag: "ig-dm-via-whatsapp", Traffic: flags.Hundred,
		Arms:    []experiment.Arm{{Variant: "off", Weight: 3400}, {Variant: "handoff", Weight: 3300}, {Variant: "inline", Weight: 3300}},
		Control: "off"}
	start := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	if err := e.Start(layer, nil, start, "ana"); err != nil {
		panic(err)
	}
	moved, err := e.NewPhase(layer, nil,
		[]experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}},
		flags.Hundred, start.AddDate(0, 0, 7), "bo")
	if err != nil {
		panic(err)
	}
	fmt.Printf("phase %d moves %s%% of the units\n", e.Current().Number, moved)
	for _, r := range e.Current().Table {
		fmt.Printf("  %4d–%4d %s\n", r.From, r.To-1, r.Variant)
	}
	// Output:
	// phase 2 moves 16% of the units
	//      0–3399 off
	//   3400–5899 handoff
	//   5900–6699 off
	//   6700–9199 inline
	//   9200–9999 off
}

// Apply adds a running experiment's rule after the flag's own rules: it
// matches the audience and the experiment's share of the layer, and its
// allocation serves the arm; the decision's variant is the arm.
func ExampleApply() {
	st := flags.State{Flags: []flags.Flag{{
		Key: "wa-link-code-ttl-seconds", Type: flags.Integer, Enabled: true, DefaultVariant: "long", Bucketing: bucket.V1,
		Variants: []flags.Variant{{Key: "short", Value: int64(300)}, {Key: "long", Value: int64(600)}},
	}}}
	exps := []experiment.Experiment{{
		Key: "link-code-ttl", Flag: "wa-link-code-ttl-seconds", Traffic: flags.Hundred,
		Audience: experiment.Audience{Regions: []string{"BR", "IN"}},
		Arms:     []experiment.Arm{{Variant: "short", Weight: 5000}, {Variant: "long", Weight: 5000}}, Control: "long",
	}}
	l, _ := experiment.LayerOf(&exps[0], nil, &st)
	if err := exps[0].Start(l, nil, time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), "ana"); err != nil {
		panic(err)
	}
	snap, err := flags.Compile(experiment.Apply(st, nil, exps), 1)
	if err != nil {
		panic(err)
	}
	for _, ctx := range []map[string]any{
		{"targetingKey": "wa-5511", "region": "BR"},
		{"targetingKey": "wa-9100", "region": "IN"},
		{"targetingKey": "wa-3300", "region": "FR"},
	} {
		d := snap.Evaluate("wa-link-code-ttl-seconds", ctx)
		if o := d.Origin; o != nil {
			fmt.Printf("%s: %v, arm %s of %s phase %d\n", ctx["targetingKey"], d.Value, d.Variant, o.Key, o.Phase)
		} else {
			fmt.Printf("%s: %v (%s)\n", ctx["targetingKey"], d.Value, d.Reason)
		}
	}
	// Output:
	// wa-5511: 600, arm long of link-code-ttl phase 1
	// wa-9100: 300, arm short of link-code-ttl phase 1
	// wa-3300: 600 (DEFAULT)
}

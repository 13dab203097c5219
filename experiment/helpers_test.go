package experiment_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// t0 is when the scenario's experiments start.
var t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// scenario is the demo world of the cross-app messaging features
// (SCENARIO.md): the flags its experiments run on, with their own rules.
func scenario() flags.State {
	return flags.State{
		Cohorts: []cohorts.Cohort{
			{Key: "employees", Members: []cohorts.Member{{ID: "emp-1"}}},
			{Key: "linked-accounts", When: []cohorts.Condition{{Attribute: "accountCenterId", Op: cohorts.OpExists}}},
		},
		Flags: []flags.Flag{
			{
				Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
				DefaultVariant: "off", BucketBy: "accountCenterId",
			},
			{
				Key: "wa-link-code-ttl-seconds", Type: flags.Integer, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "short", Value: int64(300)}, {Key: "long", Value: int64(600)}},
				DefaultVariant: "long",
			},
			{
				Key: "ig-business-inbox-tools", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
				DefaultVariant: "off", BucketBy: "accountCenterId",
			},
			{
				Key: "common-mailbox", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
				DefaultVariant: "off",
				Rules:          []flags.Rule{{Name: "dogfood", Cohorts: []string{"employees"}, Serve: "on"}},
			},
		},
	}
}

// crossApp is the scenario's layer: bucketed by accountCenterId, 5% held
// out.
var crossApp = experiment.Layer{Key: "cross-app-messaging", BucketBy: "accountCenterId", Holdout: 500}

// dmExperiment is the scenario's experiment on ig-dm-via-whatsapp, as a
// draft with the given traffic (in basis points).
func dmExperiment(traffic flags.Percent) experiment.Experiment {
	return experiment.Experiment{
		Key: "dm-handoff-vs-inline", Flag: "ig-dm-via-whatsapp", Layer: crossApp.Key,
		Audience: experiment.Audience{Regions: []string{"US", "CA"}, Cohorts: []string{"linked-accounts"},
			When: []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}}},
		Traffic: traffic,
		Arms:    []experiment.Arm{{Variant: "off", Weight: 3400}, {Variant: "handoff", Weight: 3300}, {Variant: "inline", Weight: 3300}},
		Control: "off",
	}
}

// inboxExperiment is a second experiment of the layer, on another flag.
func inboxExperiment(traffic flags.Percent) experiment.Experiment {
	return experiment.Experiment{
		Key: "inbox-tools", Flag: "ig-business-inbox-tools", Layer: crossApp.Key,
		Traffic: traffic,
		Arms:    []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "on", Weight: 5000}},
		Control: "off",
	}
}

// ttlExperiment is the scenario's experiment without a layer.
func ttlExperiment() experiment.Experiment {
	return experiment.Experiment{
		Key: "link-code-ttl", Flag: "wa-link-code-ttl-seconds",
		Audience: experiment.Audience{Regions: []string{"BR", "IN"}},
		Traffic:  flags.Hundred,
		Arms:     []experiment.Arm{{Variant: "short", Weight: 5000}, {Variant: "long", Weight: 5000}},
		Control:  "long",
	}
}

// start starts exps in order, each with the ones before it as others.
func start(t *testing.T, l experiment.Layer, exps []experiment.Experiment) {
	t.Helper()
	for i := range exps {
		if err := exps[i].Start(l, exps, t0, "ana"); err != nil {
			t.Fatalf("start %s: %v", exps[i].Key, err)
		}
	}
}

// compile composes and compiles a configuration through ramp.Compose, as
// `ramp serve` does.
func compile(t *testing.T, cfg ramp.Config) *flags.Snapshot {
	t.Helper()
	snap, err := flags.Compile(ramp.Compose(&cfg), 1)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return snap
}

// unit is a generated person: an account-center id and the context of
// one of their app accounts.
type unit struct {
	center string
	ctx    map[string]any
}

// units generates n linked US users on app version 300+, seeded.
func units(seed uint64, n int) []unit {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	us := make([]unit, n)
	for i := range us {
		center := fmt.Sprintf("ac-%016x", rng.Uint64())
		us[i] = unit{center: center, ctx: map[string]any{
			"targetingKey": fmt.Sprintf("ig-%016x", rng.Uint64()), "accountCenterId": center,
			"region": "US", "app": "instagram", "appVersion": fmt.Sprintf("%d.%d.0", 300+rng.IntN(20), rng.IntN(10)),
		}}
	}
	return us
}

// fromExperiment returns the experiment that decided d and its arm, or
// "", "" when none did (or it is not running).
func fromExperiment(t *testing.T, d flags.Decision) (key, arm string) {
	t.Helper()
	if d.IsError() {
		t.Fatalf("decision %s: %s %s", d.Key, d.ErrorCode, d.ErrorDetails)
	}
	if o := d.Origin; o != nil && o.Kind == flags.OriginExperiment && o.Phase > 0 {
		return o.Key, d.Variant
	}
	return "", ""
}

// share is 100·n/total, in percentage points.
func share(n, total int) float64 { return 100 * float64(n) / float64(total) }

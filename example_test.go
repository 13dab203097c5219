package ramp_test

import (
	"fmt"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
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

package rollout_test

import (
	"fmt"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// The audience of the scenario's plan once na-25 is live: every target named
// so far, with the latest percentage each was given.
func ExamplePlan_Audience() {
	p := interop()
	for _, g := range p.Audience(p.StageIndex("na-25")) {
		fmt.Printf("%-17s %4s%%  since %s\n", g.Target, g.Percent, g.Since)
	}
	// Output:
	// cohort employees   100%  since dogfood
	// region US          100%  since us-1
	// region CA           25%  since na-25
	// region MX           25%  since na-25
}

// Apply adds the live stage's rules after the flag's own; the engine then
// evaluates them like any rules.
func ExampleApply() {
	r := rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Stage: "us-10"}}
	snap, err := flags.Compile(rollout.Apply(world(), []rollout.Rollout{r}), 1)
	if err != nil {
		panic(err)
	}
	for _, user := range []map[string]any{
		{"targetingKey": "emp-1", "region": "FR"},
		{"targetingKey": "u3", "region": "US"},
		{"targetingKey": "u3", "region": "FR"},
	} {
		d := snap.Evaluate("messenger-ig-interop", user)
		fmt.Printf("%s in %s: %s (%s)\n", user["targetingKey"], user["region"], d.Variant, d.RuleName)
	}
	// Output:
	// emp-1 in FR: on (rollout:dogfood cohort employees)
	// u3 in US: off (rollout:us-10 region US)
	// u3 in FR: off ()
}

// Moves are pure: they return the new progress, which a store then saves.
func ExampleRollout_Advance() {
	p := interop()
	p.Stages[2].Approval = true
	r := rollout.Rollout{Plan: p, Progress: rollout.Progress{Stage: "us-1"}}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

	progress, outcome, _ := r.Advance(2, "alice", now)
	fmt.Println(outcome, progress.Pending.Stage, "asked by", progress.Pending.By)

	r.Progress = progress
	if _, err := r.Approve("us-10", "alice", now); err != nil {
		fmt.Println(err)
	}
	progress, _ = r.Approve("us-10", "bob", now)
	fmt.Println("live:", progress.Stage, "approved by", progress.ApprovedBy)
	// Output:
	// requested us-10 asked by alice
	// alice asked for stage us-10 and cannot approve it too: approval must come from someone else
	// live: us-10 approved by bob
}

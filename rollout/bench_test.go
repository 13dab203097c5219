package rollout_test

import (
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// BenchmarkDecisionAtWorld5 is a decision for the scenario's plan at its
// last stage (five rules: employees, US, CA, MX, *), for a user in France,
// who is tried against every rule before the 5% of everywhere: the plan's
// worst case.
func BenchmarkDecisionAtWorld5(b *testing.B) {
	r := rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Stage: "world-5"}}
	snap, err := flags.Compile(rollout.Apply(world(), []rollout.Rollout{r}), 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := map[string]any{"targetingKey": "user-42", "region": "FR", "accountCenterId": "ac-42"}
	b.ReportAllocs()
	for b.Loop() {
		d := snap.Evaluate("messenger-ig-interop", ctx)
		if d.ErrorCode != "" {
			b.Fatal(d.ErrorDetails)
		}
	}
}

// BenchmarkApply is the cost of adding the live stage's rules to a
// configuration, paid once per reload by servers.
func BenchmarkApply(b *testing.B) {
	r := []rollout.Rollout{{Plan: interop(), Progress: rollout.Progress{Stage: "world-5"}}}
	st := world()
	b.ReportAllocs()
	for b.Loop() {
		rollout.Apply(st, r)
	}
}

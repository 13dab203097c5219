package admin_test

import (
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
)

// TestSnapshotForDecidesAsSnapshot: a snapshot read for one context (its
// targeting key's listings only, at no cost per listed member) decides that
// context as the whole snapshot does, for every flag of the scenario, with
// its plan live, for listed users, users of other lists and strangers, with
// and without a region; --explain's rollout part agrees too.
func TestSnapshotForDecidesAsSnapshot(t *testing.T) {
	a, s := open(t)
	apply(t, a, "scenario.yaml", readTestdata(t, "scenario.yaml"), false)
	var beta []string
	for i := range 300 {
		beta = append(beta, fmt.Sprintf("beta-%d", i))
	}
	importIDs(t, s, "whatsapp-beta-testers", store.ImportReplace, beta...)
	if _, err := a.Advance(alice, admin.AdvanceRequest{Flag: "messenger-ig-interop", To: "us-10"}); err != nil {
		t.Fatal(err)
	}
	full, err := a.Snapshot(alice)
	if err != nil {
		t.Fatal(err)
	}
	var contexts []map[string]any
	for _, id := range []string{"emp-1", "emp-2", "beta-7", "beta-299", "stranger", "u1"} {
		for _, region := range []string{"", "US", "FR", "BR"} {
			c := map[string]any{flags.TargetingKey: id, "accountCenterId": "ac-" + id}
			if region != "" {
				c[flags.RegionAttribute] = region
			}
			contexts = append(contexts, c)
		}
	}
	contexts = append(contexts, map[string]any{"region": "US"}) // no targeting key
	for _, c := range contexts {
		one, err := a.SnapshotFor(alice, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range full.Keys() {
			want, got := full.Evaluate(key, c), one.Evaluate(key, c)
			if got.Variant != want.Variant || got.Reason != want.Reason || got.ErrorCode != want.ErrorCode || got.Rule != want.Rule {
				t.Errorf("%s for %v: SnapshotFor decides %s (%s, rule %d), Snapshot %s (%s, rule %d)",
					key, c, got.Variant, got.Reason, got.Rule, want.Variant, want.Reason, want.Rule)
			}
		}
	}
	d := full.Evaluate("messenger-ig-interop", contexts[0])
	ex, err := a.ExplainRollout(alice, "messenger-ig-interop", contexts[0], &d)
	if err != nil {
		t.Fatal(err)
	}
	if ex == nil || ex.AdmittedBy != "dogfood" || ex.Since != "dogfood" {
		t.Errorf("ExplainRollout for emp-1 = %+v, want admitted by dogfood since dogfood", ex)
	}
}

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// experimentSnapshot compiles a flag as the control plane composes a
// running experiment into it (built here directly, as the engine sees it):
// the experiment's rule, with its audience, its share of the layer and its
// phase-2 arm table, then a plain sampled rule, then the flag's own rule.
func experimentSnapshot(t *testing.T) *flags.Snapshot {
	t.Helper()
	st := flags.State{Flags: []flags.Flag{{
		Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
		Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
		DefaultVariant: "off",
		Rules: []flags.Rule{
			{
				Name:    "experiment:dm-handoff-vs-inline",
				Regions: []string{"US", "CA"},
				When:    []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}},
				Sample: &flags.Sample{BucketBy: "accountCenterId", Salt: "layer-cross-app-messaging",
					Buckets: []flags.BucketRange{{From: 0, To: 2000}}},
				Allocation: &flags.Allocation{BucketBy: "accountCenterId", Salt: "experiment-dm-handoff-vs-inline",
					Ranges: []flags.VariantRange{{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 5900, Variant: "handoff"},
						{From: 5900, To: 6700, Variant: "off"}, {From: 6700, To: 9200, Variant: "inline"}, {From: 9200, To: 10000, Variant: "off"}}},
				Origin: &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 2, Unit: "accountCenterId"},
			},
			{Name: "canary", Regions: []string{"CA"}, Sample: &flags.Sample{Salt: "canary", Buckets: []flags.BucketRange{{From: 0, To: 5000}}}, Serve: "handoff"},
			{Name: "us-inline", Regions: []string{"US"}, Serve: "inline"},
		},
	}}}
	snap, err := flags.Compile(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// unitWhere returns the first "ac-N" whose bucket under salt satisfies ok.
func unitWhere(t *testing.T, salt string, ok func(b uint32) bool) string {
	t.Helper()
	for i := range 100000 {
		if u := fmt.Sprintf("ac-%d", i); ok(bucket.Bucket(bucket.V1, salt, u)) {
			return u
		}
	}
	t.Fatalf("no unit under %s", salt)
	return ""
}

// placed is how the explanation prints one bucketing of unit under salt.
func placed(attr, unit, salt string) string {
	pos := bucket.Position(bucket.V1, salt, unit)
	b := bucket.BucketOf(pos)
	return fmt.Sprintf("%s=%q salt=%q v1 → position %d, bucket %d of 10000 (%.2f%%)", attr, unit, salt, pos, b, float64(b)/100)
}

func TestExplainExperimentRendering(t *testing.T) {
	const (
		layer = "layer-cross-app-messaging"
		arms  = "experiment-dm-handoff-vs-inline"
	)
	snap := experimentSnapshot(t)
	// inside: in the layer's buckets, with an arm bucket in inline's range.
	inside := ""
	for i := 0; inside == ""; i++ {
		u := fmt.Sprintf("ac-%d", i)
		if a := bucket.Bucket(bucket.V1, arms, u); bucket.Bucket(bucket.V1, layer, u) < 2000 && a >= 6700 && a < 9200 {
			inside = u
		}
	}
	outside := unitWhere(t, layer, func(b uint32) bool { return b >= 2000 })
	// The canary's sample buckets by targetingKey; u-1 is outside it.
	if b := bucket.Bucket(bucket.V1, "canary", "u-1"); b < 5000 {
		t.Fatalf("u-1 is in the canary (bucket %d): choose another targetingKey", b)
	}
	layerOf := func(u string) uint32 { return bucket.Bucket(bucket.V1, layer, u) }
	ctx := func(region, unit string) map[string]any {
		return map[string]any{"targetingKey": "u-1", "region": region, "appVersion": "301.0.0", "accountCenterId": unit}
	}
	tests := []struct {
		name        string
		ctx         map[string]any
		want        []string
		wantDecided string
	}{
		{
			name: "in the experiment",
			ctx:  ctx("US", inside),
			want: []string{
				`ig-dm-via-whatsapp → inline = "inline" (SPLIT)`,
				`  ✓ rule 0 (experiment:dm-handoff-vs-inline): region "US" is targeted; conditions hold; bucket in the rule's sample; split serves inline`,
				fmt.Sprintf(`    in experiment dm-handoff-vs-inline, phase 2, arm inline; layer bucket %d of 10000`, layerOf(inside)),
				`      layer:  ` + placed("accountCenterId", inside, layer),
				`      arm:    ` + placed("accountCenterId", inside, arms),
			},
			wantDecided: "0 (experiment dm-handoff-vs-inline, phase 2, arm inline)",
		},
		{
			name: "outside the experiment's buckets, a later rule decides",
			ctx:  ctx("US", outside),
			want: []string{
				`ig-dm-via-whatsapp → inline = "inline" (TARGETING_MATCH)`,
				`  ✗ rule 0 (experiment:dm-handoff-vs-inline): region "US" is targeted; conditions hold; bucket not in the rule's sample`,
				fmt.Sprintf(`    layer bucket %d of 10000: not in experiment dm-handoff-vs-inline's buckets`, layerOf(outside)),
				`      layer:  ` + placed("accountCenterId", outside, layer),
				`  ✗ rule 1 (canary): region "US" is not targeted`,
				`  ✓ rule 2 (us-inline): region "US" is targeted; serves inline`,
			},
			wantDecided: "2 (us-inline)",
		},
		{
			name: "outside the experiment and a plain sample: the default",
			ctx:  ctx("CA", outside),
			want: []string{
				`ig-dm-via-whatsapp → off = "off" (DEFAULT)`,
				`  ✗ rule 0 (experiment:dm-handoff-vs-inline): region "CA" is targeted; conditions hold; bucket not in the rule's sample`,
				fmt.Sprintf(`    layer bucket %d of 10000: not in experiment dm-handoff-vs-inline's buckets`, layerOf(outside)),
				`      layer:  ` + placed("accountCenterId", outside, layer),
				`  ✗ rule 1 (canary): region "CA" is targeted; bucket not in the rule's sample`,
				fmt.Sprintf(`    bucket %d of 10000 is not in the rule's sample`, bucket.Bucket(bucket.V1, "canary", "u-1")),
				`      sample: ` + placed("targetingKey", "u-1", "canary"),
				`  ✗ rule 2 (us-inline): region "CA" is not targeted`,
				`  no rule matched: default variant`,
			},
			wantDecided: "-",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := snap.Explain("ig-dm-via-whatsapp", tt.ctx)
			var out bytes.Buffer
			printExplanation(&out, &ex)
			got := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("explanation (-want +got):\n%s", diff)
			}
			if got := decidedBy(&ex.Decision); got != tt.wantDecided {
				t.Errorf("decidedBy = %q, want %q", got, tt.wantDecided)
			}
			// -o json: the layer placement names the experiment too.
			b, err := json.Marshal(ex)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"samples":[{"rule":0,"origin":{"kind":"experiment","key":"dm-handoff-vs-inline","part":"","phase":2,"unit":"accountCenterId"}`) {
				t.Errorf("JSON explanation lacks the experiment's sample: %s", b)
			}
		})
	}
}

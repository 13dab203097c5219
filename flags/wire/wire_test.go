package wire_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/flags/wire"
)

func state() flags.State {
	members := make([]cohorts.Member, 500)
	for i := range members {
		members[i] = cohorts.Member{ID: fmt.Sprintf("emp-%d", i), Region: "US"}
	}
	return flags.State{
		Cohorts: []cohorts.Cohort{
			{Key: "employees", Description: "dogfooders", Members: members},
			{Key: "business", When: []cohorts.Condition{{Attribute: "accountType", Op: cohorts.OpEq, Values: []string{"business"}}}},
		},
		Flags: []flags.Flag{
			{Key: "interop", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, BucketBy: "accountCenterId", Version: 5,
				Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}, DefaultVariant: "off",
				Rules: []flags.Rule{
					{Name: "dogfood", Cohorts: []string{"employees"}, Serve: "on"},
					{Regions: []string{"US"}, Rollout: []flags.Split{{Variant: "on", Weight: 1000}, {Variant: "off", Weight: 9000}}},
				}},
			{Key: "ttl", Type: flags.Integer, Enabled: true, Bucketing: bucket.V1,
				Variants: []flags.Variant{{Key: "short", Value: int64(300)}, {Key: "huge", Value: int64(1<<62 + 1)}}, DefaultVariant: "huge",
				Rules: []flags.Rule{{Cohorts: []string{"business"}, Serve: "short"}}},
			{Key: "layout", Type: flags.Object, Enabled: false, Bucketing: bucket.V1,
				Variants: []flags.Variant{{Key: "a", Value: map[string]any{"cols": 2.0}}}, DefaultVariant: "a"},
			{Key: "weight", Type: flags.Float, Enabled: true, Bucketing: bucket.V1,
				Variants: []flags.Variant{{Key: "x", Value: 0.25}}, DefaultVariant: "x"},
			experimentFlag(),
		},
	}
}

// experimentFlag is a flag as the control plane composes a running
// experiment into it: a rule with a sample of its layer, an arm table under
// the experiment's salt whose arms own several ranges, and an origin.
func experimentFlag() flags.Flag {
	return flags.Flag{Key: "dm", Type: flags.String, Enabled: true, Bucketing: bucket.V1, BucketBy: "accountCenterId",
		Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
		DefaultVariant: "off",
		Rules: []flags.Rule{
			{
				Name:    "experiment:dm-handoff-vs-inline",
				Regions: []string{"US", "FR"},
				Sample: &flags.Sample{BucketBy: "accountCenterId", Salt: "layer-cross-app-messaging",
					Buckets: []flags.BucketRange{{From: 0, To: 1000}, {From: 4000, To: 4500}, {From: 9000, To: 10000}}},
				Allocation: &flags.Allocation{BucketBy: "accountCenterId", Salt: "experiment-dm-handoff-vs-inline",
					Ranges: []flags.VariantRange{
						{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 5900, Variant: "handoff"}, {From: 5900, To: 6700, Variant: "off"},
						{From: 6700, To: 9200, Variant: "inline"}, {From: 9200, To: 10000, Variant: "off"},
					}},
				Origin: &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 2, Unit: "accountCenterId"},
			},
			{Name: "stage", Regions: []string{"FR"}, Sample: &flags.Sample{Salt: "layer-other", Buckets: []flags.BucketRange{{From: 0, To: 5000}}},
				Serve: "handoff", Origin: &flags.Origin{Kind: "rollout", Key: "dm", Part: "fr-50"}},
		}}
}

// TestRulesRoundTrip: a rule's sample, allocation and origin (with its
// phase and unit) come back from the wire exactly as they went, so a
// provider decides experiments, and names them, without knowing of them.
func TestRulesRoundTrip(t *testing.T) {
	st := state()
	b, err := wire.Marshal(&st, 9)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := wire.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := st.Flag("dm")
	back, ok := got.Flag("dm")
	if !ok {
		t.Fatal("flag dm lost")
	}
	if diff := cmp.Diff(want.Rules, back.Rules); diff != "" {
		t.Errorf("rules changed on the wire (-sent +received):\n%s", diff)
	}
	for _, field := range []string{`"sample":`, `"allocation":`, `"origin":`, `"phase":2`, `"unit":"accountCenterId"`, `"buckets":[{"from":0,"to":1000}`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("document lacks %s", field)
		}
	}
	snap, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	experiments := 0
	for i := range 5000 {
		d := snap.Evaluate("dm", map[string]any{"targetingKey": "u", "region": "US", "accountCenterId": fmt.Sprintf("ac-%d", i)})
		if d.Rule != 0 {
			continue
		}
		experiments++
		md := d.Metadata()
		if md["experiment"] != "dm-handoff-vs-inline" || md["phase"] != 2 || md["arm"] != d.Variant || d.Origin.Unit != "accountCenterId" {
			t.Fatalf("decoded experiment decision: %+v, metadata %v", d.Origin, md)
		}
	}
	if experiments == 0 {
		t.Error("no unit of 5,000 entered the experiment")
	}
}

// TestRoundTripDecidesAlike: a snapshot decoded from the wire decides every
// context exactly as the one compiled from the store's state.
func TestRoundTripDecidesAlike(t *testing.T) {
	st := state()
	direct, err := flags.Compile(st, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.Marshal(&st, 42)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "emp-1") {
		t.Fatalf("raw member ids on the wire")
	}
	got, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version() != 42 {
		t.Errorf("version %d", got.Version())
	}
	for i := range 20000 {
		ctx := map[string]any{"targetingKey": fmt.Sprintf("emp-%d", i%1000), "region": []string{"US", "FR"}[i%2],
			"accountType": []string{"business", "personal"}[i%3/2], "accountCenterId": fmt.Sprintf("ac-%d", i)}
		for _, key := range direct.Keys() {
			a, b := direct.Evaluate(key, ctx), got.Evaluate(key, ctx)
			if a.Variant != b.Variant || a.Reason != b.Reason || fmt.Sprint(a.Value) != fmt.Sprint(b.Value) || a.FlagVersion != b.FlagVersion || !cmp.Equal(a.Origin, b.Origin) {
				t.Fatalf("%s %v: direct %s/%s/%v, wire %s/%s/%v", key, ctx, a.Variant, a.Reason, a.Value, b.Variant, b.Reason, b.Value)
			}
		}
	}
	if v, _ := got.Int("ttl", 0, nil); v != 1<<62+1 {
		t.Errorf("large integer came back as %d", v)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	tests := map[string]string{
		"not json":       `{`,
		"other format":   `{"format":"ramp.snapshot/v9","version":1,"cohorts":[],"flags":[]}`,
		"ragged hashes":  `{"format":"ramp.snapshot/v1","version":1,"cohorts":[{"key":"c","members":1,"memberHashes":"AAAA"}],"flags":[]}`,
		"count mismatch": `{"format":"ramp.snapshot/v1","version":1,"cohorts":[{"key":"c","members":2,"memberHashes":"AQAAAAAAAAA="}],"flags":[]}`,
		"bad value":      `{"format":"ramp.snapshot/v1","version":1,"cohorts":[],"flags":[{"key":"f","type":"boolean","variants":[{"key":"on","value":"yes"}],"defaultVariant":"on","enabled":true,"bucketing":1}]}`,
	}
	for name, in := range tests {
		if _, err := wire.Decode([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := wire.Decode([]byte(`{"format":"ramp.snapshot/v1","version":3,"cohorts":[],"flags":[]}`)); err != nil {
		t.Errorf("empty snapshot: %v", err)
	}
}

// FuzzDecode: a provider reads snapshots from the network and from disk;
// nothing it reads may crash it, and whatever decodes must evaluate.
func FuzzDecode(f *testing.F) {
	st := state()
	b, err := wire.Marshal(&st, 7)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"format":"ramp.snapshot/v1","version":1,"cohorts":[],"flags":[]}`))
	f.Add([]byte(`{"format":"ramp.snapshot/v1","version":1,"cohorts":[{"key":"c","members":1,"memberHashes":"AQAAAAAAAAA="}],"flags":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := wire.Decode(data)
		if err != nil {
			return
		}
		for _, key := range snap.Keys() {
			_ = snap.Evaluate(key, map[string]any{"targetingKey": "u", "region": "US"})
		}
	})
}

func ExampleMarshal() {
	st := flags.State{Flags: []flags.Flag{{Key: "f", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
		Variants: []flags.Variant{{Key: "on", Value: true}}, DefaultVariant: "on"}}}
	b, _ := wire.Marshal(&st, 3)
	snap, _ := wire.Decode(b)
	on, d := snap.Bool("f", false, nil)
	fmt.Println(snap.Version(), on, d.Reason)
	// Output: 3 true STATIC
}

// TestEpoch: the epoch round-trips; documents without one (from a ramp
// before epochs) still decode, with an empty epoch; and the field is one a
// reader that does not know it skips.
func TestEpoch(t *testing.T) {
	st := state()
	b, err := wire.MarshalEpoch(&st, 3, "8f329a395520f78d")
	if err != nil {
		t.Fatal(err)
	}
	snap, epoch, err := wire.DecodeEpoch(b)
	if err != nil || epoch != "8f329a395520f78d" || snap.Version() != 3 {
		t.Fatalf("DecodeEpoch: version %v, epoch %q, %v", snap, epoch, err)
	}
	if _, v, err := wire.Unmarshal(b); err != nil || v != 3 {
		t.Errorf("Unmarshal of a document with an epoch: %d %v", v, err)
	}
	old, err := wire.Marshal(&st, 3)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(old), `"epoch"`) {
		t.Errorf("Marshal wrote an epoch: %.200s", old)
	}
	if _, epoch, err := wire.DecodeEpoch(old); err != nil || epoch != "" {
		t.Errorf("DecodeEpoch of a document without an epoch: %q %v", epoch, err)
	}
	// An older reader: the format it knows, and no epoch field.
	var older struct {
		Format  string `json:"format"`
		Version int64  `json:"version"`
	}
	if err := json.Unmarshal(b, &older); err != nil || older.Format != wire.Format || older.Version != 3 {
		t.Errorf("an older reader reads %+v, %v", older, err)
	}
}

package flags_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// The experiment of issue 12 as the control plane hands it to the engine:
// a rule whose sample is the experiment's share of its layer (two ranges,
// 15% of the layer) and whose allocation is its phase-2 arm table: the
// 34/33/33 table of phase 1 moved to 50/25/25 with the fewest moves, so
// that "off" owns three ranges.
const (
	layerSalt = "layer-cross-app-messaging"
	expSalt   = "experiment-dm-handoff-vs-inline"
	unitAttr  = "accountCenterId"
)

var (
	expBuckets = []flags.BucketRange{{From: 0, To: 1000}, {From: 6000, To: 6500}}
	expTable   = []flags.VariantRange{
		{From: 0, To: 3400, Variant: "off"},
		{From: 3400, To: 5900, Variant: "handoff"},
		{From: 5900, To: 6700, Variant: "off"},
		{From: 6700, To: 9200, Variant: "inline"},
		{From: 9200, To: 10000, Variant: "off"},
	}
)

// experimentFlag returns ig-dm-via-whatsapp with the experiment's rule
// first and, after it, a rule for the US that serves "off" to whoever the
// experiment leaves out.
func experimentFlag(buckets []flags.BucketRange, table []flags.VariantRange) flags.Flag {
	return flags.Flag{
		Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
		Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
		DefaultVariant: "off",
		Rules: []flags.Rule{
			{
				Name:       "experiment:dm-handoff-vs-inline",
				Regions:    []string{"US", "CA"},
				When:       []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}},
				Sample:     &flags.Sample{BucketBy: unitAttr, Salt: layerSalt, Buckets: buckets},
				Allocation: &flags.Allocation{BucketBy: unitAttr, Salt: expSalt, Ranges: table},
				Origin:     &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 2, Unit: unitAttr},
			},
			{Name: "us-rest", Regions: []string{"US"}, Serve: "off"},
		},
	}
}

// armOf reads the arm of an arm bucket from a table, as a reader of the
// contract would: independently of the engine.
func armOf(table []flags.VariantRange, b uint32) string {
	for _, r := range table {
		if r.From <= b && b < r.To {
			return r.Variant
		}
	}
	return ""
}

func inSet(rs []flags.BucketRange, b uint32) bool {
	for _, r := range rs {
		if r.From <= b && b < r.To {
			return true
		}
	}
	return false
}

// findUnit returns the first accountCenterId "ac-N" whose layer bucket is
// (or is not) in the experiment's set.
func findUnit(t *testing.T, in bool) string {
	t.Helper()
	for i := range 10000 {
		u := fmt.Sprintf("ac-%d", i)
		if inSet(expBuckets, bucket.Bucket(bucket.V1, layerSalt, u)) == in {
			return u
		}
	}
	t.Fatal("no such unit in 10,000")
	return ""
}

func TestEvaluateExperimentRule(t *testing.T) {
	snap := mustCompile(t, flags.State{Flags: []flags.Flag{experimentFlag(expBuckets, expTable)}})
	in, out := findUnit(t, true), findUnit(t, false)
	arm := armOf(expTable, bucket.Bucket(bucket.V1, expSalt, in))
	// 33 is in the experiment's set (checked below): integer keys are
	// hashed as their decimal text.
	intArm := armOf(expTable, bucket.Bucket(bucket.V1, expSalt, "33"))
	if !inSet(expBuckets, bucket.Bucket(bucket.V1, layerSalt, "33")) {
		t.Fatal("unit 33 is not in the sample: choose another integer unit")
	}
	audience := func(kv ...any) map[string]any {
		ctx := map[string]any{"region": "US", "appVersion": "301.0.0"}
		for i := 0; i < len(kv); i += 2 {
			ctx[kv[i].(string)] = kv[i+1]
		}
		return ctx
	}
	tests := []struct {
		name        string
		ctx         map[string]any
		wantVariant string
		wantReason  flags.Reason
		wantCode    flags.ErrorCode
		wantRule    int
	}{
		{"in the sample: the arm table decides", audience(unitAttr, in), arm, flags.ReasonSplit, "", 0},
		{"in the sample by targetingKey when the unit attribute is absent", audience("targetingKey", in), arm, flags.ReasonSplit, "", 0},
		{"the unit attribute wins over targetingKey", audience(unitAttr, in, "targetingKey", out), arm, flags.ReasonSplit, "", 0},
		{"an empty unit attribute falls back to targetingKey", audience(unitAttr, "", "targetingKey", in), arm, flags.ReasonSplit, "", 0},
		{"outside the sample: falls through to the next rule", audience(unitAttr, out), "off", flags.ReasonTargetingMatch, "", 1},
		{"outside the sample and no later rule: default", map[string]any{"region": "CA", "appVersion": "301.0.0", unitAttr: out}, "off", flags.ReasonDefault, "", -1},
		{"outside the audience: the sample is not consulted", map[string]any{"region": "CA", "appVersion": "299.0.0"}, "off", flags.ReasonDefault, "", -1},
		{"integer unit", audience(unitAttr, 33), intArm, flags.ReasonSplit, "", 0},
		{"integer unit as a JSON number", audience(unitAttr, 33.0), intArm, flags.ReasonSplit, "", 0},
		{"integer unit as json.Number", audience(unitAttr, json.Number("33")), intArm, flags.ReasonSplit, "", 0},
		{"integer unit as text", audience(unitAttr, "33"), intArm, flags.ReasonSplit, "", 0},
		{"fractional unit", audience(unitAttr, 33.5), "", flags.ReasonError, flags.ErrInvalidContext, -1},
		{"unit of a bad kind", audience(unitAttr, []any{"ac-1"}), "", flags.ReasonError, flags.ErrInvalidContext, -1},
		{"no unit at all", audience(), "", flags.ReasonError, flags.ErrTargetingKeyMissing, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := snap.Evaluate("ig-dm-via-whatsapp", tt.ctx)
			if d.Variant != tt.wantVariant || d.Reason != tt.wantReason || d.ErrorCode != tt.wantCode || d.Rule != tt.wantRule {
				t.Fatalf("Evaluate = %q %s %q rule %d (%s), want %q %s %q rule %d",
					d.Variant, d.Reason, d.ErrorCode, d.Rule, d.ErrorDetails, tt.wantVariant, tt.wantReason, tt.wantCode, tt.wantRule)
			}
			if d.IsError() && d.Value != nil {
				t.Errorf("error decision carries value %v", d.Value)
			}
			md := d.Metadata()
			if d.Rule == 0 {
				if d.Origin == nil || md["experiment"] != "dm-handoff-vs-inline" || md["phase"] != 2 || md["arm"] != d.Variant {
					t.Errorf("experiment decision: origin %+v, metadata %v", d.Origin, md)
				}
			} else if _, ok := md["experiment"]; ok {
				t.Errorf("decision outside the experiment names it: %v", md)
			}
			// The arm's placement travels with the decision: the attribute
			// that identified the unit and its hash under the arm salt.
			want := flags.Placement{}
			if d.Rule == 0 {
				attr := unitAttr
				if v, ok := tt.ctx[unitAttr]; !ok || v == "" {
					attr = flags.TargetingKey
				}
				var buf [24]byte
				key, _ := flags.AppendUnitKey(buf[:0], tt.ctx[attr])
				if s, ok := tt.ctx[attr].(string); ok {
					key = []byte(s)
				}
				want = flags.Placement{Attr: attr, Hash: bucket.SumBytes(bucket.V1, expSalt, key)}
			}
			if d.Unit != want {
				t.Errorf("Unit = %+v, want %+v", d.Unit, want)
			}
		})
	}
}

// TestAllocationServesItsTable: every unit in the sample gets the variant
// its arm bucket's range names, although each variant owns several ranges.
func TestAllocationServesItsTable(t *testing.T) {
	snap := mustCompile(t, flags.State{Flags: []flags.Flag{experimentFlag(expBuckets, expTable)}})
	seen := map[string]bool{}
	for i := range 20000 {
		u := fmt.Sprintf("ac-%d", i)
		d := snap.Evaluate("ig-dm-via-whatsapp", map[string]any{"region": "CA", "appVersion": "301.0.0", unitAttr: u})
		if !inSet(expBuckets, bucket.Bucket(bucket.V1, layerSalt, u)) {
			if d.Reason != flags.ReasonDefault {
				t.Fatalf("%s is outside the sample but got %s/%s", u, d.Variant, d.Reason)
			}
			continue
		}
		b := bucket.Bucket(bucket.V1, expSalt, u)
		if want := armOf(expTable, b); d.Variant != want || d.Value != want {
			t.Fatalf("%s (arm bucket %d) got %s, want %s", u, b, d.Variant, want)
		}
		for _, r := range expTable {
			if r.From <= b && b < r.To {
				seen[fmt.Sprint(r.From)] = true
			}
		}
	}
	if len(seen) != len(expTable) {
		t.Errorf("units landed in %d of the table's %d ranges", len(seen), len(expTable))
	}
}

// TestExplainExperimentRule: the explanation records the layer placement
// with the rule's origin, and the arm placement as the bucketing trace.
func TestExplainExperimentRule(t *testing.T) {
	snap := mustCompile(t, flags.State{Flags: []flags.Flag{experimentFlag(expBuckets, expTable)}})
	for _, in := range []bool{true, false} {
		u := findUnit(t, in)
		ex := snap.Explain("ig-dm-via-whatsapp", map[string]any{"region": "US", "appVersion": "301.0.0", unitAttr: u})
		if len(ex.Samples) != 1 {
			t.Fatalf("samples = %+v", ex.Samples)
		}
		s := ex.Samples[0]
		want := bucket.Bucket(bucket.V1, layerSalt, u)
		if s.Rule != 0 || s.In != in || s.Bucket != want || s.Salt != layerSalt || s.Attribute != unitAttr || s.Key != u ||
			s.Origin == nil || s.Origin.Key != "dm-handoff-vs-inline" {
			t.Errorf("unit %s (in=%v): sample trace %+v, want bucket %d", u, in, s, want)
		}
		switch {
		case in && (ex.Bucketing == nil || ex.Bucketing.Salt != expSalt || ex.Bucketing.Bucket != bucket.Bucket(bucket.V1, expSalt, u)):
			t.Errorf("in the sample: arm bucketing %+v", ex.Bucketing)
		case !in && ex.Bucketing != nil:
			t.Errorf("outside the sample: arm bucketing %+v", ex.Bucketing)
		}
		if d := snap.Evaluate("ig-dm-via-whatsapp", map[string]any{"region": "US", "appVersion": "301.0.0", unitAttr: u}); d.Variant != ex.Decision.Variant || d.Rule != ex.Decision.Rule {
			t.Errorf("Explain %s/%d, Evaluate %s/%d", ex.Decision.Variant, ex.Decision.Rule, d.Variant, d.Rule)
		}
	}
}

func TestValidateSampleAndAllocation(t *testing.T) {
	full := []flags.VariantRange{{From: 0, To: 5000, Variant: "handoff"}, {From: 5000, To: 10000, Variant: "inline"}}
	tests := []struct {
		name string
		edit func(r *flags.Rule)
		want []string // path: message fragments; none for a sound rule
	}{
		{"sound", func(r *flags.Rule) {}, nil},
		{"empty sample set matches nobody", func(r *flags.Rule) { r.Sample.Buckets = nil }, nil},
		{"adjacent sample ranges", func(r *flags.Rule) {
			r.Sample.Buckets = []flags.BucketRange{{From: 0, To: 10}, {From: 10, To: 20}}
		}, nil},
		{"whole scale", func(r *flags.Rule) { r.Sample.Buckets = []flags.BucketRange{{From: 0, To: 10000}} }, nil},
		{"empty sample range", func(r *flags.Rule) { r.Sample.Buckets = []flags.BucketRange{{From: 5, To: 5}} },
			[]string{"rules[0].sample.buckets[0]: empty range 5..5"}},
		{"reversed sample range", func(r *flags.Rule) { r.Sample.Buckets = []flags.BucketRange{{From: 10, To: 5}} },
			[]string{"rules[0].sample.buckets[0]: empty range 10..5"}},
		{"overlapping sample ranges", func(r *flags.Rule) {
			r.Sample.Buckets = []flags.BucketRange{{From: 0, To: 100}, {From: 50, To: 200}}
		}, []string{"rules[0].sample.buckets[1]: range 50..200 overlaps"}},
		{"unsorted sample ranges", func(r *flags.Rule) {
			r.Sample.Buckets = []flags.BucketRange{{From: 100, To: 200}, {From: 0, To: 50}}
		}, []string{"rules[0].sample.buckets[1]: range 0..50 overlaps or precedes"}},
		{"sample beyond the scale", func(r *flags.Rule) { r.Sample.Buckets = []flags.BucketRange{{From: 9000, To: 10001}} },
			[]string{"rules[0].sample.buckets[0]: range 9000..10001 goes beyond the last bucket (9999)"}},
		{"sample without salt", func(r *flags.Rule) { r.Sample.Salt = "" }, []string{"rules[0].sample.salt: salt is required"}},
		{"sample salt with separator", func(r *flags.Rule) { r.Sample.Salt = "layer:x" },
			[]string{"rules[0].sample.salt: salt must not contain ':'"}},
		{"allocation gap", func(r *flags.Rule) {
			r.Allocation.Ranges = []flags.VariantRange{{From: 0, To: 5000, Variant: "handoff"}, {From: 5001, To: 10000, Variant: "inline"}}
		}, []string{"rules[0].allocation.ranges[1]: gap: buckets 5000..5001 belong to no range"}},
		{"allocation overlap", func(r *flags.Rule) {
			r.Allocation.Ranges = []flags.VariantRange{{From: 0, To: 5000, Variant: "handoff"}, {From: 4000, To: 10000, Variant: "inline"}}
		}, []string{"rules[0].allocation.ranges[1]: range 4000..10000 overlaps the one before it, which ends at 5000"}},
		{"allocation stops short", func(r *flags.Rule) { r.Allocation.Ranges = full[:1] },
			[]string{"rules[0].allocation.ranges: gap: buckets 5000..10000 belong to no range"}},
		{"allocation starts late", func(r *flags.Rule) { r.Allocation.Ranges = full[1:] },
			[]string{"rules[0].allocation.ranges[0]: gap: buckets 0..5000 belong to no range"}},
		{"allocation beyond the scale", func(r *flags.Rule) {
			r.Allocation.Ranges = []flags.VariantRange{{From: 0, To: 10001, Variant: "handoff"}}
		}, []string{"rules[0].allocation.ranges[0]: range 0..10001 goes beyond the last bucket (9999)"}},
		{"allocation empty range", func(r *flags.Rule) {
			r.Allocation.Ranges = []flags.VariantRange{{From: 0, To: 0, Variant: "handoff"}, {From: 0, To: 10000, Variant: "inline"}}
		}, []string{"rules[0].allocation.ranges[0]: empty range 0..0"}},
		{"allocation without ranges", func(r *flags.Rule) { r.Allocation.Ranges = nil },
			[]string{"rules[0].allocation.ranges: an allocation needs ranges covering buckets 0..10000"}},
		{"allocation unknown variant", func(r *flags.Rule) {
			r.Allocation.Ranges = []flags.VariantRange{{From: 0, To: 5000, Variant: "handoff"}, {From: 5000, To: 10000, Variant: "sideways"}}
		}, []string{`rules[0].allocation.ranges[1].variant: unknown variant "sideways" (have off, handoff, inline)`}},
		{"allocation without salt", func(r *flags.Rule) { r.Allocation.Salt = "" }, []string{"rules[0].allocation.salt: salt is required"}},
		{"allocation salt with separator", func(r *flags.Rule) { r.Allocation.Salt = "a:b" },
			[]string{"rules[0].allocation.salt: salt must not contain ':'"}},
		{"serve and allocation", func(r *flags.Rule) { r.Serve = "off" },
			[]string{"rules[0]: a rule has one of serve, rollout and allocation, not several"}},
		{"rollout and allocation", func(r *flags.Rule) {
			r.Rollout = []flags.Split{{Variant: "off", Weight: flags.Hundred}}
		}, []string{"rules[0]: a rule has one of serve, rollout and allocation, not several"}},
		{"a sample alone serves nothing", func(r *flags.Rule) { r.Allocation = nil },
			[]string{"rules[0]: a rule needs serve (one variant), rollout (a percentage split) or allocation (a bucket table)"}},
		{"a sample with serve", func(r *flags.Rule) { r.Allocation, r.Serve = nil, "inline" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := experimentFlag(append([]flags.BucketRange(nil), expBuckets...), full)
			tt.edit(&f.Rules[0])
			err := flags.ValidateFlag(&f, nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidateFlag: %v", err)
				}
				if _, err := flags.Compile(flags.State{Flags: []flags.Flag{f}}, 1); err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			var ve *flags.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ValidateFlag = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(ve.Problems), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
		})
	}
}

package flags_test

import (
	"fmt"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

func Example() {
	st := flags.State{
		Cohorts: []cohorts.Cohort{{Key: "employees", Members: []cohorts.Member{{ID: "emp-1"}}}},
		Flags: []flags.Flag{{
			Key: "messenger-ig-interop", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
			Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
			DefaultVariant: "off",
			BucketBy:       "accountCenterId",
			Rules: []flags.Rule{
				{Name: "dogfood", Cohorts: []string{"employees"}, Serve: "on"},
				{Name: "us-10", Regions: []string{"US"}, Rollout: []flags.Split{{Variant: "on", Weight: 1000}, {Variant: "off", Weight: 9000}}},
			},
		}},
	}
	snap, err := flags.Compile(st, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	on, d := snap.Bool("messenger-ig-interop", false, map[string]any{"targetingKey": "emp-1", "region": "FR"})
	fmt.Println(on, d.Variant, d.Reason, d.RuleName)

	on, d = snap.Bool("messenger-ig-interop", false, map[string]any{"targetingKey": "u-42", "region": "BR"})
	fmt.Println(on, d.Variant, d.Reason)

	_, d = snap.Bool("messenger-ig-interop", false, map[string]any{"region": "US"})
	fmt.Println(d.Reason, d.ErrorCode)
	// Output:
	// true on TARGETING_MATCH dogfood
	// false off DEFAULT
	// ERROR TARGETING_KEY_MISSING
}

func ExampleSnapshot_Explain() {
	st := flags.State{Flags: []flags.Flag{{
		Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
		Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}},
		DefaultVariant: "off",
		Rules: []flags.Rule{{
			Regions: []string{"NA"},
			Rollout: []flags.Split{{Variant: "handoff", Weight: 5000}, {Variant: "off", Weight: 5000}},
		}},
	}}}
	snap, _ := flags.Compile(st, 1)
	ex := snap.Explain("ig-dm-via-whatsapp", map[string]any{"targetingKey": "user-1", "region": "CA"})
	fmt.Println(ex.Decision.Variant, ex.Decision.Reason)
	fmt.Println(ex.Bucketing.Attribute, ex.Bucketing.Bucket)
	// Output:
	// handoff SPLIT
	// targetingKey 2905
}

func ExampleParsePercent() {
	p, _ := flags.ParsePercent("0.01")
	fmt.Println(int(p), p)
	_, err := flags.ParsePercent("0.005")
	fmt.Println(err)
	// Output:
	// 1 0.01
	// invalid percentage "0.005": at most two decimals (0.01% is the smallest step)
}

func ExampleDiff() {
	current := flags.State{Flags: []flags.Flag{{Key: "a", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
		Variants: []flags.Variant{{Key: "on", Value: true}}, DefaultVariant: "on"}}}
	desired := current
	desired.Flags = []flags.Flag{current.Flags[0]}
	desired.Flags[0].Description = "now documented"
	plan := flags.Diff(&current, &desired, false)
	for _, c := range plan.Changes {
		fmt.Println(c.Action, c.Kind, c.Key, c.Fields)
	}
	// Output: update flag a [description]
}

// A running experiment reaches the engine as a rule: its share of the
// layer is a sample (a bucket set under the layer's salt), its arms an
// allocation (a table under the experiment's own salt), and its origin
// names it in decisions' metadata.
func ExampleAllocation() {
	st := flags.State{Flags: []flags.Flag{{
		Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
		Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
		DefaultVariant: "off",
		Rules: []flags.Rule{{
			Sample: &flags.Sample{BucketBy: "accountCenterId", Salt: "layer-cross-app-messaging",
				Buckets: []flags.BucketRange{{From: 0, To: 1000}, {From: 9000, To: 10000}}},
			Allocation: &flags.Allocation{BucketBy: "accountCenterId", Salt: "experiment-dm-handoff-vs-inline",
				Ranges: []flags.VariantRange{{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 5900, Variant: "handoff"},
					{From: 5900, To: 6700, Variant: "off"}, {From: 6700, To: 9200, Variant: "inline"}, {From: 9200, To: 10000, Variant: "off"}}},
			Origin: &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 2, Unit: "accountCenterId"},
		}},
	}}}
	snap, err := flags.Compile(st, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	// ac-9: layer bucket 9911 (in the sample), arm bucket 4266 (handoff).
	d := snap.Evaluate("ig-dm-via-whatsapp", map[string]any{"targetingKey": "u-1", "accountCenterId": "ac-9"})
	md := d.Metadata()
	fmt.Println(d.Variant, d.Reason, md["experiment"], md["phase"], md["arm"])
	// ac-0: layer bucket 8362, outside the sample: the rule does not match.
	d = snap.Evaluate("ig-dm-via-whatsapp", map[string]any{"targetingKey": "u-1", "accountCenterId": "ac-0"})
	fmt.Println(d.Variant, d.Reason, d.Origin == nil)
	// Output:
	// handoff SPLIT dm-handoff-vs-inline 2 handoff
	// off DEFAULT true
}

func ExampleSample_Contains() {
	s := flags.Sample{Salt: "layer-checkout", Buckets: []flags.BucketRange{{From: 0, To: 500}, {From: 2000, To: 2500}}}
	fmt.Println(s.Size(), s.Contains(499), s.Contains(500), s.Contains(2000))
	// Output: 1000 true false true
}

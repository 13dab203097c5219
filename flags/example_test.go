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

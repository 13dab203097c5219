package flags_test

import (
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// scenario is the demo configuration of the cross-app messaging rollout, as
// the README's example file declares it.
func scenario() flags.State {
	return flags.State{
		Cohorts: []cohorts.Cohort{
			{Key: "employees", Description: "Internal dogfooders", Members: []cohorts.Member{{ID: "emp-1"}, {ID: "emp-2"}, {ID: "emp-3", Region: "FR"}}},
			{Key: "business-accounts", When: []cohorts.Condition{{Attribute: "accountType", Op: cohorts.OpEq, Values: []string{"business"}}}},
		},
		Flags: []flags.Flag{
			{
				Key: "messenger-ig-interop", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
				DefaultVariant: "off", BucketBy: "accountCenterId",
				Rules: []flags.Rule{
					{Name: "dogfood", Cohorts: []string{"employees"}, Serve: "on"},
					{Regions: []string{"US"}, Rollout: []flags.Split{{Variant: "on", Weight: 1000}, {Variant: "off", Weight: 9000}}},
				},
			},
			{
				Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
				DefaultVariant: "off",
				Rules: []flags.Rule{{
					Regions: []string{"US", "CA"},
					When:    []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}},
					Rollout: []flags.Split{{Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}, {Variant: "off", Weight: 5000}},
				}},
			},
			{
				Key: "wa-link-code-ttl-seconds", Type: flags.Integer, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "short", Value: int64(300)}, {Key: "long", Value: int64(600)}},
				DefaultVariant: "long",
			},
			{
				Key: "ig-business-inbox-tools", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
				DefaultVariant: "off",
				Rules:          []flags.Rule{{Name: "business", Cohorts: []string{"business-accounts"}, Serve: "on"}},
			},
			{
				Key: "inbox-layout", Type: flags.Object, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "classic", Value: map[string]any{"columns": 1.0, "tabs": []any{"primary"}}}},
				DefaultVariant: "classic",
			},
			{
				Key: "ranking-weight", Type: flags.Float, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "base", Value: 0.5}, {Key: "boost", Value: 0.75}},
				DefaultVariant: "base",
				Rules:          []flags.Rule{{When: []cohorts.Condition{{Attribute: "platform", Op: cohorts.OpEq, Values: []string{"ios"}}}, Serve: "boost"}},
			},
		},
	}
}

func mustCompile(t testing.TB, st flags.State) *flags.Snapshot {
	t.Helper()
	s, err := flags.Compile(st, 1)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// boolFlag returns an enabled boolean flag with a single percentage rule.
func split(key string, splits ...flags.Split) flags.Flag {
	f := flags.Flag{Key: key, Type: flags.String, Enabled: true, Bucketing: bucket.V1, DefaultVariant: splits[0].Variant}
	for _, s := range splits {
		f.Variants = append(f.Variants, flags.Variant{Key: s.Variant, Value: s.Variant})
	}
	f.Rules = []flags.Rule{{Rollout: splits}}
	return f
}

func users(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"targetingKey": fmt.Sprintf("user-%d", i)}
	}
	return out
}

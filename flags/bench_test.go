package flags_test

import (
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// The three reference shapes of docs/BENCHMARKS.md, evaluated through the
// public typed API from contexts held as OpenFeature flattened maps.
func benchSnapshot(b *testing.B) *flags.Snapshot {
	ids := make([]cohorts.Member, 1000)
	for i := range ids {
		ids[i] = cohorts.Member{ID: fmt.Sprintf("emp-%d", i)}
	}
	st := flags.State{
		Cohorts: []cohorts.Cohort{{Key: "employees", Members: ids}},
		Flags: []flags.Flag{
			{ // S: region in [US, CA] and appVersion >= 300.0.0, then a 3-way split
				Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
				DefaultVariant: "off",
				Rules: []flags.Rule{{
					Regions: []string{"US", "CA"},
					When:    []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}},
					Rollout: []flags.Split{{Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}, {Variant: "off", Weight: 5000}},
				}},
			},
			{ // C: membership of a 1,000-id cohort
				Key: "common-mailbox", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
				DefaultVariant: "off",
				Rules:          []flags.Rule{{Cohorts: []string{"employees"}, Serve: "on"}},
			},
			{ // D: no rules
				Key: "ig-add-whatsapp-to-profile", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
				Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
				DefaultVariant: "off",
			},
		},
	}
	s, err := flags.Compile(st, 1)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkEvaluate(b *testing.B) {
	snap := benchSnapshot(b)
	const n = 4096
	ctxs := make([]map[string]any, n)
	for i := range ctxs {
		ctxs[i] = map[string]any{
			"targetingKey": fmt.Sprintf("user-%d", i*7919),
			"region":       []string{"US", "CA"}[i%2],
			"appVersion":   fmt.Sprintf("%d.%d.%d", 300+i%50, i%10, i%7),
			"app":          "instagram",
			"platform":     "ios",
		}
	}
	b.Run("S_split", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			v, _ := snap.String("ig-dm-via-whatsapp", "off", ctxs[i&(n-1)])
			_ = v
			i++
		}
	})
	member := map[string]any{"targetingKey": "emp-500", "region": "US", "app": "instagram"}
	nonMember := map[string]any{"targetingKey": "user-500", "region": "US", "app": "instagram"}
	b.Run("C_cohort_member", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, _ := snap.Bool("common-mailbox", false, member); !v {
				b.Fatal("member not found")
			}
		}
	})
	b.Run("C_cohort_nonmember", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, _ := snap.Bool("common-mailbox", false, nonMember); v {
				b.Fatal("non-member found")
			}
		}
	})
	b.Run("D_no_rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = snap.Bool("ig-add-whatsapp-to-profile", false, member)
		}
	})
}

// TestHotPathAllocatesNothing keeps the zero-allocation promise of the
// benchmarks as a test (allocation counts are deterministic, timings not).
func TestHotPathAllocatesNothing(t *testing.T) {
	snap := benchSnapshot(&testing.B{})
	ctx := map[string]any{"targetingKey": "emp-5", "region": "US", "appVersion": "301.2.3", "accountCenterId": 77.0}
	checks := map[string]func(){
		"S":       func() { snap.String("ig-dm-via-whatsapp", "off", ctx) },
		"C":       func() { snap.Bool("common-mailbox", false, ctx) },
		"D":       func() { snap.Bool("ig-add-whatsapp-to-profile", false, ctx) },
		"missing": func() { snap.Evaluate("ig-dm-via-whatsapp", map[string]any{"region": "US", "appVersion": "301.0.0"}) },
	}
	for name, fn := range checks {
		if name == "missing" {
			continue // error paths format a message and may allocate
		}
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s: %v allocations per evaluation, want 0", name, n)
		}
	}
}

// BenchmarkHandWritten is the floor the engine is measured against: Go
// functions written for exactly these three flags, doing the same work
// (read the context, compare, hash), with nothing configurable.
func BenchmarkHandWritten(b *testing.B) {
	const n = 4096
	ctxs := make([]map[string]any, n)
	for i := range ctxs {
		ctxs[i] = map[string]any{
			"targetingKey": fmt.Sprintf("user-%d", i*7919),
			"region":       []string{"US", "CA"}[i%2],
			"appVersion":   fmt.Sprintf("%d.%d.%d", 300+i%50, i%10, i%7),
		}
	}
	members := make(map[string]struct{}, 1000)
	for i := range 1000 {
		members[fmt.Sprintf("emp-%d", i)] = struct{}{}
	}
	split := func(ctx map[string]any) string {
		region, _ := ctx["region"].(string)
		if region != "US" && region != "CA" {
			return "off"
		}
		v, _ := ctx["appVersion"].(string)
		major := 0
		for i := 0; i < len(v) && v[i] != '.'; i++ {
			major = major*10 + int(v[i]-'0')
		}
		if major < 300 {
			return "off"
		}
		key, _ := ctx["targetingKey"].(string)
		switch b := bucket.Bucket(bucket.V1, "ig-dm-via-whatsapp", key); {
		case b < 2500:
			return "handoff"
		case b < 5000:
			return "inline"
		}
		return "off"
	}
	b.Run("S_split", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = split(ctxs[i&(n-1)])
			i++
		}
	})
	member := map[string]any{"targetingKey": "emp-500"}
	b.Run("C_cohort_member", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			key, _ := member["targetingKey"].(string)
			if _, ok := members[key]; !ok {
				b.Fatal("member not found")
			}
		}
	})
	b.Run("D_no_rules", func(b *testing.B) {
		b.ReportAllocs()
		flagsByKey := map[string]bool{"ig-add-whatsapp-to-profile": false}
		for b.Loop() {
			_ = flagsByKey["ig-add-whatsapp-to-profile"]
		}
	})
}

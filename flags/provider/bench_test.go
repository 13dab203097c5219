package provider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags/provider"
)

// benchProvider serves scenario plus a 1,000-member cohort flag from a file:
// no network, so that the figures are the evaluation alone.
func benchProvider(tb testing.TB) *provider.Provider {
	tb.Helper()
	st := scenario()
	members := make([]cohorts.Member, 1000)
	for i := range members {
		members[i] = cohorts.Member{ID: fmt.Sprintf("emp-%d", i)}
	}
	st.Cohorts[0].Members = members
	path := tempPath(tb, "snapshot.json")
	writeSnapshot(tb, path, st, 1)
	p, err := provider.NewFromFile(path, provider.Logger(testLogger(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Shutdown)
	if err := p.Init(openfeature.EvaluationContext{}); err != nil {
		tb.Fatal(err)
	}
	return p
}

// The three layers a service can call, on the same flags and contexts:
// the engine (Snapshot.Bool), the provider's resolution (what the SDK
// calls), and the SDK client (what service code calls).
func BenchmarkBool(b *testing.B) {
	p := benchProvider(b)
	snap := p.Snapshot()
	ctx := context.Background()
	client, _ := mustSDK(b, p)
	cases := []struct {
		name, flag, key string
		attrs           map[string]any
	}{
		{"disabled", "kill", "emp-500", map[string]any{"region": "US"}},
		{"cohort_member", "interop", "emp-500", map[string]any{"region": "US"}},
		{"split", "interop", "user-500", map[string]any{"region": "US", "accountCenterId": "ac-77"}},
	}
	for _, c := range cases {
		flat := map[string]any{"targetingKey": c.key}
		for k, v := range c.attrs {
			flat[k] = v
		}
		ec := openfeature.NewEvaluationContext(c.key, c.attrs)
		b.Run(c.name+"/engine", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = snap.Bool(c.flag, false, flat)
			}
		})
		b.Run(c.name+"/provider", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.BooleanEvaluation(ctx, c.flag, false, flat)
			}
		})
		b.Run(c.name+"/sdk_client", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = client.BooleanValue(ctx, c.flag, false, ec)
			}
		})
	}
}

// TestProviderAddsNoAllocations: between the SDK and the engine, the
// provider allocates nothing for boolean, string and number flags (object
// values are copied for the caller, by the engine).
func TestProviderAddsNoAllocations(t *testing.T) {
	p := benchProvider(t)
	ctx := context.Background()
	flat := openfeature.FlattenedContext{"targetingKey": "user-500", "region": "US", "accountCenterId": "ac-77",
		"accountType": "business", "platform": "ios"}
	checks := map[string]func(){
		"bool split":        func() { p.BooleanEvaluation(ctx, "interop", false, flat) },
		"bool disabled":     func() { p.BooleanEvaluation(ctx, "kill", false, flat) },
		"string":            func() { p.StringEvaluation(ctx, "dm-mode", "", flat) },
		"int cohort":        func() { p.IntEvaluation(ctx, "ttl", 0, flat) },
		"float condition":   func() { p.FloatEvaluation(ctx, "weight", 0, flat) },
		"snapshot+metadata": func() { _ = p.BooleanEvaluation(ctx, "interop", false, flat).FlagMetadata["configVersion"] },
	}
	for name, fn := range checks {
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s: %v allocations per evaluation, want 0", name, n)
		}
	}
}

// BenchmarkExperimentExposure is the cost of exposure recording in an
// evaluation: the same flag (a sample and an allocation under their own
// salts) decided by the provider with and without an experiment origin,
// for units already exposed. The difference is the target of issue #12:
// < 60 ns and no allocation.
func BenchmarkExperimentExposure(b *testing.B) {
	path := tempPath(b, "snapshot.json")
	writeSnapshot(b, path, experimentFlags(), 1)
	p, err := provider.NewFromFile(path, provider.Logger(testLogger(b)), provider.TrackingSink(newMemSink()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Shutdown)
	if err := p.Init(openfeature.EvaluationContext{}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	users := make([]openfeature.FlattenedContext, 4096)
	for i := range users {
		users[i] = openfeature.FlattenedContext{"targetingKey": fmt.Sprint("ig-", i), "accountCenterId": fmt.Sprint("ac-", i), "region": "US"}
		p.StringEvaluation(ctx, "dm-experiment", "off", users[i]) // exposed once
	}
	for _, flag := range []string{"dm-no-experiment", "dm-experiment"} {
		b.Run(flag, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.StringEvaluation(ctx, flag, "off", users[i&4095])
				i++
			}
		})
	}
	if s := p.TrackingStats(); s.ExposuresRecorded != 4096 {
		b.Errorf("stats %+v: want 4096 exposures recorded", s)
	}
}

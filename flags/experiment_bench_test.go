package flags_test

import (
	"fmt"
	"maps"
	"testing"

	"github.com/ramp-flags/ramp/flags"
)

// experimentBench compiles the experiment's flag of issue 12 (audience,
// a 15% sample of the layer, a five-range arm table) and the same flag
// with the same audience as a plain three-way split, and returns contexts
// of that audience inside the sample, outside it, and mixed.
func experimentBench(tb testing.TB) (snap *flags.Snapshot, in, out, mixed []map[string]any) {
	plain := experimentFlag(expBuckets, expTable)
	plain.Key = "plain-split"
	plain.Rules = plain.Rules[:1]
	plain.Rules[0].Sample, plain.Rules[0].Allocation, plain.Rules[0].Origin = nil, nil, nil
	plain.Rules[0].Rollout = []flags.Split{{Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}, {Variant: "off", Weight: 5000}}
	plain.BucketBy = unitAttr
	exp := experimentFlag(expBuckets, expTable)
	exp.Rules = exp.Rules[:1] // outside the sample: the default
	s, err := flags.Compile(flags.State{Flags: []flags.Flag{plain, exp}}, 1)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; len(in) < 4096 || len(out) < 4096; i++ {
		ctx := map[string]any{
			"targetingKey": fmt.Sprintf("user-%d", i*7919),
			unitAttr:       fmt.Sprintf("ac-%d", i),
			"region":       []string{"US", "CA"}[i%2],
			"appVersion":   fmt.Sprintf("%d.%d.%d", 300+i%50, i%10, i%7),
			"app":          "instagram",
			"platform":     "ios",
		}
		if len(mixed) < 4096 {
			mixed = append(mixed, ctx)
		}
		if s.Evaluate("ig-dm-via-whatsapp", ctx).Rule == 0 {
			if len(in) < 4096 {
				in = append(in, ctx)
			}
		} else if len(out) < 4096 {
			out = append(out, ctx)
		}
	}
	// Each set is copied afresh, so that all three lie as compactly in
	// memory (the in-sample contexts were picked from some 27,000).
	for _, set := range [][]map[string]any{mixed, in, out} {
		for i := range set {
			set[i] = maps.Clone(set[i])
		}
	}
	return s, in, out, mixed
}

// BenchmarkExperimentRule measures a flag whose rule has a sample and an
// allocation (an experiment, to the engine) against the same flag with the
// same audience as a plain split (docs/BENCHMARKS.md, "Experiment rules in
// the engine").
func BenchmarkExperimentRule(b *testing.B) {
	snap, in, out, mixed := experimentBench(b)
	run := func(name, key string, ctxs []map[string]any) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				v, _ := snap.String(key, "off", ctxs[i&4095])
				_ = v
				i++
			}
		})
	}
	run("plain_split", "plain-split", mixed)
	run("experiment_in_sample", "ig-dm-via-whatsapp", in)
	run("experiment_outside_sample", "ig-dm-via-whatsapp", out)
	run("experiment_mixed", "ig-dm-via-whatsapp", mixed)
}

// TestExperimentRuleAllocatesNothing keeps the zero-allocation promise for
// experiment flags, inside and outside the sample, with string and integer
// units (allocation counts are deterministic; timings are not).
func TestExperimentRuleAllocatesNothing(t *testing.T) {
	snap, in, out, _ := experimentBench(t)
	integer := map[string]any{"region": "US", "appVersion": "301.0.0", unitAttr: 33.0}
	for name, ctx := range map[string]map[string]any{"in": in[0], "out": out[0], "integer unit": integer} {
		if n := testing.AllocsPerRun(200, func() { snap.String("ig-dm-via-whatsapp", "off", ctx) }); n != 0 {
			t.Errorf("%s: %v allocations per evaluation, want 0", name, n)
		}
	}
}

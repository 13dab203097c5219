package cli

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// BenchmarkEvalMany measures `ramp eval --contexts` without the database:
// JSON-lines contexts in, JSON-lines decisions out. Per op: one context.
func BenchmarkEvalMany(b *testing.B) {
	st := flags.State{Flags: []flags.Flag{{
		Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
		Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
		DefaultVariant: "off",
		Rules: []flags.Rule{{
			Regions: []string{"US", "CA"},
			When:    []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}},
			Rollout: []flags.Split{{Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}, {Variant: "off", Weight: 5000}},
		}},
	}}}
	snap, err := flags.Compile(st, 1)
	if err != nil {
		b.Fatal(err)
	}
	var in bytes.Buffer
	regions := []string{"US", "BR", "IN", "CA", "MX", "FR", "GB"}
	const n = 100_000
	for i := range n {
		fmt.Fprintf(&in, `{"targetingKey":"user-%d","region":%q,"appVersion":"%d.%d.0","accountCenterId":"ac-%d","app":"instagram","platform":"ios"}`+"\n",
			i, regions[i%7], 290+i%30, i%10, i/2)
	}
	data := in.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)) / n)
	for b.Loop() {
		b.StopTimer()
		r := bytes.NewReader(data)
		b.StartTimer()
		if err := evalMany(snap, "ig-dm-via-whatsapp", r, io.Discard, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/context")
}

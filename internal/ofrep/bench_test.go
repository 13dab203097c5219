package ofrep_test

import (
	"encoding/json"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/ofrep"
)

// benchBody is a request as testdata/bench/ofrep-wrk.sh sends it.
var benchBody = []byte(`{"context":{"targetingKey":"user-12345","region":"US","appVersion":"301.1.0","accountCenterId":"ac-6172"}}`)

// BenchmarkDecodeRequest decodes a typical request into a reused map, as
// the server does.
func BenchmarkDecodeRequest(b *testing.B) {
	ctx := map[string]any{}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if err := ofrep.DecodeRequestInto(ctx, benchBody); err != nil {
			b.Fatal(err)
		}
		clear(ctx)
	}
}

// BenchmarkDecodeRequestEncodingJSON is the same request through
// encoding/json, the way DecodeRequest used to work, for comparison.
func BenchmarkDecodeRequestEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(benchBody, &top); err != nil {
			b.Fatal(err)
		}
		var ctx map[string]any
		if err := json.Unmarshal(top["context"], &ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBulkJSON encodes a 50-flag bulk answer.
func BenchmarkAppendBulkJSON(b *testing.B) {
	ds := make([]flags.Decision, 50)
	for i := range ds {
		ds[i] = flags.Decision{Key: "bench-flag-01", Value: "inline", Variant: "inline", Reason: flags.ReasonSplit,
			Rule: 0, FlagVersion: 1, SnapshotVersion: 3}
	}
	streams := []ofrep.EventStream{{Type: "sse", URL: "http://127.0.0.1:8080/ofrep/v1/events?token=eyJuIjoiYmVuY2giLCJyIjoic2RrIiwiZSI6MTc2NDAwMDAwMH0.c2lnbmF0dXJl", InactivityDelaySec: 120}}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = ofrep.AppendBulkJSON(buf[:0], ds, 3, streams); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

package tracking_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp/tracking"
)

// BenchmarkExposeSeen is the cost an evaluation pays to record an exposure
// for a unit already recorded: the target is < 60 ns and no allocation.
func BenchmarkExposeSeen(b *testing.B) {
	r := tracking.NewRecorder(discard{}, tracking.Options{Logger: quietLogger()})
	defer func() { _ = r.Close(context.Background()) }()
	d := decision(running, "inline")
	ctxs := make([]map[string]any, 4096)
	for i := range ctxs {
		ctxs[i] = map[string]any{"targetingKey": fmt.Sprint("ig-", i), "accountCenterId": fmt.Sprint("ac-", i), "region": "US"}
		r.Expose(&d, ctxs[i])
	}
	b.Run("string_unit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.Expose(&d, ctxs[i&4095])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				r.Expose(&d, ctxs[i&4095])
				i++
			}
		})
	})
	ints := make([]map[string]any, 4096)
	for i := range ints {
		ints[i] = map[string]any{"accountCenterId": float64(1e9 + i)}
		r.Expose(&d, ints[i])
	}
	b.Run("integer_unit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.Expose(&d, ints[i&4095])
			i++
		}
	})
	other := decision(nil, "on")
	b.Run("not_an_experiment", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Expose(&other, ctxs[0])
		}
	})
}

// BenchmarkExposeNew records a new unit each time (queue and batching
// included, into a sink that discards).
func BenchmarkExposeNew(b *testing.B) {
	r := tracking.NewRecorder(discard{}, tracking.Options{Logger: quietLogger()})
	defer func() { _ = r.Close(context.Background()) }()
	d := decision(running, "inline")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Expose(&d, map[string]any{"accountCenterId": float64(i)})
		i++
	}
}

type discard struct{}

func (discard) WriteExposures(context.Context, []tracking.Exposure) error { return nil }
func (discard) WriteEvents(context.Context, []tracking.Event) error       { return nil }

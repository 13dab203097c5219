package tracking_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// slowSink takes a batch every d: its capacity is BatchSize/d items a
// second.
type slowSink struct{ d time.Duration }

func (s slowSink) WriteExposures(context.Context, []tracking.Exposure) error {
	time.Sleep(s.d)
	return nil
}
func (s slowSink) WriteEvents(context.Context, []tracking.Event) error { time.Sleep(s.d); return nil }

// BenchmarkOverload offers events ten times faster than the sink takes
// them (the sink: 1,000 a batch, a batch every 10 ms, 100,000/s; offered:
// 1,000,000/s for 3 s, from 2 goroutines) and reports the peak heap and
// what was dropped: memory stays at the queue's bound, drops are counted,
// nothing blocks.
func BenchmarkOverload(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		r := tracking.NewRecorder(slowSink{10 * time.Millisecond}, tracking.Options{Logger: quietLogger()})
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		})
		var offered atomic.Uint64
		deadline := time.Now().Add(3 * time.Second)
		var senders sync.WaitGroup
		for g := range 2 {
			senders.Go(func() {
				units := map[string]string{"targetingKey": "ig-" + strconv.Itoa(g)}
				tick := time.NewTicker(time.Millisecond)
				defer tick.Stop()
				for time.Now().Before(deadline) {
					<-tick.C
					for range 500 { // 500 a millisecond each: 1,000,000/s in all
						r.Track(tracking.Event{Name: "dm_reply", Value: 1, Units: units})
						offered.Add(1)
					}
				}
			})
		}
		senders.Wait()
		close(stop)
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = r.Close(ctx)
		cancel()
		s := r.Stats()
		b.ReportMetric(float64(offered.Load()), "offered")
		b.ReportMetric(float64(s.EventsSent), "sent")
		b.ReportMetric(float64(s.EventsDropped), "dropped")
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "peak-heap-MiB")
		if s.EventsSent+s.EventsDropped != offered.Load() {
			b.Errorf("sent %d + dropped %d != offered %d", s.EventsSent, s.EventsDropped, offered.Load())
		}
	}
}

// BenchmarkExposePlaced is BenchmarkExposeSeen for decisions that carry
// the unit's placement (what the engine gives an experiment's allocation
// rule, so recording reads neither the context nor hashes the unit), over
// working sets of several sizes: a service that sees the same few
// thousand units again and again hits the table's front; one whose
// 262,144 units come in no order pays a cache and TLB miss in the large table.
func BenchmarkExposePlaced(b *testing.B) {
	for _, units := range []int{4096, 1 << 18} {
		b.Run(fmt.Sprint("units_", units), func(b *testing.B) {
			r := tracking.NewRecorder(discard{}, tracking.Options{Logger: quietLogger(), QueueSize: 1 << 19})
			defer func() { _ = r.Close(context.Background()) }()
			d := decision(running, "inline")
			d.Unit.Attr = "accountCenterId"
			ctx := map[string]any{"accountCenterId": "ac-1"}
			hashes := make([]uint64, units)
			for i := range hashes {
				hashes[i] = uint64(i+1) * 0x9e3779b97f4a7c15
				d.Unit.Hash = hashes[i]
				r.Expose(&d, ctx)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				d.Unit.Hash = hashes[i&(units-1)]
				r.Expose(&d, ctx)
				i++
			}
		})
	}
}

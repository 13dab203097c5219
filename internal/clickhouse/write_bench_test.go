package clickhouse_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/tracking"
)

// BenchmarkWriteEvents writes batches of 5,000 events (two identifiers
// each) from 16 goroutines straight to the Store: the ClickHouse side of
// ingest, without HTTP or JSON.
//
//	go test -run '^$' -bench WriteEvents -benchtime 10s ./internal/clickhouse/
func BenchmarkWriteEvents(b *testing.B) {
	s, _ := openCH(b)
	const batch, writers = 5000, 16
	start := time.Now().Add(-time.Hour)
	var mu sync.Mutex
	next := 0
	b.ReportAllocs()
	b.SetParallelism(writers / 2)
	b.RunParallel(func(pb *testing.PB) {
		evs := make([]tracking.Event, batch)
		for pb.Next() {
			mu.Lock()
			base := next
			next += batch
			mu.Unlock()
			for i := range evs {
				n := base + i
				evs[i] = tracking.Event{ID: fmt.Sprintf("%032x", n), Name: "dm_reply", Value: 1, Time: start.Add(time.Duration(n) * time.Microsecond),
					Units: map[string]string{"targetingKey": fmt.Sprintf("ig-%d", n%1_000_000), "accountCenterId": fmt.Sprintf("ac-%d", n%1_000_000)}}
			}
			if err := s.WriteEvents(context.Background(), evs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "events/s")
}

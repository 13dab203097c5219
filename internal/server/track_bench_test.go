package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/tracking"
)

// countSink counts what it is given and keeps nothing: the HTTP ingest
// path alone (decode, validate, answer) without a store.
type countSink struct{ exposures, events atomic.Int64 }

func (c *countSink) WriteExposures(_ context.Context, b []tracking.Exposure) error {
	c.exposures.Add(int64(len(b)))
	return nil
}

func (c *countSink) WriteEvents(_ context.Context, b []tracking.Event) error {
	c.events.Add(int64(len(b)))
	return nil
}

// BenchmarkTrackIngest posts batches of 1,000 events (as the provider's
// recorder sends them) to POST /v1/track on loopback from 4 clients, into a
// sink that counts them; events/s is the ingest path's ceiling on the
// machine, the store's cost apart.
func BenchmarkTrackIngest(b *testing.B) {
	sink := &countSink{}
	cfg := server.Config{Source: fixedSource{experimentState()}, Tracking: sink, Poll: time.Hour, RateLimit: -1,
		Auth: newFakeAuth(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := start(b, cfg)
	var body bytes.Buffer
	body.WriteString(`{"events":[`)
	for i := range 1000 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"id":"%032x","event":"dm_reply","value":1,"time":"2026-11-24T10:00:00Z","context":{"targetingKey":"ig-%d","accountCenterId":"ac-%d"}}`, i, i, i)
	}
	body.WriteString(`]}`)
	payload := body.Bytes()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.SetParallelism(2) // 2 × GOMAXPROCS clients
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/track", bytes.NewReader(payload))
			req.Header.Set("Authorization", "Bearer "+sdkKey)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(sink.events.Load())/time.Since(start).Seconds(), "events/s")
}

package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/testdb"
	"github.com/ramp-flags/ramp/internal/tracktest"
)

// The end-to-end ingest benchmarks: concurrent HTTP clients posting
// batches of events over loopback to a real Server whose sink is the real
// admin.Service over a real store — a SQLite file in the benchmark's
// temporary directory, or the Postgres database $RAMP_TEST_DSN names (a
// fresh schema). Every event has a new random id and a later time than the
// one before it, as live traffic has, and a context with two identifiers
// (targetingKey and accountCenterId) and one attribute that is not kept
// (region).
//
//	go test -run '^$' -bench TrackEndToEnd -benchtime 10s ./internal/server/
//	go test -run '^$' -bench TrackOverload -benchtime 1x ./internal/server/
//
// The clients run in the process, on the same cores as the server and the
// store (SQLite's work is in the process too): the figures are what the
// machine does with both ends of the connection, lower than a server alone
// would reach.

// e2eServer starts a server over a real store and returns its URL and
// the admin service (closed when the benchmark ends).
func e2eServer(b *testing.B, cfg server.Config) (string, *admin.Service) {
	b.Helper()
	dsn := testdb.DSN(b)
	svc, err := admin.Open(context.Background(), dsn, admin.Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	cfg.Source, cfg.Tracking, cfg.Poll, cfg.RateLimit = fixedSource{experimentState()}, svc, time.Hour, -1
	cfg.Auth, cfg.Logger = newFakeAuth(), slog.New(slog.NewTextHandler(io.Discard, nil))
	return start(b, cfg).URL, svc
}

// post sends one body and returns the status.
func post(client *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/v1/track", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+sdkKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTrackEndToEnd posts batches of 1,000 and 5,000 events from 4
// and 8 clients to POST /v1/track, stored in the real store before each
// answer. One op is one batch; events/s is the sustained rate over the
// run, events/CPU-s the events per second of the process's CPU (clients,
// server and SQLite; not a Postgres server's).
func BenchmarkTrackEndToEnd(b *testing.B) {
	engine := "sqlite"
	if testdb.IsPostgres(os.Getenv("RAMP_TEST_DSN")) {
		engine = "postgres"
	}
	for _, batch := range []int{1000, 5000} {
		for _, clients := range []int{4, 8} {
			b.Run(fmt.Sprintf("%s/batch=%d/clients=%d", engine, batch, clients), func(b *testing.B) {
				benchEndToEnd(b, batch, clients)
			})
		}
	}
}

func benchEndToEnd(b *testing.B, batch, clients int) {
	url, svc := e2eServer(b, server.Config{})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	bodies := make(chan *tracktest.Body, clients)
	for i := range clients {
		bodies <- tracktest.NewBody(batch, uint64(i))
	}
	var posted atomic.Int64
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		body := <-bodies
		defer func() { bodies <- body }()
		for pb.Next() {
			body.Renew()
			status, err := post(hc, url, body.Bytes())
			if err != nil || status != http.StatusOK {
				b.Errorf("POST /v1/track: status %d, %v", status, err)
				return
			}
			posted.Add(int64(batch))
		}
	})
	b.StopTimer()
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(posted.Load())/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(posted.Load())/cpu.Seconds(), "events/CPU-s")
	b.ReportMetric(0, "ns/op")
	st, err := svc.TrackingStats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if st.EventRows != posted.Load() {
		b.Fatalf("%d events answered 200, %d raw rows stored (one per event)", posted.Load(), st.EventRows)
	}
}

// BenchmarkTrackOverload offers about ten times what the store takes: 40
// clients post batches of 5,000 events, each again as soon as it is
// answered, for 20 s ($RAMP_BENCH_OVERLOAD), against the default 4 writers
// and a 100 ms wait for a turn, so that most requests are refused (503)
// quickly and sent again. It reports the rate offered (every request
// answered, stored or refused) and stored, the answers, the events stored
// (all those answered 200, none twice), the heap's peak above its start,
// sampled every 10 ms — the clients' own 40 bodies (38 MB) included, as
// they run in the process — and the goroutines at the end: memory must
// stay flat and nothing may crash.
func BenchmarkTrackOverload(b *testing.B) {
	const clients, batch = 40, 5000
	dur := 20 * time.Second
	if v := os.Getenv("RAMP_BENCH_OVERLOAD"); v != "" {
		var err error
		if dur, err = time.ParseDuration(v); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		url, svc := e2eServer(b, server.Config{TrackingWait: 100 * time.Millisecond})
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
				}
			}
		}()
		var ok, busy, other, failed atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(dur)
		for c := range clients {
			wg.Go(func() {
				body := tracktest.NewBody(batch, uint64(1000+c))
				for time.Now().Before(deadline) {
					body.Renew()
					status, err := post(hc, url, body.Bytes())
					switch {
					case err != nil:
						failed.Add(1)
					case status == http.StatusOK:
						ok.Add(1)
					case status == http.StatusServiceUnavailable:
						busy.Add(1)
					default:
						other.Add(1)
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		<-sampled
		st, err := svc.TrackingStats(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		stored := ok.Load() * batch
		b.ReportMetric(float64(ok.Load()*batch)/dur.Seconds(), "stored-events/s")
		b.ReportMetric(float64((ok.Load()+busy.Load())*batch)/dur.Seconds(), "offered-events/s")
		b.ReportMetric(float64(busy.Load()), "503s")
		b.ReportMetric(float64(ok.Load()), "200s")
		b.ReportMetric(float64(peak.Load()-min(base, peak.Load()))/(1<<20), "peak-heap-MiB")
		b.ReportMetric(0, "ns/op")
		b.Logf("%v, %d clients × %d events: %d answered 200, %d 503, %d other, %d failed; %d events answered stored, %d raw rows; heap %d MiB at start, peak %d MiB; %d goroutines",
			dur, clients, batch, ok.Load(), busy.Load(), other.Load(), failed.Load(), stored, st.EventRows,
			base>>20, peak.Load()>>20, runtime.NumGoroutine())
		if other.Load() > 0 || failed.Load() > 0 {
			b.Errorf("%d answers neither 200 nor 503, %d requests failed", other.Load(), failed.Load())
		}
		if st.EventRows < stored {
			// More is possible: a request answered 503 by the store's
			// timeout may have committed; fewer never.
			b.Errorf("%d events answered 200, only %d rows stored", stored, st.EventRows)
		}
	}
}

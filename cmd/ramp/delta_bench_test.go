package main_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags/provider"
)

// countingConn counts the bytes a connection reads: what the server sent,
// headers, compression and event-stream pings included.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// heapPeak samples the heap's live and not yet collected objects
// (runtime/metrics) every millisecond until stop is called, and returns the
// highest sample.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

// BenchmarkKillSwitchLargeCohort measures the snapshot feed with a large
// cohort present (RAMP_BENCH_MEMBERS members in whatsapp-beta-testers,
// default 1,000,000): its import reaching a connected provider (time from
// the import's exit, bytes received, the provider's peak heap against the
// set's size), then b.N kill switches (`ramp flags
// disable|enable common-mailbox`, each a process; the clock starts when it
// has exited) as they reach the connected provider, with the bytes the
// provider received for each and the server's reload time (its log's
// "took"), then one import that changes the cohort (--mode add, 10,000
// members), as it reaches the provider.
//
//	go test -run '^$' -bench KillSwitchLargeCohort -benchtime 100x ./cmd/ramp/
//	RAMP_BENCH_MEMBERS=10000000 go test -run '^$' -bench KillSwitchLargeCohort -benchtime 100x -timeout 30m ./cmd/ramp/
func BenchmarkKillSwitchLargeCohort(b *testing.B) {
	members := 1_000_000
	if v := os.Getenv("RAMP_BENCH_MEMBERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("RAMP_BENCH_MEMBERS=%q: %v", v, err)
		}
		members = n
	}
	poll := "100ms"
	if v := os.Getenv("RAMP_BENCH_POLL"); v != "" {
		poll = v
	}
	dir := b.TempDir()
	env := append(os.Environ(), "RAMP_DB="+filepath.Join(dir, "ramp.db"), "RAMP_ACTOR=bench", "RAMP_FORCE_TTY=")
	ramp := rampIn(b, env)
	ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	csvPath := filepath.Join(dir, "beta.csv")
	writeMembersCSV(b, csvPath, members)
	more := filepath.Join(dir, "more.csv")
	writeMembersCSV(b, more, members+10_000)
	key := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "bench", "-o", "table"))
	// Started before the import: its first load of a large list can take
	// longer than startServe waits for on a busy machine.
	srv := startServe(b, env, "127.0.0.1:0", "--poll", poll)

	var received atomic.Int64
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &received}, nil
	}}}
	p, err := provider.New(srv.url, key, provider.PollInterval(time.Hour), provider.HTTPClient(client))
	if err != nil {
		b.Fatal(err)
	}
	if err := openfeature.SetProviderAndWait(p); err != nil {
		b.Fatal(err)
	}
	defer openfeature.Shutdown()
	bigSet := func() *cohorts.Set { return p.Snapshot().State().MemberSets["whatsapp-beta-testers"] }

	// The import reaches the connected provider: its first sync of the
	// large list.
	ramp("cohorts", "import", "whatsapp-beta-testers", csvPath)
	runtime.GC()
	base := heapPeak()()
	stopPeak := heapPeak()
	sent := received.Load()
	start := time.Now()
	for bigSet().Len() != members {
		if time.Since(start) > 10*time.Minute {
			b.Fatal("the import did not reach the provider within 10 minutes")
		}
		time.Sleep(time.Millisecond)
	}
	firstSync := time.Since(start)
	peak := stopPeak()
	firstMB := float64(received.Load()-sent) / 1e6
	setBytes := bigSet().SizeBytes()
	api := openfeature.NewDefaultClient()
	ctx := context.Background()
	ec := openfeature.NewEvaluationContext("emp-1", nil)
	reloadsBefore := len(reloadTimes(srv.logs()))
	var latencies []time.Duration
	var bytes []int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		verb, want := "disable", openfeature.DisabledReason
		if i%2 == 1 {
			verb, want = "enable", openfeature.TargetingMatchReason
		}
		ramp("flags", verb, "common-mailbox")
		sent := received.Load()
		t0 := time.Now()
		for {
			if d, _ := api.BooleanValueDetails(ctx, "common-mailbox", false, ec); d.Reason == want {
				break
			}
			if time.Since(t0) > 30*time.Second {
				b.Fatalf("change %d not seen within 30 s", i)
			}
			time.Sleep(200 * time.Microsecond)
		}
		latencies = append(latencies, time.Since(t0))
		time.Sleep(20 * time.Millisecond) // the rest of the exchange, if any, counts for this change
		bytes = append(bytes, received.Load()-sent)
	}
	b.StopTimer()
	// Reported here: ResetTimer forgets metrics reported before it.
	b.ReportMetric(firstSync.Seconds()*1000, "import-to-provider-first-ms")
	b.ReportMetric(firstMB, "first-sync-MB")
	b.ReportMetric(float64(setBytes)/(1<<20), "set-MiB")
	b.ReportMetric(float64(peak-base)/float64(setBytes), "first-sync-peak-heap/set")
	slices.Sort(latencies)
	slices.Sort(bytes)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "kill-p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "kill-p99-ms")
	b.ReportMetric(float64(bytes[len(bytes)-1]), "kill-max-bytes")
	b.ReportMetric(float64(bytes[len(bytes)/2]), "kill-p50-bytes")
	reloads := reloadTimes(srv.logs())[reloadsBefore:]
	if len(reloads) > 0 {
		slices.Sort(reloads)
		b.ReportMetric(float64(reloads[len(reloads)/2].Microseconds())/1000, "reload-p50-ms")
		b.ReportMetric(float64(reloads[len(reloads)*99/100].Microseconds())/1000, "reload-p99-ms")
	}

	// The cohort changes: its set travels once.
	sent = received.Load()
	stopPeak = heapPeak()
	t0 := time.Now()
	ramp("cohorts", "import", "whatsapp-beta-testers", more, "--mode", "add")
	imported := time.Since(t0)
	t0 = time.Now()
	for bigSet().Len() != members+10_000 {
		if time.Since(t0) > 120*time.Second {
			b.Fatal("the import did not reach the provider within 120 s")
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(imported.Milliseconds()), "import-ms")
	b.ReportMetric(float64(time.Since(t0).Milliseconds()), "import-to-provider-ms")
	b.ReportMetric(float64(received.Load()-sent)/1e6, "import-MB")
	b.ReportMetric(float64(stopPeak()-base)/float64(setBytes), "update-peak-heap/set")
	if r := reloadTimes(srv.logs()); len(r) > 0 {
		b.ReportMetric(float64(r[len(r)-1].Milliseconds()), "import-reload-ms")
	}
}

// reloadTimes reads the "took" of every "configuration loaded" line of a
// server's JSON log.
func reloadTimes(logs string) []time.Duration {
	var out []time.Duration
	for _, line := range strings.Split(logs, "\n") {
		var m struct {
			Msg  string `json:"msg"`
			Took string `json:"took"`
		}
		if json.Unmarshal([]byte(line), &m) != nil || m.Msg != "configuration loaded" {
			continue
		}
		if d, err := time.ParseDuration(m.Took); err == nil {
			out = append(out, d)
		}
	}
	return out
}

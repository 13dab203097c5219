package clickhouse_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/clickhouse"
	"github.com/ramp-flags/ramp/internal/clickhouse/chtest"
	"github.com/ramp-flags/ramp/internal/tracktest"
)

// BenchmarkServeIngest posts batches of 5,000 events from 16 clients on
// loopback to a real `ramp serve --events clickhouse://…` (in process),
// each answered once its events are inserted into ClickHouse. Every event
// is new (a random id, a later time) with two identifiers (targetingKey,
// accountCenterId) over a million units and an attribute not kept; a body
// is about 950 kB. The clients share the process and the two cores with
// the server and with ClickHouse: events/s is what the machine does with
// all three. Besides events/s it reports the CPU each side spent per
// event over the timed run: proc-µs/event for this process (clients and
// server; the clients' goroutines carry the pprof label ingest=client, so
// that a -cpuprofile splits the two: go tool pprof -tagfocus
// ingest=client) and ch-µs/event for the ClickHouse server that
// .ci/clickhouse.sh started ($RAMP_CH_DIR), read from /proc.
//
//	eval "$(.ci/clickhouse.sh start)"
//	go test -run '^$' -bench ServeIngest -benchtime 20s ./internal/clickhouse/
func BenchmarkServeIngest(b *testing.B) {
	for _, clients := range []int{8, 16, 64} {
		b.Run(fmt.Sprintf("batch=5000/clients=%d", clients), func(b *testing.B) { benchIngest(b, 5000, clients) })
	}
}

func benchIngest(b *testing.B, batch, clients int) {
	b.Setenv("RAMP_ACTOR", "bench")
	b.Setenv("RAMP_EVENTS", "")
	events := chtest.DSN(b)
	args := []string{"--db", filepath.Join(b.TempDir(), "ramp.db"), "--events", events}
	rampCmd(b, append(args, "apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))...)
	url, stop := serve(b, args...)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	bodies := make(chan *tracktest.Body, clients)
	for i := range clients {
		bodies <- tracktest.NewBody(batch, uint64(i))
	}
	var posted atomic.Int64
	b.SetParallelism((clients + 1) / 2)
	b.ReportAllocs()
	cpu0, ch0 := processCPU(), clickHouseCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		body := <-bodies
		defer func() { bodies <- body }()
		pprof.Do(context.Background(), pprof.Labels("ingest", "client"), func(context.Context) { post(b, pb, hc, url, body, batch, &posted) })
	})
	b.StopTimer()
	cpu1, ch1 := processCPU(), clickHouseCPU()
	n := float64(posted.Load())
	b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpu1-cpu0)/time.Microsecond)/n, "proc-µs/event")
	if ch0 >= 0 && ch1 >= 0 {
		b.ReportMetric(float64((ch1-ch0)/time.Microsecond)/n, "ch-µs/event")
	}
	b.ReportMetric(0, "ns/op")
	stop()
	s, err := clickhouse.Open(context.Background(), events, clickhouse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, err := s.TrackingStats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if st.EventRows != posted.Load() {
		b.Fatalf("%d events answered 200, %d stored", posted.Load(), st.EventRows)
	}
}

// post is one client's loop: a new body, posted, until pb says stop.
func post(b *testing.B, pb *testing.PB, hc *http.Client, url string, body *tracktest.Body, batch int, posted *atomic.Int64) {
	for pb.Next() {
		body.Renew()
		resp, err := hc.Post(url+"/v1/track", "application/json", bytes.NewReader(body.Bytes()))
		if err != nil {
			b.Error(err)
			return
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Errorf("POST /v1/track: %d %s", resp.StatusCode, msg)
			return
		}
		posted.Add(int64(batch))
	}
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clickHouseCPU is the CPU time used by the ClickHouse server that
// .ci/clickhouse.sh started ($RAMP_CH_DIR/pid: the server, or the runuser
// that runs it), or -1 when it cannot be read (another server, not Linux).
func clickHouseCPU() time.Duration {
	dir := os.Getenv("RAMP_CH_DIR")
	if dir == "" {
		return -1
	}
	pid, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		return -1
	}
	p := strings.TrimSpace(string(pid))
	if comm, _ := os.ReadFile("/proc/" + p + "/comm"); strings.TrimSpace(string(comm)) == "runuser" {
		children, _ := os.ReadFile("/proc/" + p + "/task/" + p + "/children")
		if p = strings.TrimSpace(string(children)); p == "" || strings.Contains(p, " ") {
			return -1
		}
	}
	stat, err := os.ReadFile("/proc/" + p + "/stat")
	if err != nil {
		return -1
	}
	// Fields 14 and 15 (utime, stime, in clock ticks of 1/100 s) follow the
	// command, which is in parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

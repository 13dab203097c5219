package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
	"github.com/ramp-flags/ramp/tracking"
)

// benchEvents returns a batch of n events of 2 unit attributes each
// (targetingKey and accountCenterId), with ids unique across calls (from
// first) and units spread over units.
func benchEvents(first, n, units int) []tracking.Event {
	out := make([]tracking.Event, n)
	for i := range out {
		k := first + i
		u := (k * 7919) % units
		out[i] = tracking.Event{
			// Ids as a client makes them: random-looking, not ordered.
			ID:    fmt.Sprintf("%016x", uint64(k)*0x9e3779b97f4a7c15),
			Name:  "dm_reply",
			Value: float64(k % 7),
			// In order, as live traffic comes: 50M events span one day.
			Time:  t0.Add(time.Duration(k) * 1728 * time.Microsecond),
			Units: map[string]string{"targetingKey": "u" + strconv.Itoa(u), "accountCenterId": "a" + strconv.Itoa(u)},
		}
	}
	return out
}

// BenchmarkWriteEvents measures sustained ingest into the store: batches of
// 5,000 events, one transaction per batch, into a table that grows by every
// batch; events with one unit attribute (a row each) and with two
// (targetingKey and accountCenterId: two rows each).
func BenchmarkWriteEvents(b *testing.B) {
	for _, attrs := range []int{1, 2} {
		b.Run(fmt.Sprintf("attrs=%d", attrs), func(b *testing.B) { benchWriteEvents(b, attrs) })
	}
}

func benchWriteEvents(b *testing.B, attrs int) {
	ctx := context.Background()
	trim := func(es []tracking.Event) []tracking.Event {
		if attrs == 1 {
			for i := range es {
				delete(es[i].Units, "accountCenterId")
			}
		}
		return es
	}
	s := openBench(b)
	defer s.Close()
	const batch = 5000
	// Events built before the clock runs: the figure is the store's.
	var batches [][]tracking.Event
	for i := range 64 {
		batches = append(batches, trim(benchEvents(i*batch, batch, 1_000_000)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, pg0 := cpuTime(), postgresCPU()
	k := 0
	for b.Loop() {
		if k == len(batches) {
			b.StopTimer()
			for i := range batches {
				batches[i] = trim(benchEvents((k+i)*batch, batch, 1_000_000))
			}
			b.StartTimer()
		}
		if err := s.WriteEvents(ctx, batches[k%len(batches)]); err != nil {
			b.Fatal(err)
		}
		k++
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	// On a shared machine the wall clock says how busy the others are; the
	// process's CPU time (Go and SQLite, not a Postgres server's) says
	// what an event costs.
	cpu := cpuTime() - cpu0
	if pg := postgresCPU() - pg0; pg > 0 {
		cpu += pg // the server's backends, when $RAMP_PG_DIR names its cluster
	}
	b.ReportMetric(float64(b.N*batch)/cpu.Seconds(), "events/CPU-s")
}

// postgresCPU returns the CPU time used so far by the processes of the
// Postgres cluster in $RAMP_PG_DIR (.ci/postgres.sh's): its postmaster and
// the backends it started. 0 without one.
func postgresCPU() time.Duration {
	dir := os.Getenv("RAMP_PG_DIR")
	if dir == "" || !testdb.IsPostgres(os.Getenv("RAMP_TEST_DSN")) {
		return 0
	}
	pidFile, err := os.ReadFile(dir + "/data/postmaster.pid")
	if err != nil {
		return 0
	}
	master, _, _ := strings.Cut(string(pidFile), "\n")
	entries, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime are fields 14 and 15.
		_, rest, ok := strings.Cut(string(stat), ") ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 13 || (e.Name() != master && f[1] != master) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteExposures measures exposure ingest: batches of 5,000.
func BenchmarkWriteExposures(b *testing.B) {
	ctx := context.Background()
	s := openBench(b)
	defer s.Close()
	const batch = 5000
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		xs := make([]tracking.Exposure, batch)
		for i := range xs {
			xs[i] = exposure("e", 1, "targetingKey", "u"+strconv.Itoa(k), []string{"on", "off"}[k%2], t0)
			k++
		}
		if err := s.WriteExposures(ctx, xs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "exposures/s")
}

// BenchmarkCompact compacts $RAMP_BENCH_EVENTS raw events (default
// 200,000) for a fifth as many exposed units (10M units for 50M events),
// one attribute each, written beforehand; it reports the time of one
// compaction and the process's peak resident memory during it (SQLite
// runs in the process; a Postgres server's memory is its own). The
// exposures are compacted first, untimed. stats=3 maintains three
// statistics of the events' experiment (MaintainArmStats: a mean with a
// covariate, a conversion, a ratio), current before the events come:
// the cost of keeping them up to date, against stats=0.
func BenchmarkCompact(b *testing.B) {
	for _, stats := range []int{0, 3} {
		b.Run(fmt.Sprintf("stats=%d", stats), func(b *testing.B) { benchCompact(b, stats) })
	}
}

// compactBenchStats are the statistics BenchmarkCompact maintains.
var compactBenchStats = []store.ArmQuery{
	{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: 7},
		X: &store.UnitValue{Event: "dm_reply", FromDay: -14, ToDay: 0}},
	{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: 7, Indicator: true}},
	{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: 1 << 31},
		X: &store.UnitValue{Event: "dm_sent", FromDay: 0, ToDay: 1 << 31}},
}

func benchCompact(b *testing.B, stats int) {
	n := 200_000
	if v := os.Getenv("RAMP_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("RAMP_BENCH_EVENTS=%q: %v", v, err)
		}
	}
	units := max(n/5, 1)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s := openBench(b)
		setup := time.Now()
		const batch = 10_000
		xs := make([]tracking.Exposure, 0, batch)
		for u := 0; u < units; u++ {
			xs = append(xs, exposure("e", 1, "targetingKey", "u"+strconv.Itoa(u), []string{"on", "off"}[u%2], t0))
			if len(xs) == batch || u == units-1 {
				if err := s.WriteExposures(ctx, xs); err != nil {
					b.Fatal(err)
				}
				xs = xs[:0]
			}
		}
		if err := s.MaintainArmStats(ctx, compactBenchStats[:stats], false); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Compact(ctx, store.CompactOptions{}); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += batch {
			es := benchEvents(i, min(batch, n-i), units)
			for j := range es {
				delete(es[j].Units, "accountCenterId")
			}
			if err := s.WriteEvents(ctx, es); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("setup: %d exposures, %d events in %v", units, n, time.Since(setup).Round(time.Second))
		resetPeakRSS()
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		res, err := s.Compact(ctx, store.CompactOptions{})
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		b.Logf("compacted %d events for %d units in %v (CPU %v): %+v; peak RSS %d MiB", n, units, elapsed.Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond), res, peakRSS()>>20)
		if stats > 0 {
			checkBenchStats(b, s, compactBenchStats[:stats])
		}
		s.Close()
		b.StartTimer()
	}
}

// checkBenchStats checks that the maintained statistics are current and
// equal the grouped query's, so that the benchmark measured real work.
func checkBenchStats(b *testing.B, s *store.Store, qs []store.ArmQuery) {
	b.Helper()
	ctx := context.Background()
	st, err := s.MaintainedArmStats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range st {
		if !m.Current {
			b.Fatalf("statistic %+v is not current", m)
		}
	}
	for _, q := range qs {
		got, _, err := s.ArmStats(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		want, _, err := s.ArmStatsJoin(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if d := diff(want, got); d != "" || len(got) == 0 || got[0].SumY == 0 {
			b.Fatalf("maintained %+v: differs from the grouped query (-join +maintained):\n%s", q.Y, d)
		}
	}
}

// benchDSN is a fresh database: $RAMP_TEST_DSN's Postgres, else a SQLite
// file in the benchmark's temporary directory, opened with the driver
// parameters in $RAMP_BENCH_SQLITE_PARAMS (such as _sync=NORMAL).
func benchDSN(b *testing.B) string {
	b.Helper()
	dsn := testdb.DSN(b)
	if p := os.Getenv("RAMP_BENCH_SQLITE_PARAMS"); p != "" && !testdb.IsPostgres(dsn) {
		dsn += "?" + p // e.g. _sync=NORMAL
	}
	return dsn
}

// openBench opens a fresh store for a benchmark.
func openBench(b *testing.B) *store.Store {
	b.Helper()
	s, err := store.Open(context.Background(), benchDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// resetPeakRSS resets the kernel's peak-RSS mark of the process (Linux).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the process's peak resident memory in bytes (VmHWM), or 0.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

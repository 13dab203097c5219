package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/clickhouse"
)

// BenchmarkReport reads the report of the scenario's dm-handoff-vs-inline
// (its sample ratio, and three metrics: replies per user with its CUPED
// covariate, the reply rate, send errors per message) from a ClickHouse
// fixture of $RAMP_BENCH_REPORT_UNITS exposed units (default 100 million;
// 1% of them seen in two arms) and five times as many events (half
// dm_reply, 40% dm_sent, 10% dm_send_error) over five weeks around the
// exposures: one admin.Report, as `ramp experiments report` makes it.
//
// First it refreshes the maintained statistics (admin.Service.Compact, as
// `ramp events compact` or the compaction loop of `ramp serve` does), and
// reports how long that took as s/refresh; then the reports read the
// refreshed sums.
//
// The fixture is made inside ClickHouse (INSERT … SELECT FROM numbers(N))
// in database ramp_bench_report_N, and kept: a later run on the same
// server reuses it (start the server with RAMP_CH_DATA set to a
// directory to keep, see .ci/clickhouse.sh). Making 100 million units
// and 500 million events takes tens of minutes on two cores.
//
//	RAMP_CH_DATA=/var/tmp/ramp-ch-bench eval "$(.ci/clickhouse.sh start)"
//	go test -run '^$' -bench Report -benchtime 1x -timeout 3h ./internal/clickhouse/
func BenchmarkReport(b *testing.B) {
	units := int64(100_000_000)
	if v := os.Getenv("RAMP_BENCH_REPORT_UNITS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1000 {
			b.Fatalf("RAMP_BENCH_REPORT_UNITS=%q: want a number of units, at least 1000", v)
		}
		units = n
	}
	base := os.Getenv("RAMP_TEST_CLICKHOUSE")
	if base == "" {
		b.Skip("needs a ClickHouse server: RAMP_TEST_CLICKHOUSE=clickhouse://127.0.0.1:PORT (.ci/clickhouse.sh start)")
	}
	dsn := fmt.Sprintf("%s/ramp_bench_report_%d", base, units)
	ctx := context.Background()
	makeReportFixture(b, dsn, units)

	b.Setenv("RAMP_ACTOR", "bench")
	db := filepath.Join(b.TempDir(), "ramp.db")
	rampCmd(b, "--db", db, "apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	a, err := admin.Open(ctx, db, admin.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if err := a.OpenEvents(ctx, dsn); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	res, err := a.Compact(ctx, admin.CompactOptions{RebuildStats: true})
	if err != nil {
		b.Fatal(err)
	}
	refresh := time.Since(start)
	b.Logf("refreshed %d statistics in %s", res.StatsBuilt, refresh.Round(time.Millisecond))
	if res.StatsBuilt == 0 {
		b.Fatal("the compaction refreshed no statistic")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := a.Report(ctx, admin.ReportRequest{Key: "dm-handoff-vs-inline"})
		if err != nil {
			b.Fatal(err)
		}
		if r.SampleRatio.Units+r.SampleRatio.MultiArm != units || len(r.Metrics) != 3 {
			b.Fatalf("report of %d units (+%d multi-arm) and %d metrics; want %d units and 3 metrics", r.SampleRatio.Units, r.SampleRatio.MultiArm, len(r.Metrics), units)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/report")
	b.ReportMetric(refresh.Seconds(), "s/refresh")
}

// makeReportFixture fills the database dsn names with units exposed units
// and 5×units events, unless a previous run finished it (its table
// fixture_done holds the counts).
func makeReportFixture(b *testing.B, dsn string, units int64) {
	b.Helper()
	ctx := context.Background()
	s, err := clickhouse.Open(ctx, dsn, clickhouse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	o, err := ch.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	o.Settings = ch.Settings{"max_execution_time": 0}
	o.ReadTimeout = time.Hour
	conn, err := ch.Open(o)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	db := "`" + s.Database() + "`"
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+db+".fixture_done (units Int64) ENGINE = TinyLog"); err != nil {
		b.Fatal(err)
	}
	var done uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".fixture_done WHERE units = ?", units).Scan(&done); err != nil {
		b.Fatal(err)
	}
	if done > 0 {
		b.Logf("reusing the fixture of %d units in %s", units, s.Database())
		return
	}
	for _, t := range []string{"exposures", "events"} {
		if err := conn.Exec(ctx, "TRUNCATE TABLE "+db+"."+t); err != nil {
			b.Fatal(err)
		}
	}
	const day = int64(24 * time.Hour / time.Microsecond)
	// Exposures on days 14–20 of the five weeks, events on days 0–34.
	dayBase := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).UnixMicro() / day
	start := time.Now()
	arm := "multiIf(intHash32(number) % 100 < 34, 'off', intHash32(number) % 100 < 67, 'handoff', 'inline')"
	expAt := fmt.Sprintf("toInt64(%d + 14 + intHash32(number) %% 7) * %d + toInt64(intHash32(number + 1) %% 86400) * 1000000", dayBase, day)
	run := func(what, q string) {
		b.Helper()
		t := time.Now()
		if err := conn.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", what, err)
		}
		b.Logf("fixture: %s in %s (%s so far)", what, time.Since(t).Round(time.Second), time.Since(start).Round(time.Second))
	}
	const chunk = 20_000_000
	for lo := int64(0); lo < units; lo += chunk {
		n := min(chunk, units-lo)
		run(fmt.Sprintf("exposures %d-%d", lo, lo+n), fmt.Sprintf(`INSERT INTO %s.exposures (experiment, phase, unit_attr, unit, arm, flag, at, rev)
			SELECT 'dm-handoff-vs-inline', 1, 'accountCenterId', concat('ac-', toString(number)), %s, 'ig-dm-via-whatsapp', %s AS at,
				18446744073709551615 - bitXor(toUInt64(at), 9223372036854775808)
			FROM numbers(%d, %d)`, db, arm, expAt, lo, n))
	}
	// 1% seen again an hour later in the next arm: multi-arm.
	run("multi-arm exposures", fmt.Sprintf(`INSERT INTO %s.exposures (experiment, phase, unit_attr, unit, arm, flag, at, rev)
		SELECT 'dm-handoff-vs-inline', 1, 'accountCenterId', concat('ac-', toString(number)),
			multiIf(intHash32(number) %% 100 < 34, 'handoff', intHash32(number) %% 100 < 67, 'inline', 'off'), 'ig-dm-via-whatsapp',
			%s + 3600000000 AS at, 18446744073709551615 - bitXor(toUInt64(at), 9223372036854775808)
		FROM numbers(%d) WHERE number %% 100 = 0`, db, expAt, units))
	// Events week by week, so that each insert writes one partition.
	perWeek := units
	for w := int64(0); w < 5; w++ {
		for lo := w * perWeek; lo < (w+1)*perWeek; lo += chunk {
			n := min(chunk, (w+1)*perWeek-lo)
			run(fmt.Sprintf("events of week %d, %d-%d", w, lo, lo+n), fmt.Sprintf(`INSERT INTO %s.events (name, attr, unit, at, day, value, first, h)
				SELECT multiIf(number %% 10 < 5, 'dm_reply', number %% 10 < 9, 'dm_sent', 'dm_send_error'), 'accountCenterId',
					concat('ac-', toString(intHash64(number) %% %d)),
					toInt64(%d + %d + intHash32(number) %% 7) * %d + toInt64(intHash32(number + 7) %% 86400) * 1000000 AS at,
					toInt32(intDiv(at, %d)), if(number %% 10 < 5, toFloat64(1 + intHash32(number + 3) %% 3), 1.), 1, intHash64(number)
				FROM numbers(%d, %d)`, db, units, dayBase, 7*w, day, day, lo, n))
		}
	}
	if err := conn.Exec(ctx, "INSERT INTO "+db+".fixture_done (units) SELECT toInt64(?)", units); err != nil {
		b.Fatal(err)
	}
	b.Logf("fixture of %d units and %d events made in %s", units, 5*units, time.Since(start).Round(time.Second))
}

package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// The fixture of BenchmarkArmStats: an experiment phase with U exposed
// units and about 5·U events compacted into per-unit totals, written
// straight into tracking_exposures and tracking_totals with bulk inserts.
// It bypasses ingest and compaction (which take 35 minutes for 50M events,
// see BENCHMARKS.md): the tables hold what compaction would have made of
// such events, which is all ArmStats reads; tracking_events and
// tracking_unit_days stay empty.
//
//   - Units "u00000000" … in one experiment and phase, attribute
//     targetingKey; arms "handoff" and "inline" at random, 0.1% of the
//     units multi-arm. Exposures are inserted in arrival order: first
//     exposures spread over 14 days, units in random order (row ids follow
//     time, not the unit, as in production).
//   - Each unit has k events, k uniform in [0, 10] (mean 5, 1 unit in 11
//     without any): dm_sent (50%), dm_reply (35%) or dm_send_error (15%),
//     on a day offset uniform in [-14, 14), value 1 (dm_reply: 1 to 3).
//     Events of one unit, name and day add up into one totals row: 50M
//     events make 47.9M rows.
//   - SQLite: totals inserted in key order, so the WITHOUT ROWID B-tree is
//     densely packed, like a vacuumed file (compaction fills it in random
//     order, leaving pages partly empty). Postgres: totals inserted in the
//     order compaction would write them over time — day by day, units in
//     arrival order within a day — so that a unit's rows lie scattered
//     over the heap as in production; then VACUUM ANALYZE, as autovacuum
//     would do after a bulk load.
//
// The fixture is built once per parameter set and kept: a SQLite file in
// the temporary directory, or a schema in $RAMP_TEST_DSN's Postgres
// database, named after the parameters (armFixture.key), so that later
// runs reuse it. Migrations added since it was built run when it is
// opened (the benchmark logs how long they took).
type armFixture struct {
	units, events int
	seed          uint64
}

// armFixtureVersion changes whenever the generator does, so that an old
// cached fixture is not reused.
const armFixtureVersion = 1

func (f armFixture) key() string {
	return fmt.Sprintf("ramp_armstats_v%d_u%d_e%d_s%d", armFixtureVersion, f.units, f.events, f.seed)
}

const armBenchExperiment = "dm-handoff-vs-inline"

// armUnit is one generated unit.
type armUnit struct {
	arm   string
	multi bool
	rows  []armTotal
}

type armTotal struct {
	event    string
	day      int
	n        int64
	total    float64
	totalSq  float64
	sortable int // event index and day, for ordering
}

var armEvents = [...]string{"dm_reply", "dm_send_error", "dm_sent"} // in key order

// unit generates unit i (deterministic per seed and i, whatever the
// order units are generated in), reusing u's row slice.
func (f armFixture) unit(i int, rng *rand.PCG, u *armUnit) {
	rng.Seed(f.seed, uint64(i))
	r := rand.New(rng)
	u.arm = [...]string{"handoff", "inline"}[r.IntN(2)]
	u.multi = r.IntN(1000) == 0
	u.rows = u.rows[:0]
	mean := max(f.events/max(f.units, 1), 1)
	k := r.IntN(2*mean + 1)
	for range k {
		var ev int
		switch p := r.IntN(100); {
		case p < 35:
			ev = 0 // dm_reply
		case p < 50:
			ev = 1 // dm_send_error
		default:
			ev = 2 // dm_sent
		}
		day := r.IntN(28) - 14
		v := 1.0
		if ev == 0 {
			v = float64(1 + r.IntN(3))
		}
		key := ev*1000 + day + 100
		j := slices.IndexFunc(u.rows, func(t armTotal) bool { return t.sortable == key })
		if j < 0 {
			u.rows = append(u.rows, armTotal{event: armEvents[ev], day: day, sortable: key})
			j = len(u.rows) - 1
		}
		u.rows[j].n++
		u.rows[j].total += v
		u.rows[j].totalSq += v * v
	}
	slices.SortFunc(u.rows, func(a, b armTotal) int { return a.sortable - b.sortable })
}

// unitName is unit i's id: fixed width, so that ids sort as numbers do.
func (f armFixture) unitName(i int) string {
	return fmt.Sprintf("u%08d", i)
}

// arrivals returns the units in the order their first exposures arrive,
// and the first exposure time of the k-th arrival.
func (f armFixture) arrivals() (order []int32, firstAt func(k int) int64) {
	order = make([]int32, f.units)
	for i := range order {
		order[i] = int32(i)
	}
	r := rand.New(rand.NewPCG(f.seed, math.MaxUint64))
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	start := t0.Add(-14 * 24 * time.Hour).UnixMicro()
	span := int64(14 * 24 * time.Hour / time.Microsecond)
	return order, func(k int) int64 { return start + span*int64(k)/int64(max(f.units, 1)) }
}

// armFixtureSize reads the benchmark's size: $RAMP_BENCH_EVENTS events
// (default 200,000) for a fifth as many units, as BenchmarkCompact.
func armFixtureSize(b *testing.B) armFixture {
	n := 200_000
	if v := os.Getenv("RAMP_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 5 {
			b.Fatalf("RAMP_BENCH_EVENTS=%q: want a number of events, at least 5", v)
		}
	}
	return armFixture{units: n / 5, events: n, seed: 13}
}

// openArmFixture returns a store holding the fixture, building it first
// unless a previous run left it.
func openArmFixture(b *testing.B, f armFixture) *store.Store {
	b.Helper()
	ctx := context.Background()
	dsn := os.Getenv("RAMP_TEST_DSN")
	if testdb.IsPostgres(dsn) {
		dsn = pgFixtureSchema(b, dsn, f)
	} else {
		path := filepath.Join(os.TempDir(), f.key()+".db")
		if _, err := os.Stat(path); err != nil {
			buildSQLiteFixture(b, f, path)
		}
		dsn = path
		b.Logf("fixture %s (remove it to rebuild)", path)
	}
	start := time.Now()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		b.Logf("opening the fixture took %v (migrations)", d.Round(time.Millisecond))
	}
	// The fixture writes totals straight into the tables; a compaction
	// (which finds no raw events) moves the exposure watermark over its
	// exposures, which ArmStats counts only once compacted. Once per
	// fixture: the watermark is kept.
	if st, err := s.TrackingStats(ctx); err != nil {
		b.Fatal(err)
	} else if st.ExposuresDone == 0 {
		start = time.Now()
		if _, err := s.Compact(ctx, store.CompactOptions{}); err != nil {
			b.Fatal(err)
		}
		b.Logf("took the fixture's exposures in with a compaction: %v", time.Since(start).Round(time.Millisecond))
	}
	return s
}

// buildSQLiteFixture writes the fixture into a new SQLite file at path,
// through a file of its own renamed when complete.
func buildSQLiteFixture(b *testing.B, f armFixture, path string) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	tmp := path + ".building"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"} {
		os.Remove(p)
	}
	s, err := store.Open(ctx, tmp) // the schema, by the migrations
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite3", tmp+"?_journal_mode=OFF&_synchronous=OFF")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// insert writes the rows next produces (false when done), of cols
	// columns, with statements of per rows each, in transactions of about
	// a million rows.
	insert := func(table string, cols int, next func(row []any) bool) int {
		const per = 300
		one := "(" + strings.Repeat("?,", cols-1) + "?)"
		values := func(n int) string {
			return "INSERT INTO " + table + " VALUES " + strings.Repeat(one+",", n-1) + one
		}
		var tx *sql.Tx
		var st *sql.Stmt
		begin := func() {
			var err error
			if tx, err = db.Begin(); err != nil {
				b.Fatal(err)
			}
			if st, err = tx.Prepare(values(per)); err != nil {
				b.Fatal(err)
			}
		}
		commit := func() {
			st.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		begin()
		args := make([]any, 0, per*cols)
		row := make([]any, cols)
		rows := 0
		for next(row) {
			args = append(args, row...)
			if rows++; len(args) < per*cols {
				continue
			}
			if _, err := st.Exec(args...); err != nil {
				b.Fatal(err)
			}
			args = args[:0]
			if rows%(per*3000) == 0 {
				commit()
				begin()
			}
		}
		if len(args) > 0 {
			if _, err := tx.Exec(values(len(args)/cols), args...); err != nil {
				b.Fatal(err)
			}
		}
		commit()
		return rows
	}
	exposures, totals := f.rowSources(false)
	nx := insert("tracking_exposures (experiment, phase, unit_attr, unit, arm, flag, first_at, multi_arm)", 8, exposures)
	nt := insert("tracking_totals (experiment, phase, unit_attr, unit, event, day, n, total, total_sq)", 9, totals)
	if _, err := db.Exec("PRAGMA journal_mode = WAL"); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s: %d exposures, %d totals rows in %v", path, nx, nt, time.Since(start).Round(time.Second))
}

// rowSources returns the fixture's exposure rows (in arrival order) and
// totals rows as generators filling a row of values. The totals come in
// key order, or, with dayMajor, in the order compaction would write them
// over time: day by day, and within a day unit by unit in arrival order
// (a unit's rows end up scattered over a Postgres heap, as in
// production).
func (f armFixture) rowSources(dayMajor bool) (exposures, totals func(row []any) bool) {
	order, firstAt := f.arrivals()
	var rng rand.PCG
	var u armUnit
	k := 0
	exposures = func(row []any) bool {
		if k == len(order) {
			return false
		}
		i := int(order[k])
		f.unit(i, &rng, &u)
		multi := 0
		if u.multi {
			multi = 1
		}
		copy(row, []any{armBenchExperiment, 1, "targetingKey", f.unitName(i), u.arm, "dm-flow", firstAt(k), multi})
		k++
		return true
	}
	// Units in key order (or arrival order), and each unit's rows (of one
	// day only, day-major).
	next, j, day := 0, 0, -14
	var name string
	var rows []armTotal
	totals = func(row []any) bool {
		for j >= len(rows) {
			if next == f.units {
				if !dayMajor || day == 13 {
					return false
				}
				next, day = 0, day+1
			}
			i := next
			if dayMajor {
				i = int(order[next])
			}
			next++
			f.unit(i, &rng, &u)
			name, j, rows = f.unitName(i), 0, u.rows
			if dayMajor {
				rows = slices.DeleteFunc(rows, func(t armTotal) bool { return t.day != day })
			}
		}
		t := rows[j]
		j++
		copy(row, []any{armBenchExperiment, 1, "targetingKey", name, t.event, t.day, t.n, t.total, t.totalSq})
		return true
	}
	return exposures, totals
}

// pgFixtureSchema returns a DSN whose search_path is the fixture's schema
// in the Postgres database dsn names, building it unless it is complete
// (a table bench_fixture_done in it says so). The schema is kept.
func pgFixtureSchema(b *testing.B, dsn string, f armFixture) string {
	b.Helper()
	ctx := context.Background()
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	schema := f.key() + "_daymajor"
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	fixture := u.String()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var done bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'bench_fixture_done')`, schema).Scan(&done); err != nil {
		b.Fatal(err)
	}
	if done {
		b.Logf("fixture: schema %s (drop it to rebuild)", schema)
		return fixture
	}
	start := time.Now()
	for _, stmt := range []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	s, err := store.Open(ctx, fixture)
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	fc, err := pgx.Connect(ctx, fixture)
	if err != nil {
		b.Fatal(err)
	}
	defer fc.Close(ctx)
	exposures, totals := f.rowSources(true)
	copyRows := func(table string, cols []string, next func(row []any) bool) int64 {
		row := make([]any, len(cols))
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if !next(row) {
				return nil, nil
			}
			for i, v := range row {
				if n, ok := v.(int); ok {
					row[i] = int64(n)
				}
			}
			return row, nil
		})
		n, err := fc.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
		if err != nil {
			b.Fatalf("copy into %s: %v", table, err)
		}
		return n
	}
	nx := copyRows("tracking_exposures", []string{"experiment", "phase", "unit_attr", "unit", "arm", "flag", "first_at", "multi_arm"}, exposures)
	nt := copyRows("tracking_totals", []string{"experiment", "phase", "unit_attr", "unit", "event", "day", "n", "total", "total_sq"}, totals)
	// Autovacuum would get there on its own after a bulk load (its insert
	// threshold); the benchmark does not wait for it.
	for _, stmt := range []string{"VACUUM ANALYZE tracking_exposures", "VACUUM ANALYZE tracking_totals", "CREATE TABLE bench_fixture_done ()"} {
		if _, err := fc.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built schema %s: %d exposures, %d totals rows in %v", schema, nx, nt, time.Since(start).Round(time.Second))
	return fixture
}

// armBenchQueries are the queries of a report on the fixture's
// experiment: the primary metric (a mean over 7 days with a 14-day
// pre-period covariate), a conversion, and a ratio guardrail.
var armBenchQueries = []struct {
	name string
	q    store.ArmQuery
}{
	{"mean7d+covariate", store.ArmQuery{Experiment: armBenchExperiment, Phase: 1,
		Y: store.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: 7},
		X: &store.UnitValue{Event: "dm_reply", FromDay: -14, ToDay: 0}}},
	{"conversion7d", store.ArmQuery{Experiment: armBenchExperiment, Phase: 1,
		Y: store.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: 7, Indicator: true}}},
	{"ratio", store.ArmQuery{Experiment: armBenchExperiment, Phase: 1,
		Y: store.UnitValue{Event: "dm_send_error", FromDay: 0, ToDay: math.MaxInt32},
		X: &store.UnitValue{Event: "dm_sent", FromDay: 0, ToDay: math.MaxInt32}}},
	{"mean7d-asof", store.ArmQuery{Experiment: armBenchExperiment, Phase: 1,
		Y:      store.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: 7},
		Before: t0.Add(-7 * 24 * time.Hour).UnixMicro()}},
}

// BenchmarkArmStats measures ArmStats on the fixture (see armFixture):
// $RAMP_BENCH_EVENTS events (default 200,000) for a fifth as many units,
// on SQLite or on $RAMP_TEST_DSN's Postgres. Each sub-benchmark is one
// query of a report; "report" runs the first three in turn.
//
// The first three are maintained statistics: the benchmark asks for them
// (MaintainArmStats) and builds them the way production does, by a
// compaction's build from the per-unit totals (logged with its time,
// once per fixture; RAMP_BENCH_REBUILD=1 builds them again). The as-of
// query and the join/… sub-benchmarks run ArmStats' grouped query (the
// fallback, and the oracle the maintained sums are checked against once).
func BenchmarkArmStats(b *testing.B) {
	f := armFixtureSize(b)
	s := openArmFixture(b, f)
	defer s.Close()
	ctx := context.Background()
	maintained := []store.ArmQuery{armBenchQueries[0].q, armBenchQueries[1].q, armBenchQueries[2].q}
	buildArmBenchStats(b, s, maintained)
	run := func(b *testing.B, stats func(context.Context, store.ArmQuery) ([]store.ArmStats, int64, error), qs ...store.ArmQuery) {
		b.ReportAllocs()
		first := true
		for b.Loop() {
			for _, q := range qs {
				arms, multi, err := stats(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(arms) != 2 || multi == 0 {
					b.Fatalf("ArmStats = %+v, %d: want 2 arms and some multi-arm units", arms, multi)
				}
				if first && len(qs) == 1 {
					b.Logf("%+v, multi-arm %d", arms, multi) // the same on both engines
				}
			}
			first = false
		}
	}
	for _, c := range armBenchQueries {
		b.Run(c.name, func(b *testing.B) { run(b, s.ArmStats, c.q) })
	}
	b.Run("report", func(b *testing.B) { run(b, s.ArmStats, maintained...) })
	for _, c := range armBenchQueries[:3] {
		b.Run("join/"+c.name, func(b *testing.B) { run(b, s.ArmStatsJoin, c.q) })
	}
}

// buildArmBenchStats asks for the maintained statistics qs and, unless
// they are current (kept with the fixture), builds them with a
// compaction, logging how long that took; then checks them against the
// grouped query, once per build.
func buildArmBenchStats(b *testing.B, s *store.Store, qs []store.ArmQuery) {
	b.Helper()
	ctx := context.Background()
	rebuild := os.Getenv("RAMP_BENCH_REBUILD") == "1"
	if err := s.MaintainArmStats(ctx, qs, rebuild); err != nil {
		b.Fatal(err)
	}
	due, err := s.ArmStatsDue(ctx, qs)
	if err != nil {
		b.Fatal(err)
	}
	if !due {
		return
	}
	load := loadAverage()
	start, cpu0 := time.Now(), cpuTime()
	res, err := s.Compact(ctx, store.CompactOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d maintained statistics by compaction in %v (statistics %v; process CPU %v; load %s → %s)",
		res.StatsBuilt, time.Since(start).Round(time.Millisecond), res.StatsBuildTime.Round(time.Millisecond),
		(cpuTime() - cpu0).Round(time.Millisecond), load, loadAverage())
	for _, q := range qs {
		start := time.Now()
		want, wantMulti, err := s.ArmStatsJoin(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		joined := time.Since(start)
		got, multi, err := s.ArmStats(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if d := diff(want, got); d != "" || multi != wantMulti {
			b.Fatalf("maintained %+v: multi-arm %d, want %d (-join +maintained):\n%s", q.Y, multi, wantMulti, d)
		}
		b.Logf("%s: the maintained sums equal the grouped query's (which took %v)", q.Y.Event, joined.Round(time.Millisecond))
	}
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

package clickhouse_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/clickhouse"
	"github.com/ramp-flags/ramp/internal/clickhouse/chtest"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
	"github.com/ramp-flags/ramp/tracking"
)

// openCH opens a Store on a database of the test's own, with a short
// linger so that tests do not wait on it.
func openCH(t testing.TB) (*clickhouse.Store, string) {
	t.Helper()
	dsn := chtest.DSN(t)
	s, err := clickhouse.Open(context.Background(), dsn, clickhouse.Options{MinInterval: time.Millisecond})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// openSQL opens the SQL store the numbers are compared with: SQLite, or
// PostgreSQL on the Postgres pass.
func openSQL(t testing.TB) *store.Store {
	t.Helper()
	dsn := testdb.DSN(t)
	if !testdb.IsPostgres(dsn) {
		dsn = filepath.Join(t.TempDir(), "ramp.db")
	}
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// t0 is a Monday, 10:00 UTC.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// dataset is exposures and events with every case the statistics have
// to get right: two phases, units bucketed by targetingKey and by
// accountCenterId, multi-arm units, events before the exposure (the
// pre-period), on its day, days later and past a window, events naming
// two units, events of any unit (imported), events of units never
// exposed, fractional values, and zero values.
type dataset struct {
	exposures []tracking.Exposure
	events    []tracking.Event
}

func makeDataset(seed uint64, units int) dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	var d dataset
	arms := []string{"control", "treatment", "variant-b"}
	id := 0
	ev := func(name string, value float64, at time.Time, u map[string]string) {
		id++
		d.events = append(d.events, tracking.Event{ID: fmt.Sprintf("ev-%d", id), Name: name, Value: value, Time: at, Units: u})
	}
	for i := range units {
		phase := 1 + i%2
		attr, unit := "targetingKey", fmt.Sprintf("u%d", i)
		if i%5 == 0 {
			attr, unit = "accountCenterId", fmt.Sprintf("ac%d", i)
		}
		arm := arms[rng.IntN(len(arms))]
		first := t0.Add(time.Duration(rng.IntN(4*24*60)) * time.Minute)
		x := tracking.Exposure{Experiment: "exp", Phase: phase, UnitAttr: attr, Unit: unit, Arm: arm, Flag: "f", Time: first}
		d.exposures = append(d.exposures, x)
		if i%17 == 0 { // seen again later in another arm: multi-arm
			y := x
			y.Arm = arms[(slices.Index(arms, arm)+1)%len(arms)]
			y.Time = first.Add(time.Hour)
			d.exposures = append(d.exposures, y)
		}
		if i%7 == 0 { // the same arm again, later: changes nothing
			y := x
			y.Time = first.Add(2 * time.Hour)
			d.exposures = append(d.exposures, y)
		}
		units := map[string]string{attr: unit}
		if attr == "accountCenterId" {
			units["targetingKey"] = fmt.Sprintf("tk%d", i)
		}
		for range rng.IntN(6) {
			// From 20 days before to 20 days after the first exposure.
			at := first.Add(time.Duration(rng.IntN(40*24*60)-20*24*60) * time.Minute)
			switch rng.IntN(4) {
			case 0:
				ev("buy", float64(rng.IntN(100))/4, at, units)
			case 1:
				ev("view", float64(rng.IntN(3)), at, units)
			case 2:
				ev("sent", 1, at, units)
			default:
				ev("error", float64(rng.IntN(2)), at, units)
			}
		}
		if i%11 == 0 {
			ev("buy", 2.5, first.Add(30*time.Minute), map[string]string{tracking.AnyUnit: unit})
		}
	}
	// Events of units never exposed, and of another attribute.
	for i := range units / 10 {
		ev("buy", 1, t0.Add(time.Duration(i)*time.Minute), map[string]string{"targetingKey": fmt.Sprintf("stranger%d", i)})
		ev("buy", 1, t0, map[string]string{"deviceId": fmt.Sprintf("u%d", i)})
	}
	return d
}

// ingest writes d in batches of n to sink, concurrently on two writers.
func ingest(t testing.TB, sink tracking.Sink, d dataset, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(d.exposures); i += n {
		if err := sink.WriteExposures(ctx, d.exposures[i:min(i+n, len(d.exposures))]); err != nil {
			t.Fatalf("WriteExposures: %v", err)
		}
	}
	for i := 0; i < len(d.events); i += n {
		if err := sink.WriteEvents(ctx, d.events[i:min(i+n, len(d.events))]); err != nil {
			t.Fatalf("WriteEvents: %v", err)
		}
	}
}

// queries is every kind of ArmQuery the report and the safety make, with
// cut-offs at midnight, inside a day, and before any exposure.
func queries() []store.ArmQuery {
	day := 24 * time.Hour
	midnight := t0.Truncate(day).Add(2 * day)
	var qs []store.ArmQuery
	for _, phase := range []int{1, 2} {
		for _, before := range []int64{0, midnight.UnixMicro(), t0.Add(30 * time.Hour).UnixMicro(), t0.Add(-day).UnixMicro()} {
			base := store.ArmQuery{Experiment: "exp", Phase: phase, Before: before}
			add := func(y store.UnitValue, x *store.UnitValue) {
				q := base
				q.Y, q.X = y, x
				qs = append(qs, q)
			}
			add(store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7, Indicator: true}, nil) // conversion
			add(store.UnitValue{Event: "buy", FromDay: 0, ToDay: math.MaxInt32}, nil)      // mean, whole phase
			add(store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7},                       // mean with CUPED
				&store.UnitValue{Event: "buy", FromDay: -14, ToDay: 0})
			add(store.UnitValue{Event: "view", FromDay: 1, ToDay: 3}, // covariate of another event
				&store.UnitValue{Event: "buy", FromDay: -7, ToDay: 0})
			add(store.UnitValue{Event: "error", FromDay: 0, ToDay: 14}, &store.UnitValue{Event: "sent", FromDay: 0, ToDay: 14}) // ratio
			add(store.UnitValue{Event: "error", FromDay: 0, ToDay: 1, Indicator: true}, &store.UnitValue{Event: "error", FromDay: 0, ToDay: 1})
			add(store.UnitValue{Event: "nothing", FromDay: 0, ToDay: 7}, nil) // no such events
		}
	}
	return append(qs, store.ArmQuery{Experiment: "none", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7}})
}

// approx compares floats to a relative 1e-9: sums added in another order.
var approx = cmp.Comparer(func(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
})

// TestSameNumbersAsTheSQLStore ingests one data set into the SQL store
// (SQLite, or PostgreSQL on the Postgres pass) and into ClickHouse, and
// compares every per-arm statistic and count.
func TestSameNumbersAsTheSQLStore(t *testing.T) {
	for _, c := range []struct {
		name  string
		split uint64
	}{{"one query", 0}, {"split in bucket ranges", 500}} {
		t.Run(c.name, func(t *testing.T) {
			if c.split > 0 {
				defer clickhouse.SetUnitsPerQuery(c.split)()
			}
			testSameNumbers(t)
		})
	}
}

func testSameNumbers(t *testing.T) {
	ch, _ := openCH(t)
	sql := openSQL(t)
	d := makeDataset(1, 3000)
	ingest(t, sql, d, 700)
	ingest(t, ch, d, 700)
	ctx := context.Background()
	if _, err := sql.Compact(ctx, store.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	if nonEmpty := compareWithSQL(t, ch, sql, queries()); nonEmpty < 20 {
		t.Errorf("only %d queries have a non-zero sum: the data set tests too little", nonEmpty)
	}
	want, err := sql.TrackingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ch.TrackingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Exposures != want.Exposures || got.MultiArm != want.MultiArm || got.EventRows != want.EventRows {
		t.Errorf("TrackingStats: got %d exposures, %d multi-arm, %d events; want %d, %d, %d",
			got.Exposures, got.MultiArm, got.EventRows, want.Exposures, want.MultiArm, want.EventRows)
	}
}

// compareWithSQL compares ClickHouse's ArmStats and ExposureCounts of qs
// with the SQL store's, and returns how many queries have a non-zero Σy
// (how much the data tests).
func compareWithSQL(t *testing.T, ch *clickhouse.Store, sql *store.Store, qs []store.ArmQuery) (nonEmpty int) {
	t.Helper()
	ctx := context.Background()
	exps := map[string]bool{}
	for _, q := range qs {
		exps[q.Experiment] = true
		want, wantMulti, err := sql.ArmStats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, gotMulti, err := ch.ArmStats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, approx); diff != "" || gotMulti != wantMulti {
			t.Errorf("ArmStats(%+v): multi-arm %d, want %d; (-SQL +ClickHouse):\n%s", q, gotMulti, wantMulti, diff)
		}
		for _, a := range want {
			if a.SumY != 0 {
				nonEmpty++
				break
			}
		}
	}
	for exp := range exps {
		want, err := sql.ExposureCounts(ctx, exp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ch.ExposureCounts(ctx, exp)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ExposureCounts(%s) (-SQL +ClickHouse):\n%s", exp, diff)
		}
	}
	return nonEmpty
}

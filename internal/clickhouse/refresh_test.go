package clickhouse_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/clickhouse"
	"github.com/ramp-flags/ramp/internal/clickhouse/chtest"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

// clock is a settable clock for Store.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openRefreshing opens a Store that reads every refreshed statistic
// (LiveUnits 1: no statistic is small enough to count again), on a clock
// of the test's.
func openRefreshing(t *testing.T, dsn string) (*clickhouse.Store, *clock) {
	t.Helper()
	s, err := clickhouse.Open(context.Background(), dsn, clickhouse.Options{MinInterval: time.Millisecond, LiveUnits: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &clock{t: time.Now()}
	s.Now = c.now
	return s, c
}

// refreshingBesideSQL opens a refreshing Store (openRefreshing) and an SQL
// store, stores the same data set of the given units in both (the SQL
// store compacted), and returns them with the queries to maintain.
func refreshingBesideSQL(t *testing.T, dsn string, units int) (*clickhouse.Store, *clock, *store.Store, []store.ArmQuery) {
	t.Helper()
	s, clk := openRefreshing(t, dsn)
	sql := openSQL(t)
	d := makeDataset(7, units)
	ingest(t, sql, d, 500)
	ingest(t, s, d, 500)
	if _, err := sql.Compact(context.Background(), store.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	return s, clk, sql, maintained()
}

// maintained is queries() without cut-offs: what admin asks to maintain.
func maintained() []store.ArmQuery {
	var qs []store.ArmQuery
	for _, q := range queries() {
		if q.Before == 0 {
			qs = append(qs, q)
		}
	}
	return qs
}

// TestRefreshedSameNumbers refreshes every maintained query and checks
// that what ArmStats and ExposureCounts then read (the refresh, a few
// rows) is what the SQL store computes from the same data.
func TestRefreshedSameNumbers(t *testing.T) {
	defer clickhouse.SetUnitsPerQuery(700)() // several bucket ranges
	s, _, sql, qs := refreshingBesideSQL(t, chtest.DSN(t), 2000)
	ctx := context.Background()
	if err := s.MaintainArmStats(ctx, qs, false); err != nil {
		t.Fatal(err)
	}
	if due, err := s.ArmStatsDue(ctx, qs); !due || err != nil {
		t.Fatalf("ArmStatsDue before any refresh: %v, %v; want true", due, err)
	}
	res, err := s.Compact(ctx, store.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Every query once, and the exposure counts of its two experiments.
	if res.StatsBuilt != len(qs)+2 {
		t.Errorf("Compact refreshed %d statistics, want %d", res.StatsBuilt, len(qs)+2)
	}
	if due, err := s.ArmStatsDue(ctx, qs); due || err != nil {
		t.Errorf("ArmStatsDue after the refresh: %v, %v; want false", due, err)
	}
	if nonEmpty := compareWithSQL(t, s, sql, qs); nonEmpty < 10 {
		t.Errorf("only %d queries have a non-zero sum: the data set tests too little", nonEmpty)
	}
}

// TestRefreshStaleness: a refreshed statistic is read as of its refresh
// (for a large experiment: here every one is) until the next one, which
// is due once the tables changed and RefreshEvery passed; a small
// experiment's statistic is computed again from the raw rows as soon as
// anything is stored.
func TestRefreshStaleness(t *testing.T) {
	dsn := chtest.DSN(t)
	s, clk := openRefreshing(t, dsn)
	ctx := context.Background()
	q := store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7}}
	qs := []store.ArmQuery{q}
	expose := func(units ...string) {
		t.Helper()
		var xs []tracking.Exposure
		for _, u := range units {
			xs = append(xs, tracking.Exposure{Experiment: "e", Phase: 1, Flag: "f", UnitAttr: "targetingKey", Unit: u, Arm: "on", Time: t0})
		}
		if err := s.WriteExposures(ctx, xs); err != nil {
			t.Fatal(err)
		}
	}
	units := func(st interface {
		ArmStats(context.Context, store.ArmQuery) ([]store.ArmStats, int64, error)
	}) int64 {
		t.Helper()
		arms, _, err := st.ArmStats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, a := range arms {
			n += a.N
		}
		return n
	}
	expose("u1", "u2")
	if err := s.MaintainArmStats(ctx, qs, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, store.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.TrackingStats(ctx); err != nil || !st.LastRefresh.Equal(clk.now().Truncate(time.Microsecond)) {
		t.Errorf("TrackingStats after the refresh: last refresh %v, %v; want %v", st.LastRefresh, err, clk.now())
	}
	if _, stale, err := s.RefreshedAt(ctx, "e"); stale || err != nil {
		t.Errorf("RefreshedAt right after the refresh: %v, %v; want not stale", stale, err)
	}
	refreshed := clk.now()
	expose("u3")
	if n := units(s); n != 2 {
		t.Errorf("after a third exposure: the refreshed statistic counts %d units, want 2 (as of the refresh)", n)
	}
	if at, stale, err := s.RefreshedAt(ctx, "e"); !stale || err != nil || !at.Equal(refreshed.UTC().Truncate(time.Microsecond)) {
		t.Errorf("RefreshedAt after a new exposure: %v, %v, %v; want %v, stale", at, stale, err, refreshed)
	}
	live, err := clickhouse.Open(ctx, dsn, clickhouse.Options{}) // LiveUnits 200,000
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if n := units(live); n != 3 {
		t.Errorf("a small experiment's statistic with data stored since its refresh: %d units, want 3 (computed again)", n)
	}
	if due, err := s.ArmStatsDue(ctx, qs); due || err != nil {
		t.Errorf("ArmStatsDue within RefreshEvery: %v, %v; want false", due, err)
	}
	clk.add(clickhouse.DefaultRefreshEvery)
	if due, err := s.ArmStatsDue(ctx, qs); !due || err != nil {
		t.Errorf("ArmStatsDue after RefreshEvery and a change: %v, %v; want true", due, err)
	}
	if res, err := s.Compact(ctx, store.CompactOptions{}); err != nil || res.StatsBuilt != 2 {
		t.Fatalf("Compact: %+v, %v; want 2 statistics refreshed", res, err)
	}
	if n := units(s); n != 3 {
		t.Errorf("after the second refresh: %d units, want 3", n)
	}
	// Nothing changed since: not due however old the refresh is, and
	// even a small statistic reads its refresh.
	clk.add(time.Hour)
	if due, err := s.ArmStatsDue(ctx, qs); due || err != nil {
		t.Errorf("ArmStatsDue without a change: %v, %v; want false", due, err)
	}
	if n := units(live); n != 3 {
		t.Errorf("a small statistic refreshed since the last change: %d units, want 3", n)
	}
	// A refresh cut short (its sums written, not its row in refreshes)
	// is never read.
	chtest.Exec(t, dsn, fmt.Sprintf("INSERT INTO %s.refreshed_sums (stat, refreshed, phase, arm, n) SELECT stat, refreshed + 1, phase, arm, 1000 FROM %s.refreshed_sums",
		"`"+s.Database()+"`", "`"+s.Database()+"`"))
	if n := units(s); n != 3 {
		t.Errorf("with the sums of a refresh cut short present: %d units, want 3", n)
	}
	// Rebuild refreshes everything at once, due or not.
	if err := s.MaintainArmStats(ctx, qs, true); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Compact(ctx, store.CompactOptions{}); err != nil || res.StatsBuilt != 2 {
		t.Errorf("Compact after a rebuild request: %+v, %v; want 2 statistics refreshed", res, err)
	}
	if err := s.MaintainArmStats(ctx, []store.ArmQuery{{Experiment: "e", Phase: 1, Y: q.Y, Before: 1}}, false); err == nil {
		t.Error("MaintainArmStats of a query with a cut-off: no error")
	}
}

// TestUnitTotals compares ClickHouse's per-unit totals of the data set
// (retried events in it, and events of any unit) with the SQL store's.
func TestUnitTotals(t *testing.T) {
	ch, _ := openCH(t)
	sql := openSQL(t)
	d := makeDataset(3, 300)
	ingest(t, sql, d, 200)
	ingest(t, ch, d, 200)
	ingest(t, ch, dataset{events: d.events[:len(d.events)/2]}, 100) // retried
	ctx := context.Background()
	if _, err := sql.Compact(ctx, store.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, phase := range []int{1, 2} {
		var want, got []store.UnitTotal
		if err := sql.UnitTotals(ctx, "exp", phase, func(u store.UnitTotal) error { want = append(want, u); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := ch.UnitTotals(ctx, "exp", phase, func(u store.UnitTotal) error { got = append(got, u); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(want) < 100 {
			t.Fatalf("phase %d: the SQL store has %d unit totals: the data set tests too little", phase, len(want))
		}
		if diff := cmp.Diff(want, got, approx); diff != "" {
			t.Errorf("UnitTotals of phase %d (-SQL +ClickHouse):\n%s", phase, diff)
		}
	}
	stop := fmt.Errorf("enough")
	if err := ch.UnitTotals(ctx, "exp", 1, func(store.UnitTotal) error { return stop }); err != stop {
		t.Errorf("UnitTotals with a failing fn: %v, want %v", err, stop)
	}
}

// TestPruneRefreshes refreshes the same statistics again and again: once
// the superseded refreshes reach pruneAfter, compaction deletes them with
// their sums, and keeps each statistic's latest, which reads go on
// returning. The sums of a refresh cut short are deleted when older than
// their statistic's latest refresh, and kept when newer (a refresh still
// being written).
func TestPruneRefreshes(t *testing.T) {
	defer clickhouse.SetPruneAfter(4)()
	dsn := chtest.DSN(t)
	s, clk, sql, qs := refreshingBesideSQL(t, dsn, 300)
	ctx := context.Background()
	stats := uint64(len(qs) + 2) // and the exposure counts of two experiments
	db := s.Database()
	refresh := func() {
		t.Helper()
		if err := s.MaintainArmStats(ctx, qs, true); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Minute)
		if res, err := s.Compact(ctx, store.CompactOptions{}); err != nil || res.StatsBuilt != int(stats) {
			t.Fatalf("Compact: %+v, %v; want %d statistics refreshed", res, err, stats)
		}
	}
	refresh()
	refresh()
	// Two refreshes cut short (their sums written, not their rows in
	// refreshes): one older than the next refresh (superseded, never to
	// be read), and one newer (still being written, as far as a prune can
	// tell).
	latest := clk.now().Add(time.Minute).UnixMicro()
	chtest.Exec(t, dsn, fmt.Sprintf(`INSERT INTO %s.refreshed_sums (stat, refreshed, phase, arm, n)
		SELECT stat, toInt64(%d), phase, arm, 1000 FROM %s.refreshed_sums WHERE refreshed = %d`, db, latest-1, db, clk.now().UnixMicro()))
	chtest.Exec(t, dsn, fmt.Sprintf(`INSERT INTO %s.refreshed_sums (stat, refreshed, phase, arm, n)
		SELECT stat, toInt64(%d), phase, arm, 1000 FROM %s.refreshed_sums WHERE refreshed = %d`, db, latest+1, db, clk.now().UnixMicro()))
	newer := chtest.Count(t, dsn, fmt.Sprintf("SELECT count() FROM %s.refreshed_sums WHERE refreshed = %d", db, latest+1))
	refresh()
	if got := clk.now().UnixMicro(); got != latest {
		t.Fatalf("the last refresh is at %d, want %d", got, latest)
	}
	sums := chtest.Count(t, dsn, fmt.Sprintf("SELECT count() FROM %s.refreshed_sums WHERE refreshed = %d", db, latest))
	// Compaction prunes once no earlier prune's mutation is running;
	// ClickHouse applies mutations in the background.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := s.Compact(ctx, store.CompactOptions{}); err != nil {
			t.Fatal(err)
		}
		refreshes := chtest.Count(t, dsn, fmt.Sprintf("SELECT count() FROM %s.refreshes", db))
		old := chtest.Count(t, dsn, fmt.Sprintf("SELECT count() FROM %s.refreshed_sums WHERE refreshed < %d", db, latest))
		if refreshes == stats && old == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the prune: %d refreshes (want %d, the latest of each statistic), %d sums of older ones", refreshes, stats, old)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := chtest.Count(t, dsn, fmt.Sprintf("SELECT count() FROM %s.refreshes WHERE refreshed = %d", db, latest)); got != stats {
		t.Errorf("%d of the latest refreshes kept, want %d", got, stats)
	}
	if got := chtest.Count(t, dsn, fmt.Sprintf("SELECT count() FROM %s.refreshed_sums WHERE refreshed = %d", db, latest)); got != sums {
		t.Errorf("%d sums of the latest refreshes kept, want %d", got, sums)
	}
	if got := chtest.Count(t, dsn, fmt.Sprintf("SELECT count() FROM %s.refreshed_sums WHERE refreshed = %d", db, latest+1)); got != newer || newer == 0 {
		t.Errorf("%d sums of the refresh still being written kept, want %d (not 0)", got, newer)
	}
	if nonEmpty := compareWithSQL(t, s, sql, qs); nonEmpty < 10 {
		t.Errorf("only %d queries have a non-zero sum: the data set tests too little", nonEmpty)
	}
}

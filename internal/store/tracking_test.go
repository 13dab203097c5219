package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

func exposure(exp string, phase int, attr, unit, arm string, at time.Time) tracking.Exposure {
	return tracking.Exposure{Experiment: exp, Phase: phase, UnitAttr: attr, Unit: unit, Arm: arm, Flag: "f", Time: at}
}

func event(id, name string, value float64, at time.Time, units ...string) tracking.Event {
	e := tracking.Event{ID: id, Name: name, Value: value, Time: at, Units: map[string]string{}}
	for i := 0; i+1 < len(units); i += 2 {
		e.Units[units[i]] = units[i+1]
	}
	return e
}

func mustWriteExposures(t *testing.T, s *store.Store, xs ...tracking.Exposure) {
	t.Helper()
	if err := s.WriteExposures(context.Background(), xs); err != nil {
		t.Fatalf("WriteExposures: %v", err)
	}
}

func mustWriteEvents(t *testing.T, s *store.Store, es ...tracking.Event) {
	t.Helper()
	if err := s.WriteEvents(context.Background(), es); err != nil {
		t.Fatalf("WriteEvents: %v", err)
	}
}

func mustCompact(t *testing.T, s *store.Store, opt store.CompactOptions) store.CompactResult {
	t.Helper()
	res, err := s.Compact(context.Background(), opt)
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	return res
}

// totals returns every per-unit total of an experiment's phase, rendered
// for comparison.
func totals(t *testing.T, s *store.Store, exp string, phase int) []string {
	t.Helper()
	var out []string
	err := s.UnitTotals(context.Background(), exp, phase, func(u store.UnitTotal) error {
		out = append(out, fmt.Sprintf("%s=%s arm=%s multi=%v %s day=%d n=%d sum=%g sumsq=%g",
			u.UnitAttr, u.Unit, u.Arm, u.MultiArm, u.Event, u.Day, u.N, u.Sum, u.SumSq))
		return nil
	})
	if err != nil {
		t.Fatalf("UnitTotals(%s, %d): %v", exp, phase, err)
	}
	return out
}

func TestWriteExposures(t *testing.T) {
	s := openTestStore(t)
	at := t0
	mustWriteExposures(t, s,
		exposure("e", 1, "accountCenterId", "a1", "on", at),
		exposure("e", 1, "accountCenterId", "a1", "on", at.Add(time.Minute)), // the same unit again: nothing
		exposure("e", 1, "accountCenterId", "a2", "off", at),
		exposure("e", 2, "accountCenterId", "a1", "off", at), // another phase: another row
		exposure("other", 1, "targetingKey", "u1", "on", at),
	)
	// A retried batch, a replica's report, and a unit seen in another arm
	// (twice: it is counted once).
	mustWriteExposures(t, s,
		exposure("e", 1, "accountCenterId", "a1", "on", at),
		exposure("e", 1, "accountCenterId", "a2", "on", at.Add(time.Hour)),
	)
	mustWriteExposures(t, s, exposure("e", 1, "accountCenterId", "a2", "inline", at.Add(2*time.Hour)))
	// A unit in two arms within one batch.
	mustWriteExposures(t, s,
		exposure("e", 2, "accountCenterId", "a3", "on", at),
		exposure("e", 2, "accountCenterId", "a3", "off", at.Add(time.Second)),
	)
	got, err := s.ExposureCounts(context.Background(), "e")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ExposureCount{
		{Phase: 1, Arm: "off", Units: 1, MultiArm: 1},
		{Phase: 1, Arm: "on", Units: 1},
		{Phase: 2, Arm: "off", Units: 1},
		{Phase: 2, Arm: "on", Units: 1, MultiArm: 1},
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ExposureCounts (-want +got):\n%s", d)
	}
}

func TestTrackingRefusesInvalid(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	xs := []struct {
		name string
		x    tracking.Exposure
	}{
		{"phase 0", exposure("e", 0, "k", "u", "on", t0)},
		{"no unit", exposure("e", 1, "k", "", "on", t0)},
		{"no experiment", exposure("", 1, "k", "u", "on", t0)},
		{"no time", exposure("e", 1, "k", "u", "on", time.Time{})},
		{"NUL", exposure("e", 1, "k", "u\x00", "on", t0)},
		{"not UTF-8", exposure("e", 1, "k", "u\xff", "on", t0)},
	}
	for _, c := range xs {
		t.Run("exposure/"+c.name, func(t *testing.T) {
			err := s.WriteExposures(ctx, []tracking.Exposure{exposure("e", 1, "k", "ok", "on", t0), c.x})
			if !errors.Is(err, ramp.ErrInvalid) {
				t.Errorf("WriteExposures: got %v, want ramp.ErrInvalid", err)
			}
		})
	}
	es := []struct {
		name string
		e    tracking.Event
	}{
		{"no id", event("", "n", 1, t0, "k", "u")},
		{"no name", event("i", "", 1, t0, "k", "u")},
		{"NaN", event("i", "n", math.NaN(), t0, "k", "u")},
		{"Inf", event("i", "n", math.Inf(1), t0, "k", "u")},
		{"no units", event("i", "n", 1, t0)},
		{"empty unit", event("i", "n", 1, t0, "k", "")},
		{"no time", event("i", "n", 1, time.Time{}, "k", "u")},
	}
	for _, c := range es {
		t.Run("event/"+c.name, func(t *testing.T) {
			err := s.WriteEvents(ctx, []tracking.Event{event("ok", "n", 1, t0, "k", "u"), c.e})
			if !errors.Is(err, ramp.ErrInvalid) {
				t.Errorf("WriteEvents: got %v, want ramp.ErrInvalid", err)
			}
		})
	}
	st, err := s.TrackingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Exposures != 0 || st.EventRows != 0 {
		t.Errorf("after refused batches: %+v, want nothing stored", st)
	}
}

func TestEventsJoinExposures(t *testing.T) {
	s := openTestStore(t)
	at := t0
	mustWriteExposures(t, s,
		exposure("by-account", 1, "accountCenterId", "a1", "inline", at),
		exposure("by-key", 1, "targetingKey", "u1", "handoff", at),
		exposure("by-key", 1, "targetingKey", "u9", "off", at),
	)
	mustWriteEvents(t, s,
		// Tracked with both identifiers: counts for both experiments.
		event("t1", "dm_reply", 2, at.Add(time.Hour), "targetingKey", "u1", "accountCenterId", "a1"),
		// A retry of it: stored once.
		event("t1", "dm_reply", 2, at.Add(time.Hour), "targetingKey", "u1", "accountCenterId", "a1"),
		// Day 1 (the next UTC day), and a minute before the exposure, which
		// is on its day (0).
		event("t2", "dm_reply", 3, at.Add(25*time.Hour), "targetingKey", "u1"),
		event("t3", "dm_reply", 5, at.Add(-time.Minute), "accountCenterId", "a1"),
		event("t6", "dm_reply", 1, at.Add(-13*time.Hour), "accountCenterId", "a1"), // the day before: -1
		// A CSV event: its unit matches whatever the experiment buckets by.
		event("c1", "dm_sent", 1, at.Add(time.Hour), tracking.AnyUnit, "u9"),
		event("c2", "dm_sent", 4, at.Add(2*time.Hour), tracking.AnyUnit, "a1"),
		// Nobody's.
		event("t4", "dm_reply", 1, at, "targetingKey", "stranger"),
		// The wrong attribute: a1 as a targetingKey is not the account a1.
		event("t5", "dm_reply", 7, at, "targetingKey", "a1"),
	)
	mustCompact(t, s, store.CompactOptions{})
	if d := diff([]string{
		"accountCenterId=a1 arm=inline multi=false dm_reply day=-1 n=1 sum=1 sumsq=1",
		"accountCenterId=a1 arm=inline multi=false dm_reply day=0 n=2 sum=7 sumsq=29",
		"accountCenterId=a1 arm=inline multi=false dm_sent day=0 n=1 sum=4 sumsq=16",
	}, totals(t, s, "by-account", 1)); d != "" {
		t.Errorf("by-account totals (-want +got):\n%s", d)
	}
	if d := diff([]string{
		"targetingKey=u1 arm=handoff multi=false dm_reply day=0 n=1 sum=2 sumsq=4",
		"targetingKey=u1 arm=handoff multi=false dm_reply day=1 n=1 sum=3 sumsq=9",
		"targetingKey=u9 arm=off multi=false dm_sent day=0 n=1 sum=1 sumsq=1",
	}, totals(t, s, "by-key", 1)); d != "" {
		t.Errorf("by-key totals (-want +got):\n%s", d)
	}
	st, err := s.TrackingStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.EventRows != 8 || st.Pending != 0 || st.Exposures != 3 {
		t.Errorf("stats %+v: want 8 event rows (one per event stored), none pending, 3 exposures", st)
	}
	// Compacting again changes nothing.
	mustCompact(t, s, store.CompactOptions{})
	if got := totals(t, s, "by-key", 1); len(got) != 3 {
		t.Errorf("after a second compaction: %q", got)
	}
}

func TestLateExposureBackfill(t *testing.T) {
	s := openTestStore(t)
	// Events first (a pre-period, or an exposure batch that came late),
	// compacted while nobody is exposed.
	mustWriteEvents(t, s,
		event("p1", "dm_sent", 1, t0.Add(-48*time.Hour), "targetingKey", "u1"),
		event("p2", "dm_sent", 1, t0.Add(-47*time.Hour), "targetingKey", "u1"),
	)
	mustCompact(t, s, store.CompactOptions{})
	if got := totals(t, s, "e", 1); len(got) != 0 {
		t.Fatalf("totals before any exposure: %q", got)
	}
	mustWriteExposures(t, s, exposure("e", 1, "targetingKey", "u1", "on", t0))
	mustWriteEvents(t, s, event("a1", "dm_sent", 3, t0.Add(time.Hour), "targetingKey", "u1"))
	mustCompact(t, s, store.CompactOptions{})
	if d := diff([]string{
		"targetingKey=u1 arm=on multi=false dm_sent day=-2 n=2 sum=2 sumsq=2",
		"targetingKey=u1 arm=on multi=false dm_sent day=0 n=1 sum=3 sumsq=9",
	}, totals(t, s, "e", 1)); d != "" {
		t.Errorf("totals (-want +got):\n%s", d)
	}
}

func TestCompactRetention(t *testing.T) {
	s := openTestStore(t)
	mustWriteExposures(t, s, exposure("e", 1, "targetingKey", "u1", "on", t0))
	mustWriteEvents(t, s,
		event("old", "x", 1, t0.Add(-40*24*time.Hour), "targetingKey", "u1"),
		event("new", "x", 1, t0, "targetingKey", "u1"),
	)
	// Retention never drops what is not compacted: the first pass compacts
	// both, then drops the old one.
	res := mustCompact(t, s, store.CompactOptions{Retention: 30 * 24 * time.Hour, Now: t0})
	if res.Dropped != 1 {
		t.Errorf("Dropped = %d, want 1", res.Dropped)
	}
	mustWriteEvents(t, s, event("old2", "x", 1, t0.Add(-40*24*time.Hour), "targetingKey", "u1"))
	st, err := s.TrackingStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.EventRows != 2 || st.Pending != 1 {
		t.Errorf("stats %+v: want 2 rows, 1 pending", st)
	}
	// The totals keep what was dropped.
	if d := diff([]string{
		"targetingKey=u1 arm=on multi=false x day=-40 n=1 sum=1 sumsq=1",
		"targetingKey=u1 arm=on multi=false x day=0 n=1 sum=1 sumsq=1",
	}, totals(t, s, "e", 1)); d != "" {
		t.Errorf("totals (-want +got):\n%s", d)
	}
}

// trackingWorkload is a random sequence of exposure and event batches.
type trackingWorkload struct {
	exposures [][]tracking.Exposure
	events    [][]tracking.Event
}

func newWorkload(seed uint64, batches int) trackingWorkload {
	rng := rand.New(rand.NewPCG(seed, 1))
	var w trackingWorkload
	attrs := []string{"targetingKey", "accountCenterId", tracking.AnyUnit}
	for b := 0; b < batches; b++ {
		var xs []tracking.Exposure
		for i := 0; i < 20; i++ {
			attr := attrs[rng.IntN(2)]
			xs = append(xs, exposure(fmt.Sprintf("e%d", rng.IntN(2)), 1+rng.IntN(2), attr,
				fmt.Sprintf("u%d", rng.IntN(50)), []string{"on", "off"}[rng.IntN(2)],
				t0.Add(time.Duration(rng.IntN(72))*time.Hour)))
		}
		var es []tracking.Event
		for i := 0; i < 60; i++ {
			e := event(fmt.Sprintf("id%d", rng.IntN(2000)), []string{"a", "b"}[rng.IntN(2)], float64(rng.IntN(5)),
				t0.Add(time.Duration(rng.IntN(200)-50)*time.Hour))
			for _, a := range attrs {
				if rng.IntN(2) == 0 {
					e.Units[a] = fmt.Sprintf("u%d", rng.IntN(50))
				}
			}
			if len(e.Units) == 0 {
				e.Units["targetingKey"] = "u0"
			}
			// An id always names the same event.
			e.Name, e.Value = "ev"+e.ID[2:3], float64(len(e.ID))
			es = append(es, e)
		}
		w.exposures = append(w.exposures, xs)
		w.events = append(w.events, es)
	}
	return w
}

func TestCompactInterrupted(t *testing.T) {
	w := newWorkload(7, 12)
	ctx := context.Background()
	// The reference: everything written, then one compaction.
	ref := openDSN(t, testDSN(t))
	for i := range w.events {
		mustWriteExposures(t, ref, w.exposures[i]...)
		mustWriteEvents(t, ref, w.events[i]...)
	}
	mustCompact(t, ref, store.CompactOptions{})

	// Compactions interleaved with writes, in tiny chunks, stopped again
	// and again after a random number of chunks or by a cancelled
	// context, and run again.
	s := openDSN(t, testDSN(t))
	rng := rand.New(rand.NewPCG(3, 4))
	stopped := errors.New("stopped")
	for i := range w.events {
		mustWriteEvents(t, s, w.events[i]...)
		mustWriteExposures(t, s, w.exposures[i]...)
		for {
			left := rng.IntN(4)
			cctx, cancel := context.WithCancel(ctx)
			_, err := s.Compact(cctx, store.CompactOptions{ChunkRows: 7, AfterChunk: func(store.CompactProgress) error {
				if left--; left < 0 {
					if rng.IntN(2) == 0 {
						cancel()
						return nil
					}
					return stopped
				}
				return nil
			}})
			cancel()
			if err == nil {
				break
			}
			if !errors.Is(err, stopped) && !errors.Is(err, context.Canceled) {
				t.Fatalf("Compact: %v", err)
			}
		}
	}
	mustCompact(t, s, store.CompactOptions{ChunkRows: 7})
	for _, exp := range []string{"e0", "e1"} {
		for phase := 1; phase <= 2; phase++ {
			want, got := totals(t, ref, exp, phase), totals(t, s, exp, phase)
			if len(want) == 0 {
				t.Fatalf("%s phase %d: the reference has no totals", exp, phase)
			}
			if d := diff(want, got); d != "" {
				t.Errorf("%s phase %d: interrupted compaction's totals (-want +got):\n%s", exp, phase, d)
			}
		}
	}
	// And the reference agrees with a model of the join.
	checkModel(t, ref, w)
}

// checkModel computes the totals of w's first stored exposures in Go and
// compares them with the store's.
func checkModel(t *testing.T, s *store.Store, w trackingWorkload) {
	t.Helper()
	type xkey struct {
		exp   string
		phase int
		attr  string
		unit  string
	}
	first := map[xkey]tracking.Exposure{}
	multi := map[xkey]bool{}
	var order []xkey
	for _, xs := range w.exposures {
		// A batch folds to the earliest exposure of each key.
		batch := map[xkey]tracking.Exposure{}
		var bo []xkey
		for _, x := range xs {
			k := xkey{x.Experiment, x.Phase, x.UnitAttr, x.Unit}
			b, ok := batch[k]
			if !ok {
				bo = append(bo, k)
				batch[k] = x
				continue
			}
			if b.Arm != x.Arm {
				multi[k] = true
			}
			if x.Time.Before(b.Time) {
				batch[k] = x
			}
		}
		for _, k := range bo {
			x := batch[k]
			if f, ok := first[k]; ok {
				if f.Arm != x.Arm {
					multi[k] = true
				}
				continue
			}
			first[k] = x
			order = append(order, k)
		}
	}
	// The store's key: an event's time and id; the first event stored
	// wins, with all its units.
	type row struct {
		id string
		at time.Time
	}
	seen := map[row]bool{}
	type tkey struct {
		k     xkey
		event string
		day   int
	}
	sums := map[tkey]*store.UnitTotal{}
	for _, es := range w.events {
		for _, e := range es {
			r := row{e.ID, e.Time}
			if seen[r] {
				continue
			}
			seen[r] = true
			for attr, unit := range e.Units {
				for _, k := range order {
					if k.unit != unit || (attr != tracking.AnyUnit && attr != k.attr) {
						continue
					}
					day := int(utcDay(e.Time) - utcDay(first[k].Time))
					tk := tkey{k, e.Name, day}
					if sums[tk] == nil {
						sums[tk] = &store.UnitTotal{}
					}
					sums[tk].N++
					sums[tk].Sum += e.Value
					sums[tk].SumSq += e.Value * e.Value
				}
			}
		}
	}
	for _, exp := range []string{"e0", "e1"} {
		for phase := 1; phase <= 2; phase++ {
			var want []string
			for tk, u := range sums {
				if tk.k.exp != exp || tk.k.phase != phase {
					continue
				}
				want = append(want, fmt.Sprintf("%s=%s arm=%s multi=%v %s day=%d n=%d sum=%g sumsq=%g",
					tk.k.attr, tk.k.unit, first[tk.k].Arm, multi[tk.k], tk.event, tk.day, u.N, u.Sum, u.SumSq))
			}
			sort.Strings(want)
			got := totals(t, s, exp, phase)
			sort.Strings(got)
			if d := diff(want, got); d != "" {
				t.Errorf("%s phase %d: totals against the model (-want +got):\n%s", exp, phase, d)
			}
		}
	}
}

// utcDay is t's day since 1970-01-01 UTC.
func utcDay(t time.Time) int64 {
	return int64(math.Floor(float64(t.Unix()) / 86400))
}

func TestImportEvents(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	rows := []store.ImportedEvent{
		{Line: 2, Unit: "u1", Name: "dm_sent", Value: 1, Time: t0},
		{Line: 3, Unit: "u1", Name: "dm_sent", Value: 1, Time: t0}, // a repeat: a second event
		{Line: 4, Unit: "u2", Name: "dm_sent", Value: 2.5, Time: t0.Add(time.Hour)},
	}
	feed := func(rows []store.ImportedEvent, fail error) func() (store.ImportedEvent, error) {
		i := 0
		return func() (store.ImportedEvent, error) {
			if i == len(rows) {
				if fail != nil {
					return store.ImportedEvent{}, fail
				}
				return store.ImportedEvent{}, io.EOF
			}
			i++
			return rows[i-1], nil
		}
	}
	// A failing source stores nothing.
	boom := errors.New("line 5: bad time")
	if _, err := s.ImportEvents(ctx, feed(rows, boom)); !errors.Is(err, boom) {
		t.Fatalf("ImportEvents with a failing source: %v, want %v", err, boom)
	}
	// An invalid row rejects the import.
	bad := append([]store.ImportedEvent{}, rows...)
	bad = append(bad, store.ImportedEvent{Line: 9, Unit: "u3", Name: "x", Value: math.NaN(), Time: t0})
	if _, err := s.ImportEvents(ctx, feed(bad, nil)); !errors.Is(err, ramp.ErrInvalid) {
		t.Fatalf("ImportEvents with a NaN: %v, want ramp.ErrInvalid", err)
	}
	if st, _ := s.TrackingStats(ctx); st.EventRows != 0 {
		t.Fatalf("after failed imports: %d rows stored", st.EventRows)
	}
	for i, want := range []store.EventImportResult{{Rows: 3, Stored: 3}, {Rows: 3, Duplicates: 3}} {
		got, err := s.ImportEvents(ctx, feed(rows, nil))
		if err != nil {
			t.Fatalf("import %d: %v", i+1, err)
		}
		if got != want {
			t.Errorf("import %d: got %+v, want %+v", i+1, got, want)
		}
	}
	mustWriteExposures(t, s, exposure("e", 1, "accountCenterId", "u1", "on", t0.Add(-time.Hour)))
	mustCompact(t, s, store.CompactOptions{})
	if d := diff([]string{
		"accountCenterId=u1 arm=on multi=false dm_sent day=0 n=2 sum=2 sumsq=2",
	}, totals(t, s, "e", 1)); d != "" {
		t.Errorf("totals (-want +got):\n%s", d)
	}
	// The ids are the documented ones.
	if id := store.ImportedEventID(rows[0], 2); len(id) != len("csv:")+32+2 {
		t.Errorf("ImportedEventID = %q", id)
	}
}

// TestTrackingCopy copies a database mid-way through a workload (`ramp db
// copy`): the copy carries the exposures, raw events, totals and
// watermarks, and goes on as the original would.
func TestTrackingCopy(t *testing.T) {
	w := newWorkload(11, 6)
	ref, src, dst := openDSN(t, testDSN(t)), openDSN(t, testDSN(t)), openDSN(t, testDSN(t))
	for i := range w.events {
		for _, s := range []*store.Store{ref, src} {
			mustWriteExposures(t, s, w.exposures[i]...)
			mustWriteEvents(t, s, w.events[i]...)
		}
		if i == 2 {
			mustCompact(t, src, store.CompactOptions{ChunkRows: 7})
			if _, err := store.Copy(context.Background(), src, dst, "alice"); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			src = dst
		}
	}
	mustCompact(t, ref, store.CompactOptions{})
	mustCompact(t, dst, store.CompactOptions{})
	for _, exp := range []string{"e0", "e1"} {
		if d := diff(totals(t, ref, exp, 1), totals(t, dst, exp, 1)); d != "" {
			t.Errorf("%s: the copy's totals (-want +got):\n%s", exp, d)
		}
	}
}

// TestWriteEventsRetried sends a batch again, alone and inside a larger
// one: each event is stored once, the new ones all (on Postgres the first
// COPY fails on the unique key and the batch goes through the staging
// table).
func TestWriteEventsRetried(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	batch := []tracking.Event{
		event("r1", "x", 1, t0, "targetingKey", "u1", "accountCenterId", "a1"),
		event("r2", "x", 2, t0.Add(time.Second), "targetingKey", "u2"),
	}
	mustWriteEvents(t, s, batch...)
	mustWriteEvents(t, s, batch...)
	mustWriteEvents(t, s, append([]tracking.Event{event("r3", "x\ttab\\", 3, t0.Add(2*time.Second), "targetingKey", "u\n3")}, batch...)...)
	st, err := s.TrackingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.EventRows != 3 {
		t.Errorf("%d event rows, want 3", st.EventRows)
	}
	mustWriteExposures(t, s, exposure("e", 1, "targetingKey", "u\n3", "on", t0), exposure("e", 1, "accountCenterId", "a1", "on", t0))
	mustCompact(t, s, store.CompactOptions{})
	if d := diff([]string{
		"accountCenterId=a1 arm=on multi=false x day=0 n=1 sum=1 sumsq=1",
		"targetingKey=u\n3 arm=on multi=false x\ttab\\ day=0 n=1 sum=3 sumsq=9",
	}, totals(t, s, "e", 1)); d != "" {
		t.Errorf("totals (-want +got):\n%s", d)
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

func mustArmStats(t *testing.T, s *store.Store, q store.ArmQuery) ([]store.ArmStats, int64) {
	t.Helper()
	arms, multi, err := s.ArmStats(context.Background(), q)
	if err != nil {
		t.Fatalf("ArmStats(%+v): %v", q, err)
	}
	return arms, multi
}

func TestArmStatsRefusesInvalid(t *testing.T) {
	s := openTestStore(t)
	y := store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7}
	for _, c := range []struct {
		name string
		q    store.ArmQuery
		want string // in the message
	}{
		{"no experiment", store.ArmQuery{Phase: 1, Y: y}, "experiment is empty"},
		{"phase 0", store.ArmQuery{Experiment: "e", Y: y}, "phase 0"},
		{"negative phase", store.ArmQuery{Experiment: "e", Phase: -1, Y: y}, "phase -1"},
		{"no event", store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{ToDay: 1}}, "y: event is empty"},
		{"empty days", store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 7, ToDay: 7}}, "day range [7, 7) is empty"},
		{"reversed days", store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 7, ToDay: 0}}, "[7, 0)"},
		{"x without event", store.ArmQuery{Experiment: "e", Phase: 1, Y: y, X: &store.UnitValue{FromDay: -14}}, "x: event is empty"},
		{"x empty days", store.ArmQuery{Experiment: "e", Phase: 1, Y: y, X: &store.UnitValue{Event: "view", FromDay: 0, ToDay: -14}}, "x (view): day range [0, -14)"},
		{"negative cut-off", store.ArmQuery{Experiment: "e", Phase: 1, Y: y, Before: -1}, "cut-off -1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.q.Validate(); !errors.Is(err, ramp.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate: got %v, want ramp.ErrInvalid saying %q", err, c.want)
			}
			arms, _, err := s.ArmStats(context.Background(), c.q)
			if !errors.Is(err, ramp.ErrInvalid) || arms != nil {
				t.Errorf("ArmStats: got %v, %v, want ramp.ErrInvalid", arms, err)
			}
		})
	}
}

// TestArmStats checks the sums against a small data set computed by hand,
// stored through the ingest path (WriteExposures, WriteEvents, Compact).
// t0 is 12:00 UTC; D0 is its day.
func TestArmStats(t *testing.T) {
	s := openTestStore(t)
	h := time.Hour
	d := 24 * h
	// c3's pre-period events arrive and are compacted before its
	// exposure: the backfill counts them.
	mustWriteEvents(t, s,
		event("c3-pre", "buy", 7, t0.Add(-d), "targetingKey", "c3"), // D0-1: day -2 for c3
		event("c3-early", "buy", 6, t0.Add(d-4*h), "targetingKey", "c3"),
	)
	mustCompact(t, s, store.CompactOptions{})
	mustWriteExposures(t, s,
		exposure("e", 1, "targetingKey", "c1", "control", t0),
		exposure("e", 1, "targetingKey", "c2", "control", t0.Add(2*h)),
		exposure("e", 1, "targetingKey", "c3", "control", t0.Add(d)), // D0+1 12:00
		exposure("e", 1, "targetingKey", "t1", "treatment", t0),
		exposure("e", 1, "targetingKey", "t2", "treatment", t0),
		exposure("e", 1, "targetingKey", "t3", "treatment", t0.Add(3*h)),
		exposure("e", 1, "targetingKey", "t4", "treatment", t0),
		// Elsewhere: another phase, another experiment.
		exposure("e", 2, "targetingKey", "c1", "treatment", t0.Add(10*d)),
		exposure("other", 1, "targetingKey", "t1", "control", t0),
	)
	// t2 is then seen in the other arm: left out, and counted.
	mustWriteExposures(t, s, exposure("e", 1, "targetingKey", "t2", "control", t0.Add(h)))
	mustWriteEvents(t, s,
		event("c1-1", "buy", 2, t0.Add(-13*h), "targetingKey", "c1"),         // D0-1 23:00: day -1
		event("c1-2", "buy", 3, t0.Add(h), "targetingKey", "c1"),             // day 0
		event("c1-3", "buy", 4, t0.Add(6*d+11*h), "targetingKey", "c1"),      // D0+6 23:00: day 6, the window's last
		event("c1-4", "buy", 5, t0.Add(6*d+12*h), "targetingKey", "c1"),      // D0+7 00:00: day 7, after the window
		event("c1-v1", "view", 1, t0, "targetingKey", "c1"),                  // day 0
		event("c1-v2", "view", 1, t0.Add(time.Second), "targetingKey", "c1"), // day 0 again: n 2
		event("c1-v3", "view", 1, t0.Add(d), "targetingKey", "c1"),           // day 1
		event("c3-v", "view", 1, t0.Add(d+h), "targetingKey", "c3"),
		event("t1-1", "buy", 10, t0, "targetingKey", "t1"),
		event("t1-2", "buy", 1, t0.Add(3*d), "targetingKey", "t1"),
		event("t1-v1", "view", 1, t0, "targetingKey", "t1"),
		event("t1-v2", "view", 1, t0.Add(2*d), "targetingKey", "t1"),
		event("t2-1", "buy", 100, t0.Add(h), "targetingKey", "t2"),
		event("t2-v", "view", 5, t0.Add(h), "targetingKey", "t2"),
		event("t3-v", "view", 1, t0.Add(4*h), "targetingKey", "t3"),
		event("t3-csv", "buy", 8, t0.Add(5*h), tracking.AnyUnit, "t3"),  // a CSV row: any attribute
		event("zz", "buy", 1000, t0, "targetingKey", "zz"),              // nobody exposed
		event("c1-other-attr", "buy", 500, t0, "accountCenterId", "c1"), // another unit
	)
	mustCompact(t, s, store.CompactOptions{})

	buy7 := store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7}
	all := func(event string) store.UnitValue {
		return store.UnitValue{Event: event, FromDay: 0, ToDay: math.MaxInt32}
	}
	for _, c := range []struct {
		name  string
		q     store.ArmQuery
		want  []store.ArmStats
		multi int64
	}{
		{
			// y: c1 3+4 (day -1 and day 7 out), c2 0, c3 6 (on the day of
			// its exposure, hours before it: days are calendar days), t1
			// 10+1, t3 8 (the CSV event), t4 0.
			name: "mean over 7 days",
			q:    store.ArmQuery{Experiment: "e", Phase: 1, Y: buy7},
			want: []store.ArmStats{
				{Arm: "control", N: 3, SumY: 13, SumY2: 49 + 36},
				{Arm: "treatment", N: 3, SumY: 19, SumY2: 121 + 64},
			},
			multi: 1,
		},
		{
			name: "conversion",
			q:    store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7, Indicator: true}},
			want: []store.ArmStats{
				{Arm: "control", N: 3, SumY: 2, SumY2: 2},
				{Arm: "treatment", N: 3, SumY: 2, SumY2: 2},
			},
			multi: 1,
		},
		{
			// x: the 14 days before: c1 2 (day -1), c3 7 (day -2).
			name: "mean with a pre-period covariate",
			q:    store.ArmQuery{Experiment: "e", Phase: 1, Y: buy7, X: &store.UnitValue{Event: "buy", FromDay: -14, ToDay: 0}},
			want: []store.ArmStats{
				{Arm: "control", N: 3, SumY: 13, SumY2: 85, SumX: 9, SumX2: 4 + 49, SumXY: 7*2 + 6*7},
				{Arm: "treatment", N: 3, SumY: 19, SumY2: 185},
			},
			multi: 1,
		},
		{
			// y buys, x views over the whole phase: c1 12 and 3, c2 0 and
			// 0, c3 6 and 1; t1 11 and 2, t3 8 and 1, t4 0 and 0.
			name: "ratio",
			q:    store.ArmQuery{Experiment: "e", Phase: 1, Y: all("buy"), X: ptr(all("view"))},
			want: []store.ArmStats{
				{Arm: "control", N: 3, SumY: 18, SumY2: 144 + 36, SumX: 4, SumX2: 9 + 1, SumXY: 36 + 6},
				{Arm: "treatment", N: 3, SumY: 19, SumY2: 121 + 64, SumX: 3, SumX2: 4 + 1, SumXY: 22 + 8},
			},
			multi: 1,
		},
		{
			// As of midnight ending D0: c3 (exposed D0+1) is not in yet,
			// and only day 0 of the others counts: c1 3, t1 10, t3 8.
			name: "as of the end of the first day",
			q:    store.ArmQuery{Experiment: "e", Phase: 1, Y: buy7, Before: t0.Add(12 * h).UnixMicro()},
			want: []store.ArmStats{
				{Arm: "control", N: 2, SumY: 3, SumY2: 9},
				{Arm: "treatment", N: 3, SumY: 18, SumY2: 164},
			},
			multi: 1,
		},
		{
			// A cut-off inside D0 (15:00): the units first exposed before
			// it (not t3, at 15:00), none of D0's events, the days before
			// it all (c1's day -1 in the covariate).
			name: "as of a time inside a day",
			q: store.ArmQuery{Experiment: "e", Phase: 1, Y: buy7, X: &store.UnitValue{Event: "buy", FromDay: -14, ToDay: 0},
				Before: t0.Add(3 * h).UnixMicro()},
			want: []store.ArmStats{
				{Arm: "control", N: 2, SumX: 2, SumX2: 4},
				{Arm: "treatment", N: 2},
			},
			multi: 1,
		},
		{
			name: "as of before anyone",
			q:    store.ArmQuery{Experiment: "e", Phase: 1, Y: buy7, Before: t0.UnixMicro()},
		},
		{
			// Phase 2: c1 alone, exposed 10 days after its events.
			name: "another phase",
			q:    store.ArmQuery{Experiment: "e", Phase: 2, Y: buy7, X: ptr(all("view"))},
			want: []store.ArmStats{{Arm: "treatment", N: 1}},
		},
		{
			name: "no such experiment",
			q:    store.ArmQuery{Experiment: "nope", Phase: 1, Y: buy7},
		},
		{
			name:  "no such event",
			q:     store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "nope", FromDay: 0, ToDay: 7}},
			want:  []store.ArmStats{{Arm: "control", N: 3}, {Arm: "treatment", N: 3}},
			multi: 1,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, multi := mustArmStats(t, s, c.q)
			if d := diff(c.want, got); d != "" || multi != c.multi {
				t.Errorf("ArmStats: multi-arm %d, want %d; arms (-want +got):\n%s", multi, c.multi, d)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestArmStatsAllMultiArm: an arm whose every unit was also seen in
// another arm is listed with no units.
func TestArmStatsAllMultiArm(t *testing.T) {
	s := openTestStore(t)
	mustWriteExposures(t, s,
		exposure("e", 1, "targetingKey", "u1", "a", t0),
		exposure("e", 1, "targetingKey", "u2", "b", t0),
		exposure("e", 1, "targetingKey", "u3", "b", t0),
	)
	mustWriteExposures(t, s, exposure("e", 1, "targetingKey", "u1", "b", t0.Add(time.Minute)))
	mustWriteEvents(t, s, event("1", "buy", 1, t0, "targetingKey", "u1"), event("2", "buy", 2, t0, "targetingKey", "u2"))
	mustCompact(t, s, store.CompactOptions{})
	got, multi := mustArmStats(t, s, store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 1}})
	want := []store.ArmStats{{Arm: "a"}, {Arm: "b", N: 2, SumY: 2, SumY2: 4}}
	if d := diff(want, got); d != "" || multi != 1 {
		t.Errorf("ArmStats: multi-arm %d, want 1; arms (-want +got):\n%s", multi, d)
	}
}

// TestArmStatsCountsCompactedExposures: an exposure stored after the
// last compaction is not counted until the next one, so that the arms'
// units and sums describe one state (counting it before its events are
// joined would add a unit with nothing, diluting every arm).
func TestArmStatsCountsCompactedExposures(t *testing.T) {
	s := openTestStore(t)
	q := store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 1}}
	mustWriteExposures(t, s, exposure("e", 1, "targetingKey", "u1", "a", t0))
	mustWriteEvents(t, s, event("1", "buy", 3, t0, "targetingKey", "u1"), event("2", "buy", 5, t0, "targetingKey", "u2"))
	if got, _ := mustArmStats(t, s, q); len(got) != 0 {
		t.Errorf("before any compaction: %+v, want no arms", got)
	}
	mustCompact(t, s, store.CompactOptions{})
	mustWriteExposures(t, s, exposure("e", 1, "targetingKey", "u2", "a", t0))
	got, _ := mustArmStats(t, s, q)
	if d := diff([]store.ArmStats{{Arm: "a", N: 1, SumY: 3, SumY2: 9}}, got); d != "" {
		t.Errorf("with u2's exposure not compacted (-want +got):\n%s", d)
	}
	mustCompact(t, s, store.CompactOptions{})
	got, _ = mustArmStats(t, s, q)
	if d := diff([]store.ArmStats{{Arm: "a", N: 2, SumY: 8, SumY2: 34}}, got); d != "" {
		t.Errorf("after compaction (-want +got):\n%s", d)
	}
}

// TestArmStatsLargeValues: sums of integer values are exact while they
// stay below 2^53 (float64's integers), on both engines; Σy² is the
// first to grow.
func TestArmStatsLargeValues(t *testing.T) {
	s := openTestStore(t)
	var xs []tracking.Exposure
	var es []tracking.Event
	for i := range 100 {
		u := fmt.Sprintf("u%d", i)
		xs = append(xs, exposure("e", 1, "targetingKey", u, "a", t0))
		// 2^26 + i: y² is about 2^52, the 100 of them about 2^58.6,
		// beyond exact integers; the sum of y is exact.
		es = append(es, event(u, "spend", float64(1<<26+i), t0, "targetingKey", u))
	}
	mustWriteExposures(t, s, xs...)
	mustWriteEvents(t, s, es...)
	mustCompact(t, s, store.CompactOptions{})
	got, _ := mustArmStats(t, s, store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "spend", FromDay: 0, ToDay: 1}})
	// Σ(2^26+i) = 100·2^26 + 4950 and Σ(2^26+i)² = 100·2^52 + 2^27·4950 +
	// Σi², i < 100.
	sum := 100*math.Pow(2, 26) + 4950
	sumSq := 100*math.Pow(2, 52) + math.Pow(2, 27)*4950 + 328350
	if len(got) != 1 || got[0].N != 100 || got[0].SumY != sum {
		t.Fatalf("ArmStats = %+v, want N 100, SumY %v exactly", got, sum)
	}
	// Each addition to a running sum near 2^58.6 may round by half its
	// last place: a relative error of at most n·2^-53 in all.
	if rel := math.Abs(got[0].SumY2-sumSq) / sumSq; rel > 100*math.Pow(2, -53) {
		t.Errorf("SumY2 = %v, want %v (relative error %g)", got[0].SumY2, sumSq, rel)
	}
}

// armModel computes ArmStats in Go from the exposures and events written,
// as the store documents them: each unit's first stored exposure, its
// arm; units seen in another arm left out; events of the unit (by its
// attribute or AnyUnit) added by day offset between UTC calendar days.
type armModel struct {
	first map[xkey]tracking.Exposure
	multi map[xkey]bool
	order []xkey
	seen  map[eventKey]bool
	evs   []tracking.Event
}

type xkey struct {
	exp   string
	phase int
	attr  string
	unit  string
}

type eventKey struct {
	id string
	at time.Time
}

func newArmModel() *armModel {
	return &armModel{first: map[xkey]tracking.Exposure{}, multi: map[xkey]bool{}, seen: map[eventKey]bool{}}
}

// expose records a batch of exposures with distinct keys.
func (m *armModel) expose(xs []tracking.Exposure) {
	for _, x := range xs {
		k := xkey{x.Experiment, x.Phase, x.UnitAttr, x.Unit}
		f, ok := m.first[k]
		if !ok {
			m.first[k] = x
			m.order = append(m.order, k)
			continue
		}
		if f.Arm != x.Arm {
			m.multi[k] = true
		}
	}
}

// track records a batch of events; an event whose time and id are
// stored already is dropped, as the store drops it.
func (m *armModel) track(es []tracking.Event) {
	for _, e := range es {
		k := eventKey{e.ID, e.Time}
		if !m.seen[k] {
			m.seen[k] = true
			m.evs = append(m.evs, e)
		}
	}
}

func (m *armModel) stats(q store.ArmQuery) ([]store.ArmStats, int64) {
	byArm := map[string]*store.ArmStats{}
	var multi int64
	beforeDay := utcDay(time.UnixMicro(q.Before))
	value := func(k xkey, v *store.UnitValue) float64 {
		firstDay := utcDay(m.first[k].Time)
		sum, any := 0.0, false
		for _, e := range m.evs {
			if e.Name != v.Event {
				continue
			}
			day := utcDay(e.Time) - firstDay
			if day < int64(v.FromDay) || day >= int64(v.ToDay) || (q.Before > 0 && firstDay+day >= beforeDay) {
				continue
			}
			// Each of the event's units that is this unit counts (as
			// compaction joins them).
			for attr, unit := range e.Units {
				if unit == k.unit && (attr == k.attr || attr == tracking.AnyUnit) {
					sum += e.Value
					any = true
				}
			}
		}
		if v.Indicator {
			if any {
				return 1
			}
			return 0
		}
		return sum
	}
	for _, k := range m.order {
		x := m.first[k]
		if k.exp != q.Experiment || k.phase != q.Phase || (q.Before > 0 && x.Time.UnixMicro() >= q.Before) {
			continue
		}
		a := byArm[x.Arm]
		if a == nil {
			a = &store.ArmStats{Arm: x.Arm}
			byArm[x.Arm] = a
		}
		if m.multi[k] {
			multi++
			continue
		}
		y := value(k, &q.Y)
		xv := 0.0
		if q.X != nil {
			xv = value(k, q.X)
		}
		a.N++
		a.SumY += y
		a.SumY2 += y * y
		a.SumX += xv
		a.SumX2 += xv * xv
		a.SumXY += xv * y
	}
	var out []store.ArmStats
	for _, a := range byArm {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b store.ArmStats) int { return strings.Compare(a.Arm, b.Arm) })
	return out, multi
}

// TestArmStatsModel compares ArmStats with armModel on random workloads:
// exposures (some units seen in two arms, some exposed after their
// events), events with values in quarters (so that every sum is exact in
// any order) at any time of day around the exposures, compactions in
// between, and random queries.
func TestArmStatsModel(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 13))
			s := openTestStore(t)
			m := newArmModel()
			attrs := []string{"targetingKey", "accountCenterId"}
			arms := []string{"control", "inline", "handoff"}
			at := func(days int) time.Time {
				return t0.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour))))
			}
			nextID := 0
			for range 8 {
				var xs []tracking.Exposure
				taken := map[xkey]bool{}
				for range 15 {
					x := exposure("e", 1+rng.IntN(2), attrs[rng.IntN(2)], fmt.Sprintf("u%d", rng.IntN(25)), arms[rng.IntN(len(arms))], at(6).Add(-2*24*time.Hour))
					if k := (xkey{x.Experiment, x.Phase, x.UnitAttr, x.Unit}); !taken[k] {
						taken[k] = true
						if _, ok := m.first[k]; ok && rng.IntN(3) > 0 {
							x.Arm = m.first[k].Arm // mostly seen again in its own arm
						}
						xs = append(xs, x)
					}
				}
				var es []tracking.Event
				for range 40 {
					if n := len(m.evs) + len(es); n > 0 && rng.IntN(10) == 0 {
						// A retry: the same time and id, stored once.
						if k := rng.IntN(n); k < len(m.evs) {
							es = append(es, m.evs[k])
						} else {
							es = append(es, es[k-len(m.evs)])
						}
						continue
					}
					nextID++
					e := event(fmt.Sprintf("ev%d", nextID), []string{"buy", "view"}[rng.IntN(2)], float64(rng.IntN(40))/4, at(24).Add(-12*24*time.Hour))
					if rng.IntN(5) == 0 {
						e.Units[tracking.AnyUnit] = fmt.Sprintf("u%d", rng.IntN(25))
					} else {
						for _, a := range attrs {
							if rng.IntN(2) == 0 || len(e.Units) == 0 && a == attrs[1] {
								e.Units[a] = fmt.Sprintf("u%d", rng.IntN(25))
							}
						}
					}
					es = append(es, e)
				}
				// Events before or after the exposures (compacted later,
				// those events are backfilled), and a compaction now and
				// then.
				if rng.IntN(2) == 0 {
					mustWriteEvents(t, s, es...)
					mustWriteExposures(t, s, xs...)
				} else {
					mustWriteExposures(t, s, xs...)
					mustWriteEvents(t, s, es...)
				}
				m.expose(xs)
				m.track(es)
				if rng.IntN(2) == 0 {
					mustCompact(t, s, store.CompactOptions{ChunkRows: 17})
				}
			}
			mustCompact(t, s, store.CompactOptions{})
			value := func() store.UnitValue {
				from := rng.IntN(20) - 12
				v := store.UnitValue{Event: []string{"buy", "view", "none"}[rng.IntN(3)], FromDay: from, ToDay: from + 1 + rng.IntN(14), Indicator: rng.IntN(3) == 0}
				if rng.IntN(5) == 0 {
					v.ToDay = math.MaxInt32
				}
				if rng.IntN(8) == 0 {
					v.FromDay = math.MinInt32
				}
				return v
			}
			// The model must not agree with the store for want of data.
			var withY, withX, withMulti int
			for i := range 40 {
				q := store.ArmQuery{Experiment: "e", Phase: 1 + rng.IntN(2), Y: value()}
				if rng.IntN(2) == 0 {
					q.X = ptr(value())
				}
				switch rng.IntN(4) {
				case 0: // midnight
					q.Before = t0.Truncate(24 * time.Hour).Add(time.Duration(rng.IntN(8)-3) * 24 * time.Hour).UnixMicro()
				case 1:
					q.Before = at(8).Add(-3 * 24 * time.Hour).UnixMicro()
				}
				want, wantMulti := m.stats(q)
				got, multi := mustArmStats(t, s, q)
				if d := diff(want, got); d != "" || multi != wantMulti {
					t.Errorf("query %d %+v (x %+v): multi-arm %d, want %d; arms (-model +store):\n%s", i, q, q.X, multi, wantMulti, d)
				}
				for _, a := range want {
					if a.SumY != 0 {
						withY++
					}
					if a.SumXY != 0 {
						withX++
					}
				}
				if wantMulti > 0 {
					withMulti++
				}
			}
			if withY < 20 || withX < 5 || withMulti < 10 {
				t.Errorf("arms with Σy ≠ 0: %d, with Σxy ≠ 0: %d, queries with multi-arm units: %d: the workload is too thin", withY, withX, withMulti)
			}
			t.Logf("arms with Σy ≠ 0: %d, with Σxy ≠ 0: %d, queries with multi-arm units: %d", withY, withX, withMulti)
		})
	}
}

func TestArmStatsCanceled(t *testing.T) {
	s := openTestStore(t)
	mustWriteExposures(t, s, exposure("e", 1, "targetingKey", "u1", "a", t0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := s.ArmStats(ctx, store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ArmStats with a cancelled context: %v, want context.Canceled", err)
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

// armPool is the statistics the maintained-sums tests ask for: means,
// windows, covariates, ratios of two events, indicators, whole phases,
// in two experiments and two phases.
func armPool() []store.ArmQuery {
	var out []store.ArmQuery
	for _, exp := range []string{"e", "f"} {
		for _, ph := range []int{1, 2} {
			out = append(out,
				store.ArmQuery{Experiment: exp, Phase: ph, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7}},
				store.ArmQuery{Experiment: exp, Phase: ph, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7},
					X: &store.UnitValue{Event: "buy", FromDay: -14, ToDay: 0}},
				store.ArmQuery{Experiment: exp, Phase: ph, Y: store.UnitValue{Event: "view", FromDay: 0, ToDay: 3, Indicator: true},
					X: &store.UnitValue{Event: "view", FromDay: -7, ToDay: 0, Indicator: true}},
				store.ArmQuery{Experiment: exp, Phase: ph, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: math.MaxInt32},
					X: &store.UnitValue{Event: "view", FromDay: 0, ToDay: math.MaxInt32}},
				store.ArmQuery{Experiment: exp, Phase: ph, Y: store.UnitValue{Event: "view", FromDay: math.MinInt32, ToDay: 1 << 40, Indicator: true}},
			)
		}
	}
	return out
}

// checkMaintained compares ArmStats with the grouped query (the oracle)
// for every query of the pool, and returns how many of them were answered
// from a current maintained statistic.
func checkMaintained(t *testing.T, s *store.Store, pool []store.ArmQuery, when string) (maintained int) {
	t.Helper()
	ctx := context.Background()
	st, err := s.MaintainedArmStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	current := map[string]bool{}
	for _, m := range st {
		if m.Current && !m.Dropping {
			current[fmt.Sprintf("%+v %+v", m.Query, m.Query.X)] = true
		}
	}
	for i, q := range pool {
		got, gotMulti, err := s.ArmStats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want, wantMulti, err := s.ArmStatsJoin(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		canon := q
		if canon.Y.ToDay > math.MaxInt32 {
			canon.Y.ToDay = math.MaxInt32
		}
		if canon.Y.FromDay < math.MinInt32 {
			canon.Y.FromDay = math.MinInt32
		}
		if current[fmt.Sprintf("%+v %+v", canon, canon.X)] {
			maintained++
		}
		if d := diff(want, got); d != "" || gotMulti != wantMulti {
			t.Fatalf("%s: query %d %+v (x %+v): multi-arm %d, want %d; arms (-join +ArmStats):\n%s", when, i, q, q.X, gotMulti, wantMulti, d)
		}
	}
	return maintained
}

// TestMaintainedArmStats interleaves at random exposures (units seen
// again in another arm, exposures stored after their events), events
// (late ones, pre-period ones, retried ones, events naming any unit),
// compactions (in small chunks, interrupted, without building), changes
// of the maintained set and rebuilds, and checks after each step that
// ArmStats gives what the grouped query gives — the maintained sums when
// a statistic is current, exactly (the values are multiples of 1/4, so
// every sum is exact in a float64).
func TestMaintainedArmStats(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(seed, 31))
			s := openTestStore(t)
			pool := armPool()
			attrs := []string{"targetingKey", "accountCenterId"}
			arms := []string{"control", "inline", "handoff"}
			first := map[string]string{}
			at := func(days int) time.Time {
				return t0.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour))))
			}
			var stored []tracking.Event
			nextID, maintained, steps, partial := 0, 0, 0, 0
			want := func() []store.ArmQuery {
				var qs []store.ArmQuery
				for _, q := range pool {
					if rng.IntN(3) > 0 {
						qs = append(qs, q)
					}
				}
				return qs
			}
			if err := s.MaintainArmStats(ctx, want(), false); err != nil {
				t.Fatal(err)
			}
			for step := range 80 {
				switch p := rng.IntN(20); {
				case p < 6: // exposures
					var xs []tracking.Exposure
					for range 1 + rng.IntN(12) {
						x := exposure([]string{"e", "f"}[rng.IntN(2)], 1+rng.IntN(2), attrs[rng.IntN(2)], fmt.Sprintf("u%d", rng.IntN(30)), arms[rng.IntN(3)], at(6).Add(-2*24*time.Hour))
						k := fmt.Sprint(x.Experiment, x.Phase, x.UnitAttr, x.Unit)
						if a, ok := first[k]; ok && rng.IntN(4) > 0 {
							x.Arm = a
						} else if !ok {
							first[k] = x.Arm
						}
						xs = append(xs, x)
					}
					mustWriteExposures(t, s, xs...)
				case p < 12: // events
					var es []tracking.Event
					for range 1 + rng.IntN(25) {
						if len(stored) > 0 && rng.IntN(10) == 0 {
							es = append(es, stored[rng.IntN(len(stored))]) // a retry
							continue
						}
						nextID++
						e := event(fmt.Sprintf("ev%d", nextID), []string{"buy", "view", "other"}[rng.IntN(3)], float64(rng.IntN(41)-8)/4, at(30).Add(-15*24*time.Hour))
						if rng.IntN(5) == 0 {
							e.Units[tracking.AnyUnit] = fmt.Sprintf("u%d", rng.IntN(30))
						} else {
							for _, a := range attrs {
								if rng.IntN(2) == 0 || len(e.Units) == 0 && a == attrs[1] {
									e.Units[a] = fmt.Sprintf("u%d", rng.IntN(30))
								}
							}
						}
						es = append(es, e)
					}
					mustWriteEvents(t, s, es...)
					stored = append(stored, es...)
				case p < 17: // a compaction, maybe interrupted, maybe without building
					opt := store.CompactOptions{ChunkRows: int64(1 + rng.IntN(40)), SkipStatBuild: rng.IntN(4) == 0}
					if rng.IntN(2) == 0 {
						// Builds left part way.
						opt.ChunkRows, opt.StatBuildBatches = int64(1+rng.IntN(4)), 1+rng.IntN(3)
					}
					if rng.IntN(4) == 0 {
						chunks := rng.IntN(3)
						opt.AfterChunk = func(store.CompactProgress) error {
							if chunks--; chunks < 0 {
								return errStop
							}
							return nil
						}
					}
					if _, err := s.Compact(ctx, opt); err != nil && !errors.Is(err, errStop) {
						t.Fatal(err)
					}
				case p < 19: // the maintained set changes
					if err := s.MaintainArmStats(ctx, want(), false); err != nil {
						t.Fatal(err)
					}
				default: // a rebuild
					if err := s.MaintainArmStats(ctx, want(), true); err != nil {
						t.Fatal(err)
					}
				}
				maintained += checkMaintained(t, s, pool, fmt.Sprintf("step %d", step))
				steps++
				if st, err := s.MaintainedArmStats(ctx); err != nil {
					t.Fatal(err)
				} else {
					for _, m := range st {
						if m.BuiltToUnit != "" && !m.Dropping {
							partial++
						}
					}
				}
			}
			mustCompact(t, s, store.CompactOptions{})
			maintained += checkMaintained(t, s, pool, "at the end")
			// Every exposure compacted: the maintained counts are the
			// exposures' counts.
			counted := 0
			for _, exp := range []string{"e", "f"} {
				all, err := s.ExposureCounts(ctx, exp)
				if err != nil {
					t.Fatal(err)
				}
				for _, ph := range []int{1, 2} {
					got, ok, err := s.MaintainedExposureCounts(ctx, exp, ph)
					if err != nil {
						t.Fatal(err)
					}
					if !ok {
						continue
					}
					counted++
					var want []store.ExposureCount
					for _, c := range all {
						if c.Phase == ph {
							want = append(want, c)
						}
					}
					if d := diff(want, got); d != "" {
						t.Errorf("exposure counts of %s phase %d (-ExposureCounts +maintained):\n%s", exp, ph, d)
					}
				}
			}
			if counted == 0 {
				t.Error("no phase has a current maintained statistic at the end")
			}
			// The check must not pass for want of maintained reads.
			if maintained < 40 {
				t.Errorf("%d queries answered by maintained statistics over %d steps: too few to tell", maintained, steps)
			}
			// Nor for want of builds left part way, which maintenance
			// must keep up for the units they cover.
			if partial < 3 {
				t.Errorf("%d statistics seen built part way: too few to tell", partial)
			}
			t.Logf("%d queries answered by maintained statistics; %d statistics seen built part way", maintained, partial)
		})
	}
}

var errStop = errors.New("stop here")

package store_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// BenchmarkKillSwitchDuringImport imports $RAMP_BENCH_IMPORT_ROWS rows
// (default 200,000; docs/BENCHMARKS.md has 10,000,000) of random ids, as
// internal/tools/gencsv writes them, while another Store, as another
// process would, every 100 ms flips a flag (the kill switch), reads the
// flags, and opens the database and closes it again. It reports the
// import's time and the worst and median time each of those took, the kill
// switch's apart while the import stages its source (until the source
// ends) and afterwards, while it plans, writes its list in chunks, makes
// it the list and purges the old rows ("merge"). On a
// new SQLite database, or a fresh Postgres schema when $RAMP_TEST_DSN names
// a Postgres database:
//
//	RAMP_BENCH_IMPORT_ROWS=10000000 go test -run '^$' -bench KillSwitchDuringImport -benchtime 1x -timeout 1h ./internal/store/
func BenchmarkKillSwitchDuringImport(b *testing.B) {
	rows := 200_000
	if v := os.Getenv("RAMP_BENCH_IMPORT_ROWS"); v != "" {
		var err error
		if rows, err = strconv.Atoi(v); err != nil {
			b.Fatalf("RAMP_BENCH_IMPORT_ROWS: %v", err)
		}
	}
	for _, bc := range []struct {
		name string
		// base is the list the cohort holds before, nil for none;
		// changed is the share of the rows the import changes.
		base    bool
		changed float64
	}{
		{"new cohort", false, 1},
		{"replace 1% changed", true, 0.01},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			dsn := testdb.DSN(b)
			s, err := store.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			desired := flags.State{Flags: []flags.Flag{boolFlag("risky")}}
			if err := s.Apply(ctx, &desired, flags.Diff(&flags.State{}, &desired, false), "bench"); err != nil {
				b.Fatal(err)
			}
			other, err := store.Open(ctx, dsn) // another process
			if err != nil {
				b.Fatal(err)
			}
			defer other.Close()

			round := 0
			for b.Loop() {
				round++
				key := fmt.Sprintf("big-%d", round)
				if bc.base {
					b.StopTimer()
					if _, err := s.ImportMembers(ctx, key, store.ImportOptions{}, randomIDs(rows, 1, 0), "bench"); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				done := make(chan struct{})
				probes := make(chan probeTimes, 1)
				go func() { probes <- probe(ctx, b, other, dsn, done) }()
				start := time.Now()
				src := randomIDs(rows, 1, bc.changed)
				var staged time.Time // when the source ended
				_, err := s.ImportMembers(ctx, key, store.ImportOptions{}, func() (cohorts.Member, error) {
					m, err := src()
					if err != nil && staged.IsZero() {
						staged = time.Now()
					}
					return m, err
				}, "bench")
				took := time.Since(start)
				close(done)
				p := <-probes
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(took.Seconds(), "import-s")
				b.ReportMetric(took.Seconds()-staged.Sub(start).Seconds(), "merge-s")
				p.report(b, staged)
			}
		})
	}
}

// probeTimes are how long each probe took, in order.
type probeTimes struct {
	kill, read, open []time.Duration
	killAt           []time.Time // when each kill probe ended
	failed           []string
}

// probe flips the flag "risky", reads the flags, and opens and closes the
// database, every 100 ms until done is closed.
func probe(ctx context.Context, b *testing.B, s *store.Store, dsn string, done <-chan struct{}) probeTimes {
	var p probeTimes
	timed := func(into *[]time.Duration, what string, fn func() error) {
		start := time.Now()
		err := fn()
		*into = append(*into, time.Since(start))

		if err != nil {
			p.failed = append(p.failed, fmt.Sprintf("%s after %v: %v", what, time.Since(start), err))
		}
	}
	enabled := true
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return p
		case <-tick.C:
		}
		enabled = !enabled
		timed(&p.kill, "SetEnabled", func() error { _, err := s.SetEnabled(ctx, "risky", enabled, "oncall"); return err })
		p.killAt = append(p.killAt, time.Now())
		timed(&p.read, "Flags", func() error { _, err := s.Flags(ctx); return err })
		timed(&p.open, "Open", func() error {
			o, err := store.Open(ctx, dsn)
			if err == nil {
				err = o.Close()
			}
			return err
		})
	}
}

func (p probeTimes) report(b *testing.B, staged time.Time) {
	var stage, merge []time.Duration
	for i, d := range p.kill {
		if p.killAt[i].Before(staged) {
			stage = append(stage, d)
		} else {
			merge = append(merge, d)
		}
	}
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"kill", p.kill}, {"kill-stage", stage}, {"kill-merge", merge}, {"read", p.read}, {"open", p.open}} {
		if len(m.ds) == 0 {
			continue
		}
		ds := slices.Sorted(slices.Values(m.ds))
		b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, m.name+"-max-ms")
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, m.name+"-p50-ms")
	}
	b.ReportMetric(float64(len(p.kill)), "probes")
	for _, f := range p.failed {
		b.Error(f)
	}
}

// randomIDs returns n members as internal/tools/gencsv makes them: "u"
// and 16 hex digits from a PCG seeded with seed, a region from a few. A
// share changed of them (spread evenly) are new ids instead.
func randomIDs(n int, seed uint64, changed float64) func() (cohorts.Member, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	fresh := rand.New(rand.NewPCG(seed+1000, seed))
	regions := []cohorts.Region{"US", "US", "IN", "BR", "ID", "MX", "GB", "DE", "FR", "JP"}
	every := 0
	if changed > 0 {
		every = int(1 / changed)
	}
	i := 0
	return func() (cohorts.Member, error) {
		if i == n {
			return cohorts.Member{}, io.EOF
		}
		i++
		id, region := rng.Uint64(), regions[rng.IntN(len(regions))]
		if every > 0 && i%every == 0 {
			id = fresh.Uint64()
		}
		return cohorts.Member{ID: fmt.Sprintf("u%016x", id), Region: region}, nil
	}
}

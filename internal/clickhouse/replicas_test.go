package clickhouse_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/clickhouse"
	"github.com/ramp-flags/ramp/internal/clickhouse/chtest"
	"github.com/ramp-flags/ramp/tracking"
)

// TestReplicasDoNotDoubleCount has two servers ingest into one ClickHouse
// database at once: each batch goes to one of them, some batches are
// retried on the other (a client that got no answer), and some twice on
// the same one; each server also records the same units' exposures on its
// own, the second one later (or, for a server whose clock runs behind,
// earlier). The numbers must be those of one clean ingest, before and after
// ClickHouse merges the copies away.
func TestReplicasDoNotDoubleCount(t *testing.T) {
	clean, _ := openCH(t)
	dsn := chtest.DSN(t)
	var replicas [2]*clickhouse.Store
	for i := range replicas {
		s, err := clickhouse.Open(context.Background(), dsn, clickhouse.Options{MinInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		replicas[i] = s
	}
	d := makeDataset(2, 2000)
	ingest(t, clean, d, 500)

	ctx := context.Background()
	const n = 250
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i, k := 0, 0; i < len(d.events); i, k = i+n, k+1 {
		b := d.events[i:min(i+n, len(d.events))]
		wg.Go(func() {
			errs <- replicas[k%2].WriteEvents(ctx, b)
			switch k % 3 {
			case 0: // retried on the other server
				errs <- replicas[(k+1)%2].WriteEvents(ctx, b)
			case 1: // retried on the same one
				errs <- replicas[k%2].WriteEvents(ctx, b)
			}
		})
	}
	for i, k := 0, 0; i < len(d.exposures); i, k = i+n, k+1 {
		b := d.exposures[i:min(i+n, len(d.exposures))]
		wg.Go(func() {
			errs <- replicas[k%2].WriteExposures(ctx, b)
			// The other server records the same units later, in the
			// same arms; for every other batch its clock runs behind by
			// less than the gap to the unit's first exposure elsewhere.
			later := make([]tracking.Exposure, len(b))
			copy(later, b)
			for j := range later {
				later[j].Time = later[j].Time.Add(time.Duration(1+j%3) * time.Minute)
			}
			errs <- replicas[(k+1)%2].WriteExposures(ctx, later)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	compare := func(when string) {
		t.Helper()
		for _, q := range queries() {
			want, wantMulti, err := clean.ArmStats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got, gotMulti, err := replicas[0].ArmStats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, approx); diff != "" || gotMulti != wantMulti {
				t.Errorf("%s: ArmStats(%+v): multi-arm %d, want %d; (-one ingest +replicas):\n%s", when, q, gotMulti, wantMulti, diff)
			}
		}
		want, err := clean.ExposureCounts(ctx, "exp")
		if err != nil {
			t.Fatal(err)
		}
		got, err := replicas[1].ExposureCounts(ctx, "exp")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: ExposureCounts (-one ingest +replicas):\n%s", when, diff)
		}
		ws, err := clean.TrackingStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gs, err := replicas[0].TrackingStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if gs != ws || gs.EventRows != int64(len(d.events)) {
			t.Errorf("%s: TrackingStats %+v, want %+v with %d events", when, gs, ws, len(d.events))
		}
	}
	db := "`" + replicas[0].Database() + "`"
	if rows, events := chtest.Count(t, dsn, "SELECT count() FROM "+db+".events"), chtest.Count(t, dsn, "SELECT sum(first) FROM "+db+".events FINAL"); rows <= events+events/4 {
		t.Fatalf("%d event rows for %d events: the retries stored too few copies to test anything", rows, events)
	}
	compare("before merges")
	for _, table := range []string{"events", "exposures"} {
		chtest.Exec(t, dsn, "OPTIMIZE TABLE "+db+"."+table+" FINAL")
	}
	compare("after merges")
}

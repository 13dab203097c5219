package clickhouse_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/clickhouse"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

func TestOpenRefuses(t *testing.T) {
	for _, c := range []struct{ dsn, want string }{
		{"postgres://x@127.0.0.1/ramp", "want clickhouse://"},
		{"ramp.db", "want clickhouse://"},
		{"clickhouse://127.0.0.1:9000/bad-name", "database name"},
		{"clickhouse://127.0.0.1:9000/a;DROP", "database name"},
	} {
		_, err := clickhouse.Open(context.Background(), c.dsn, clickhouse.Options{})
		if !errors.Is(err, ramp.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q): got %v, want ramp.ErrInvalid saying %q", c.dsn, err, c.want)
		}
	}
	if _, err := clickhouse.Open(context.Background(), "clickhouse://u:secret@127.0.0.1:1/ramp?dial_timeout=200ms", clickhouse.Options{}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open of a closed port: got %v, want an error without the password", err)
	}
}

func TestRefusesInvalidItems(t *testing.T) {
	s, _ := openCH(t)
	ctx := context.Background()
	if err := s.WriteExposures(ctx, []tracking.Exposure{{Experiment: "e", Phase: 0, UnitAttr: "a", Unit: "u", Arm: "x", Time: t0}}); !errors.Is(err, ramp.ErrInvalid) {
		t.Errorf("WriteExposures of phase 0: %v", err)
	}
	if err := s.WriteEvents(ctx, []tracking.Event{{ID: "1", Name: "buy", Time: t0}}); !errors.Is(err, ramp.ErrInvalid) {
		t.Errorf("WriteEvents without units: %v", err)
	}
	if _, _, err := s.ArmStats(ctx, store.ArmQuery{Experiment: "e", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 3, ToDay: 3}}); !errors.Is(err, ramp.ErrInvalid) {
		t.Errorf("ArmStats of an empty window: %v", err)
	}
	st, err := s.TrackingStats(ctx)
	if err != nil || st != (store.TrackingStats{}) {
		t.Errorf("TrackingStats after refusals: %+v, %v; want nothing stored", st, err)
	}
}

// rowsOf returns a next function over rows, then err (io.EOF for none).
func rowsOf(rows []store.ImportedEvent, err error) func() (store.ImportedEvent, error) {
	i := 0
	return func() (store.ImportedEvent, error) {
		if i == len(rows) {
			if err == nil {
				err = io.EOF
			}
			return store.ImportedEvent{}, err
		}
		i++
		return rows[i-1], nil
	}
}

// TestImportEvents imports the same rows into the SQL store and into
// ClickHouse, and writes the same events (one of them twice, as a retry
// does): the same counts (twice the same file stores it once, a row
// repeated in a file counts each time), the same statistics; a failing
// file stores nothing. On ClickHouse, also into an events table of an
// earlier version (with a column for ids).
func TestImportEvents(t *testing.T) {
	t.Run("events table", func(t *testing.T) { testImportEvents(t, false) })
	t.Run("events table with ids", func(t *testing.T) { testImportEvents(t, true) })
}

func testImportEvents(t *testing.T, withIDs bool) {
	ch, _ := openCH(t)
	sql := openSQL(t)
	ctx := context.Background()
	if withIDs {
		if err := clickhouse.UseEventsTableWithIDs(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	live := []tracking.Event{
		{ID: "e1", Name: "buy", Value: 5, Time: t0.Add(time.Hour), Units: map[string]string{"targetingKey": "u2"}},
		{ID: "e2", Name: "buy", Value: 7, Time: t0.Add(2 * time.Hour), Units: map[string]string{"targetingKey": "u3", "deviceId": "d3"}},
	}
	var xs []tracking.Exposure
	var rows []store.ImportedEvent
	for i, u := range []string{"u1", "u2", "u3", "u4"} {
		arm := []string{"control", "treatment"}[i%2]
		xs = append(xs, tracking.Exposure{Experiment: "exp", Phase: 1, UnitAttr: "targetingKey", Unit: u, Arm: arm, Time: t0})
		for k := range i + 1 {
			rows = append(rows, store.ImportedEvent{Line: len(rows) + 2, Unit: u, Name: "buy", Value: float64(k + 1), Time: t0.Add(time.Duration(k) * time.Hour)})
		}
	}
	rows = append(rows, rows[len(rows)-1]) // a repeated row: a second event
	rows[len(rows)-1].Line++
	for _, s := range []interface {
		tracking.Sink
		ImportEvents(context.Context, func() (store.ImportedEvent, error)) (store.EventImportResult, error)
	}{sql, ch} {
		if err := s.WriteExposures(ctx, xs); err != nil {
			t.Fatal(err)
		}
		for _, batch := range [][]tracking.Event{live, live[1:]} { // e2 retried
			if err := s.WriteEvents(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ImportEvents(ctx, rowsOf(rows[:3], errors.New("disk on fire"))); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("import of a failing file: %v", err)
		}
		bad := append([]store.ImportedEvent{}, rows...)
		bad[4].Name = ""
		if _, err := s.ImportEvents(ctx, rowsOf(bad, nil)); !errors.Is(err, ramp.ErrInvalid) {
			t.Fatalf("import of an invalid row: %v", err)
		}
		res, err := s.ImportEvents(ctx, rowsOf(rows, nil))
		if want := (store.EventImportResult{Rows: int64(len(rows)), Stored: int64(len(rows))}); err != nil || res != want {
			t.Fatalf("first import: %+v, %v; want %+v", res, err, want)
		}
		res, err = s.ImportEvents(ctx, rowsOf(rows, nil))
		if want := (store.EventImportResult{Rows: int64(len(rows)), Duplicates: int64(len(rows))}); err != nil || res != want {
			t.Fatalf("second import: %+v, %v; want %+v", res, err, want)
		}
	}
	if _, err := sql.Compact(ctx, store.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	q := store.ArmQuery{Experiment: "exp", Phase: 1, Y: store.UnitValue{Event: "buy", FromDay: 0, ToDay: 7}}
	want, _, err := sql.ArmStats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := ch.ArmStats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("ArmStats of imported events (-SQL +ClickHouse):\n%s", diff)
	}
	if got[0].SumY == 0 {
		t.Errorf("imported events not counted: %+v", got)
	}
}

// TestRetention drops the weeks of events older than the retention, and
// keeps the rest.
func TestRetention(t *testing.T) {
	s, _ := openCH(t)
	ctx := context.Background()
	day := 24 * time.Hour
	var evs []tracking.Event
	for i := range 60 {
		evs = append(evs, tracking.Event{ID: string(rune('a'+i%26)) + "-" + time.Duration(i).String(), Name: "buy", Value: 1,
			Time: t0.Add(time.Duration(i) * day), Units: map[string]string{"targetingKey": "u1"}})
	}
	if err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(60 * day)
	res, err := s.Compact(ctx, store.CompactOptions{Retention: 30 * day, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.TrackingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Whole weeks go: at least the 23 days of the weeks before the
	// cut-off's, at most the 30 days before it.
	if res.Dropped < 23 || res.Dropped > 30 || st.EventRows != 60-res.Dropped {
		t.Errorf("dropped %d, %d left of 60: want between 23 and 30 dropped", res.Dropped, st.EventRows)
	}
	if res, err := s.Compact(ctx, store.CompactOptions{}); err != nil || res != (store.CompactResult{}) {
		t.Errorf("Compact without retention: %+v, %v", res, err)
	}
	if due, err := s.CompactionDue(ctx); due || err != nil {
		t.Errorf("CompactionDue: %v, %v", due, err)
	}
}

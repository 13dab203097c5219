package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/clickhouse/chtest"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

// row is one row of an eventBlock, for comparing blocks.
type row struct {
	Name, Attr, Unit string
	At               int64
	Day              int32
	Value            float64
	First            uint8
	H                uint64
}

func rowsOfColumns(t *testing.T, cols []any) []row {
	t.Helper()
	name, attr, unit := cols[0].([]string), cols[1].([]string), cols[2].([]string)
	at, day := cols[3].([]int64), cols[4].([]int32)
	value, first, h := cols[5].([]float64), cols[6].([]uint8), cols[7].([]uint64)
	out := make([]row, len(at))
	for i := range out {
		out[i] = row{name[i], attr[i], unit[i], at[i], day[i], value[i], first[i], h[i]}
	}
	return out
}

// TestEventBlockSendsTheTablesOrder checks that a block's columns come out
// in the events table's order, (name, bucket, h, attr), holding the rows
// added and nothing else, over one reused block: rounds of few names
// (grouped by name and bucket) and one of as many names as rows (one
// comparison sort).
func TestEventBlockSendsTheTablesOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := &eventBlock{}
	for round := range 3 {
		var want []row
		n := 5000 + round*777
		if round == 2 {
			n = 300
		}
		for i := range n {
			name := []string{"dm_reply", "buy", "dm_reply_2"}[rng.IntN(3)]
			if round == 2 {
				name = fmt.Sprintf("name-%d", rng.IntN(n))
			}
			r := row{
				Name:  name,
				Attr:  []string{"targetingKey", "accountCenterId"}[rng.IntN(2)],
				Unit:  fmt.Sprintf("u-%d", rng.IntN(300)),
				At:    int64(i),
				Value: float64(i),
				First: uint8(i % 2),
				H:     rng.Uint64() >> rng.IntN(64), // small ones too
			}
			if i%50 == 0 && i > 0 { // the same event and key as another row
				r.H, r.Name, r.Attr = want[i-1].H, want[i-1].Name, want[i-1].Attr
			}
			r.Day = utcDay(r.At)
			want = append(want, r)
			b.rows = append(b.rows, eventRow{name: r.Name, attr: r.Attr, unit: r.Unit, at: r.At, day: r.Day, value: r.Value, first: r.First, h: r.H, bucket: unitBucket(r.Unit)})
		}
		// In pieces, as insertBlock asks for them; the last round whole.
		piece := []int{1000, 1777, n}[round]
		var got []row
		for lo := 0; lo < b.len(); lo += piece {
			got = append(got, rowsOfColumns(t, b.columns(lo, min(lo+piece, b.len())))...)
		}
		if len(got) != b.len() || len(got) != n {
			t.Fatalf("round %d: %d rows sent of %d added (len %d)", round, len(got), n, b.len())
		}
		order := func(x, y row) int {
			return cmp.Or(strings.Compare(x.Name, y.Name), cmp.Compare(unitBucket(x.Unit), unitBucket(y.Unit)),
				cmp.Compare(x.H, y.H), strings.Compare(x.Attr, y.Attr))
		}
		if !slices.IsSortedFunc(got, order) {
			t.Errorf("round %d: the rows are not in the table's order", round)
		}
		byAll := func(x, y row) int { return cmp.Or(order(x, y), cmp.Compare(x.At, y.At)) }
		slices.SortFunc(want, byAll)
		slices.SortFunc(got, byAll)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("round %d: rows sent (-want +got):\n%s", round, diff)
		}
		b.reset()
	}
}

// TestUnitBucketIsTheTables checks the writer's bucket against the one
// ClickHouse computes for the events table (cityHash64(unit) % 1024): if
// they differed, inserts would only be slower (the server sorts a block
// that is not in order), but the test says why.
func TestUnitBucketIsTheTables(t *testing.T) {
	dsn := chtest.DSN(t)
	s, err := Open(context.Background(), dsn, Options{MinInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	units := []string{"", "a", "ig-1", "ac-123456789", "ünïcode-ünit", strings.Repeat("x", 17), strings.Repeat("y", 33), strings.Repeat("z", 65), strings.Repeat("w", 256)}
	var evs []tracking.Event
	for i, u := range units {
		if u == "" {
			continue
		}
		evs = append(evs, tracking.Event{ID: fmt.Sprintf("e%d", i), Name: "n", Value: 1, Time: time.Unix(1_700_000_000, 0), Units: map[string]string{"targetingKey": u}})
	}
	if err := s.WriteEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	rows, err := s.conn.Query(context.Background(), "SELECT unit, bucket FROM "+s.db+".events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var unit string
		var bucket uint16
		if err := rows.Scan(&unit, &bucket); err != nil {
			t.Fatal(err)
		}
		if got := unitBucket(unit); got != bucket {
			t.Errorf("unit %q: unitBucket %d, ClickHouse %d", unit, got, bucket)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(evs) {
		t.Errorf("%d rows read, want %d", n, len(evs))
	}
}

// TestInsertInPieces writes a block of more rows than the driver holds at
// once (insertChunkRows): every row is stored, in one part, and ClickHouse
// found it sorted (it did not sort it again).
func TestInsertInPieces(t *testing.T) {
	dsn := chtest.DSN(t)
	s, err := Open(context.Background(), dsn, Options{MinInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	sortedBefore := serverEvent(t, s, "MergeTreeDataWriterBlocksAlreadySorted")
	n := insertChunkRows + insertChunkRows/2 // two rows each: three pieces
	evs := make([]tracking.Event, n)
	for i := range evs {
		evs[i] = tracking.Event{ID: fmt.Sprintf("e%d", i), Name: "dm_reply", Value: 1, Time: time.Unix(1_700_000_000, int64(i)*1000),
			Units: map[string]string{"targetingKey": fmt.Sprintf("ig-%d", i), "accountCenterId": fmt.Sprintf("ac-%d", i%1000)}}
	}
	if err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var rows, parts uint64
	if err := s.conn.QueryRow(ctx, "SELECT count(), uniqExact(_part) FROM "+s.db+".events").Scan(&rows, &parts); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(2*n) || parts != 1 {
		t.Errorf("got %d rows in %d parts, want %d in 1", rows, parts, 2*n)
	}
	if got := serverEvent(t, s, "MergeTreeDataWriterBlocksAlreadySorted") - sortedBefore; got < 1 {
		t.Errorf("ClickHouse sorted the block again (MergeTreeDataWriterBlocksAlreadySorted +%d)", got)
	}
}

// TestEventsStoreTheirHashNotTheirID checks what an event's rows hold: one
// row per identifying attribute, in the attributes' order, the first the
// one counted (first = 1), each with the event's hash of its time and id
// (h, which is what makes a retried event's copies one); and that the id
// itself is not stored (the table has no such column): ids, mostly
// random, do not compress, and storing them cost a third of ingest's CPU.
func TestEventsStoreTheirHashNotTheirID(t *testing.T) {
	s, err := Open(context.Background(), chtest.DSN(t), Options{MinInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	evs := []tracking.Event{
		{ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Name: "dm_reply", Value: 1, Time: time.Unix(1_700_000_000, 0),
			Units: map[string]string{"targetingKey": "ig-1", "accountCenterId": "ac-1", "deviceId": "d-1"}},
		{ID: "e2", Name: "dm_reply", Value: 2, Time: time.Unix(1_700_000_001, 0), Units: map[string]string{"targetingKey": "ig-2"}},
	}
	if err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	rows, err := s.conn.Query(ctx, "SELECT attr, unit, first, h FROM "+s.db+".events ORDER BY at, attr")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		attr, unit string
		first      uint8
		h          uint64
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.attr, &r.unit, &r.first, &r.h); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	h1, h2 := eventHash(evs[0].Time.UnixMicro(), evs[0].ID), eventHash(evs[1].Time.UnixMicro(), evs[1].ID)
	want := []row{
		{"accountCenterId", "ac-1", 1, h1},
		{"deviceId", "d-1", 0, h1},
		{"targetingKey", "ig-1", 0, h1},
		{"targetingKey", "ig-2", 1, h2},
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows:\n got %+v\nwant %+v", got, want)
	}
	var idColumns uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = 'events' AND name = 'id'", s.name).Scan(&idColumns); err != nil {
		t.Fatal(err)
	}
	if idColumns != 0 {
		t.Error("the events table has a column id")
	}
}

// serverEvent reads one of the server's counters (system.events), 0 when
// it has not counted yet.
func serverEvent(t *testing.T, s *Store, name string) uint64 {
	t.Helper()
	var v uint64
	err := s.conn.QueryRow(context.Background(), "SELECT sum(value) FROM system.events WHERE event = ?", name).Scan(&v)
	if err != nil {
		t.Fatalf("system.events %s: %v", name, err)
	}
	return v
}

// TestQuickValidNeverAcceptsWhatTheStoreRefuses holds WriteEvents' quick
// test to store.ValidateEvent: whatever it passes, ValidateEvent accepts
// (what it does not pass, ValidateEvent decides).
func TestQuickValidNeverAcceptsWhatTheStoreRefuses(t *testing.T) {
	ok := func() tracking.Event {
		return tracking.Event{ID: "e1", Name: "dm_reply", Value: 1, Time: time.Unix(1_700_000_000, 0), Units: map[string]string{"targetingKey": "u1"}}
	}
	long := strings.Repeat("x", maxTrackingText+1)
	for name, change := range map[string]func(*tracking.Event){
		"valid":              func(*tracking.Event) {},
		"no id":              func(e *tracking.Event) { e.ID = "" },
		"NUL in the id":      func(e *tracking.Event) { e.ID = "e\x001" },
		"id too long":        func(e *tracking.Event) { e.ID = long },
		"no name":            func(e *tracking.Event) { e.Name = "" },
		"name not UTF-8":     func(e *tracking.Event) { e.Name = "\xff" },
		"name not ASCII":     func(e *tracking.Event) { e.Name = "café" },
		"name too long":      func(e *tracking.Event) { e.Name = long },
		"NaN":                func(e *tracking.Event) { e.Value = math.NaN() },
		"infinite":           func(e *tracking.Event) { e.Value = math.Inf(-1) },
		"no time":            func(e *tracking.Event) { e.Time = time.Time{} },
		"no units":           func(e *tracking.Event) { e.Units = nil },
		"empty unit":         func(e *tracking.Event) { e.Units["accountCenterId"] = "" },
		"empty attribute":    func(e *tracking.Event) { e.Units[""] = "u" },
		"unit not UTF-8":     func(e *tracking.Event) { e.Units["targetingKey"] = "u\xc3" },
		"NUL in a unit":      func(e *tracking.Event) { e.Units["targetingKey"] = "u\x00" },
		"unit too long":      func(e *tracking.Event) { e.Units["targetingKey"] = long },
		"attribute too long": func(e *tracking.Event) { e.Units[long] = "u" },
	} {
		e := ok()
		change(&e)
		quick := quickValid(&e)
		for a, u := range e.Units {
			quick = quick && quickText(a) && quickText(u)
		}
		if err := store.ValidateEvent(&e); quick && err != nil {
			t.Errorf("%s: the quick test passes an event the store refuses: %v", name, err)
		}
		if name == "valid" && !quick {
			t.Errorf("valid: the quick test does not pass a plain event")
		}
	}
}

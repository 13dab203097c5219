package admin_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

var tt0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// readEvents reads a whole events file.
func readEvents(in []byte, opt admin.EventCSVOptions) ([]store.ImportedEvent, error) {
	rd, err := admin.NewEventReader(bytes.NewReader(in), "events.csv", opt)
	if err != nil {
		return nil, err
	}
	var out []store.ImportedEvent
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestEventReaderShapes(t *testing.T) {
	at := tt0
	want := []store.ImportedEvent{
		{Line: 2, Unit: "u1", Name: "dm_sent", Value: 1, Time: at},
		{Line: 3, Unit: "u2", Name: "dm_reply", Value: 2.5, Time: at.Add(time.Second)},
	}
	cases := []struct {
		name string
		in   []byte
		want []store.ImportedEvent
	}{
		{"plain", []byte("unit,event,value,time\nu1,dm_sent,1,2026-03-01T12:00:00Z\nu2,dm_reply,2.5,1772366401\n"), want},
		{"user_id, any order and case, extra columns", []byte("Time,EVENT,note,User_ID,value\n2026-03-01T12:00:00Z,dm_sent,x,u1,\n2026-03-01T13:00:01+01:00,dm_reply,y,u2,2.5\n"), want},
		{"no value column", []byte("unit,event,time\r\nu1,dm_sent,2026-03-01T12:00:00Z\r\nu2,dm_reply,1772366401\r\n"),
			[]store.ImportedEvent{want[0], {Line: 3, Unit: "u2", Name: "dm_reply", Value: 1, Time: at.Add(time.Second)}}},
		{"BOM, semicolons, blank lines", []byte("\xef\xbb\xbfunit;event;value;time\nu1;dm_sent;1;2026-03-01T12:00:00Z\n\nu2;dm_reply;2.5;1772366401.000\n"),
			[]store.ImportedEvent{want[0], {Line: 4, Unit: "u2", Name: "dm_reply", Value: 2.5, Time: at.Add(time.Second)}}},
		{"sep hint", []byte("sep=|\nunit|event|value|time\nu1|dm_sent|1|2026-03-01T12:00:00Z\nu2|dm_reply|2.5|1772366401\n"),
			[]store.ImportedEvent{{Line: 3, Unit: "u1", Name: "dm_sent", Value: 1, Time: at}, {Line: 4, Unit: "u2", Name: "dm_reply", Value: 2.5, Time: at.Add(time.Second)}}},
		{"gzip", gzipped("unit,event,value,time\nu1,dm_sent,1,2026-03-01T12:00:00Z\nu2,dm_reply,2.5,1772366401\n"), want},
		{"fractional seconds", []byte("unit,event,time\nu1,e,1772366400.25\n"),
			[]store.ImportedEvent{{Line: 2, Unit: "u1", Name: "e", Value: 1, Time: at.Add(250 * time.Millisecond)}}},
		{"a formula-escaped unit", []byte("unit,event,time\n'-123,e,1772366400\n"),
			[]store.ImportedEvent{{Line: 2, Unit: "-123", Name: "e", Value: 1, Time: at}}},
		{"header only", []byte("unit,event,time\n"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readEvents(c.in, admin.EventCSVOptions{})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("rows (-want +got):\n%s", d)
			}
		})
	}
}

func TestEventReaderErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		opt  admin.EventCSVOptions
		want string
	}{
		{"empty", "", admin.EventCSVOptions{}, "events.csv: the file is empty"},
		{"no unit column", "id,event,time\n", admin.EventCSVOptions{}, "events.csv:1: no unit column"},
		{"no time column", "unit,event\n", admin.EventCSVOptions{}, "events.csv:1: no time column"},
		{"unit twice", "unit,event,time,user_id\n", admin.EventCSVOptions{}, `events.csv:1: the header names the unit column twice ("unit" in column 1, "user_id" in column 4)`},
		{"bad time", "unit,event,time\nu1,e,2026-03-01T12:00:00Z\nu2,e,yesterday\n", admin.EventCSVOptions{}, `events.csv:3: column "time": "yesterday" is neither RFC 3339`},
		{"bad value", "unit,event,value,time\nu1,e,lots,1772366400\n", admin.EventCSVOptions{}, `events.csv:2: column "value": "lots" is not a finite number`},
		{"NaN", "unit,event,value,time\nu1,e,NaN,1772366400\n", admin.EventCSVOptions{}, `events.csv:2: column "value": "NaN" is not a finite number`},
		{"empty unit", "unit,event,time\n,e,1772366400\n", admin.EventCSVOptions{}, `events.csv:2: column "unit": unit`},
		{"bidi unit", "unit,event,time\nadmin\u202egnp,e,1772366400\n", admin.EventCSVOptions{}, `events.csv:2: column "unit": unit`},
		{"empty event", "unit,event,time\nu1,,1772366400\n", admin.EventCSVOptions{}, `events.csv:2: column "event": empty event name`},
		{"fields", "unit,event,time\nu1,e\n", admin.EventCSVOptions{}, "events.csv:2: 2 fields, the header has 3"},
		{"quote", "unit,event,time\nu1,\"e,1772366400\n", admin.EventCSVOptions{}, "events.csv:2: malformed CSV"},
		{"rows", "unit,event,time\nu1,e,1\nu1,e,2\nu1,e,3\n", admin.EventCSVOptions{MaxRows: 2}, "events.csv:4: more than 2 rows"},
		{"row length", "unit,event,time\nu1,e,1\n" + strings.Repeat("x", 50_000) + ",e,1\n", admin.EventCSVOptions{MaxLineBytes: 1000}, "events.csv:3: row longer than 1000 bytes"},
		{"corrupt gzip", string(gzipped("unit,event,time\nu1,e,1\n")[:20]), admin.EventCSVOptions{}, "events.csv: read compressed file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readEvents([]byte(c.in), c.opt)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v, want an error starting %q", err, c.want)
			}
			if !errors.Is(err, ramp.ErrInvalid) {
				t.Errorf("error %v does not match ramp.ErrInvalid", err)
			}
		})
	}
}

// FuzzEventReader reads arbitrary files: the reader never panics, every
// error is an *EventFileError (invalid input, with a line when it names a
// row), and every row it returns is one the store accepts.
func FuzzEventReader(f *testing.F) {
	for _, s := range []string{
		"unit,event,value,time\nu1,dm_sent,1,2026-03-01T12:00:00Z\nu2,dm_reply,2.5,1772366401\n",
		"sep=;\nuser_id;event;time\n\"u;1\";e;1772366400.5\n",
		"unit,event,time\n\"a\"\"b\",\"multi\nline\",1\n",
		"\xef\xbb\xbfunit\tevent\ttime\n'=x\te\t-5\n",
		string(gzipped("unit,event,time\nu1,e,1\n")),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rd, err := admin.NewEventReader(bytes.NewReader(in), "f.csv", admin.EventCSVOptions{MaxLineBytes: 512, MaxRows: 1000})
		check := func(err error) {
			var fe *admin.EventFileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not an *EventFileError", err, err)
			}
			if !errors.Is(err, ramp.ErrInvalid) || !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error %q: not invalid input naming the file", err)
			}
		}
		if err != nil {
			check(err)
			return
		}
		for {
			e, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				check(err)
				return
			}
			ev := tracking.Event{ID: store.ImportedEventID(e, 1), Name: e.Name, Value: e.Value, Time: e.Time, Units: map[string]string{tracking.AnyUnit: e.Unit}}
			if err := store.ValidateEvent(&ev); err != nil {
				t.Fatalf("row %+v read, but the store refuses it: %v", e, err)
			}
		}
	})
}

func TestImportEventsAllOrNothing(t *testing.T) {
	a, _ := open(t)
	ctx := alice
	good := "unit,event,value,time\nu1,dm_sent,1,2026-03-01T12:00:00Z\nu1,dm_sent,1,2026-03-01T12:00:00Z\nu2,dm_reply,3,2026-03-01T13:00:00Z\n"
	// A bad row at the end: nothing is stored.
	_, err := a.ImportEvents(ctx, admin.EventImportRequest{Source: strings.NewReader(good + "u3,dm_reply,3,never\n"), File: "ev.csv"})
	var fe *admin.EventFileError
	if !errors.As(err, &fe) || fe.Line != 5 || fe.Column != "time" || fe.File != "ev.csv" {
		t.Fatalf("ImportEvents with a bad last row: %v, want an *EventFileError at ev.csv:5, column time", err)
	}
	if n, err := a.EventCount(ctx); err != nil || n != 0 {
		t.Fatalf("EventCount after a rejected import = %d, %v; want 0", n, err)
	}
	var progress []admin.ImportProgress
	for i, want := range []admin.EventImportResult{{Rows: 3, Stored: 3}, {Rows: 3, Duplicates: 3}} {
		got, err := a.ImportEvents(ctx, admin.EventImportRequest{Source: strings.NewReader(good), File: "ev.csv",
			Progress: func(p admin.ImportProgress) { progress = append(progress, p) }})
		if err != nil {
			t.Fatalf("import %d: %v", i+1, err)
		}
		if got != want {
			t.Errorf("import %d: %+v, want %+v", i+1, got, want)
		}
	}
	if len(progress) == 0 || !progress[len(progress)-1].Done || progress[len(progress)-1].Rows != 3 {
		t.Errorf("progress %+v: want a last call with Done and 3 rows", progress)
	}
	if err := a.WriteExposures(ctx, []tracking.Exposure{
		{Experiment: "e", Phase: 1, UnitAttr: "targetingKey", Unit: "u1", Arm: "on", Time: tt0},
		{Experiment: "e", Phase: 1, UnitAttr: "targetingKey", Unit: "u2", Arm: "off", Time: tt0},
		{Experiment: "e", Phase: 1, UnitAttr: "targetingKey", Unit: "u2", Arm: "on", Time: tt0},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Compact(ctx, admin.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	counts, err := a.ExposureCounts(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]admin.ExposureCount{{Phase: 1, Arm: "off", Units: 1, MultiArm: 1}, {Phase: 1, Arm: "on", Units: 1}}, counts); d != "" {
		t.Errorf("ExposureCounts (-want +got):\n%s", d)
	}
	var got []admin.UnitTotal
	if err := a.UnitTotals(ctx, "e", 1, func(u admin.UnitTotal) error { got = append(got, u); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []admin.UnitTotal{
		{UnitAttr: "targetingKey", Unit: "u1", Arm: "on", Event: "dm_sent", N: 2, Sum: 2, SumSq: 2},
		{UnitAttr: "targetingKey", Unit: "u2", Arm: "off", MultiArm: true, Event: "dm_reply", N: 1, Sum: 3, SumSq: 9},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("UnitTotals (-want +got):\n%s", d)
	}
	// fn's error stops the reading and comes back as it is.
	stop := errors.New("enough")
	if err := a.UnitTotals(ctx, "e", 1, func(admin.UnitTotal) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("UnitTotals with a failing fn: %v, want %v", err, stop)
	}
}

func TestServiceIsASink(t *testing.T) {
	a, _ := open(t)
	var sink tracking.Sink = a
	ctx := context.Background()
	err := sink.WriteEvents(ctx, []tracking.Event{{ID: "1", Name: "x", Value: 1, Time: tt0, Units: map[string]string{"targetingKey": "u"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.WriteEvents(ctx, []tracking.Event{{ID: "2", Name: "", Value: 1, Time: tt0, Units: map[string]string{"k": "u"}}}); !errors.Is(err, ramp.ErrInvalid) {
		t.Errorf("an event without a name: %v, want ramp.ErrInvalid", err)
	}
	st, err := a.TrackingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.EventRows != 1 || st.Pending != 1 {
		t.Errorf("TrackingStats %+v: want 1 row, pending", st)
	}
}

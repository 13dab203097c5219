package tracking_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/tracking"
)

var now = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func TestDecodeBatch(t *testing.T) {
	attrs := []string{"accountCenterId"}
	body := `{"events":[
	  {"id":"e1","event":"dm_reply","value":2.5,"time":"2026-11-24T09:00:00Z","context":{"targetingKey":"ig-12","accountCenterId":"ac-12","region":"US","appVersion":"301.0.0"}},
	  {"id":"e2","event":"dm_sent","context":{"accountCenterId":42}}],
	 "exposures":[{"experiment":"dm-handoff-vs-inline","phase":2,"unitAttribute":"accountCenterId","unit":"ac-12","arm":"inline","flag":"ig-dm-via-whatsapp"}],
	 "unknown":"ignored"}`
	got, err := tracking.DecodeBatch([]byte(body), now, attrs)
	if err != nil {
		t.Fatal(err)
	}
	want := tracking.Batch{
		Events: []tracking.Event{
			{ID: "e1", Name: "dm_reply", Value: 2.5, Time: now.Add(-time.Hour), Units: map[string]string{"targetingKey": "ig-12", "accountCenterId": "ac-12"}},
			{ID: "e2", Name: "dm_sent", Value: 1, Time: now, Units: map[string]string{"accountCenterId": "42"}},
		},
		Exposures: []tracking.Exposure{{Experiment: "dm-handoff-vs-inline", Phase: 2, UnitAttr: "accountCenterId", Unit: "ac-12", Arm: "inline", Flag: "ig-dm-via-whatsapp", Time: now}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DecodeBatch (-want +got):\n%s", d)
	}
}

func TestDecodeBatchRefusals(t *testing.T) {
	ev := func(fields string) string {
		return `{"events":[{"id":"e1","event":"x","context":{"targetingKey":"u"}},` + fields + `]}`
	}
	tests := []struct {
		name, body string
		item       string // the BatchError's Item
		problem    string // a part of its Problem
		parse      bool
	}{
		{"empty body", ``, "", "one JSON object", true},
		{"an array", `[{"id":"e1"}]`, "", "one JSON object", true},
		{"malformed", `{"events":[`, "", "not valid JSON", true},
		{"trailing data", `{"events":[]} {}`, "", "not valid JSON", true},
		{"events not an array", `{"events":{}}`, "", "not valid JSON", true},
		{"an event not an object", `{"events":[1]}`, "events[0]", "JSON object", false},
		{"id missing", ev(`{"event":"x","context":{"targetingKey":"u"}}`), "events[1].id", "needs an id", false},
		{"id too long", ev(`{"id":"` + strings.Repeat("a", 65) + `","event":"x","context":{"targetingKey":"u"}}`), "events[1].id", "longer than 64", false},
		{"id with a space", ev(`{"id":"a b","event":"x","context":{"targetingKey":"u"}}`), "events[1].id", "letters, digits", false},
		{"id a number", ev(`{"id":7,"event":"x","context":{"targetingKey":"u"}}`), "events[1].id", "want a string", false},
		{"name missing", ev(`{"id":"e2","context":{"targetingKey":"u"}}`), "events[1].event", "missing", false},
		{"name with a control character", ev(`{"id":"e2","event":"a\u0001","context":{"targetingKey":"u"}}`), "events[1].event", "control character", false},
		{"value a string", ev(`{"id":"e2","event":"x","value":"1","context":{"targetingKey":"u"}}`), "events[1].value", "want a number", false},
		{"time not RFC 3339", ev(`{"id":"e2","event":"x","time":"yesterday","context":{"targetingKey":"u"}}`), "events[1].time", "RFC 3339", false},
		{"time in the future", ev(`{"id":"e2","event":"x","time":"2026-11-24T12:00:00Z","context":{"targetingKey":"u"}}`), "events[1].time", "ahead", false},
		{"context missing", ev(`{"id":"e2","event":"x"}`), "events[1].context", "identifies no unit", false},
		{"context without identifiers", ev(`{"id":"e2","event":"x","context":{"region":"US"}}`), "events[1].context", "identifies no unit", false},
		{"context an array", ev(`{"id":"e2","event":"x","context":[]}`), "events[1].context", "want a JSON object", false},
		{"identifier a boolean", ev(`{"id":"e2","event":"x","context":{"targetingKey":true}}`), "events[1].context.targetingKey", "string or an integer", false},
		{"unit attribute a fraction", ev(`{"id":"e2","event":"x","context":{"targetingKey":"u","accountCenterId":1.5}}`), "events[1].context.accountCenterId", "string or an integer", false},
		{"identifier too long", ev(`{"id":"e2","event":"x","context":{"targetingKey":"` + strings.Repeat("u", 257) + `"}}`), "events[1].context.targetingKey", "at most 256", false},
		{"exposure phase 0", `{"exposures":[{"experiment":"e","phase":0,"unitAttribute":"targetingKey","unit":"u","arm":"a"}]}`, "exposures[0].phase", "from 1", false},
		{"exposure phase missing", `{"exposures":[{"experiment":"e","unitAttribute":"targetingKey","unit":"u","arm":"a"}]}`, "exposures[0].phase", "from 1", false},
		{"exposure phase a fraction", `{"exposures":[{"experiment":"e","phase":1.5,"unitAttribute":"targetingKey","unit":"u","arm":"a"}]}`, "exposures[0].phase", "want a number", false},
		{"exposure without arm", `{"exposures":[{"experiment":"e","phase":1,"unitAttribute":"targetingKey","unit":"u"}]}`, "exposures[0].arm", "missing", false},
		{"exposure without unit", `{"exposures":[{"experiment":"e","phase":1,"unitAttribute":"targetingKey","arm":"a"}]}`, "exposures[0].unit", "missing", false},
		{"too many items", `{"events":[` + strings.Repeat(`{},`, tracking.MaxBatchItems) + `{}]}`, "", "at most 10000 items", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tracking.DecodeBatch([]byte(tt.body), now, []string{"accountCenterId"})
			be, ok := errors.AsType[*tracking.BatchError](err)
			if !ok {
				t.Fatalf("err %v, want a *BatchError", err)
			}
			if be.Item != tt.item || !strings.Contains(be.Problem, tt.problem) || be.Parse != tt.parse {
				t.Errorf("got item %q problem %q parse %v; want item %q, problem containing %q, parse %v", be.Item, be.Problem, be.Parse, tt.item, tt.problem, tt.parse)
			}
		})
	}
}

func TestWireRoundTrip(t *testing.T) {
	evs := []tracking.Event{{ID: tracking.NewEventID(), Name: "dm_reply", Value: 0, Time: now.Add(-time.Minute), Units: map[string]string{"targetingKey": "ig-1", "accountCenterId": "9"}}}
	exps := []tracking.Exposure{{Experiment: "x", Phase: 3, UnitAttr: "accountCenterId", Unit: "9", Arm: "on", Flag: "f", Time: now.Add(-time.Second)}}
	b1, err := tracking.AppendEvents(nil, evs)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := tracking.AppendExposures(nil, exps)
	if err != nil {
		t.Fatal(err)
	}
	got1, err := tracking.DecodeBatch(b1, now, []string{"accountCenterId"})
	if err != nil {
		t.Fatal(err)
	}
	got2, err := tracking.DecodeBatch(b2, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(tracking.Batch{Events: evs, Exposures: []tracking.Exposure{}}, got1); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if d := cmp.Diff(tracking.Batch{Events: []tracking.Event{}, Exposures: exps}, got2); d != "" {
		t.Errorf("exposures (-want +got):\n%s", d)
	}
}

// FuzzDecodeBatch feeds the tracking endpoint's parser arbitrary bodies: it
// must never panic, must answer every body with a batch or a *BatchError,
// and what it accepts must respect the limits and survive a round trip.
func FuzzDecodeBatch(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "batch-*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed bodies in testdata/batch-*.json (%v)", err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatalf("seed %s: %v", s, err)
		}
		if _, err := tracking.DecodeBatch(b, now, []string{"accountCenterId"}); err != nil && !strings.Contains(s, "bad") {
			f.Fatalf("seed %s is refused: %v", s, err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := tracking.DecodeBatch(body, now, []string{"accountCenterId"})
		if err != nil {
			if _, ok := errors.AsType[*tracking.BatchError](err); !ok {
				t.Fatalf("error %T %v is no *BatchError", err, err)
			}
			return
		}
		if len(b.Events)+len(b.Exposures) > tracking.MaxBatchItems {
			t.Fatalf("accepted %d items", len(b.Events)+len(b.Exposures))
		}
		for _, e := range b.Events {
			if e.ID == "" || len(e.ID) > tracking.MaxIDLen || e.Name == "" || len(e.Units) == 0 || e.Time.After(now.Add(tracking.MaxAhead)) {
				t.Fatalf("accepted an invalid event %+v", e)
			}
		}
		for _, e := range b.Exposures {
			if e.Phase < 1 || e.Unit == "" || e.Arm == "" || e.Experiment == "" {
				t.Fatalf("accepted an invalid exposure %+v", e)
			}
		}
		enc, err := tracking.AppendEvents(nil, b.Events)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tracking.DecodeBatch(enc, now, []string{"accountCenterId"}); err != nil && len(b.Events) > 0 {
			t.Fatalf("re-encoded events refused: %v\n%s", err, enc)
		}
	})
}

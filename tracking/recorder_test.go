package tracking_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/tracking"
)

var (
	running = &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 2, Unit: "accountCenterId"}
	stopped = &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 0, Unit: "accountCenterId"}
	rollout = &flags.Origin{Kind: "rollout", Key: "ig-dm-via-whatsapp", Part: "stage-1"}
)

func decision(o *flags.Origin, variant string) flags.Decision {
	return flags.Decision{Key: "ig-dm-via-whatsapp", Variant: variant, Reason: flags.ReasonSplit, Rule: 0, Origin: o}
}

func TestExposeRecordsOncePerUnit(t *testing.T) {
	tests := []struct {
		name     string
		d        flags.Decision
		ctxs     []map[string]any
		want     []tracking.Exposure // in any order; Time ignored
		deduped  uint64
		recorded uint64
	}{
		{"one unit seen three times", decision(running, "inline"),
			[]map[string]any{{"targetingKey": "ig-1", "accountCenterId": "ac-1"}, {"targetingKey": "ig-2", "accountCenterId": "ac-1"}, {"accountCenterId": "ac-1"}},
			[]tracking.Exposure{{Experiment: running.Key, Phase: 2, UnitAttr: "accountCenterId", Unit: "ac-1", Arm: "inline", Flag: "ig-dm-via-whatsapp"}},
			2, 1},
		{"integer unit in decimal, float and int alike", decision(running, "off"),
			[]map[string]any{{"accountCenterId": 1234.0}, {"accountCenterId": int64(1234)}},
			[]tracking.Exposure{{Experiment: running.Key, Phase: 2, UnitAttr: "accountCenterId", Unit: "1234", Arm: "off", Flag: "ig-dm-via-whatsapp"}},
			1, 1},
		{"targetingKey when the unit attribute is absent or empty", decision(running, "handoff"),
			[]map[string]any{{"targetingKey": "ig-7"}, {"targetingKey": "ig-7", "accountCenterId": ""}},
			[]tracking.Exposure{{Experiment: running.Key, Phase: 2, UnitAttr: "targetingKey", Unit: "ig-7", Arm: "handoff", Flag: "ig-dm-via-whatsapp"}},
			1, 1},
		{"two units", decision(running, "inline"),
			[]map[string]any{{"accountCenterId": "ac-1"}, {"accountCenterId": "ac-2"}},
			[]tracking.Exposure{
				{Experiment: running.Key, Phase: 2, UnitAttr: "accountCenterId", Unit: "ac-1", Arm: "inline", Flag: "ig-dm-via-whatsapp"},
				{Experiment: running.Key, Phase: 2, UnitAttr: "accountCenterId", Unit: "ac-2", Arm: "inline", Flag: "ig-dm-via-whatsapp"}},
			0, 2},
		{"a stopped experiment's phase 0 exposes nobody", decision(stopped, "inline"),
			[]map[string]any{{"accountCenterId": "ac-1"}}, nil, 0, 0},
		{"a rollout stage is no experiment", decision(rollout, "on"),
			[]map[string]any{{"targetingKey": "ig-1"}}, nil, 0, 0},
		{"a flag's own rule", decision(nil, "on"),
			[]map[string]any{{"targetingKey": "ig-1"}}, nil, 0, 0},
		{"no unit at all", decision(running, "inline"),
			[]map[string]any{{"region": "US"}, {"accountCenterId": true}, {"accountCenterId": 1.5}}, nil, 0, 0},
		{"an error decision", flags.Decision{Key: "f", Reason: flags.ReasonError, ErrorCode: flags.ErrGeneral, Origin: running},
			[]map[string]any{{"accountCenterId": "ac-1"}}, nil, 0, 0},
	}
	for _, tt := range tests {
		// Each case runs with decisions as a rule without an allocation
		// makes them, and as the engine makes them for an experiment's
		// allocation: carrying the unit's placement.
		for _, placed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/placed=%v", tt.name, placed), func(t *testing.T) {
				sink := newMemSink()
				r := tracking.NewRecorder(sink, tracking.Options{FlushInterval: 10 * time.Millisecond, Logger: testLogger(t)})
				for _, ctx := range tt.ctxs {
					d := tt.d
					if placed {
						d.Unit = placement(d.Origin, ctx)
					}
					r.Expose(&d, ctx)
				}
				closeRecorder(t, r)
				s := r.Stats()
				if s.ExposuresRecorded != tt.recorded || s.ExposuresDeduplicated != tt.deduped || s.ExposuresSent != tt.recorded || s.ExposuresDropped != 0 {
					t.Errorf("stats %+v, want recorded=sent=%d deduplicated=%d", s, tt.recorded, tt.deduped)
				}
				if got, _ := sink.counts(); got != len(tt.want) {
					t.Fatalf("sink holds %d exposures, want %d", got, len(tt.want))
				}
				for _, w := range tt.want {
					found := false
					for _, g := range sink.exposures {
						g.Time = time.Time{}
						found = found || g == w
					}
					if !found {
						t.Errorf("missing %+v in %+v", w, sink.exposures)
					}
				}
			})
		}
	}
}

// placement places the unit of ctx as the engine does for an allocation
// that buckets by o's unit: the attribute when ctx has it, else
// targetingKey, hashed under a salt; zero when ctx has no usable unit.
func placement(o *flags.Origin, ctx map[string]any) flags.Placement {
	attr := tracking.TargetingKey
	if o != nil && o.Unit != "" && ctx[o.Unit] != nil && ctx[o.Unit] != "" {
		attr = o.Unit
	}
	var buf [24]byte
	key, ok := flags.AppendUnitKey(buf[:0], ctx[attr])
	if s, isStr := ctx[attr].(string); isStr && s != "" {
		key, ok = []byte(s), true
	}
	if !ok {
		return flags.Placement{}
	}
	return flags.Placement{Attr: attr, Hash: bucket.SumBytes(bucket.V1, "experiment-salt", key)}
}

func TestExposeSeenAllocatesNothing(t *testing.T) {
	r := tracking.NewRecorder(newMemSink(), tracking.Options{Logger: quietLogger()})
	defer closeRecorder(t, r)
	d := decision(running, "inline")
	for _, ctx := range []map[string]any{{"accountCenterId": "ac-1"}, {"accountCenterId": 77.0}, {"targetingKey": "ig-3"}} {
		r.Expose(&d, ctx)
		if n := testing.AllocsPerRun(100, func() { r.Expose(&d, ctx) }); n != 0 {
			t.Errorf("Expose of a unit already seen (%v): %v allocations, want 0", ctx, n)
		}
	}
}

func TestDedupIsBounded(t *testing.T) {
	// A table of 64 entries keeps at most 64 units: of 10,000 distinct
	// units offered twice in a row, the second offer of each is
	// deduplicated; offered again after all the others, almost all were
	// forgotten, and recorded again (the sink keeps them once).
	sink := newMemSink()
	r := tracking.NewRecorder(sink, tracking.Options{DedupEntries: 64, QueueSize: 40000, Logger: quietLogger()})
	d := decision(running, "inline")
	const n = 10000
	for i := range n {
		ctx := map[string]any{"accountCenterId": fmt.Sprint("ac-", i)}
		r.Expose(&d, ctx)
		r.Expose(&d, ctx)
	}
	for i := range n {
		r.Expose(&d, map[string]any{"accountCenterId": fmt.Sprint("ac-", i)})
	}
	closeRecorder(t, r)
	s := r.Stats()
	if s.ExposuresDeduplicated < n || s.ExposuresDeduplicated > n+64 {
		t.Errorf("deduplicated %d, want %d to %d", s.ExposuresDeduplicated, n, n+64)
	}
	if s.ExposuresRecorded+s.ExposuresDeduplicated != 3*n {
		t.Errorf("recorded %d + deduplicated %d != offered %d", s.ExposuresRecorded, s.ExposuresDeduplicated, 3*n)
	}
	if got, _ := sink.counts(); got != n {
		t.Errorf("sink holds %d distinct exposures, want %d", got, n)
	}
}

func TestDropsAreCounted(t *testing.T) {
	// The sink blocks: the first batch waits in it, the queue (8) fills,
	// and everything past it is dropped and counted, without waiting.
	sink := newMemSink()
	sink.gate = make(chan struct{})
	r := tracking.NewRecorder(sink, tracking.Options{QueueSize: 8, BatchSize: 4, Logger: quietLogger()})
	const n = 100
	for i := range n {
		r.Track(tracking.Event{Name: "dm_reply", Value: 1, Units: map[string]string{"targetingKey": fmt.Sprint("ig-", i)}})
	}
	r.Track(tracking.Event{Name: "anonymous", Value: 1}) // identifies nobody: dropped
	s := r.Stats()
	if s.EventsRecorded+s.EventsDropped != n+1 || s.EventsDropped < n-8-4 {
		t.Errorf("stats %+v: want recorded+dropped = %d and at least %d dropped", s, n+1, n-8-4)
	}
	close(sink.gate) // let every write through
	closeRecorder(t, r)
	s = r.Stats()
	if _, got := sink.counts(); uint64(got) != s.EventsSent || s.EventsSent != s.EventsRecorded {
		t.Errorf("sink holds %d events; stats %+v: want every recorded event sent", got, s)
	}
	r.Track(tracking.Event{Name: "late", Units: map[string]string{"targetingKey": "x"}})
	if s2 := r.Stats(); s2.EventsDropped != s.EventsDropped+1 {
		t.Errorf("an event tracked after Close: dropped %d, want %d", s2.EventsDropped, s.EventsDropped+1)
	}
}

func TestRetriesUntilWritten(t *testing.T) {
	sink := newMemSink()
	sink.fail = func(n int) error {
		if n <= 3 {
			return errDown
		}
		return nil
	}
	r := tracking.NewRecorder(sink, tracking.Options{FlushInterval: 5 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Logger: testLogger(t)})
	r.Track(tracking.Event{ID: "e1", Name: "dm_reply", Value: 2, Units: map[string]string{"targetingKey": "ig-1"}})
	waitFor(t, "the event to be written", func() bool { _, n := sink.counts(); return n == 1 })
	closeRecorder(t, r)
	if s := r.Stats(); s.FailedBatches != 3 || s.EventsSent != 1 || s.EventsDropped != 0 {
		t.Errorf("stats %+v: want 3 failed attempts, 1 sent, 0 dropped", s)
	}
}

func TestRejectedBatchIsDropped(t *testing.T) {
	sink := newMemSink()
	sink.fail = func(int) error {
		return &tracking.HTTPError{Status: http.StatusBadRequest, Details: "events[0].id: missing"}
	}
	r := tracking.NewRecorder(sink, tracking.Options{FlushInterval: 5 * time.Millisecond, Logger: testLogger(t)})
	r.Track(tracking.Event{Name: "dm_reply", Units: map[string]string{"targetingKey": "ig-1"}})
	waitFor(t, "the batch to be dropped", func() bool { return r.Stats().EventsDropped == 1 })
	closeRecorder(t, r)
	if s := r.Stats(); s.FailedBatches != 1 || s.EventsSent != 0 {
		t.Errorf("stats %+v: want 1 failed attempt and nothing sent (no retry of a refused batch)", s)
	}
}

func TestCloseFlushes(t *testing.T) {
	// A long interval: nothing is sent before Close, everything at it.
	sink := newMemSink()
	r := tracking.NewRecorder(sink, tracking.Options{FlushInterval: time.Hour, BatchSize: 1000, Logger: testLogger(t)})
	d := decision(running, "inline")
	for i := range 2500 {
		r.Expose(&d, map[string]any{"accountCenterId": fmt.Sprint("ac-", i)})
		r.Track(tracking.Event{Name: "dm_reply", Units: map[string]string{"accountCenterId": fmt.Sprint("ac-", i)}})
	}
	closeRecorder(t, r)
	if e, v := sink.counts(); e != 2500 || v != 2500 {
		t.Errorf("after Close the sink holds %d exposures and %d events, want 2500 each", e, v)
	}
	if s := r.Stats(); s.Queued != 0 || s.ExposuresSent != 2500 || s.EventsSent != 2500 {
		t.Errorf("stats %+v", s)
	}
}

func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	sink := newMemSink()
	sink.fail = func(int) error { return errDown }
	r := tracking.NewRecorder(sink, tracking.Options{RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, Logger: quietLogger()})
	for i := range 10 {
		r.Track(tracking.Event{Name: "dm_reply", Units: map[string]string{"targetingKey": fmt.Sprint("ig-", i)}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Close(ctx); err == nil {
		t.Fatal("Close with the sink down returned nil")
	}
	if s := r.Stats(); s.EventsDropped != 10 || s.EventsSent != 0 {
		t.Errorf("stats %+v: want the 10 events dropped and counted", s)
	}
	if err := r.Close(context.Background()); err != nil { // idempotent
		t.Errorf("second Close: %v", err)
	}
}

func TestConcurrentRecording(t *testing.T) {
	sink := newMemSink()
	r := tracking.NewRecorder(sink, tracking.Options{FlushInterval: time.Millisecond, Logger: quietLogger()})
	d := decision(running, "inline")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				r.Expose(&d, map[string]any{"accountCenterId": fmt.Sprint("ac-", i%500)})
				r.Track(tracking.Event{Name: "dm_reply", Units: map[string]string{"targetingKey": fmt.Sprint("ig-", g, "-", i)}})
			}
		})
	}
	// Close while nothing more comes: everything recorded is sent.
	wg.Wait()
	closeRecorder(t, r)
	s := r.Stats()
	e, v := sink.counts()
	if e != 500 || v != 8000 || s.EventsDropped != 0 || s.ExposuresDropped != 0 {
		t.Errorf("sink holds %d exposures and %d events (want 500 and 8000); stats %+v", e, v, s)
	}
	if s.ExposuresRecorded+s.ExposuresDeduplicated != 8000 {
		t.Errorf("stats %+v: recorded + deduplicated must be the 8000 offers", s)
	}
}

func TestNewEventID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := tracking.NewEventID()
		if len(id) != 32 || seen[id] {
			t.Fatalf("id %q: want 32 hex digits, never twice", id)
		}
		seen[id] = true
	}
}

// Expose (from a decision, with the rule origin's cached key bases) and
// RecordExposure (an exposure made elsewhere, hashed in full) agree on
// what is the same exposure, and so does a new snapshot's copy of the
// same origin: a unit is recorded once whichever path and snapshot see it.
func TestExposurePathsAgree(t *testing.T) {
	sink := newMemSink()
	r := tracking.NewRecorder(sink, tracking.Options{FlushInterval: 10 * time.Millisecond, Logger: testLogger(t)})
	d := decision(running, "inline")
	r.Expose(&d, map[string]any{"accountCenterId": "ac-1"})
	r.Expose(&d, map[string]any{"targetingKey": "ig-9"})
	r.RecordExposure(tracking.Exposure{Experiment: running.Key, Phase: 2, UnitAttr: "accountCenterId", Unit: "ac-1", Arm: "inline"})
	r.RecordExposure(tracking.Exposure{Experiment: running.Key, Phase: 2, UnitAttr: "targetingKey", Unit: "ig-9", Arm: "inline"})
	copied := *running // as a reloaded snapshot holds it: another address
	d2 := decision(&copied, "inline")
	r.Expose(&d2, map[string]any{"accountCenterId": "ac-1", "targetingKey": "ig-1"})
	// Another phase, another attribute for the same value: new exposures.
	next := *running
	next.Phase = 3
	d3 := decision(&next, "inline")
	r.Expose(&d3, map[string]any{"accountCenterId": "ac-1"})
	r.RecordExposure(tracking.Exposure{Experiment: running.Key, Phase: 2, UnitAttr: "targetingKey", Unit: "ac-1", Arm: "inline"})
	closeRecorder(t, r)
	if s := r.Stats(); s.ExposuresRecorded != 4 || s.ExposuresDeduplicated != 3 {
		t.Errorf("stats %+v: want 4 recorded (ac-1 and ig-9 in phase 2, ac-1 in phase 3, ac-1 as a targetingKey) and 3 deduplicated", s)
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/tracking"
)

// experimentState has a flag decided by a running experiment (phase 2, its
// unit accountCenterId, every unit in it), a flag shipped by a stopped
// experiment (phase 0: exposes nobody) and a plain flag.
func experimentState() flags.State {
	arms := []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}}
	return flags.State{Flags: []flags.Flag{
		{Key: "ig-dm-via-whatsapp", Type: flags.String, Enabled: true, Bucketing: bucket.V1, Variants: arms, DefaultVariant: "off",
			Rules: []flags.Rule{{
				Name:   "experiment dm-handoff-vs-inline",
				Sample: &flags.Sample{BucketBy: "accountCenterId", Salt: "cross-app-messaging", Buckets: []flags.BucketRange{{From: 0, To: 10000}}},
				Allocation: &flags.Allocation{BucketBy: "accountCenterId", Salt: "dm-handoff-vs-inline", Ranges: []flags.VariantRange{
					{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 6700, Variant: "handoff"}, {From: 6700, To: 10000, Variant: "inline"}}},
				Origin: &flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Part: "", Phase: 2, Unit: "accountCenterId"},
			}}},
		{Key: "link-code-ttl", Type: flags.String, Enabled: true, Bucketing: bucket.V1,
			Variants: []flags.Variant{{Key: "short", Value: "short"}, {Key: "long", Value: "long"}}, DefaultVariant: "long",
			Rules: []flags.Rule{{Serve: "short", Origin: &flags.Origin{Kind: flags.OriginExperiment, Key: "link-code-ttl", Phase: 0}}}},
		{Key: "plain", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1,
			Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}, DefaultVariant: "off"},
	}}
}

// fixedSource serves one configuration, at version 1.
type fixedSource struct{ st flags.State }

func (f fixedSource) Configuration(context.Context) (ramp.Config, error) {
	return ramp.Config{State: f.st, Revision: ramp.Revision{Version: 1, Epoch: "00000000000000e1"}}, nil
}

func (f fixedSource) Revision(context.Context) (ramp.Revision, error) {
	return ramp.Revision{Version: 1, Epoch: "00000000000000e1"}, nil
}

// memSink stores exposures and events in memory, idempotently as the
// Sink contract asks. Its writes can be made to fail or to wait.
type memSink struct {
	mu        sync.Mutex
	exposures map[string]tracking.Exposure // by experiment, phase, unit
	events    map[string]tracking.Event    // by id
	fail      error
	gate      chan struct{} // when set, each write waits for it to be closed
	writes    int
}

func newMemSink() *memSink {
	return &memSink{exposures: map[string]tracking.Exposure{}, events: map[string]tracking.Event{}}
}

func (m *memSink) enter(ctx context.Context) error {
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	return m.fail
}

func (m *memSink) WriteExposures(ctx context.Context, b []tracking.Exposure) error {
	if err := m.enter(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range b {
		k := fmt.Sprintf("%s/%d/%s=%s", e.Experiment, e.Phase, e.UnitAttr, e.Unit)
		if _, ok := m.exposures[k]; !ok {
			m.exposures[k] = e
		}
	}
	return nil
}

func (m *memSink) WriteEvents(ctx context.Context, b []tracking.Event) error {
	if err := m.enter(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range b {
		if _, ok := m.events[e.ID]; !ok {
			m.events[e.ID] = e
		}
	}
	return nil
}

func (m *memSink) counts() (exposures, events int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.exposures), len(m.events)
}

// waitUntil polls cond until it holds, failing after patience.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func trackingServer(t *testing.T, sink tracking.Sink, tune func(*server.Config)) *running {
	t.Helper()
	cfg := server.Config{Source: fixedSource{experimentState()}, Tracking: sink, Poll: time.Hour,
		TrackingOptions: tracking.Options{FlushInterval: 10 * time.Millisecond}}
	if tune != nil {
		tune(&cfg)
	}
	return start(t, cfg)
}

func TestOFREPRecordsExposuresOncePerUnit(t *testing.T) {
	sink := newMemSink()
	srv := trackingServer(t, sink, nil)
	const units = 40
	arms := map[string]string{}
	for round := range 3 {
		for i := range units {
			ctx := map[string]any{"targetingKey": fmt.Sprintf("ig-%d-%d", i, round), "accountCenterId": fmt.Sprintf("ac-%d", i)}
			resp, body := do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/ig-dm-via-whatsapp", sdkKey, evalBody(ctx))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("evaluate: %d %s", resp.StatusCode, body)
			}
			var got struct {
				Variant  string         `json:"variant"`
				Metadata map[string]any `json:"metadata"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Metadata["experiment"] != "dm-handoff-vs-inline" || got.Metadata["arm"] != got.Variant {
				t.Errorf("metadata %v: want the experiment and the arm", got.Metadata)
			}
			arms[fmt.Sprintf("ac-%d", i)] = got.Variant
			// The bulk answer decides the same flag again, and the
			// stopped experiment's flag, which exposes nobody.
			if resp, body := do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags", sdkKey, evalBody(ctx)); resp.StatusCode != http.StatusOK {
				t.Fatalf("bulk: %d %s", resp.StatusCode, body)
			}
		}
	}
	// Units identified by targetingKey alone (no accountCenterId): a
	// second set of units.
	for i := range 5 {
		do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/ig-dm-via-whatsapp", sdkKey, evalBody(map[string]any{"targetingKey": fmt.Sprintf("anon-%d", i)}))
	}
	waitUntil(t, "the exposures to be stored", func() bool { n, _ := sink.counts(); return n >= units+5 })
	srv.shutdown(patience)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.exposures) != units+5 {
		t.Errorf("stored %d exposures, want %d (one per unit)", len(sink.exposures), units+5)
	}
	for _, e := range sink.exposures {
		if e.Experiment != "dm-handoff-vs-inline" || e.Phase != 2 || e.Flag != "ig-dm-via-whatsapp" || e.Time.IsZero() {
			t.Errorf("exposure %+v", e)
		}
		switch e.UnitAttr {
		case "accountCenterId":
			if arms[e.Unit] != e.Arm {
				t.Errorf("unit %s exposed to %q, served %q", e.Unit, e.Arm, arms[e.Unit])
			}
		case "targetingKey":
			if !strings.HasPrefix(e.Unit, "anon-") {
				t.Errorf("exposure by targetingKey of %q", e.Unit)
			}
		default:
			t.Errorf("exposure %+v: unit attribute", e)
		}
	}
	if !strings.Contains(srv.log.String(), `"msg":"exposures flushed"`) {
		t.Errorf("no flush logged at shutdown:\n%s", srv.log.String())
	}
}

func TestShutdownFlushesExposures(t *testing.T) {
	sink := newMemSink()
	srv := trackingServer(t, sink, func(c *server.Config) { c.TrackingOptions.FlushInterval = time.Hour })
	for i := range 25 {
		do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/ig-dm-via-whatsapp", sdkKey, evalBody(map[string]any{"accountCenterId": float64(1000 + i)}))
	}
	if n, _ := sink.counts(); n != 0 {
		t.Fatalf("%d exposures stored before the interval or shutdown", n)
	}
	if err := srv.shutdown(patience); err != nil {
		t.Fatal(err)
	}
	if n, _ := sink.counts(); n != 25 {
		t.Errorf("after shutdown the sink holds %d exposures, want 25", n)
	}
	if _, ok := sink.exposures["dm-handoff-vs-inline/2/accountCenterId=1007"]; !ok {
		t.Errorf("integer units are written in decimal: %v", sink.exposures)
	}
}

func TestTrackEndpoint(t *testing.T) {
	sink := newMemSink()
	srv := trackingServer(t, sink, func(c *server.Config) { c.MaxBody = 64 << 10 })
	// ac-12's arm, as the running phase gives it, and another one.
	snap, err := flags.Compile(experimentState(), 1)
	if err != nil {
		t.Fatal(err)
	}
	arm := snap.Evaluate("ig-dm-via-whatsapp", map[string]any{"accountCenterId": "ac-12"}).Variant
	wrong := map[string]string{"off": "inline", "handoff": "off", "inline": "handoff"}[arm]
	good := `{"events":[{"id":"e-1","event":"dm_reply","value":1,"context":{"targetingKey":"ig-12","accountCenterId":"ac-12","region":"US","email":"x@example.com"}},
	                    {"id":"e-2","event":"dm_reply","context":{"accountCenterId":12}}],
	          "exposures":[{"experiment":"dm-handoff-vs-inline","phase":2,"unitAttribute":"accountCenterId","unit":"ac-12","arm":"` + arm + `","flag":"ig-dm-via-whatsapp"}]}`
	madeUp := `{"exposures":[{"experiment":"dm-handoff-vs-inline","phase":2,"unitAttribute":"accountCenterId","unit":"ac-12","arm":"` + wrong + `"}]}`
	tests := []struct {
		name, key, body string
		status          int
		code, item      string
	}{
		{"a batch", sdkKey, good, 200, "", ""},
		{"the same batch again (a retry)", sdkKey, good, 200, "", ""},
		{"an admin key", adminKey, `{"events":[{"id":"e-3","event":"x","context":{"targetingKey":"u"}}]}`, 200, "", ""},
		{"an exposure the running phase contradicts is left out", sdkKey, madeUp, 200, "", ""},
		{"no key", "", good, 401, "", ""},
		{"a revoked key", revokedKey, good, 401, "", ""},
		{"not JSON", sdkKey, `{"events":[`, 400, "PARSE_ERROR", ""},
		{"an array", sdkKey, `[]`, 400, "PARSE_ERROR", ""},
		{"an event without id", sdkKey, `{"events":[{"id":"ok","event":"x","context":{"targetingKey":"u"}},{"event":"x","context":{"targetingKey":"u"}}]}`, 400, "INVALID_ITEM", "events[1].id"},
		{"an event identifying nobody", sdkKey, `{"events":[{"id":"e9","event":"x","context":{"region":"US"}}]}`, 400, "INVALID_ITEM", "events[0].context"},
		{"a unit attribute of the wrong type", sdkKey, `{"events":[{"id":"e9","event":"x","context":{"accountCenterId":true}}]}`, 400, "INVALID_ITEM", "events[0].context.accountCenterId"},
		{"an exposure of phase 0", sdkKey, `{"exposures":[{"experiment":"x","phase":0,"unitAttribute":"targetingKey","unit":"u","arm":"a"}]}`, 400, "INVALID_ITEM", "exposures[0].phase"},
		{"too large", sdkKey, `{"events":[` + strings.Repeat(`{"id":"e","event":"x","context":{"targetingKey":"u"}},`, 2000) + `{}]}`, 413, "GENERAL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, srv.URL+"/v1/track", tt.key, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.code == "" {
				return
			}
			var f struct{ ErrorCode, ErrorDetails, Item string }
			if err := json.Unmarshal(body, &f); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if f.ErrorCode != tt.code || f.Item != tt.item || f.ErrorDetails == "" {
				t.Errorf("answer %s: want errorCode %s and item %q", body, tt.code, tt.item)
			}
			if tt.item != "" && !strings.HasPrefix(f.ErrorDetails, tt.item+": ") {
				t.Errorf("errorDetails %q does not start with the item", f.ErrorDetails)
			}
		})
	}
	if _, body := do(t, http.MethodPost, srv.URL+"/v1/track", sdkKey, madeUp); !strings.Contains(string(body), `"inconsistentExposures":1`) {
		t.Errorf("answer to a contradicted exposure: %s; want it counted", body)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.events) != 3 || len(sink.exposures) != 1 {
		t.Fatalf("stored %d events and %d exposures, want 3 and 1 (a retry stores nothing twice)", len(sink.events), len(sink.exposures))
	}
	want := map[string]string{"targetingKey": "ig-12", "accountCenterId": "ac-12"}
	if got := sink.events["e-1"].Units; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("event e-1 keeps %v, want the identifiers %v only", got, want)
	}
	if got := sink.events["e-2"]; got.Units["accountCenterId"] != "12" || got.Value != 1 {
		t.Errorf("event e-2: %+v (an integer identifier in decimal, value 1 by default)", got)
	}
	_, metrics := do(t, http.MethodGet, srv.URL+"/metrics", adminKey, "")
	for _, want := range []string{`ramp_tracking_ingested_total{kind="event"} 5`, `ramp_tracking_ingested_total{kind="exposure"} 2`, `ramp_tracking_refused_total{reason="invalid"} 6`, `ramp_tracking_refused_total{reason="inconsistent_exposure"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestTrackWhenTheStoreCannot(t *testing.T) {
	batch := `{"events":[{"id":"e-1","event":"dm_reply","context":{"targetingKey":"ig-1"}}]}`
	t.Run("no store", func(t *testing.T) {
		srv := start(t, server.Config{Source: fixedSource{experimentState()}, Poll: time.Hour})
		if resp, body := do(t, http.MethodPost, srv.URL+"/v1/track", sdkKey, batch); resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("status %d %s, want 501", resp.StatusCode, body)
		}
	})
	t.Run("the store fails", func(t *testing.T) {
		sink := newMemSink()
		sink.fail = fmt.Errorf("disk full")
		srv := trackingServer(t, sink, nil)
		resp, body := do(t, http.MethodPost, srv.URL+"/v1/track", sdkKey, batch)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "UNAVAILABLE") {
			t.Errorf("status %d Retry-After %q %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if strings.Contains(string(body), "disk full") {
			t.Errorf("the answer shows the store's error: %s", body)
		}
	})
	t.Run("every writer busy", func(t *testing.T) {
		sink := newMemSink()
		sink.gate = make(chan struct{})
		srv := trackingServer(t, sink, func(c *server.Config) { c.TrackingWriters = 1; c.TrackingWait = 20 * time.Millisecond })
		first := make(chan int)
		go func() {
			resp, _ := do(t, http.MethodPost, srv.URL+"/v1/track", sdkKey, batch)
			first <- resp.StatusCode
		}()
		waitUntil(t, "the first request to hold the writer", func() bool {
			_, m := do(t, http.MethodGet, srv.URL+"/metrics", adminKey, "")
			return regexp.MustCompile(`ramp_http_requests_total\{code="503",route="POST /v1/track"\} [1-9]`).Match(m) ||
				func() bool {
					resp, _ := do(t, http.MethodPost, srv.URL+"/v1/track", sdkKey, batch)
					return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "1"
				}()
		})
		close(sink.gate)
		if code := <-first; code != http.StatusOK {
			t.Errorf("the first request got %d", code)
		}
	})
}

package provider_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/flags/provider"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/tracking"
)

// experimentFlags adds to the scenario a flag decided by a running
// experiment (phase 2, unit accountCenterId, every unit in it) and its
// twin without an experiment (the same rule, no origin).
func experimentFlags() flags.State {
	st := scenario()
	arms := []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}}
	rule := func(o *flags.Origin) flags.Rule {
		return flags.Rule{
			Sample: &flags.Sample{BucketBy: "accountCenterId", Salt: "cross-app-messaging", Buckets: []flags.BucketRange{{From: 0, To: 10000}}},
			Allocation: &flags.Allocation{BucketBy: "accountCenterId", Salt: "dm-handoff-vs-inline", Ranges: []flags.VariantRange{
				{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 6700, Variant: "handoff"}, {From: 6700, To: 10000, Variant: "inline"}}},
			Origin: o,
		}
	}
	st.Flags = append(st.Flags,
		flags.Flag{Key: "dm-experiment", Type: flags.String, Enabled: true, Bucketing: bucket.V1, Variants: arms, DefaultVariant: "off",
			Rules: []flags.Rule{rule(&flags.Origin{Kind: flags.OriginExperiment, Key: "dm-handoff-vs-inline", Phase: 2, Unit: "accountCenterId"})}},
		flags.Flag{Key: "dm-no-experiment", Type: flags.String, Enabled: true, Bucketing: bucket.V1, Variants: arms, DefaultVariant: "off",
			Rules: []flags.Rule{rule(nil)}},
	)
	return st
}

// memSink keeps exposures and events in memory, idempotently.
type memSink struct {
	mu        sync.Mutex
	exposures map[string]tracking.Exposure
	events    map[string]tracking.Event
}

func newMemSink() *memSink {
	return &memSink{exposures: map[string]tracking.Exposure{}, events: map[string]tracking.Event{}}
}

func (m *memSink) WriteExposures(_ context.Context, b []tracking.Exposure) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range b {
		m.exposures[fmt.Sprintf("%s/%d/%s=%s", e.Experiment, e.Phase, e.UnitAttr, e.Unit)] = e
	}
	return nil
}

func (m *memSink) WriteEvents(_ context.Context, b []tracking.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range b {
		m.events[e.ID] = e
	}
	return nil
}

func (m *memSink) counts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.exposures), len(m.events)
}

func fileProvider(t *testing.T, st flags.State, opts ...provider.Option) *provider.Provider {
	t.Helper()
	path := tempPath(t, "snapshot.json")
	writeSnapshot(t, path, st, 1)
	p, err := provider.NewFromFile(path, append([]provider.Option{provider.Logger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExposuresAndTrackThroughTheSDK(t *testing.T) {
	sink := newMemSink()
	p := fileProvider(t, experimentFlags(), provider.TrackingSink(sink),
		provider.TrackingOptions(tracking.Options{FlushInterval: 10 * time.Millisecond}))
	client, _ := mustSDK(t, p)
	ctx := context.Background()
	arms := map[string]string{}
	for round := range 3 {
		for i := range 30 {
			ec := openfeature.NewEvaluationContext(fmt.Sprintf("ig-%d-%d", i, round), map[string]any{"accountCenterId": fmt.Sprintf("ac-%d", i), "region": "US"})
			d, err := client.StringValueDetails(ctx, "dm-experiment", "off", ec)
			if err != nil {
				t.Fatal(err)
			}
			if d.FlagMetadata["experiment"] != "dm-handoff-vs-inline" || d.FlagMetadata["arm"] != d.Variant || d.FlagMetadata["phase"] != 2 {
				t.Errorf("metadata %v: want experiment, phase 2 and arm %q", d.FlagMetadata, d.Variant)
			}
			arms[fmt.Sprintf("ac-%d", i)] = d.Variant
			if _, err := client.StringValue(ctx, "dm-no-experiment", "off", ec); err != nil {
				t.Fatal(err)
			}
		}
	}
	ec := openfeature.NewEvaluationContext("ig-12", map[string]any{"accountCenterId": "ac-12", "region": "US", "email": "a@example.com"})
	client.Track(ctx, "dm_reply", ec, openfeature.NewTrackingEventDetails(1))
	client.Track(ctx, "dm_reply", ec, openfeature.NewTrackingEventDetails(3).Add("currency", "USD"))
	client.Track(ctx, "anonymous", openfeature.NewEvaluationContext("", map[string]any{"region": "US"}), openfeature.NewTrackingEventDetails(1))

	eventually(t, 30*time.Second, "exposures and events stored", func() bool { e, v := sink.counts(); return e == 30 && v == 2 })
	s := p.TrackingStats()
	if s.ExposuresRecorded != 30 || s.ExposuresDeduplicated != 60 || s.EventsDropped != 1 {
		t.Errorf("stats %+v: want 30 recorded, 60 deduplicated, the anonymous event dropped", s)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, e := range sink.exposures {
		if e.UnitAttr != "accountCenterId" || arms[e.Unit] != e.Arm || e.Flag != "dm-experiment" || e.Phase != 2 {
			t.Errorf("exposure %+v (served %q)", e, arms[e.Unit])
		}
	}
	values := 0.0
	for _, e := range sink.events {
		if e.Name != "dm_reply" || len(e.ID) != 32 || fmt.Sprint(e.Units) != "map[accountCenterId:ac-12 targetingKey:ig-12]" {
			t.Errorf("event %+v: want dm_reply with a 128-bit id and the context's identifiers only", e)
		}
		values += e.Value
	}
	if values != 4 {
		t.Errorf("values sum to %v, want 4", values)
	}
}

func TestShutdownFlushesTracking(t *testing.T) {
	sink := newMemSink()
	p := fileProvider(t, experimentFlags(), provider.TrackingSink(sink), provider.TrackingOptions(tracking.Options{FlushInterval: time.Hour}))
	client, _ := mustSDK(t, p)
	for i := range 10 {
		ec := openfeature.NewEvaluationContext("u", map[string]any{"accountCenterId": int64(i)})
		client.String(context.Background(), "dm-experiment", "off", ec)
		client.Track(context.Background(), "dm_reply", ec, openfeature.NewTrackingEventDetails(1))
	}
	if e, v := sink.counts(); e+v != 0 {
		t.Fatalf("sent before the interval: %d %d", e, v)
	}
	if err := p.ShutdownWithContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e, v := sink.counts(); e != 10 || v != 10 {
		t.Errorf("after Shutdown: %d exposures and %d events, want 10 and 10", e, v)
	}
}

func TestTrackingOff(t *testing.T) {
	tests := []struct {
		name string
		opts []provider.Option
	}{
		{"a file provider without a sink", nil},
		{"NoTracking", []provider.Option{provider.NoTracking()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fileProvider(t, experimentFlags(), tt.opts...)
			client, _ := mustSDK(t, p)
			ec := openfeature.NewEvaluationContext("u", map[string]any{"accountCenterId": "ac-1"})
			client.String(context.Background(), "dm-experiment", "off", ec)
			client.Track(context.Background(), "dm_reply", ec, openfeature.NewTrackingEventDetails(1))
			if s := p.TrackingStats(); s != (tracking.Stats{}) {
				t.Errorf("stats %+v, want nothing recorded", s)
			}
		})
	}
	if _, err := provider.NewFromFile("x.json", provider.NoTracking(), provider.TrackingSink(newMemSink())); err == nil {
		t.Error("NoTracking with TrackingSink: no error")
	}
}

// fixedSource serves one configuration to a real ramp server.
type fixedSource struct{ st flags.State }

func (f fixedSource) Configuration(context.Context) (ramp.Config, error) {
	return ramp.Config{State: f.st, Revision: ramp.Revision{Version: 1, Epoch: "00000000000000e1"}}, nil
}

func (f fixedSource) Revision(context.Context) (ramp.Revision, error) {
	return ramp.Revision{Version: 1, Epoch: "00000000000000e1"}, nil
}

// TestTrackingThroughRampServe: a provider fed by a real `ramp serve`
// (internal/server on loopback) posts its exposures and events to the
// server's tracking endpoint, which stores them in its sink.
func TestTrackingThroughRampServe(t *testing.T) {
	sink := newMemSink()
	srv, err := server.New(server.Config{Source: fixedSource{experimentFlags()}, InsecureNoAuth: true, Tracking: sink,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-served }()

	p := newProvider(t, "http://"+ln.Addr().String(), provider.TrackingOptions(tracking.Options{FlushInterval: 10 * time.Millisecond}))
	client, _ := mustSDK(t, p)
	for i := range 20 {
		ec := openfeature.NewEvaluationContext(fmt.Sprint("ig-", i), map[string]any{"accountCenterId": float64(i)})
		client.String(context.Background(), "dm-experiment", "off", ec)
		client.String(context.Background(), "dm-experiment", "off", ec)
		client.Track(context.Background(), "dm_reply", ec, openfeature.NewTrackingEventDetails(1))
	}
	eventually(t, 30*time.Second, "20 exposures and 20 events stored by the server", func() bool { e, v := sink.counts(); return e == 20 && v == 20 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if e, ok := sink.exposures["dm-handoff-vs-inline/2/accountCenterId=7"]; !ok || e.Arm == "" {
		t.Errorf("exposure of unit 7 (an integer, in decimal): %+v", sink.exposures)
	}
	for _, e := range sink.events {
		if e.Units["accountCenterId"] == "" || e.Units["targetingKey"] == "" {
			t.Errorf("event %+v lacks an identifier", e)
		}
	}
}

package tracking_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/tracking"
)

// memSink keeps what it is given, in memory, idempotently as the Sink
// contract asks (an exposure once per experiment, phase and unit, an event
// once per id). fail, when set, is asked before each write.
type memSink struct {
	mu        sync.Mutex
	exposures map[string]tracking.Exposure
	events    map[string]tracking.Event
	writes    int
	fail      func(n int) error // n: the write's number, from 1
	gate      chan struct{}     // when set, each write waits for a receive
}

func newMemSink() *memSink {
	return &memSink{exposures: map[string]tracking.Exposure{}, events: map[string]tracking.Event{}}
}

func (s *memSink) before(ctx context.Context) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.fail != nil {
		return s.fail(s.writes)
	}
	return nil
}

func (s *memSink) WriteExposures(ctx context.Context, b []tracking.Exposure) error {
	if err := s.before(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range b {
		k := e.Experiment + "\x00" + string(rune('0'+e.Phase)) + "\x00" + e.UnitAttr + "\x00" + e.Unit
		if _, ok := s.exposures[k]; !ok {
			s.exposures[k] = e
		}
	}
	return nil
}

func (s *memSink) WriteEvents(ctx context.Context, b []tracking.Event) error {
	if err := s.before(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range b {
		if _, ok := s.events[e.ID]; !ok {
			s.events[e.ID] = e
		}
	}
	return nil
}

func (s *memSink) counts() (exposures, events int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.exposures), len(s.events)
}

var errDown = errors.New("sink down")

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func closeRecorder(t testing.TB, r *tracking.Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

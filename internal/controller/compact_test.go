package controller_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/controller"
	"github.com/ramp-flags/ramp/tracking"
)

// TestRunCompaction: the loop `ramp serve` runs folds events stored while
// it runs into the totals, and stops with its context.
func TestRunCompaction(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a, err := admin.Open(ctx, filepath.Join(t.TempDir(), "ramp.db"), admin.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		controller.RunCompaction(ctx, a, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	at := time.Now()
	if err := a.WriteExposures(ctx, []tracking.Exposure{{Experiment: "e", Phase: 1, UnitAttr: "targetingKey", Unit: "u1", Arm: "a", Time: at}}); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteEvents(ctx, []tracking.Event{{ID: "1", Name: "buy", Value: 2, Time: at, Units: map[string]string{"targetingKey": "u1"}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := a.TrackingStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.EventsDone > 0 && st.ExposuresDone > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing compacted within 30 s: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("RunCompaction did not return after its context was cancelled")
	}
}

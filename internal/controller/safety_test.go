package controller_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/controller"
	"github.com/ramp-flags/ramp/internal/testdb"
	"github.com/ramp-flags/ramp/tracking"
)

// syncBuffer is a log destination safe for the controller's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// runOnce runs Run until its first pass is counted, and returns its log.
func runOnce(t *testing.T, a *admin.Service, m *controller.Metrics, reg *prometheus.Registry) string {
	t.Helper()
	var log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		controller.Run(ctx, a, time.Hour, slog.New(slog.NewTextHandler(&log, nil)), m)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(t, reg, "ramp_rollout_controller_passes_total") < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	return log.String()
}

// TestRunPausesOnSampleRatioMismatch: the controller's pass pauses a
// running experiment whose exposures contradict its weights, logs it as a
// warning and counts it.
func TestRunPausesOnSampleRatioMismatch(t *testing.T) {
	ctx := context.Background()
	s := open(t, testdb.DSN(t))
	s.Now = func() time.Time { return t0 }
	a := admin.New(s)
	doc, err := config.Parse("exp.yaml", []byte(`
flags:
  - key: dm
    type: string
    variants: {"off": "off", inline: inline}
    defaultVariant: "off"
experiments:
  - key: dm
    flag: dm
    traffic: 100
    arms: {"off": 50, inline: 50}
    control: "off"
    status: running
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(admin.WithActor(ctx, "alice"), admin.ApplyRequest{Doc: doc}); err != nil {
		t.Fatal(err)
	}
	var batch []tracking.Exposure
	for i := range 6000 {
		arm := "off"
		if i%5 < 3 {
			arm = "inline" // 60% inline
		}
		batch = append(batch, tracking.Exposure{Experiment: "dm", Phase: 1, UnitAttr: tracking.TargetingKey, Unit: fmt.Sprint(i), Arm: arm, Flag: "dm", Time: t0})
	}
	if err := a.WriteExposures(ctx, batch); err != nil {
		t.Fatal(err)
	}
	m := controller.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	log := runOnce(t, a, m, reg)
	if !strings.Contains(log, "level=WARN msg=\"experiment paused: sample ratio mismatch\" experiment=dm phase=1 units=6000") {
		t.Errorf("log does not warn of the pause:\n%s", log)
	}
	if got := counterValue(t, reg, "ramp_safety_halts_total"); got != 1 {
		t.Errorf("ramp_safety_halts_total = %v; want 1", got)
	}
	if got := counterValue(t, reg, "ramp_safety_checks_total"); got != 1 {
		t.Errorf("ramp_safety_checks_total = %v; want 1", got)
	}
}

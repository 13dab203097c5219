package clickhouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/clickhouse"
	"github.com/ramp-flags/ramp/internal/clickhouse/chtest"
	"github.com/ramp-flags/ramp/tracking"
)

// TestSampleRatioPauseReadsClickHouse: the controller's pass (`ramp
// rollout tick`) with --events pauses an experiment whose exposures in
// ClickHouse break its sample ratio; without --events it reads the
// database, which has none, and pauses nothing.
func TestSampleRatioPauseReadsClickHouse(t *testing.T) {
	t.Setenv("RAMP_ACTOR", "tester")
	t.Setenv("RAMP_EVENTS", "")
	events := chtest.DSN(t)
	db := filepath.Join(t.TempDir(), "ramp.db")
	rampCmd(t, "--db", db, "apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))

	s, err := clickhouse.Open(context.Background(), events, clickhouse.Options{MinInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var batch []tracking.Exposure
	for i := range 6000 {
		arm := "long"
		if i < 2600 {
			arm = "short"
		}
		batch = append(batch, tracking.Exposure{Experiment: "link-code-ttl", Phase: 1, UnitAttr: "targetingKey",
			Unit: fmt.Sprintf("u%d", i), Arm: arm, Flag: "wa-link-code-ttl-seconds", Time: time.Now().Add(-time.Hour)})
	}
	if err := s.WriteExposures(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		t.Helper()
		var x struct{ Status string }
		out := rampCmd(t, "--db", db, "experiments", "get", "link-code-ttl", "-o", "json")
		if err := json.Unmarshal([]byte(out), &x); err != nil {
			t.Fatalf("experiments get: %v\n%s", err, out)
		}
		return x.Status
	}
	rampCmd(t, "--db", db, "rollout", "tick")
	if got := status(); got != "running" {
		t.Fatalf("after a pass without --events: %s, want running (the database has no exposures)", got)
	}
	rampCmd(t, "--db", db, "--events", events, "rollout", "tick")
	if got := status(); got != "paused" {
		t.Fatalf("after a pass with --events: %s, want paused (2,600 against 3,400 units in ClickHouse)", got)
	}
}

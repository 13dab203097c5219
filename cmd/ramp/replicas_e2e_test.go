package main_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/testdb"
)

// TestReplicasOnPostgres: two `ramp serve` replicas and the CLI on one
// PostgreSQL database, as a deployment behind a load balancer runs them. A
// change made with the CLI comes to be answered by both replicas (how soon
// is logged).
// It runs when RAMP_TEST_DSN names a Postgres database (make test-postgres,
// CI), and must not skip when RAMP_REQUIRE_POSTGRES=1.
func TestReplicasOnPostgres(t *testing.T) {
	dsn := testdb.Postgres(t)
	env := append(os.Environ(), "RAMP_DB="+dsn, "RAMP_ACTOR=e2e", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	key := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "lb", "-o", "table"))
	a := startServe(t, env, "127.0.0.1:0")
	b := startServe(t, env, "127.0.0.1:0")
	body := `{"context":{"targetingKey":"emp-1"}}`
	for _, srv := range []*rampServe{a, b} {
		if code, m := post(t, srv.url+"/ofrep/v1/evaluate/flags/common-mailbox", key, body); code != http.StatusOK || m["value"] != true {
			t.Fatalf("%s before: %d %v", srv.url, code, m)
		}
	}
	start := time.Now()
	ramp("flags", "disable", "common-mailbox")
	for _, srv := range []*rampServe{a, b} {
		ok := within(patience, func() bool {
			_, m := post(t, srv.url+"/ofrep/v1/evaluate/flags/common-mailbox", key, body)
			return m["reason"] == "DISABLED"
		})
		if !ok {
			t.Errorf("replica %s did not serve the change within %s\n%s", srv.url, patience, srv.logs())
		}
	}
	t.Logf("both replicas answered the change %s after the CLI exited", time.Since(start).Round(time.Millisecond))
	// A key created through the CLI comes to work on both replicas.
	key2 := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "lb-2", "-o", "table"))
	for _, srv := range []*rampServe{a, b} {
		if !within(patience, func() bool {
			c, _ := post(t, srv.url+"/ofrep/v1/evaluate/flags/common-mailbox", key2, body)
			return c == http.StatusOK
		}) {
			t.Errorf("replica %s did not accept a new key within %s", srv.url, patience)
		}
	}
}

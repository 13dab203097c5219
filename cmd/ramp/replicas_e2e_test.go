package main_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestReplicasOnPostgres: two `ramp serve` replicas and the CLI on one
// PostgreSQL database, as a deployment behind a load balancer runs them. A
// change made with the CLI is answered by both replicas within a second.
// It runs when RAMP_TEST_DSN names a Postgres database (make test-postgres,
// CI), and must not skip when RAMP_REQUIRE_POSTGRES=1.
func TestReplicasOnPostgres(t *testing.T) {
	dsn := os.Getenv("RAMP_TEST_DSN")
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		if os.Getenv("RAMP_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("RAMP_REQUIRE_POSTGRES=1 but RAMP_TEST_DSN is not a Postgres URL")
		}
		t.Skip("needs RAMP_TEST_DSN=postgres://… (make test-postgres)")
	}
	dsn = schemaDSN(t, dsn)
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
		ok := within(time.Second, func() bool {
			_, m := post(t, srv.url+"/ofrep/v1/evaluate/flags/common-mailbox", key, body)
			return m["reason"] == "DISABLED"
		})
		if !ok {
			t.Errorf("replica %s did not serve the change within 1 s\n%s", srv.url, srv.logs())
		}
	}
	t.Logf("both replicas answered the change %s after the CLI exited", time.Since(start).Round(time.Millisecond))
	// A key created through the CLI works on both replicas at once.
	key2 := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "lb-2", "-o", "table"))
	for _, srv := range []*rampServe{a, b} {
		if !within(time.Second, func() bool {
			c, _ := post(t, srv.url+"/ofrep/v1/evaluate/flags/common-mailbox", key2, body)
			return c == http.StatusOK
		}) {
			t.Errorf("replica %s did not accept a new key within 1 s", srv.url)
		}
	}
}

// schemaDSN creates a schema of its own for the test and returns dsn with
// search_path set to it; the schema is dropped afterwards.
func schemaDSN(t *testing.T, dsn string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("e2e_%x", b)
	exec := func(stmt string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	exec("CREATE SCHEMA " + name)
	t.Cleanup(func() { exec("DROP SCHEMA " + name + " CASCADE") })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

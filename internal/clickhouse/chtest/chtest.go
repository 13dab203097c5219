// Package chtest gives tests a ClickHouse database of their own, on the
// server $RAMP_TEST_CLICKHOUSE names (clickhouse://127.0.0.1:PORT, started
// by .ci/clickhouse.sh). Only tests import it.
package chtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DSN returns the URL of a new, empty database on the test server, dropped
// when the test ends. Without a server it skips the test, except when
// $RAMP_REQUIRE_CLICKHOUSE is 1 (CI): then it fails it.
func DSN(t testing.TB) string {
	t.Helper()
	base := strings.TrimRight(os.Getenv("RAMP_TEST_CLICKHOUSE"), "/")
	if !strings.HasPrefix(base, "clickhouse://") {
		if os.Getenv("RAMP_REQUIRE_CLICKHOUSE") == "1" {
			t.Fatalf("RAMP_REQUIRE_CLICKHOUSE=1 and RAMP_TEST_CLICKHOUSE is not a clickhouse:// URL (%q): the ClickHouse tests cannot run (start a server with .ci/clickhouse.sh start)", base)
		}
		t.Skip("tests the ClickHouse events store; set RAMP_TEST_CLICKHOUSE=clickhouse://127.0.0.1:PORT (eval \"$(.ci/clickhouse.sh start)\")")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()))
	name = fmt.Sprintf("t_%.40s_%x", name, b)
	t.Cleanup(func() { Exec(t, base, "DROP DATABASE IF EXISTS `"+name+"`") })
	return base + "/" + name
}

// Exec runs a statement on the server of dsn.
func Exec(t testing.TB, dsn, stmt string) {
	t.Helper()
	conn := connect(t, dsn)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// Count runs a query that returns one unsigned integer on the server of
// dsn (count(), sum() of a flag) and returns it.
func Count(t testing.TB, dsn, query string) uint64 {
	t.Helper()
	conn := connect(t, dsn)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var n uint64
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// connect opens a connection to the server of dsn, on no database (the
// statements name theirs).
func connect(t testing.TB, dsn string) driver.Conn {
	t.Helper()
	o, err := ch.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("RAMP_TEST_CLICKHOUSE: %v", err)
	}
	o.Auth.Database = ""
	conn, err := ch.Open(o)
	if err != nil {
		t.Fatalf("connect to ClickHouse: %v", err)
	}
	return conn
}

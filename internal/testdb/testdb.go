// Package testdb gives tests a database of their own: a new SQLite file, or,
// when $RAMP_TEST_DSN names a PostgreSQL database (the Postgres pass of
// `make test`, see .ci/postgres.sh), a new schema in it that is dropped when
// the test ends. Only tests import it.
package testdb

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// DSN returns an empty database for the test: a fresh schema when
// $RAMP_TEST_DSN is a Postgres URL, else a new SQLite file in the test's
// temporary directory.
func DSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv("RAMP_TEST_DSN"); IsPostgres(dsn) {
		return FreshSchema(t, dsn)
	}
	return filepath.Join(t.TempDir(), "ramp.db")
}

// Postgres returns a fresh schema in the Postgres database $RAMP_TEST_DSN
// names, for tests about Postgres. Without one it skips the test, except
// when $RAMP_REQUIRE_POSTGRES is 1: that pass must not skip silently.
func Postgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("RAMP_TEST_DSN")
	if !IsPostgres(dsn) {
		if os.Getenv("RAMP_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("RAMP_REQUIRE_POSTGRES=1 and RAMP_TEST_DSN is not a postgres:// URL (%q): Postgres tests cannot run (start a server with .ci/postgres.sh start)", dsn)
		}
		t.Skip("tests Postgres behaviour; set RAMP_TEST_DSN=postgres://… (see .ci/postgres.sh)")
	}
	return FreshSchema(t, dsn)
}

// FreshSchema creates a schema named after the test in the Postgres
// database dsn names, drops it when the test ends, and returns dsn with its
// search_path set to it: every connection opened with the result, by the
// test or by a process it starts, sees only that schema's tables.
func FreshSchema(t testing.TB, dsn string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()))
	name = fmt.Sprintf("t_%.40s_%x", name, b)
	Exec(t, dsn, "CREATE SCHEMA "+name)
	t.Cleanup(func() { Exec(t, dsn, "DROP SCHEMA "+name+" CASCADE") })

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("RAMP_TEST_DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs a statement on a connection of its own to the Postgres database
// dsn names.
func Exec(t testing.TB, dsn, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", redact(dsn), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// redact hides a password in a DSN.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the database"
	}
	return u.Redacted()
}

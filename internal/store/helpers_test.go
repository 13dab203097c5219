package store_test

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

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/store"
)

// t0 is the time a test's fixed clock starts at.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testDSN returns the database a test uses, empty unless the test shares
// it: without $RAMP_TEST_DSN, a new SQLite file; with a Postgres URL there,
// a new schema in that database (see freshSchema); with anything else, that
// database, shared by every test and emptied by emptyDSN.
func testDSN(t *testing.T) string {
	t.Helper()
	switch dsn := os.Getenv("RAMP_TEST_DSN"); {
	case isPostgres(dsn):
		return freshSchema(t, dsn)
	case dsn != "":
		return dsn
	}
	return filepath.Join(t.TempDir(), "ramp.db")
}

// postgresDSN returns the DSN of a new schema in the Postgres database
// $RAMP_TEST_DSN names, for tests of Postgres behaviour. Without one it
// skips the test, except when $RAMP_REQUIRE_POSTGRES is 1 (the Postgres pass
// of `make test`): that pass must not skip silently.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("RAMP_TEST_DSN")
	if !isPostgres(dsn) {
		if os.Getenv("RAMP_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("RAMP_REQUIRE_POSTGRES=1 and RAMP_TEST_DSN is not a postgres:// URL (%q): Postgres tests cannot run (start a server with .ci/postgres.sh start)", dsn)
		}
		t.Skip("tests Postgres behaviour; set RAMP_TEST_DSN=postgres://… (see .ci/postgres.sh)")
	}
	return freshSchema(t, dsn)
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// freshSchema creates a schema named after the test in the Postgres
// database dsn names, drops it when the test ends, and returns dsn with its
// search_path set to it: every connection a Store (or a helper process)
// opens with the result sees only that schema's tables.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()))
	name = fmt.Sprintf("t_%.40s_%x", name, b)
	admin(t, dsn, "CREATE SCHEMA "+name)
	t.Cleanup(func() { admin(t, dsn, "DROP SCHEMA "+name+" CASCADE") })

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("RAMP_TEST_DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// admin runs a statement on a connection of its own to the Postgres
// database dsn names.
func admin(t *testing.T, dsn, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to RAMP_TEST_DSN: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// sqliteOnly skips tests of SQLite behaviour when $RAMP_TEST_DSN is set.
func sqliteOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("RAMP_TEST_DSN") != "" {
		t.Skip("tests SQLite behaviour; RAMP_TEST_DSN is set")
	}
}

// openTestStore opens an empty store for the test, closed when it ends.
func openTestStore(t *testing.T) *store.Store {
	t.Helper()
	return openDSN(t, emptyDSN(t))
}

// emptyDSN returns testDSN, emptying a shared database first.
func emptyDSN(t *testing.T) string {
	t.Helper()
	dsn := testDSN(t)
	if shared := os.Getenv("RAMP_TEST_DSN"); shared != "" && !isPostgres(shared) {
		s, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		defer s.Close()
		if err := store.Reset(s); err != nil {
			t.Fatalf("reset: %v", err)
		}
	}
	return dsn
}

func openDSN(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// clock gives s a fixed clock at t0 and returns a function to move it.
func clock(s *store.Store) (set func(time.Time)) {
	now := t0
	s.Now = func() time.Time { return now }
	return func(t time.Time) { now = t }
}

// applyState makes the stored state desired, as `ramp apply` does, and
// returns the plan it executed.
func applyState(t *testing.T, s *store.Store, desired flags.State, prune bool, actor string) flags.Plan {
	t.Helper()
	ctx := context.Background()
	current, _, err := s.State(ctx)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	plan := flags.Diff(&current, &desired, prune)
	if err := s.Apply(ctx, &desired, plan, actor); err != nil {
		t.Fatalf("Apply(%v): %v", planSummary(plan), err)
	}
	return plan
}

// planSummary renders a plan's changes as "create flag a".
func planSummary(p flags.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Action)+" "+string(c.Kind)+" "+c.Key)
	}
	return out
}

func mustState(t *testing.T, s *store.Store) (flags.State, int64) {
	t.Helper()
	st, v, err := s.State(context.Background())
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return st, v
}

func mustVersion(t *testing.T, s *store.Store) int64 {
	t.Helper()
	v, err := s.Version(context.Background())
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	return v
}

func mustAudit(t *testing.T, s *store.Store, f store.AuditFilter) []store.AuditEntry {
	t.Helper()
	es, err := s.Audit(context.Background(), f)
	if err != nil {
		t.Fatalf("Audit(%+v): %v", f, err)
	}
	return es
}

// boolFlag returns a valid boolean flag.
func boolFlag(key string) flags.Flag {
	return flags.Flag{
		Key:            key,
		Type:           flags.Boolean,
		Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
		DefaultVariant: "off",
		Enabled:        true,
		Bucketing:      bucket.V1,
	}
}

func cohort(key string, members ...cohorts.Member) cohorts.Cohort {
	return cohorts.Cohort{Key: key, Members: members}
}

func members(ids ...string) []cohorts.Member {
	out := make([]cohorts.Member, len(ids))
	for i, id := range ids {
		out[i] = cohorts.Member{ID: id}
	}
	return out
}

// normalized returns f with its variant values in canonical form.
func normalized(t *testing.T, f flags.Flag) flags.Flag {
	t.Helper()
	vs := make([]flags.Variant, len(f.Variants))
	for i, v := range f.Variants {
		nv, err := flags.NormalizeValue(f.Type, v.Value)
		if err != nil {
			t.Fatalf("flag %s variant %s: %v", f.Key, v.Key, err)
		}
		vs[i] = flags.Variant{Key: v.Key, Value: nv}
	}
	f.Variants = vs
	return f
}

// equateEmpty treats nil and empty lists alike: stored empty lists read
// back as nil.
var equateEmpty = cmpopts.EquateEmpty()

func diff(want, got any) string { return cmp.Diff(want, got, equateEmpty) }

package store_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// t0 is the time a test's fixed clock starts at.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testDSN returns the database a test uses, empty unless the test shares
// it: without $RAMP_TEST_DSN, a new SQLite file; with a Postgres URL there,
// a new schema in that database (testdb.DSN); with anything else, that
// database, shared by every test and emptied by emptyDSN.
func testDSN(t *testing.T) string {
	t.Helper()
	if dsn := os.Getenv("RAMP_TEST_DSN"); dsn != "" && !testdb.IsPostgres(dsn) {
		return dsn
	}
	return testdb.DSN(t)
}

// The shared helpers under the names these tests use.
var (
	postgresDSN = func(t *testing.T) string { t.Helper(); return testdb.Postgres(t) }
	isPostgres  = testdb.IsPostgres
	admin       = func(t *testing.T, dsn, stmt string) { t.Helper(); testdb.Exec(t, dsn, stmt) }
)

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
func applyState(t *testing.T, s *store.Store, desired flags.State, prune bool, actor string) flags.ChangeSet {
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
func planSummary(p flags.ChangeSet) []string {
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

// holdWriteLock takes the SQLite file's write lock on a connection of its
// own, as another process writing would, until release is called or the
// test ends.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	release = func() {
		tx.Rollback()
		db.Close()
	}
	t.Cleanup(release)
	if _, err := tx.Exec("UPDATE config_state SET version = version"); err != nil {
		t.Fatal(err)
	}
	return release
}

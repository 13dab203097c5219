package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

// TestMigrateMembersByKey upgrades a database whose member lists are in a
// rowid table (schema version 6): its members stay, SQLite's table becomes
// WITHOUT ROWID, and deleting a cohort still deletes its members.
func TestMigrateMembersByKey(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"), mr("u2", ""))
	mustImport(t, s, "gamma", store.ImportOptions{}, mr("u1", "FR"))
	undoGenerations(t, s, dsn)
	if !isPostgres(dsn) {
		// Back to version 6's table.
		for _, stmt := range []string{
			`CREATE TABLE old_members (
				cohort_key TEXT NOT NULL REFERENCES cohorts (key) ON DELETE CASCADE,
				user_id TEXT NOT NULL,
				region TEXT NOT NULL DEFAULT '',
				PRIMARY KEY (cohort_key, user_id)
			)`,
			"INSERT INTO old_members SELECT cohort_key, user_id, region FROM cohort_members",
			"DROP TABLE cohort_members",
			"ALTER TABLE old_members RENAME TO cohort_members",
		} {
			if err := store.Exec(s, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	// Back to version 6, before the member counts too.
	for _, stmt := range append(dropMemberCounts, "DELETE FROM schema_migrations WHERE version >= 7") {
		if err := store.Exec(s, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	upgraded := openDSN(t, dsn)
	if got, err := store.AppliedMigrations(upgraded); err != nil || len(got) != store.SchemaVersions {
		t.Fatalf("applied migrations %v, %v; want %d", got, err, store.SchemaVersions)
	}
	if !isPostgres(dsn) {
		var ddl string
		if err := store.QueryRow(upgraded, "SELECT sql FROM sqlite_master WHERE name = 'cohort_members'", &ddl); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "WITHOUT ROWID") {
			t.Errorf("cohort_members after the migration: %s", ddl)
		}
	}
	for key, want := range map[string][]string{"beta": {"u1/US", "u2/"}, "gamma": {"u1/FR"}} {
		if d := diff(want, listed(t, upgraded, key)); d != "" {
			t.Errorf("%s (-want +got):\n%s", key, d)
		}
	}
	// The member counts migration counted the lists.
	checkCounts(t, upgraded, "beta", "gamma")
	if got, err := upgraded.MemberRegionCounts(ctx, "beta"); err != nil || got["US"] != 1 || got[""] != 1 || len(got) != 2 {
		t.Errorf("MemberRegionCounts(beta) after the migration = %v, %v; want US 1, \"\" 1", got, err)
	}
	// Imports, and deletions cascading to members, work on the new table.
	mustImport(t, upgraded, "beta", store.ImportOptions{}, mr("u3", "DE"))
	applyState(t, upgraded, flags.State{Cohorts: []cohorts.Cohort{cohort("beta")}}, true, "alice")
	if _, err := upgraded.Cohort(ctx, "gamma"); err == nil {
		t.Fatal("cohort gamma not deleted")
	}
	var n int
	if err := store.QueryRow(upgraded, fmt.Sprintf("SELECT COUNT(*) FROM cohort_members WHERE cohort_key = '%s'", "gamma"), &n); err != nil || n != 0 {
		t.Errorf("members of the deleted cohort: %d, %v", n, err)
	}
}

// undoGenerations takes a database back to before the generations
// migration (schema version 9), its member lists as they are listed; the
// schema version is left to the caller to set.
func undoGenerations(t *testing.T, s *store.Store, dsn string) {
	t.Helper()
	stmts := []string{
		`ALTER TABLE cohort_members DROP CONSTRAINT cohort_members_pkey`,
		`DELETE FROM cohort_members m USING cohorts c WHERE c.key = m.cohort_key
			AND NOT (m.added_gen <= c.gen AND (m.removed_gen IS NULL OR m.removed_gen > c.gen))`,
		`ALTER TABLE cohort_members DROP COLUMN added_gen, DROP COLUMN removed_gen, ADD PRIMARY KEY (cohort_key, user_id),
			ADD FOREIGN KEY (cohort_key) REFERENCES cohorts (key) ON DELETE CASCADE`,
	}
	if !isPostgres(dsn) {
		stmts = []string{
			`CREATE TABLE old_members (
				cohort_key TEXT NOT NULL REFERENCES cohorts (key) ON DELETE CASCADE,
				user_id TEXT NOT NULL,
				region TEXT NOT NULL DEFAULT '',
				PRIMARY KEY (cohort_key, user_id)
			) WITHOUT ROWID`,
			`INSERT INTO old_members SELECT m.cohort_key, m.user_id, m.region FROM cohort_members m JOIN cohorts c ON c.key = m.cohort_key
				WHERE m.added_gen <= c.gen AND (m.removed_gen IS NULL OR m.removed_gen > c.gen)`,
			"DROP TABLE cohort_members",
			"ALTER TABLE old_members RENAME TO cohort_members",
		}
	}
	stmts = append(stmts, "ALTER TABLE cohorts DROP COLUMN gen", "DROP TABLE cohort_leases", "DELETE FROM schema_migrations WHERE version >= 9")
	for _, stmt := range stmts {
		if err := store.Exec(s, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// dropMemberCounts takes a database back to before the member counts
// migration's columns (schema version 8).
var dropMemberCounts = []string{
	"ALTER TABLE cohorts DROP COLUMN member_count",
	"ALTER TABLE cohorts DROP COLUMN region_counts",
}

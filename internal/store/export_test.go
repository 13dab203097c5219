package store

import "gorm.io/gorm"

// Hooks for the external tests: they reach the database beneath the API only
// to set up states the API cannot produce.

// SchemaVersions is the number of migrations this build knows.
var SchemaVersions = len(migrations)

// Exec runs a statement in a write transaction.
func Exec(s *Store, sql string, args ...any) error {
	return s.w.Exec(sql, args...).Error
}

// AppliedMigrations returns the versions recorded in schema_migrations.
func AppliedMigrations(s *Store) ([]int, error) {
	var vs []int
	err := s.r.Raw("SELECT version FROM schema_migrations ORDER BY version").Scan(&vs).Error
	return vs, err
}

// Reset empties every table, for tests sharing a SQLite database named by
// $RAMP_TEST_DSN (Postgres tests get a fresh schema each instead). The audit
// log refuses deletes, so its triggers are dropped for the purge and made
// again by the migration that made them.
func Reset(s *Store) error {
	return s.w.Transaction(func(tx *gorm.DB) error {
		if err := exec(tx,
			"DROP TRIGGER IF EXISTS audit_log_no_update",
			"DROP TRIGGER IF EXISTS audit_log_no_delete",
			"DELETE FROM api_keys",
			"DELETE FROM audit_log",
			"DELETE FROM rollouts",
			"DELETE FROM cohort_members",
			"DELETE FROM cohort_leases",
			"DELETE FROM cohort_imports",
			"DELETE FROM cohorts",
			"DELETE FROM flags",
			"UPDATE config_state SET version = 0",
		); err != nil {
			return err
		}
		return migrate4(tx, s.d)
	})
}

// ExplainVersion returns the database's plan for the query Version runs,
// one line per step.
func ExplainVersion(s *Store) ([]string, error) {
	var lines []string
	if s.r.Dialector.Name() == "sqlite" {
		var steps []struct{ Detail string }
		err := s.r.Raw("EXPLAIN QUERY PLAN " + versionQuery).Scan(&steps).Error
		for _, st := range steps {
			lines = append(lines, st.Detail)
		}
		return lines, err
	}
	err := s.r.Raw("EXPLAIN " + versionQuery).Scan(&lines).Error
	return lines, err
}

// SetChunks makes imports write n rows a chunk, whatever the time chunks
// take, and call hook, when not nil, after each chunk commits (with its
// phase, "clean", "write" or "purge", and its number in the phase); the
// import waits for hook to return. It returns a function restoring the
// defaults; tests calling it must not run in parallel.
func SetChunks(n int, hook func(phase string, n int)) (restore func()) {
	rows, lo, hi, h := chunkRows, chunkMin, chunkMax, chunkHook
	chunkRows, chunkMin, chunkMax, chunkHook = n, n, n, hook
	return func() { chunkRows, chunkMin, chunkMax, chunkHook = rows, lo, hi, h }
}

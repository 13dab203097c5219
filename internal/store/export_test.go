package store

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

// Reset empties every table, for tests sharing a database named by
// $RAMP_TEST_DSN.
func Reset(s *Store) error {
	return exec(s.w,
		"DELETE FROM api_keys",
		"DELETE FROM audit_log",
		"DELETE FROM cohort_members",
		"DELETE FROM cohort_imports",
		"DELETE FROM cohorts",
		"DELETE FROM flags",
		"UPDATE config_state SET version = 0",
	)
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

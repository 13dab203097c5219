package store

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// migration changes the schema from one version to the next.
type migration func(tx *gorm.DB, d *dialect) error

// migrations are the schema's versions in order: migrations[i] creates
// version i+1. Append only; never edit a released migration.
var migrations = []migration{
	migrate1,
	migrate2,                // keys.go
	migrate3,                // import.go
	migrateRollouts,         // rollouts.go
	migrate4,                // audit.go
	migrateEpoch,            // epoch.go
	migrateMembersByKey,     // import.go
	migrateMemberCounts,     // counts.go
	migrateExperiments,      // experiments.go
	migrateGenerations,      // gen.go
	migrateExperimentRampUp, // experiments.go
	migrateTracking,         // tracking.go
	migrateMetrics,          // metrics.go
	migrateArmStatsIndex,    // tracking_stats.go
	migrateSafety,           // safety.go
	migrateCredentials,      // credentials.go
	migrateMembersVersion,   // cohortsets.go
}

// migrate applies the migrations the database lacks, each in its own
// transaction; concurrent Opens of a database take turns (SQLite's write
// lock, Postgres' advisory lock), and each finds what the others did.
//
// It first reads the schema's version outside any write transaction: a
// database that is up to date (every Open but the first after an upgrade)
// is opened without taking the write lock, so that opening never waits for
// a long write, such as an import's merge, to finish.
func (s *Store) migrate(ctx context.Context) error {
	current, err := s.schemaVersion(ctx)
	switch {
	case err != nil:
		return s.wrap("read schema version", err)
	case current > len(migrations):
		return newerSchema(current)
	case current == len(migrations):
		return nil
	}
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// schemaVersion reads the schema's version with a plain read: 0 when the
// database has no schema_migrations table (it is new, or not ramp's).
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	db := s.r.WithContext(ctx)
	var tables int
	if err := db.Raw(s.d.hasMigrations).Scan(&tables).Error; err != nil {
		return 0, err
	}
	if tables == 0 {
		return 0, nil
	}
	var current int
	err := db.Raw("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current).Error
	return current, err
}

func newerSchema(current int) error {
	return fmt.Errorf("database schema version %d is newer than this ramp understands (%d): upgrade ramp", current, len(migrations))
}

// migrateOne applies the next missing migration, or reports that there is
// none.
func (s *Store) migrateOne(ctx context.Context) (done bool, err error) {
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.d.lockMigrations != nil {
			if err := s.d.lockMigrations(tx); err != nil {
				return fmt.Errorf("wait for other migrations: %w", err)
			}
		}
		err := tx.Exec(fmt.Sprintf(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			applied_at %s NOT NULL
		)`, s.d.timestamp)).Error
		if err != nil {
			return err
		}
		var current int
		if err := tx.Raw("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current).Error; err != nil {
			return err
		}
		switch {
		case current > len(migrations):
			return newerSchema(current)
		case current == len(migrations):
			done = true
			return nil
		}
		next := current + 1
		if err := migrations[current](tx, s.d); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", next, err)
		}
		return tx.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", next, s.now()).Error
	})
	return done, s.wrap("migrate schema", err)
}

// exec runs statements in order.
func exec(tx *gorm.DB, stmts ...string) error {
	for _, stmt := range stmts {
		if err := tx.Exec(stmt).Error; err != nil {
			return fmt.Errorf("%.40s…: %w", strings.Join(strings.Fields(stmt), " "), err)
		}
	}
	return nil
}

// migrate1 creates the initial schema.
func migrate1(tx *gorm.DB, d *dialect) error {
	return exec(tx,
		fmt.Sprintf(`CREATE TABLE flags (
			key %[1]s PRIMARY KEY,
			type TEXT NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			owner TEXT NOT NULL DEFAULT '',
			tags TEXT NOT NULL DEFAULT '[]',
			variants TEXT NOT NULL,
			default_variant TEXT NOT NULL,
			enabled BOOLEAN NOT NULL,
			bucket_by TEXT NOT NULL DEFAULT '',
			salt TEXT NOT NULL DEFAULT '',
			bucketing INTEGER NOT NULL,
			rules TEXT NOT NULL DEFAULT '[]',
			version BIGINT NOT NULL,
			created_at %[2]s NOT NULL,
			updated_at %[2]s NOT NULL,
			updated_by TEXT NOT NULL
		)`, d.text, d.timestamp),
		fmt.Sprintf(`CREATE TABLE cohorts (
			key %[1]s PRIMARY KEY,
			description TEXT NOT NULL DEFAULT '',
			conditions TEXT NOT NULL DEFAULT '[]',
			version BIGINT NOT NULL,
			created_at %[2]s NOT NULL,
			updated_at %[2]s NOT NULL,
			updated_by TEXT NOT NULL
		)`, d.text, d.timestamp),
		fmt.Sprintf(`CREATE TABLE cohort_members (
			cohort_key %[1]s NOT NULL REFERENCES cohorts (key) ON DELETE CASCADE,
			user_id %[1]s NOT NULL,
			region TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (cohort_key, user_id)
		)`, d.text),
		`CREATE TABLE config_state (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			version BIGINT NOT NULL
		)`,
		`INSERT INTO config_state (id, version) VALUES (1, 0)`,
		fmt.Sprintf(`CREATE TABLE audit_log (
			id %[1]s,
			at %[2]s NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			kind TEXT NOT NULL,
			target TEXT NOT NULL,
			before TEXT,
			after TEXT
		)`, d.serial, d.timestamp),
		`CREATE INDEX audit_log_target ON audit_log (kind, target)`,
		`CREATE INDEX audit_log_at ON audit_log (at)`,
	)
}

package store

import (
	"context"
	"database/sql"
	"fmt"

	"gorm.io/gorm"
)

// EachExposedUnit calls fn with the attribute and value of every unit
// exposed to an experiment's phase, one row at a time (the units known to
// be in that phase: what a weight change's dry run counts). It stops at
// fn's first error and returns it.
func (s *Store) EachExposedUnit(ctx context.Context, experiment string, phase int, fn func(attr, unit string) error) error {
	return s.read(ctx, "read exposed units", func(db *gorm.DB) error {
		rows, err := db.Raw(`SELECT unit_attr, unit FROM tracking_exposures WHERE experiment = ? AND phase = ?`,
			experiment, phase).Rows()
		if err != nil {
			return err
		}
		defer func(rows *sql.Rows) { _ = rows.Close() }(rows)
		for rows.Next() {
			var attr, unit string
			if err := rows.Scan(&attr, &unit); err != nil {
				return fmt.Errorf("scan exposure: %w", err)
			}
			if err := fn(attr, unit); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

package clickhouse

import "context"

// SetUnitsPerQuery sets how many units one query of a split reads, and
// returns a function that restores it: tests split small data sets.
func SetUnitsPerQuery(n uint64) (restore func()) {
	old := unitsPerQuery
	unitsPerQuery = n
	return func() { unitsPerQuery = old }
}

// UseEventsTableWithIDs replaces s's events table, empty, with the one
// ramp created before events were stored without their id (a column id,
// the event's id on its first row): a database of an earlier version,
// which a Store must go on writing to and reading.
func UseEventsTableWithIDs(ctx context.Context, s *Store) error {
	for _, q := range []string{
		`DROP TABLE ` + s.db + `.events`,
		`CREATE TABLE ` + s.db + `.events (
			name String, attr String, unit String, at Int64, id String, day Int32, value Float64, first UInt8, h UInt64,
			bucket UInt16 MATERIALIZED cityHash64(unit) % 1024
		) ENGINE = ReplacingMergeTree
		PARTITION BY intDiv(day, 7)
		ORDER BY (name, bucket, h, attr)`,
	} {
		if err := s.conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// SetPruneAfter sets how many superseded refreshes compaction lets the
// tables hold, and returns a function that restores it.
func SetPruneAfter(n uint64) (restore func()) {
	old := pruneAfter
	pruneAfter = n
	return func() { pruneAfter = old }
}

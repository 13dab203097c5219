package store

// Hooks for the external tests of imports and migrations.

// QueryRow scans the one row query returns into dest, on a read connection.
func QueryRow(s *Store, query string, dest ...any) error {
	return s.r.Raw(query).Row().Scan(dest...)
}

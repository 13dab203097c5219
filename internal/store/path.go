package store

import "strings"

// SQLitePath returns the file a SQLite DSN names ("PATH", "sqlite:PATH",
// either with "?params"), and false for a Postgres URL, a "file:" URI or
// SQLite's in-memory database, which name no plain file to watch.
func SQLitePath(dsn string) (string, bool) {
	if isPostgres(dsn) {
		return "", false
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(dsn, "sqlite:"), "?")
	if name == "" || name == ":memory:" || strings.HasPrefix(name, "file:") {
		return "", false
	}
	return name, true
}

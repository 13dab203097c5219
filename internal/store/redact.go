package store

// RedactDSN returns dsn as messages and logs may show it: a PostgreSQL
// URL's password (in its user part or a password= parameter) is replaced by
// xxxxx, and a URL that cannot be parsed is shown as "postgres://…". A
// SQLite path is returned as it is.
func RedactDSN(dsn string) string { return redactDSN(dsn) }

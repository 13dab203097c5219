// Package store keeps ramp's configuration in a SQL database through gorm:
// flags, cohorts and their member lists, a configuration version counter and
// an append-only audit log.
//
// # Databases
//
// Open takes a SQLite file path (optionally written "sqlite:PATH") or a
// Postgres URL ("postgres://…" or "postgresql://…"). Everything that depends
// on the engine lives in dialect.go; the rest of the package, migrations
// included, runs the same SQL on both.
//
// SQLite runs in WAL mode with foreign keys on and a busy timeout; write
// transactions begin with BEGIN IMMEDIATE so they take the write lock before
// reading, and reads run on a separate pool of read-only connections so they
// see a consistent snapshot without ever blocking a writer. Several processes
// may share one file.
//
// Postgres is for deployments with several `ramp serve` replicas on one
// database. Reads that span several statements run in REPEATABLE READ READ
// ONLY transactions, so State is one snapshot. Writes run in READ COMMITTED
// transactions that lock the rows they change with SELECT … FOR UPDATE
// before checking versions, with lock_timeout as the busy timeout; a
// transaction the server aborts to break a deadlock or a serialization
// failure is run again a few times, then reported as ErrBusy. Migrations
// hold an advisory lock, so replicas starting at once take turns. No driver
// error about contention reaches callers: they see ErrConflict or ErrBusy.
//
// # Change detection
//
// Version is one primary-key read of a one-row table, cheap enough for
// servers to poll every 200 ms; Revision reads the database's epoch with it
// (epoch.go), so that a server also notices a database replaced under it. On Postgres, each write also sends NOTIFY
// ramp_config with the new version, and Listen delivers those on a
// connection of its own; on SQLite, Listen returns ErrListenUnsupported.
//
// # Schema
//
// The schema is versioned: Open applies the migrations a database lacks, one
// transaction each, and refuses a database written by a newer ramp.
//
// # Writes
//
// Every write is one transaction that, when it changes anything, bumps the
// configuration version returned by Version (servers poll it to know when to
// reload) and appends one audit entry per object changed, recording the
// actor, the time, and the object before and after. A write that would change
// nothing writes nothing, not even an audit entry.
//
// Flags and cohorts carry a version that each accepted change increments.
// Apply checks them against the versions its plan was computed from
// (optimistic concurrency): if another writer got there first, it writes
// nothing and returns a *ConflictError.
//
// # Values
//
// Flag variants, tags, rules and cohort conditions are stored as JSON text.
// Variant values are decoded with json.Decoder.UseNumber and normalised with
// flags.NormalizeValue for the flag's type, so a flag reads back exactly as it
// was written: integers as int64 (without a detour through float64), floats
// as float64, objects as map[string]any. Empty lists read back as nil.
package store

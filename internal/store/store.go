package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"gorm.io/gorm"
)

// Store is ramp's configuration database. It is safe for concurrent use, and
// several Stores, in one process or several, may share a database.
type Store struct {
	// Now returns the current time, recorded in the audit log and on
	// changed objects. Open sets it to time.Now; tests replace it before
	// using the Store.
	Now func() time.Time

	w *gorm.DB // write transactions
	r *gorm.DB // read transactions; the same pool as w on Postgres
	d *dialect
}

// ErrNoDatabase is matched by the error of OpenExisting when there is no
// ramp database where the DSN points: no SQLite file at the path, or a file
// or Postgres schema without ramp's tables.
var ErrNoDatabase = errors.New("no ramp database")

// Open opens the database dsn names, creating it if needed, and applies the
// schema migrations it lacks. A new SQLite file is created readable by its
// owner only (0600), as are its -wal and -shm files: it holds member ids and
// the audit log.
//
// A dsn starting with "postgres://" or "postgresql://" names a Postgres
// database (the database itself must exist; Open creates the tables). Its
// query parameters go to pgx (sslmode=…) or, when pgx does not know them, to
// the server as settings: search_path=… selects a schema, lock_timeout=…
// (milliseconds, default 10000) bounds how long a write waits for another's
// locks. Several Stores, in several processes, may open one database at
// once: migrations take an advisory lock.
//
// Anything else is a SQLite file path, optionally written "sqlite:PATH";
// query parameters after the path ("PATH?_busy_timeout=500") are passed to
// the driver and override the store's defaults.
//
// Opening a database whose schema is up to date writes nothing and takes
// no lock: it reads the schema's version, so it never waits for a write in
// progress (an import, say). Only a database whose schema is behind is
// migrated, under the write lock.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, true)
}

// OpenExisting opens the database dsn names, as Open does, but only if it
// exists and holds ramp's tables: it never creates a SQLite file, nor
// tables in an empty Postgres schema. Otherwise its error matches
// ErrNoDatabase and names the path (or the redacted URL). Commands that
// only read, or change what exists, open the database this way, so that a
// mistyped path or a deleted file is reported rather than replaced by an
// empty database.
func OpenExisting(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, false)
}

func open(ctx context.Context, dsn string, create bool) (*Store, error) {
	w, r, d, err := connect(ctx, dsn, create)
	if err != nil {
		return nil, fmt.Errorf("open database %q: %w", redactDSN(dsn), err)
	}
	s := &Store{Now: time.Now, w: w, r: r, d: d}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open database %q: %w", redactDSN(dsn), err)
	}
	return s, nil
}

// Close closes the database. It does not stop Listen, which its context
// governs.
func (s *Store) Close() error {
	if s.r == s.w {
		return closeDB(s.w)
	}
	return errors.Join(closeDB(s.w), closeDB(s.r))
}

// now returns the current time in UTC with the microsecond precision every
// supported database keeps.
func (s *Store) now() time.Time {
	return s.Now().UTC().Truncate(time.Microsecond)
}

// read runs fn in a read-only transaction that sees one consistent state.
func (s *Store) read(ctx context.Context, op string, fn func(db *gorm.DB) error) error {
	return s.wrap(op, s.r.WithContext(ctx).Transaction(fn, s.d.readTx))
}

// writeTx is a write transaction in progress. Each change it makes is
// recorded with record; committing bumps the configuration version once if
// anything was recorded.
type writeTx struct {
	db    *gorm.DB
	now   time.Time
	actor string
	audit []auditRow
	// inert counts the audit entries of changes evaluation does not
	// read (recordInert): a transaction that records only those leaves
	// the configuration version alone.
	inert  int
	notify func(tx *gorm.DB, version int64) error // the dialect's
}

// maxWriteAttempts is how many times write runs a transaction that the
// database aborted to resolve contention (a deadlock, a serialization
// failure) before giving up with ErrBusy.
const maxWriteAttempts = 5

// write runs fn in a write transaction for actor. fn may run more than once:
// it must derive everything from the transaction it is given.
func (s *Store) write(ctx context.Context, op, actor string, fn func(w *writeTx) error) error {
	if actor == "" {
		return fmt.Errorf("%s: actor is required", op)
	}
	return s.wrap(op, s.retry(ctx, func() error {
		return s.w.WithContext(ctx).Transaction(func(db *gorm.DB) error {
			w := &writeTx{db: db, now: s.now(), actor: actor, notify: s.d.notify}
			if err := fn(w); err != nil {
				return err
			}
			return w.commit()
		})
	}))
}

// retry runs a write transaction, attempt, again when the database aborted
// it to resolve contention (a deadlock, a serialization failure), up to
// maxWriteAttempts times in all, and returns its last error.
func (s *Store) retry(ctx context.Context, attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		if err == nil || n == maxWriteAttempts || s.d.retry == nil || !s.d.retry(err) {
			return err
		}
		// Back off a little, more each time and at random, so that the
		// transactions that collided do not collide again.
		pause := time.Duration(n) * time.Duration(1+rand.IntN(10)) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// commit finishes a write transaction: if anything was recorded, it bumps
// the configuration version and announces it where the database can
// (unless all it recorded were inert changes, which no server needs to
// reload for), and appends the audit entries.
func (w *writeTx) commit() error {
	if len(w.audit) == 0 {
		return nil
	}
	if len(w.audit) == w.inert {
		return w.appendAudit()
	}
	var version int64
	if err := w.db.Raw("UPDATE config_state SET version = version + 1 WHERE id = 1 RETURNING version").Scan(&version).Error; err != nil {
		return fmt.Errorf("bump config version: %w", err)
	}
	if w.notify != nil {
		if err := w.notify(w.db, version); err != nil {
			return fmt.Errorf("announce config version: %w", err)
		}
	}
	return w.appendAudit()
}

// appendAudit appends the transaction's audit entries.
func (w *writeTx) appendAudit() error {
	if err := w.db.CreateInBatches(w.audit, 100).Error; err != nil {
		return fmt.Errorf("append audit log: %w", err)
	}
	return nil
}

// recordInert is record for a change that evaluation does not read (a
// metric: see metrics.go): it is audited, and on its own does not bump the
// configuration version.
func (w *writeTx) recordInert(action, kind, target string, before, after any) error {
	if err := w.record(action, kind, target, before, after); err != nil {
		return err
	}
	w.inert++
	return nil
}

// record appends an audit entry for a change; before is nil for a creation
// and after for a deletion.
func (w *writeTx) record(action, kind, target string, before, after any) error {
	enc := func(v any) (*string, error) {
		if v == nil {
			return nil, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("audit %s %q: %w", kind, target, err)
		}
		s := string(b)
		return &s, nil
	}
	row := auditRow{At: w.now, Actor: w.actor, Action: action, Kind: kind, Target: target}
	var err error
	if row.Before, err = enc(before); err != nil {
		return err
	}
	if row.After, err = enc(after); err != nil {
		return err
	}
	w.audit = append(w.audit, row)
	return nil
}

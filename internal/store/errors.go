package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
)

var (
	// ErrNotFound is matched (with errors.Is) by errors about a flag or
	// cohort that does not exist; see NotFoundError. It is ramp's kind.
	ErrNotFound = ramp.ErrNotFound
	// ErrConflict is matched by errors about a write refused because the
	// object changed since the caller read it; see ConflictError.
	ErrConflict = ramp.ErrConflict
	// ErrBusy is matched by errors about an operation that gave up waiting
	// for a lock another connection held for longer than the busy timeout
	// (10 seconds: SQLite's busy timeout, Postgres' lock_timeout), or that
	// Postgres aborted again and again to break deadlocks or serialization
	// failures. Retrying later may succeed.
	ErrBusy = &ramp.Error{Kind: ramp.KindBusy, Msg: "database busy: another writer held the lock too long; try again"}
	// ErrListenUnsupported is returned by Listen on a database that cannot
	// announce changes (SQLite): poll Version instead.
	ErrListenUnsupported = ramp.ErrListenUnsupported
)

// NotFoundError reports a flag or cohort that does not exist. It matches
// ErrNotFound.
type NotFoundError struct {
	Kind string // "flag" or "cohort"
	Key  string
}

// Error reads like `flag "x" not found`.
func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Key) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError reports a write refused because the stored object is not at
// the version the change was computed against. It matches ErrConflict.
type ConflictError struct {
	Kind string // "flag" or "cohort"
	Key  string
	// Expected is the version the caller based its change on; 0 when it
	// expected the object not to exist.
	Expected int64
	// Actual is the stored version; 0 when the object no longer exists.
	Actual int64
	// UpdatedBy and UpdatedAt describe the stored object's last change,
	// when it exists.
	UpdatedBy string
	UpdatedAt time.Time
	// Now, when set, says what the object is now ("at stage us-10 …"), so
	// that the message names what changed.
	Now string
}

// Error says what changed, who changed it and when, e.g. `flag "x" changed
// meanwhile (version 3 → 4, by alice at 2026-03-01T12:00:00Z); re-read and
// retry`.
func (e *ConflictError) Error() string {
	switch {
	case e.Actual == 0:
		return fmt.Sprintf("%s %q was deleted meanwhile (expected version %d); re-read and retry", e.Kind, e.Key, e.Expected)
	case e.Expected == 0:
		return fmt.Sprintf("%s %q was created meanwhile (version %d, by %s at %s); re-read and retry",
			e.Kind, e.Key, e.Actual, e.UpdatedBy, e.UpdatedAt.Format(time.RFC3339))
	}
	now := ""
	if e.Now != "" {
		now = "; it is now " + e.Now
	}
	return fmt.Sprintf("%s %q changed meanwhile (version %d → %d, by %s at %s)%s; re-read and retry",
		e.Kind, e.Key, e.Expected, e.Actual, e.UpdatedBy, e.UpdatedAt.Format(time.RFC3339), now)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// wrap adds the operation to a database error and translates the errors
// callers act on: not-found and conflict errors pass unchanged, lock
// contention becomes ErrBusy.
func (s *Store) wrap(op string, err error) error {
	var nf *NotFoundError
	var ce *ConflictError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf), errors.As(err, &ce):
		return err
	}
	return fmt.Errorf("%s: %w", op, s.d.translate(err))
}

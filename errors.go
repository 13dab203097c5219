package ramp

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies a failure for the front-ends: the CLI maps each kind to an
// exit code, the admin API to an HTTP status, each in one table. A Kind is
// also an error, so that it serves as its own sentinel:
// errors.Is(err, ramp.ErrNotFound).
type Kind uint8

// The kinds of failure, from the most to the least specific.
const (
	// KindInternal is an unexpected failure: I/O, the database, a bug.
	KindInternal Kind = iota
	// KindInvalid is input that cannot be accepted: a configuration file,
	// a context, a CSV row, a region. Nothing was written.
	KindInvalid
	// KindNotFound is a flag, cohort, rollout, key or database that does
	// not exist.
	KindNotFound
	// KindConflict is a write computed from a version that is no longer
	// the stored one (changed meanwhile), or a name already taken.
	KindConflict
	// KindRefused is a change the current state does not allow: advancing
	// a killed or paused rollout, approving one's own request. Nothing was
	// written.
	KindRefused
	// KindBusy is a lock held by another writer for longer than the
	// database waits; retrying later may succeed.
	KindBusy
	// KindUnauthorized is a caller without valid credentials.
	KindUnauthorized
	// KindForbidden is a caller whose credentials do not allow the action.
	KindForbidden
	// KindCanceled is an operation stopped by its caller (Ctrl-C, a
	// closed connection) before it wrote anything.
	KindCanceled
)

// Sentinels to match with errors.Is.
var (
	ErrInternal     error = KindInternal
	ErrInvalid      error = KindInvalid
	ErrNotFound     error = KindNotFound
	ErrConflict     error = KindConflict
	ErrRefused      error = KindRefused
	ErrBusy         error = KindBusy
	ErrUnauthorized error = KindUnauthorized
	ErrForbidden    error = KindForbidden
	ErrCanceled     error = KindCanceled
)

var kindNames = [...]string{
	KindInternal:     "internal",
	KindInvalid:      "invalid",
	KindNotFound:     "not found",
	KindConflict:     "conflict",
	KindRefused:      "refused",
	KindBusy:         "busy",
	KindUnauthorized: "unauthorized",
	KindForbidden:    "forbidden",
	KindCanceled:     "canceled",
}

// String names the kind ("not found").
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", k)
}

// Error makes a Kind an error, so that it is its own sentinel.
func (k Kind) Error() string { return k.String() }

// Error is a failure of a given kind with a message for people. Errors of
// other packages carry their kind by matching its sentinel (an Is method);
// Error is for the ones that have no type of their own.
type Error struct {
	Kind Kind
	// Msg says what happened, for people ("rollout of x is paused by bob").
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Errorf returns an *Error of the given kind; %w in format wraps its
// argument as Err.
func Errorf(kind Kind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// Error returns the message, else the underlying error's, else the kind.
func (e *Error) Error() string {
	switch {
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Kind.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ramp.ErrX) true for the error's kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// kindOrder lists the kinds KindOf tries, most specific first: an error
// that is both refused and a conflict (a move that lost a race) is a
// conflict.
var kindOrder = [...]Kind{KindCanceled, KindUnauthorized, KindForbidden, KindInvalid, KindNotFound, KindConflict, KindRefused, KindBusy}

// otherKinds maps errors declared by packages below this one (which cannot
// import it) to their kind.
var otherKinds = []struct {
	err  error
	kind Kind
}{
	{context.Canceled, KindCanceled},
}

// KindOf returns the kind of err: that of the outermost *Error in its
// chain, else the first kind err matches with errors.Is (package-specific
// errors match one through their Is method, as store.NotFoundError does),
// else the kind the table in kinds.go gives the domain packages' errors,
// else KindInternal.
func KindOf(err error) Kind {
	if err == nil {
		return KindInternal
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	for _, k := range kindOrder {
		if errors.Is(err, k) {
			return k
		}
	}
	if k, ok := domainKind(err); ok {
		return k
	}
	for _, o := range otherKinds {
		if errors.Is(err, o.err) {
			return o.kind
		}
	}
	return KindInternal
}

package cli

import (
	"errors"

	"github.com/ramp-flags/ramp"
)

// Exit codes tell scripts what kind of failure happened. They are part of
// the CLI's interface (README, "Exit codes").
const (
	ExitOK        = 0 // success
	ExitError     = 1 // unexpected failure (I/O, a bug)
	ExitUsage     = 2 // bad command line: unknown flag, missing argument
	ExitInvalid   = 3 // invalid input: configuration, context or file content
	ExitNotFound  = 4 // the flag or cohort does not exist
	ExitConflict  = 5 // changed meanwhile by someone else, already exists, or not possible in the current state
	ExitAborted   = 6 // a confirmation was declined or impossible
	ExitEvalError = 7 // `ramp eval` answered with an OpenFeature error code
)

// UsageError marks a mistake on the command line. Command, when set, is the
// command whose --help the user is pointed to.
type UsageError struct {
	Err     error
	Command string
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// InvalidError marks invalid input that is neither a config file nor a
// store object (a malformed --context, say).
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// errAborted is returned when the user declines a confirmation.
var errAborted = errors.New("aborted: nothing was changed")

// errEvalFailed reports a decision that carries an error code; the decision
// itself is already printed.
var errEvalFailed = errors.New("evaluation returned an error code")

// exitCodes maps each kind of failure to the exit status scripts see: the
// one table of it.
var exitCodes = map[ramp.Kind]int{
	ramp.KindInternal:     ExitError,
	ramp.KindInvalid:      ExitInvalid,
	ramp.KindNotFound:     ExitNotFound,
	ramp.KindConflict:     ExitConflict,
	ramp.KindRefused:      ExitConflict,
	ramp.KindBusy:         ExitError,
	ramp.KindUnauthorized: ExitError,
	ramp.KindForbidden:    ExitError,
	ramp.KindCanceled:     ExitAborted,
}

// ExitCode maps an error to the process exit status: the command line's own
// failures (usage, a declined confirmation, an evaluation error code), then
// the kind of the error (exitCodes).
func ExitCode(err error) int {
	var (
		usage   *UsageError
		invalid *InvalidError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	case errors.As(err, &invalid):
		return ExitInvalid
	case errors.Is(err, errAborted):
		return ExitAborted
	case errors.Is(err, errEvalFailed):
		return ExitEvalError
	}
	return exitCodes[ramp.KindOf(err)]
}

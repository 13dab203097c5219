package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/ratelimit"
	"github.com/ramp-flags/ramp/rollout"
)

// ProblemType is the media type of every error the API answers (RFC 9457).
const ProblemType = "application/problem+json"

// Problem is the body of every error answer: RFC 9457's members, the
// failure's kind (ramp.Kind's name, which the CLI maps to its exit code),
// and, for the errors front-ends act on (a move that needs confirmation, a
// paused plan…), the error's own fields under Error and Data so that the
// client rebuilds the same error.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail is the error's message, as the CLI prints it locally.
	Detail string `json:"detail"`
	// Kind names the ramp.Kind: "invalid", "not found", "conflict"…
	Kind string `json:"kind"`
	// Error names the typed error Data holds ("rollout.paused"…).
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	// Version is the object's version a refusal was computed on (for a
	// move that needs confirmation: confirm it with If-Match on it).
	Version int64 `json:"version,omitempty"`
	// RetryAfter, in seconds, with 429 and 503.
	RetryAfter int `json:"retryAfter,omitempty"`
}

// statusOf maps each kind of failure to its HTTP status: the one table of
// it. Answers that are not a kind's (412, 413, 415, 428, 429) come from
// *httpError.
var statusOf = map[ramp.Kind]int{
	ramp.KindInternal:     http.StatusInternalServerError,
	ramp.KindInvalid:      http.StatusBadRequest,
	ramp.KindNotFound:     http.StatusNotFound,
	ramp.KindConflict:     http.StatusConflict,
	ramp.KindRefused:      http.StatusConflict,
	ramp.KindBusy:         http.StatusServiceUnavailable,
	ramp.KindUnauthorized: http.StatusUnauthorized,
	ramp.KindForbidden:    http.StatusForbidden,
	ramp.KindCanceled:     499, // the client went away; nobody reads it
}

// kindByName is ramp.Kind by its name, for clients.
var kindByName = func() map[string]ramp.Kind {
	m := map[string]ramp.Kind{}
	for k := ramp.KindInternal; k <= ramp.KindCanceled; k++ {
		m[k.String()] = k
	}
	return m
}()

// httpError is a refusal of the API's own, with a status that is not its
// kind's: a missing or stale If-Match, a body too large or of the wrong
// type.
type httpError struct {
	status int
	kind   ramp.Kind
	msg    string
	err    error
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.err }

// Is makes an httpError match its kind.
func (e *httpError) Is(target error) bool { k, ok := target.(ramp.Kind); return ok && k == e.kind }

// errorCodec carries one typed error through a Problem: its name, whether
// err is one (and its value to encode), and how to rebuild it.
type errorCodec struct {
	name   string
	match  func(err error) (any, bool)
	decode func(data json.RawMessage) (error, error)
}

// typed is the codec of a struct error type *T, encoded as JSON.
func typed[T any, P interface {
	*T
	error
}](name string) errorCodec {
	return errorCodec{name: name,
		match: func(err error) (any, bool) {
			var p P
			if errors.As(err, &p) {
				return p, true
			}
			return nil, false
		},
		decode: func(data json.RawMessage) (error, error) {
			p := P(new(T))
			if err := json.Unmarshal(data, p); err != nil {
				return nil, err
			}
			return p, nil
		}}
}

// sentinel is the codec of an error value matched with errors.Is.
func sentinel(name string, target error) errorCodec {
	return errorCodec{name: name,
		match: func(err error) (any, bool) {
			if errors.Is(err, target) {
				return nil, true
			}
			return nil, false
		},
		decode: func(json.RawMessage) (error, error) { return target, nil }}
}

// codecs lists the errors front-ends act on, most specific first: a client
// rebuilds them, so that errors.As and errors.Is find them through the API
// as they do locally.
var codecs = []errorCodec{
	typed[admin.ConflictError]("conflict"),
	typed[admin.ConfirmError]("rollout.confirm"),
	typed[admin.ExperimentConfirmError]("experiment.confirm"),
	typed[admin.StageError]("rollout.stage"),
	typed[admin.NoPlanError]("rollout.no-plan"),
	typed[admin.LiveStageError]("rollout.live-stage"),
	typed[rollout.PausedError]("rollout.paused"),
	typed[rollout.KilledError]("rollout.killed"),
	typed[admin.LockedError]("experiment.locked"),
	typed[admin.UnknownCohortError]("cohort.unknown"),
	typed[csvfile.LimitError]("csv.limit"),
	sentinel("rollout.no-stage-left", admin.ErrNoStageLeft),
	sentinel("cohort.empty-replace", admin.ErrEmptyReplace),
}

// rateLimitedError is the answer to a principal past its rate limit: 429,
// of kind busy, with the wait as Retry-After.
type rateLimitedError struct {
	principal string
	perSecond float64
	wait      time.Duration
}

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("too many requests from %s (more than %g a second); retry in %s",
		e.principal, e.perSecond, time.Duration(ratelimit.RetryAfter(e.wait))*time.Second)
}

// Is makes a rateLimitedError match ramp.KindBusy: retrying later helps.
func (e *rateLimitedError) Is(target error) bool { return target == ramp.KindBusy }

// problemOf turns an error into the Problem the API answers with.
func problemOf(err error) Problem {
	kind := ramp.KindOf(err)
	status := statusOf[kind]
	var (
		he *httpError
		th *auth.ThrottledError
		rl *rateLimitedError
	)
	switch {
	case errors.As(err, &th):
		status = http.StatusTooManyRequests
	case errors.As(err, &rl):
		status, kind = http.StatusTooManyRequests, ramp.KindBusy
	case errors.As(err, &he):
		status, kind = he.status, he.kind
	}
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: err.Error(), Kind: kind.String()}
	if p.Title == "" {
		p.Title = "Client Closed Request"
	}
	if th != nil {
		p.RetryAfter = max(1, int((th.RetryAfter+time.Second-1)/time.Second))
	}
	if kind == ramp.KindBusy {
		p.RetryAfter = 1
	}
	if rl != nil {
		p.RetryAfter = ratelimit.RetryAfter(rl.wait)
	}
	for _, c := range codecs {
		v, ok := c.match(err)
		if !ok {
			continue
		}
		p.Error = c.name
		if v != nil {
			p.Data, _ = json.Marshal(v)
		}
		break
	}
	// The versions a confirmation is computed on are not in the results'
	// JSON: carry them beside.
	var (
		confirm *admin.ConfirmError
		xconf   *admin.ExperimentConfirmError
	)
	switch {
	case errors.As(err, &confirm):
		p.Version = confirm.Move.Version
	case errors.As(err, &xconf):
		p.Version = xconf.Result.Version
	}
	return p
}

// Err rebuilds the error a Problem describes: a *ramp.Error of its kind
// whose message is Detail and which wraps the typed error Data holds (when
// the client knows it), so that ramp.KindOf, errors.As and errors.Is see
// what they see locally.
func (p *Problem) Err() error {
	kind, ok := kindByName[p.Kind]
	if !ok {
		kind = kindOfStatus(p.Status)
	}
	e := &ramp.Error{Kind: kind, Msg: p.Detail}
	if e.Msg == "" {
		e.Msg = p.Title
	}
	for _, c := range codecs {
		if c.name != p.Error {
			continue
		}
		inner, err := c.decode(p.Data)
		if err != nil {
			break
		}
		switch x := inner.(type) {
		case *admin.ConfirmError:
			x.Move.Version = p.Version
		case *admin.ExperimentConfirmError:
			x.Result.Version = p.Version
		}
		e.Err = inner
	}
	if p.Status == http.StatusTooManyRequests && kind != ramp.KindBusy {
		e.Err = &auth.ThrottledError{RetryAfter: time.Duration(p.RetryAfter) * time.Second}
	}
	return e
}

// kindOfStatus guesses the kind of an answer without a Problem body (a
// proxy's): the inverse of statusOf.
func kindOfStatus(status int) ramp.Kind {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusPreconditionRequired:
		return ramp.KindInvalid
	case http.StatusNotFound:
		return ramp.KindNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return ramp.KindConflict
	case http.StatusUnauthorized, http.StatusTooManyRequests:
		return ramp.KindUnauthorized
	case http.StatusForbidden:
		return ramp.KindForbidden
	case http.StatusServiceUnavailable:
		return ramp.KindBusy
	}
	return ramp.KindInternal
}

// writeProblem answers err as a Problem.
func writeProblem(w http.ResponseWriter, err error) {
	p := problemOf(err)
	h := w.Header()
	h.Set("Content-Type", ProblemType)
	h.Set("Cache-Control", "no-store")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="ramp"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// DecodeProblem reads an error answer's body: a Problem when it is one,
// else one made from the status and the first bytes of the body.
func DecodeProblem(status int, contentType string, body []byte) Problem {
	var p Problem
	if err := json.Unmarshal(body, &p); err == nil && p.Status != 0 {
		return p
	}
	detail := string(body)
	if len(detail) > 200 {
		detail = detail[:200]
	}
	if detail == "" {
		detail = http.StatusText(status)
	}
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: "server answered " + strconv.Itoa(status) + ": " + detail,
		Kind: kindOfStatus(status).String()}
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/ratelimit"
)

// Prefix is the path every route of the API starts with.
const Prefix = "/api/v1"

// DefaultMaxBody caps JSON request bodies; configuration documents may be
// as large as config.MaxSize, and CSV imports stream without a cap.
const DefaultMaxBody = 1 << 20

// Config configures a Handler. Admin and Auth are required.
type Config struct {
	// Admin is the control plane every route calls.
	Admin *admin.Service
	// Auth turns each request into the principal it acts for.
	Auth auth.Authenticator
	// MaxBody caps JSON request bodies (default DefaultMaxBody).
	MaxBody int64
	// Logger logs failures to check credentials and internal errors; never
	// a secret.
	Logger *slog.Logger
	// RateLimit is the requests a second each principal may make, in
	// bursts of as many; past it a request gets 429 with Retry-After.
	// Zero means DefaultRateLimit, negative no limit.
	RateLimit float64
	// Now is the clock of the rate limit (time.Now when nil).
	Now func() time.Time
}

// DefaultRateLimit is the admin API's requests a second per principal: a
// dashboard page or a script's burst fits, a runaway loop or a stolen
// token hammering reports and imports does not.
const DefaultRateLimit = 50

// Handler serves the admin API: one route per use case of the control
// plane, each authenticated and checked against the principal's
// permission, the principal acting as the audit log's actor.
type Handler struct {
	a     *admin.Service
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	limit *ratelimit.Limiter
}

// route is one endpoint: its pattern (as http.ServeMux reads it), the
// permission it needs and what it does.
type route struct {
	pattern string
	perm    auth.Permission
	serve   func(h *Handler, w http.ResponseWriter, r *http.Request) error
	// stream lifts the server's read and write deadlines: imports and
	// exports of millions of rows outlast them.
	stream bool
}

// New builds the API's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Admin == nil {
		return nil, errors.New("api: the control plane is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("api: an authenticator is required")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	h := &Handler{a: cfg.Admin, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), limit: ratelimit.New(cfg.RateLimit, cfg.Now)}
	for _, rt := range routes {
		h.mux.Handle(rt.pattern, h.wrap(rt))
	}
	h.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := h.authenticate(r); err != nil {
			writeProblem(w, err)
			return
		}
		writeProblem(w, &httpError{status: http.StatusNotFound, kind: ramp.KindNotFound,
			msg: fmt.Sprintf("no route %s %s (see %s/openapi.yaml)", r.Method, r.URL.Path, Prefix)})
	})
	return h, nil
}

// ServeHTTP serves a request under Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Routes lists the API's routes as "METHOD /path" patterns, in the form
// http.ServeMux and the OpenAPI document read them.
func Routes() []string {
	out := make([]string, 0, len(routes))
	for _, rt := range routes {
		out = append(out, rt.pattern)
	}
	slices.Sort(out)
	return out
}

// authenticate asks the Authenticator who acts. Its refusals keep their
// kind (401, 429); any other failure to check is a 503.
func (h *Handler) authenticate(r *http.Request) (auth.Principal, error) {
	p, err := h.cfg.Auth.Authenticate(r)
	if err == nil {
		return p, nil
	}
	var th *auth.ThrottledError
	if errors.As(err, &th) || errors.Is(err, ramp.ErrUnauthorized) {
		return p, err
	}
	h.log.Error("cannot check credentials", "err", err)
	return p, &httpError{status: http.StatusServiceUnavailable, kind: ramp.KindBusy, msg: "cannot check credentials now; retry", err: err}
}

// wrap authenticates, checks the route's permission, puts the principal
// in the context as the actor, serves, and answers failures as problems.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		p, err := h.authenticate(r)
		if err != nil {
			writeProblem(w, err)
			return
		}
		if !p.May(rt.perm) {
			writeProblem(w, auth.Forbidden(p, rt.perm))
			return
		}
		if ok, wait := h.limit.Allow(p.Name); !ok {
			writeProblem(w, &rateLimitedError{principal: p.Name, perSecond: h.cfg.RateLimit, wait: wait})
			return
		}
		if rt.stream {
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
		}
		ctx := admin.WithActor(auth.WithPrincipal(r.Context(), p), p.Name)
		r = r.WithContext(ctx)
		if err := rt.serve(h, w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// fail answers an error. A conflict on a request that named the version
// it decided from (If-Match) is 412: the precondition failed.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ce *admin.ConflictError
	if r.Header.Get("If-Match") != "" && errors.As(err, &ce) {
		err = &httpError{status: http.StatusPreconditionFailed, kind: ramp.KindConflict, msg: err.Error(), err: err}
	}
	if ramp.KindOf(err) == ramp.KindInternal {
		h.log.Error("admin API", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeProblem(w, err)
}

// need checks a permission beyond the route's (a write that is a read
// when dry).
func need(ctx context.Context, perm auth.Permission) error {
	p, _ := auth.FromContext(ctx)
	if !p.May(perm) {
		return auth.Forbidden(p, perm)
	}
	return nil
}

// epoch returns the database's epoch, for ETags.
func (h *Handler) epoch(ctx context.Context) (string, error) {
	rev, err := h.a.Revision(ctx)
	return rev.Epoch, err
}

// basis reads the If-Match of a request against the database's epoch.
func (h *Handler) basis(r *http.Request, required bool) (int64, error) {
	e, err := h.epoch(r.Context())
	if err != nil {
		return 0, err
	}
	return precondition(r, e, required)
}

// reply answers v as JSON with status 200.
func reply(w http.ResponseWriter, v any) error {
	return replyStatus(w, http.StatusOK, v)
}

func replyStatus(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	return enc.Encode(v)
}

// replyObject answers an object with its ETag.
func (h *Handler) replyObject(w http.ResponseWriter, r *http.Request, v any, version int64) error {
	if version > 0 {
		e, err := h.epoch(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("ETag", ETag(version, e))
	}
	return reply(w, v)
}

// decode reads a JSON request body into v: Content-Type application/json,
// at most MaxBody bytes, one value, no unknown fields. An empty body
// leaves v as it is.
func (h *Handler) decode(r *http.Request, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	if err := mediaType(r, "application/json"); err != nil {
		return err
	}
	return decodeJSON(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBody), v)
}

// decodeJSON reads exactly one JSON value into v, refusing unknown fields:
// every request body goes through it (fuzz_test.go).
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty body: the defaults
		}
		return bodyError(err)
	}
	if dec.More() {
		return &httpError{status: http.StatusBadRequest, kind: ramp.KindInvalid, msg: "request body: more than one JSON value"}
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return bodyError(err)
	}
	return nil
}

func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &httpError{status: http.StatusRequestEntityTooLarge, kind: ramp.KindInvalid,
			msg: fmt.Sprintf("request body over %d bytes", tooLarge.Limit)}
	}
	return &httpError{status: http.StatusBadRequest, kind: ramp.KindInvalid, msg: "request body: " + err.Error(), err: err}
}

// mediaType refuses a body whose Content-Type is none of want.
func mediaType(r *http.Request, want ...string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && slices.Contains(want, mt) {
		return nil
	}
	return &httpError{status: http.StatusUnsupportedMediaType, kind: ramp.KindInvalid,
		msg: fmt.Sprintf("Content-Type %q: want %s", ct, strings.Join(want, " or "))}
}

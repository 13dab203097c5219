package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/ratelimit"
)

// recorder remembers the status and size of a response and when its header
// was written, and who made the request (set by guard), for the log line.
// It unwraps, so http.ResponseController reaches the connection's Flush and
// deadlines.
type recorder struct {
	http.ResponseWriter
	status    int
	bytes     int64
	headerd   time.Duration
	start     time.Time
	now       func() time.Time
	principal string
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.headerd = w.now().Sub(w.start)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs each request (at debug) and records its metrics by route
// pattern: the latency is the time to the response header, which for an
// event stream is the time to open it. A panic in a handler is logged and
// answered with 500.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		rec := &recorder{ResponseWriter: w, start: start, now: s.cfg.Now}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panicked", "panic", p, "method", r.Method, "route", r.Pattern)
				if rec.status == 0 {
					rec.WriteHeader(http.StatusInternalServerError)
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
				rec.headerd = s.cfg.Now().Sub(start)
			}
			s.metrics.request(route, rec.status, rec.headerd)
			if s.log.Enabled(r.Context(), slog.LevelDebug) {
				s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
					slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
					slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
					slog.Duration("took", s.cfg.Now().Sub(start)), slog.String("key", rec.principal),
					slog.String("remote", r.RemoteAddr))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// guard admits a request whose credential grants the permission it needs,
// within the credential's rate limit: 401 for a missing, unknown, revoked
// or expired credential, or one in the URL's query string (with the
// reason as a plain-text body, which never holds the secret), 403 for a
// credential without the permission, 429 with Retry-After past the rate or
// when the client address failed too often (the authenticator says), 503
// before the first configuration is loaded or when credentials cannot be
// checked. streamToken also admits the token of an event-stream URL. The
// handler is given the principal.
func (s *Server) guard(need auth.Permission, streamToken bool, h guarded) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.live.current() == nil {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		p, err := s.authenticate(r, streamToken)
		if err != nil {
			s.refused(w, r, err)
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.principal = p.Name
		}
		if !p.May(need) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		caller := p.Name
		if s.cfg.InsecureNoAuth {
			caller = clientAddr(r)
		}
		if ok, wait := s.limit.Allow(caller); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfter(wait)))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		h(w, r, p)
	})
}

// refused answers a request whose credential was refused: 401 with the
// reason, 429 with Retry-After when the authenticator throttled its client
// address, 503 when it could not check.
func (s *Server) refused(w http.ResponseWriter, r *http.Request, err error) {
	var throttled *auth.ThrottledError
	switch {
	case errors.As(err, &throttled):
		s.metrics.authThrottled.Inc()
		now, last := s.cfg.Now().UnixNano(), s.lastThrottleWarn.Load()
		if now-last >= int64(time.Minute) && s.lastThrottleWarn.CompareAndSwap(last, now) {
			s.log.Warn("too many failed authentications from a client address: answering them 429 (logged at most once a minute)",
				"remote", clientAddr(r))
		}
		w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfter(throttled.RetryAfter)))
		w.WriteHeader(http.StatusTooManyRequests)
	case errors.Is(err, ramp.ErrUnauthorized):
		s.metrics.authFailed.Inc()
		h := w.Header()
		h.Set("WWW-Authenticate", `Bearer realm="ramp"`)
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, err.Error()+"\n")
	default:
		s.log.Error("cannot check a credential", "err", err)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// guarded is a handler behind guard, given the principal it admitted.
type guarded func(w http.ResponseWriter, r *http.Request, p Principal)

// anyone adapts a handler that does not need to know who is asking.
func anyone(h http.HandlerFunc) guarded {
	return func(w http.ResponseWriter, r *http.Request, _ Principal) { h(w, r) }
}

// errStreamToken refuses an event-stream token that is forged, expired, or
// whose credential was revoked.
var errStreamToken = &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "invalid or expired event-stream token: fetch the bulk evaluation again for a new URL"}

// authenticate returns the request's principal, or why it is refused. A
// request to an event stream without a credential header may present the
// stream token of its URL instead.
func (s *Server) authenticate(r *http.Request, streamToken bool) (Principal, error) {
	if s.cfg.InsecureNoAuth {
		return Principal{Name: "anonymous", Kind: auth.KindKey, Role: auth.RoleAdmin}, nil
	}
	if !streamToken || r.URL.RawQuery == "" { // most requests: no query to parse
		return s.cfg.Auth.Authenticate(r)
	}
	if tok := r.URL.Query().Get("token"); tok != "" && r.Header.Get("Authorization") == "" && r.Header.Get("X-API-Key") == "" &&
		!auth.SecretInQuery(r.URL) {
		if p, ok := s.tokens.check(tok); ok && s.keyActive(p) {
			return p, nil
		}
		if rf, ok := s.cfg.Auth.(refuser); ok {
			return Principal{}, rf.Refuse(r, errStreamToken)
		}
		return Principal{}, errStreamToken
	}
	return s.cfg.Auth.Authenticate(r)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

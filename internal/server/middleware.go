package server

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
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

// guard admits a request that presents a key with the role it needs, within
// the key's rate limit: 401 for a missing, unknown or revoked key (with no
// body), 403 for a key without the role, 429 with Retry-After past the
// rate, 503 before the first configuration is loaded or when keys cannot be
// checked. streamToken also admits the token of an event-stream URL. The
// handler is given the principal. Refused keys count against their client
// address (Config.AuthFailureLimit): past its limit they get 429.
func (s *Server) guard(need string, streamToken bool, h guarded) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.live.current() == nil {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		p, status := s.authenticate(r, streamToken)
		if status == http.StatusUnauthorized {
			s.refused(w, r)
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.principal = p.Name
		}
		if !p.may(need) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		caller := p.Name
		if s.cfg.InsecureNoAuth {
			caller = clientAddr(r)
		}
		if ok, wait := s.limit.allow(caller); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		h(w, r, p)
	})
}

// refused answers a request whose key or token was refused: 401, or 429
// with Retry-After once its client address is past its limit of failures.
func (s *Server) refused(w http.ResponseWriter, r *http.Request) {
	addr := failureKey(r)
	if ok, wait := s.fails.fail(addr); !ok {
		s.metrics.authThrottled.Inc()
		now, last := s.cfg.Now().UnixNano(), s.lastThrottleWarn.Load()
		if now-last >= int64(time.Minute) && s.lastThrottleWarn.CompareAndSwap(last, now) {
			s.log.Warn("too many failed authentications from a client address: answering them 429 (logged at most once a minute)",
				"remote", addr, "addresses", s.fails.tracked())
		}
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.metrics.authFailed.Inc()
	w.Header().Set("WWW-Authenticate", `Bearer realm="ramp"`)
	w.WriteHeader(http.StatusUnauthorized)
}

// guarded is a handler behind guard, given the principal it admitted.
type guarded func(w http.ResponseWriter, r *http.Request, p Principal)

// anyone adapts a handler that does not need to know who is asking.
func anyone(h http.HandlerFunc) guarded {
	return func(w http.ResponseWriter, r *http.Request, _ Principal) { h(w, r) }
}

// authenticate returns the request's principal, or the status to refuse it
// with.
func (s *Server) authenticate(r *http.Request, streamToken bool) (Principal, int) {
	if s.cfg.InsecureNoAuth {
		return Principal{Name: "anonymous", Role: RoleAdmin}, 0
	}
	secret := secretOf(r)
	if secret == "" {
		if tok := r.URL.Query().Get("token"); streamToken && tok != "" {
			if p, ok := s.tokens.check(tok); ok && s.keyActive(p) {
				return p, 0
			}
		}
		return Principal{}, http.StatusUnauthorized
	}
	p, err := s.cfg.Auth.Authenticate(r.Context(), secret)
	switch {
	case err == nil:
		return p, 0
	case errors.Is(err, ErrUnknownKey), errors.Is(err, ErrRevokedKey):
		return Principal{}, http.StatusUnauthorized
	}
	s.log.Error("cannot check an API key", "err", err)
	return Principal{}, http.StatusServiceUnavailable
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

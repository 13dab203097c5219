package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// reqInfo is what the middleware learns about a request, for its log line.
type reqInfo struct {
	principal string
}

type infoKey struct{}

// recorder remembers the status and size of a response and when its header
// was written. It unwraps, so http.ResponseController reaches the
// connection's Flush and deadlines.
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	headerd time.Duration
	start   time.Time
	now     func() time.Time
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
		info := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
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
					slog.Duration("took", s.cfg.Now().Sub(start)), slog.String("key", info.principal),
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
// checked. streamToken also admits the token of an event-stream URL.
func (s *Server) guard(need string, streamToken bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.live.current() == nil {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		p, status := s.authenticate(r, streamToken)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ramp"`)
			}
			w.WriteHeader(status)
			return
		}
		if info, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
			info.principal = p.Name
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
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

type principalKey struct{}

func principalOf(r *http.Request) Principal {
	p, _ := r.Context().Value(principalKey{}).(Principal)
	return p
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
			if p, ok := s.tokens.check(tok); ok {
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

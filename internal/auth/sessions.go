package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ramp-flags/ramp"
)

// SessionCookie is the name of the dashboard's session cookie. The
// "__Host-" prefix makes browsers keep it only when it is Secure, has
// Path=/ and no Domain: no other host, nor a plain-HTTP page, can set or
// shadow it.
const SessionCookie = "__Host-ramp-session"

// NewSessionCookie returns the cookie that carries a session's secret:
// Secure, HttpOnly, SameSite=Lax, Path=/, expiring with the session's
// absolute expiry (the idle expiry is the server's to enforce).
func NewSessionCookie(secret string, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", Expires: expires.UTC(),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// ClearSessionCookie returns the cookie that makes a browser forget its
// session cookie (at logout).
func ClearSessionCookie() *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// SessionSecret returns the secret of a request's session cookie, or
// ErrSessionEnded when it has none.
func SessionSecret(r *http.Request) (string, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || !validSecret(ck.Value) {
		return "", ErrSessionEnded
	}
	return ck.Value, nil
}

// Sessions returns the Authenticator of the dashboard: it admits the
// session cookie (SessionCookie) alone, never a header, so that a
// cross-site request cannot borrow an API credential and an API client
// never sends a cookie. It shares the Checker's throttling, last-used
// batches and reloads: a session ended on any server is refused by every
// server within a poll.
func (c *Checker) Sessions() Authenticator { return sessionAuth{c} }

type sessionAuth struct{ c *Checker }

// Authenticate admits a request's session cookie.
func (a sessionAuth) Authenticate(r *http.Request) (Principal, error) {
	c := a.c
	addr := clientKey(r, c.opt.TrustedProxies)
	if SecretInQuery(r.URL) {
		return Principal{}, c.refuse(addr, ErrSecretInQuery)
	}
	secret, err := SessionSecret(r)
	if err != nil {
		return Principal{}, c.refuse(addr, err)
	}
	return c.session(r.Context(), addr, secret)
}

// session admits a session's secret presented from addr: from the
// sessions held since the last reload, or else read from the source once.
func (c *Checker) session(ctx context.Context, addr addrKey, secret string) (Principal, error) {
	hash := hashSecret(secret)
	set := c.set.Load()
	v, held := set.sessions.Load(hash)
	throttled, wait := c.fails.throttled(addr)
	if throttled && (!held || !c.recentlyAdmitted(addr, v.(*sessionEntry).rec.Principal.CredentialID)) {
		return Principal{}, &ThrottledError{RetryAfter: wait}
	}
	now := c.opt.Now()
	var e *sessionEntry
	if held {
		e = v.(*sessionEntry)
		if !c.sessionLive(e, now) {
			// Idle here, but perhaps seen by another server since:
			// read it again before refusing.
			held = false
		}
	}
	if !held {
		rec, err := c.src.Session(ctx, hash)
		switch {
		case errors.Is(err, ramp.ErrNotFound):
			set.sessions.Delete(hash)
			return Principal{}, c.refuse(addr, ErrSessionEnded)
		case err != nil:
			return Principal{}, err
		}
		e = &sessionEntry{rec: rec}
		e.lastSeen.Store(rec.LastSeen.UnixNano())
		if !c.sessionLive(e, now) {
			set.sessions.Delete(hash)
			return Principal{}, c.refuse(addr, ErrSessionEnded)
		}
		set.sessions.Store(hash, e)
	}
	e.lastSeen.Store(now.UnixNano())
	c.admitted(addr, KindSession, e.rec.ID, e.rec.Principal.CredentialID, now)
	return e.rec.Principal, nil
}

// sessionLive reports whether a session is within its idle and absolute
// expiries at now.
func (c *Checker) sessionLive(e *sessionEntry, now time.Time) bool {
	if !now.Before(e.rec.Expires) {
		return false
	}
	return now.Sub(time.Unix(0, e.lastSeen.Load())) < e.rec.Idle
}

package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

// Sessions keeps the dashboard's sign-ins on the server: the cookie holds
// only an opaque secret, and ending a session ends it on every server.
type Sessions interface {
	// CreateSession starts a session for a person who proved who they
	// are, for at most lifetime, and returns the secret the cookie
	// carries and when the session ends at the latest.
	CreateSession(ctx context.Context, p auth.Principal, lifetime time.Duration) (secret string, expires time.Time, err error)
	// Authenticate admits a request's session cookie (auth.SessionCookie)
	// and nothing else; an unknown, ended or expired session is an error
	// matching ramp.ErrUnauthorized.
	auth.Authenticator
	// EndSession ends the session a secret names; an unknown one is not
	// an error.
	EndSession(ctx context.Context, secret string) error
}

// StoredSessions are sessions as rows of the control plane's database
// (admin.CreateSession), admitted by the server's authenticator
// (auth.Checker.Sessions): a session ended on one server is refused by
// every server within a poll, a session idle too long ends, and a restart
// signs nobody out.
type StoredSessions struct {
	Admin *admin.Service
	// Cookies admits a request's session cookie: the Checker's Sessions().
	Cookies auth.Authenticator
	// Idle is how long a session lasts without a request
	// (admin.DefaultSessionIdle when 0).
	Idle time.Duration
}

// CreateSession implements Sessions. Only people sign in: a personal token
// (or single sign-on) proves who they are; an API key is automation's.
func (s StoredSessions) CreateSession(ctx context.Context, p auth.Principal, lifetime time.Duration) (string, time.Time, error) {
	cs, err := s.Admin.CreateSession(ctx, admin.CreateSessionRequest{Person: p.Name, Role: string(p.Role), Approve: p.Approve,
		Via: "token", Idle: s.Idle, Lifetime: lifetime})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create a session for %s: %w", p.Name, err)
	}
	return cs.Secret, cs.ExpiresAt, nil
}

// Authenticate implements Sessions.
func (s StoredSessions) Authenticate(r *http.Request) (auth.Principal, error) {
	return s.Cookies.Authenticate(r)
}

// EndSession implements Sessions.
func (s StoredSessions) EndSession(ctx context.Context, secret string) error {
	return s.Admin.EndSession(ctx, secret)
}

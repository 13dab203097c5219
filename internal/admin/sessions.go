package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/store"
)

// Session is a dashboard session (see store.Session).
type Session = store.Session

// Sessions end when idle for DefaultSessionIdle, and DefaultSessionLifetime
// after they began whatever happens, unless asked otherwise.
const (
	DefaultSessionIdle     = 2 * time.Hour
	DefaultSessionLifetime = 12 * time.Hour
)

// CreateSessionRequest asks for a session for a person who proved who
// they are (with a personal token, or single sign-on).
type CreateSessionRequest struct {
	Person  string `json:"person"`
	Role    string `json:"role"` // RoleViewer, RoleEditor or RoleAdmin
	Approve bool   `json:"approve,omitempty"`
	// Via says how they logged in: "token" or "oidc".
	Via string `json:"via"`
	// Idle and Lifetime default to DefaultSessionIdle and
	// DefaultSessionLifetime.
	Idle     time.Duration `json:"idle,omitempty"`
	Lifetime time.Duration `json:"lifetime,omitempty"`
}

// CreatedSession is a session just created, with the secret its cookie
// holds (auth.NewSessionCookie(Secret, ExpiresAt)).
type CreatedSession struct {
	Session
	Secret string `json:"-"`
}

// CreateSession makes a dashboard session: a row on the server's side,
// whose secret goes in the __Host-ramp-session cookie. Creating one never
// bumps the configuration version (nor the credentials version: a new
// session is read when first presented).
func (s *Service) CreateSession(ctx context.Context, req CreateSessionRequest) (CreatedSession, error) {
	if err := store.ValidPerson(req.Person); err != nil {
		return CreatedSession{}, ramp.Errorf(ramp.KindInvalid, "%v", err)
	}
	if req.Role != RoleViewer && req.Role != RoleEditor && req.Role != RoleAdmin {
		return CreatedSession{}, ramp.Errorf(ramp.KindInvalid, "a session's role must be viewer, editor or admin, not %q", req.Role)
	}
	if req.Approve && req.Role == RoleViewer {
		return CreatedSession{}, ramp.Errorf(ramp.KindInvalid, "only an editor or an admin may approve")
	}
	if req.Idle <= 0 {
		req.Idle = DefaultSessionIdle
	}
	if req.Lifetime <= 0 {
		req.Lifetime = DefaultSessionLifetime
	}
	if req.Via == "" {
		req.Via = "token"
	}
	actor := Actor(ctx)
	if actor == "unknown" {
		actor = req.Person
	}
	secret, sess, err := s.db().CreateSession(ctx, store.NewSession{Person: req.Person, Role: req.Role, Approve: req.Approve,
		Via: req.Via, Idle: req.Idle, Lifetime: req.Lifetime}, actor)
	if err != nil {
		return CreatedSession{}, err
	}
	return CreatedSession{Session: sess, Secret: secret}, nil
}

// Session returns the live session whose cookie holds secret: an error
// matching ramp.ErrUnauthorized if there is none, or it ended (logged out,
// idle too long, past its lifetime). Requests are authenticated by the
// Checker's Sessions, which holds sessions in memory; this reads the
// database.
func (s *Service) Session(ctx context.Context, secret string) (Session, error) {
	sess, err := s.db().SessionByHash(ctx, sha256.Sum256([]byte(secret)))
	if errors.Is(err, ramp.ErrNotFound) {
		return Session{}, auth.ErrSessionEnded
	}
	if err != nil {
		return Session{}, err
	}
	if now := s.Now(); !now.Before(sess.Ends()) {
		return Session{}, auth.ErrSessionEnded
	}
	return sess, nil
}

// EndSession logs out: it deletes the session whose cookie holds secret,
// and every server refuses the cookie within a second. A session that does
// not exist (already ended) is not an error: logging out twice is logging
// out.
func (s *Service) EndSession(ctx context.Context, secret string) error {
	_, err := s.db().EndSession(ctx, sha256.Sum256([]byte(secret)), Actor(ctx))
	if errors.Is(err, ramp.ErrNotFound) {
		return nil
	}
	return err
}

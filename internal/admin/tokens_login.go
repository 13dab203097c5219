package admin

import (
	"context"
	"errors"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/store"
)

// One-time codes of a login in progress (single sign-on): what the login
// handler keeps between the browser's two visits, and what a CLI exchanges
// for its token. Only their hashes are stored; each is redeemed once.

// PutLoginCode keeps data under a one-time code of a kind until expires.
func (s *Service) PutLoginCode(ctx context.Context, kind, code, data string, expires time.Time) error {
	return s.db().PutCode(ctx, kind, code, data, expires)
}

// TakeLoginCode redeems a one-time code: its data, once. A code unknown,
// taken already, of another kind or expired matches ramp.ErrUnauthorized.
func (s *Service) TakeLoginCode(ctx context.Context, kind, code string) (string, error) {
	data, err := s.db().TakeCode(ctx, kind, code)
	if errors.Is(err, ramp.ErrNotFound) {
		return "", &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "unknown, used or expired login code: log in again"}
	}
	return data, err
}

// NewLoginCode makes a random one-time code.
func NewLoginCode() (string, error) { return store.NewCode() }

// IssueLoginToken makes a personal token for a person who has just proved
// who they are through single sign-on (ramp login): the person is its
// actor, and no principal's permission is asked. Its role and capability
// come from the login's role map; it expires after lifetime (at most
// MaxTokenLifetime).
func (s *Service) IssueLoginToken(ctx context.Context, person, role string, approve bool, lifetime time.Duration, note string) (CreatedToken, error) {
	if lifetime <= 0 || lifetime > MaxTokenLifetime {
		lifetime = DefaultTokenLifetime
	}
	req := CreateTokenRequest{Person: person, Role: role, Approve: approve, Expires: s.Now().Add(lifetime), Note: note}
	if err := s.checkTokenRequest(req); err != nil {
		return CreatedToken{}, err
	}
	return s.createToken(WithActor(ctx, person), req, "login")
}

package admin

import (
	"context"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/store"
)

// Token describes a personal token, never its secret (see store.Token).
type Token = store.Token

// TokenFilter selects personal tokens: a person's (everyone's when empty),
// the revoked ones too with All.
type TokenFilter = store.TokenFilter

// Personal tokens expire: DefaultTokenLifetime after their creation unless
// asked otherwise, MaxTokenLifetime at the latest.
const (
	DefaultTokenLifetime = 90 * 24 * time.Hour
	MaxTokenLifetime     = 366 * 24 * time.Hour
)

// CreateTokenRequest asks for a personal token.
type CreateTokenRequest struct {
	// Person is who the token acts for: the audit log's actor.
	Person string `json:"person"`
	// Role is RoleViewer, RoleEditor or RoleAdmin.
	Role string `json:"role"`
	// Approve grants the capability to approve rollout stages (an editor
	// or an admin only).
	Approve bool `json:"approve,omitempty"`
	// Expires is when the token stops working: zero for
	// DefaultTokenLifetime from now, at most MaxTokenLifetime from now.
	Expires time.Time `json:"expires,omitzero"`
	// Note says what the token is for ("laptop", "release train").
	Note string `json:"note,omitempty"`
}

// CreatedToken is a personal token just created, with its secret: shown
// this once, as only its hash is stored.
type CreatedToken struct {
	Token
	Secret string `json:"secret"`
}

// CreateToken makes a personal token for a person and returns it with its
// secret. With a principal in ctx, it must be an admin, and hold the
// approve capability to grant it. Creating a token never bumps the
// configuration version.
func (s *Service) CreateToken(ctx context.Context, req CreateTokenRequest) (CreatedToken, error) {
	if err := s.checkTokenRequest(req); err != nil {
		return CreatedToken{}, err
	}
	if err := s.mayGrant(ctx, req.Approve); err != nil {
		return CreatedToken{}, err
	}
	return s.createToken(ctx, req, "admin")
}

func (s *Service) checkTokenRequest(req CreateTokenRequest) error {
	if err := store.ValidPerson(req.Person); err != nil {
		return ramp.Errorf(ramp.KindInvalid, "%v", err)
	}
	if req.Role != RoleViewer && req.Role != RoleEditor && req.Role != RoleAdmin {
		return ramp.Errorf(ramp.KindInvalid, "a personal token's role must be viewer, editor or admin, not %q", req.Role)
	}
	if req.Approve && req.Role == RoleViewer {
		return ramp.Errorf(ramp.KindInvalid, "only an editor or an admin may approve: a viewer token may not")
	}
	if !req.Expires.IsZero() && req.Expires.After(s.Now().Add(MaxTokenLifetime)) {
		return ramp.Errorf(ramp.KindInvalid, "a personal token lives at most %d days", int(MaxTokenLifetime/(24*time.Hour)))
	}
	return nil
}

// createToken makes a token from a checked request.
func (s *Service) createToken(ctx context.Context, req CreateTokenRequest, source string) (CreatedToken, error) {
	expires, err := s.expiry(req.Expires, DefaultTokenLifetime)
	if err != nil {
		return CreatedToken{}, err
	}
	secret, t, err := s.db().CreateToken(ctx, store.NewToken{Person: req.Person, Role: req.Role, Approve: req.Approve,
		Note: req.Note, Source: source, ExpiresAt: expires}, Actor(ctx))
	if err != nil {
		return CreatedToken{}, err
	}
	return CreatedToken{Token: t, Secret: secret}, nil
}

// Tokens lists personal tokens, oldest first. With a principal in ctx, an
// admin sees everyone's; anyone else only their own.
func (s *Service) Tokens(ctx context.Context, f TokenFilter) ([]Token, error) {
	if p, ok := auth.FromContext(ctx); ok && !p.May(auth.Administer) {
		if p.Kind == auth.KindKey {
			return nil, auth.Forbidden(p, auth.Administer)
		}
		f.Person = p.Name
	}
	return s.db().Tokens(ctx, f)
}

// RevokeToken revokes the active personal token with this id and returns
// it: every server refuses it within a second. An unknown id, or one
// already revoked, is not found. With a principal in ctx, it must be an
// admin or the token's person (who may revoke their own, as ramp logout
// does).
func (s *Service) RevokeToken(ctx context.Context, id string) (Token, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return Token{}, ramp.Errorf(ramp.KindInvalid, "a token's id is a positive number, not %q", id)
	}
	if p, ok := auth.FromContext(ctx); ok && !p.May(auth.Administer) {
		mine, err := s.db().Tokens(ctx, TokenFilter{Person: p.Name})
		if err != nil {
			return Token{}, err
		}
		owned := false
		for _, t := range mine {
			owned = owned || (t.ID == n && p.Kind != auth.KindKey)
		}
		if !owned {
			return Token{}, auth.Forbidden(p, auth.Administer)
		}
	}
	return s.db().RevokeToken(ctx, n, Actor(ctx))
}

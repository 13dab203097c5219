package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/store"
)

// Roles a credential may have (see auth.Role for what each may do): keys
// may have any, personal tokens and sessions any but sdk.
const (
	RoleSDK    = store.RoleSDK
	RoleViewer = store.RoleViewer
	RoleEditor = store.RoleEditor
	RoleAdmin  = store.RoleAdmin
)

// Key describes an API key, never its secret (see store.Key).
type Key = store.Key

// KeyHash is an active key as servers hold it: its secret's SHA-256, name
// and role.
type KeyHash = store.KeyHash

// CreateKeyRequest asks for a new API key.
type CreateKeyRequest struct {
	// Name is unique among active keys: the service that uses it, say.
	Name string `json:"name"`
	// Role is RoleSDK, RoleViewer, RoleEditor or RoleAdmin.
	Role string `json:"role"`
	// Approve grants the capability to approve rollout stages (an editor
	// or an admin only).
	Approve bool `json:"approve,omitempty"`
	// Expires is when the key stops working; zero for never.
	Expires time.Time `json:"expires,omitzero"`
}

// CreatedKey is a key just created, with its secret: shown this once, as
// only its hash is stored.
type CreatedKey struct {
	Key
	Secret string `json:"secret"`
}

// CreateKey makes an API key and returns it with its secret. An unknown
// role, an empty name, the approve capability for an sdk or viewer key, or
// an expiry in the past is invalid; a name an active key already has is a
// conflict. With a principal in ctx (auth.WithPrincipal), it must be an
// admin, and holding the approve capability to grant it. Creating a key
// never bumps the configuration version.
func (s *Service) CreateKey(ctx context.Context, req CreateKeyRequest) (CreatedKey, error) {
	if _, err := auth.ParseRole(req.Role); err != nil {
		return CreatedKey{}, ramp.Errorf(ramp.KindInvalid, "a key's role must be sdk, viewer, editor or admin, not %q", req.Role)
	}
	if strings.TrimSpace(req.Name) == "" {
		return CreatedKey{}, ramp.Errorf(ramp.KindInvalid, "a key needs a name")
	}
	if req.Approve && req.Role != RoleEditor && req.Role != RoleAdmin {
		return CreatedKey{}, ramp.Errorf(ramp.KindInvalid, "only an editor or an admin may approve: a %s key may not", req.Role)
	}
	if err := s.mayGrant(ctx, req.Approve); err != nil {
		return CreatedKey{}, err
	}
	expires, err := s.expiry(req.Expires, 0)
	if err != nil {
		return CreatedKey{}, err
	}
	secret, k, err := s.db().CreateKeyWith(ctx, store.NewKey{Name: req.Name, Role: req.Role, Approve: req.Approve, ExpiresAt: expires}, Actor(ctx))
	if err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{Key: k, Secret: secret}, nil
}

// Keys lists the API keys, oldest first: the active ones, and with all the
// revoked ones too. With a principal in ctx, it must be an admin.
func (s *Service) Keys(ctx context.Context, all bool) ([]Key, error) {
	if err := require(ctx, auth.Administer); err != nil {
		return nil, err
	}
	keys, err := s.db().Keys(ctx)
	if err != nil {
		return nil, err
	}
	shown := make([]Key, 0, len(keys))
	for _, k := range keys {
		if all || k.Active() {
			shown = append(shown, k)
		}
	}
	return shown, nil
}

// RevokeKey revokes the active key with this name and returns it: every
// server refuses it within a second. An unknown name is not found. With a
// principal in ctx, it must be an admin.
func (s *Service) RevokeKey(ctx context.Context, name string) (Key, error) {
	if err := require(ctx, auth.Administer); err != nil {
		return Key{}, err
	}
	return s.db().RevokeKey(ctx, name, Actor(ctx))
}

// ActiveKeys returns the hashes of the keys not revoked.
func (s *Service) ActiveKeys(ctx context.Context) ([]KeyHash, error) {
	return s.db().ActiveKeys(ctx)
}

// require checks that the principal in ctx, if there is one, holds a
// permission. Without a principal (the CLI on a database it holds the
// credentials of) everything is allowed.
func require(ctx context.Context, perm auth.Permission) error {
	p, ok := auth.FromContext(ctx)
	if !ok || p.May(perm) {
		return nil
	}
	return auth.Forbidden(p, perm)
}

// mayGrant checks that the principal in ctx may create credentials, and,
// when approve is asked for, holds that capability itself: nobody grants
// what they do not have.
func (s *Service) mayGrant(ctx context.Context, approve bool) error {
	if err := require(ctx, auth.Administer); err != nil {
		return err
	}
	if p, ok := auth.FromContext(ctx); ok && approve && !p.Approve {
		return &ramp.Error{Kind: ramp.KindForbidden,
			Msg: fmt.Sprintf("%s %q may not grant the approve capability, which it does not hold", p.Kind, p.Name)}
	}
	return nil
}

// expiry checks an expiry: zero is def from now (or never when def is
// zero); a time not in the future is invalid.
func (s *Service) expiry(t time.Time, def time.Duration) (*time.Time, error) {
	now := s.Now()
	if t.IsZero() {
		if def == 0 {
			return nil, nil
		}
		t = now.Add(def)
	}
	if !t.After(now) {
		return nil, ramp.Errorf(ramp.KindInvalid, "the expiry %s is not in the future", t.UTC().Format(time.RFC3339))
	}
	return &t, nil
}

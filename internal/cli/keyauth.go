package cli

import (
	"context"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/server"
)

// keyAuth is ramp serve's Authenticator: the control plane's Keyring,
// refreshed by the server on every configuration version, with its
// holders and refusals in the server's terms.
type keyAuth struct{ ring *admin.Keyring }

func newKeyAuth(ctx context.Context, a *admin.Service) (*keyAuth, error) {
	ring, err := a.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	return &keyAuth{ring: ring}, nil
}

// Refresh reloads the active keys.
func (k *keyAuth) Refresh(ctx context.Context, version int64) error {
	return k.ring.Refresh(ctx, version)
}

// Authenticate checks a secret (in constant time, see admin.Keyring.Check).
func (k *keyAuth) Authenticate(ctx context.Context, secret string) (server.Principal, error) {
	h, err := k.ring.Check(ctx, secret)
	if err != nil {
		if err == admin.ErrUnknownKey {
			return server.Principal{}, server.ErrUnknownKey
		}
		return server.Principal{}, err
	}
	return server.Principal{Name: h.Name, Role: h.Role, KeyID: h.KeyID}, nil
}

// Active reports whether the key a principal was admitted with is still
// active as of the last Refresh: the server ends the event streams, and
// refuses the stream tokens, of keys that are not.
func (k *keyAuth) Active(p server.Principal) bool {
	return k.ring.Active(admin.KeyHolder{Name: p.Name, Role: p.Role, KeyID: p.KeyID})
}

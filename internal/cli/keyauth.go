package cli

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sync/atomic"

	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/store"
)

// keyCache authenticates requests against the store's active keys, held in
// memory and reloaded whenever the configuration version changes (creating
// or revoking a key bumps it), so a revoked key is refused within one poll
// interval and no request waits on the database.
type keyCache struct {
	store *store.Store
	keys  atomic.Pointer[[]store.KeyHash]
}

func newKeyCache(ctx context.Context, s *store.Store) (*keyCache, error) {
	c := &keyCache{store: s}
	if err := c.Refresh(ctx, 0); err != nil {
		return nil, err
	}
	return c, nil
}

// Refresh reloads the active keys.
func (c *keyCache) Refresh(ctx context.Context, _ int64) error {
	keys, err := c.store.ActiveKeys(ctx)
	if err != nil {
		return fmt.Errorf("load API keys: %w", err)
	}
	c.keys.Store(&keys)
	return nil
}

// Authenticate hashes the secret and compares the hash with every active
// key's, in constant time and without stopping at a match, so the time
// taken says nothing about which key, if any, is close.
func (c *keyCache) Authenticate(_ context.Context, secret string) (server.Principal, error) {
	sum := sha256.Sum256([]byte(secret))
	var found store.KeyHash
	match := 0
	for _, k := range *c.keys.Load() {
		if subtle.ConstantTimeCompare(sum[:], k.Hash[:]) == 1 {
			found, match = k, 1
		}
	}
	if match == 0 {
		return server.Principal{}, server.ErrUnknownKey
	}
	return server.Principal{Name: found.Name, Role: found.Role}, nil
}

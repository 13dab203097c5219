package cli

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash/maphash"
	"sync"
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
	set   atomic.Pointer[keySet]
}

// keySet is one load of the active keys, and the secrets found among them
// since: a client sends the same secret with every request, and hashing it
// each time is most of the cost of checking it. Refresh replaces the whole
// set, so a revoked key's secret is forgotten with it.
type keySet struct {
	keys []store.KeyHash
	// matched holds the secrets that matched a key, by their hash under
	// seed (maphash: fast, and keyed, so clients cannot aim collisions):
	// uint64 → *matchedSecret. Secrets that match nothing are never
	// stored, so it holds at most one entry per active key whatever
	// clients send.
	seed    maphash.Seed
	matched sync.Map
}

type matchedSecret struct {
	secret    []byte
	principal server.Principal
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
	c.set.Store(&keySet{keys: keys, seed: maphash.MakeSeed()})
	return nil
}

// Authenticate checks a secret in constant time. A secret seen before in
// this set of keys is compared with the remembered one (constant-time, over
// the whole secret); any other is hashed and the hash compared with every
// active key's, without stopping at a match, so the time taken says
// nothing about which key, if any, is close.
func (c *keyCache) Authenticate(_ context.Context, secret string) (server.Principal, error) {
	set := c.set.Load()
	h := maphash.String(set.seed, secret)
	var buf [64]byte // secrets are ~41 bytes: no allocation
	got := append(buf[:0], secret...)
	if m, ok := set.matched.Load(h); ok {
		if m := m.(*matchedSecret); subtle.ConstantTimeCompare(m.secret, got) == 1 {
			return m.principal, nil
		}
	}
	sum := sha256.Sum256(got)
	var found store.KeyHash
	match := 0
	for _, k := range set.keys {
		if subtle.ConstantTimeCompare(sum[:], k.Hash[:]) == 1 {
			found, match = k, 1
		}
	}
	if match == 0 {
		return server.Principal{}, server.ErrUnknownKey
	}
	p := server.Principal{Name: found.Name, Role: found.Role}
	set.matched.Store(h, &matchedSecret{secret: []byte(secret), principal: p})
	return p, nil
}

package cli

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
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
	keys []activeKey
	// byID holds the same keys by Principal.KeyID, for Active.
	byID map[string]server.Principal
	// matched holds the secrets that matched a key, by their hash under
	// seed (maphash: fast, and keyed, so clients cannot aim collisions):
	// uint64 → *matchedSecret. Secrets that match nothing are never
	// stored, so it holds at most one entry per active key whatever
	// clients send.
	seed    maphash.Seed
	matched sync.Map
}

// activeKey is one active key: the hash of its secret and whom it admits.
type activeKey struct {
	hash      [sha256.Size]byte
	principal server.Principal
}

// keyID names a key for Principal.KeyID: 96 bits of a hash of the stored
// hash, so that event-stream URLs, which carry it, show nothing of what is
// stored; a new key under a revoked key's name has another.
func keyID(hash [sha256.Size]byte) string {
	sum := sha256.Sum256(append([]byte("ramp key id\x00"), hash[:]...))
	return hex.EncodeToString(sum[:12])
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
	set := &keySet{keys: make([]activeKey, len(keys)), byID: make(map[string]server.Principal, len(keys)), seed: maphash.MakeSeed()}
	for i, k := range keys {
		p := server.Principal{Name: k.Name, Role: k.Role, KeyID: keyID(k.Hash)}
		set.keys[i] = activeKey{hash: k.Hash, principal: p}
		set.byID[p.KeyID] = p
	}
	c.set.Store(set)
	return nil
}

// Active reports whether the key a principal was admitted with is among the
// active keys of the last Refresh: the server asks it to end the event
// streams, and refuse the stream tokens, of revoked keys.
func (c *keyCache) Active(p server.Principal) bool {
	got, ok := c.set.Load().byID[p.KeyID]
	return ok && got == p
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
	var p server.Principal
	match := 0
	for _, k := range set.keys {
		if subtle.ConstantTimeCompare(sum[:], k.hash[:]) == 1 {
			p, match = k.principal, 1
		}
	}
	if match == 0 {
		return server.Principal{}, server.ErrUnknownKey
	}
	set.matched.Store(h, &matchedSecret{secret: []byte(secret), principal: p})
	return p, nil
}

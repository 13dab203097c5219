package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/store"
)

// Key roles: an sdk key may ask for decisions and read the snapshot feed;
// an admin key may do everything.
const (
	RoleSDK   = store.RoleSDK
	RoleAdmin = store.RoleAdmin
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
	// Role is RoleSDK or RoleAdmin.
	Role string `json:"role"`
}

// CreatedKey is a key just created, with its secret: shown this once, as
// only its hash is stored.
type CreatedKey struct {
	Key
	Secret string `json:"secret"`
}

// CreateKey makes an API key and returns it with its secret. An unknown
// role or an empty name is invalid; a name an active key already has is a
// conflict.
func (s *Service) CreateKey(ctx context.Context, req CreateKeyRequest) (CreatedKey, error) {
	if req.Role != RoleSDK && req.Role != RoleAdmin {
		return CreatedKey{}, ramp.Errorf(ramp.KindInvalid, "a key's role must be %s or %s, not %q", RoleSDK, RoleAdmin, req.Role)
	}
	if strings.TrimSpace(req.Name) == "" {
		return CreatedKey{}, ramp.Errorf(ramp.KindInvalid, "a key needs a name")
	}
	secret, k, err := s.db().CreateKey(ctx, req.Name, req.Role, Actor(ctx))
	if err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{Key: k, Secret: secret}, nil
}

// Keys lists the API keys, oldest first: the active ones, and with all the
// revoked ones too.
func (s *Service) Keys(ctx context.Context, all bool) ([]Key, error) {
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

// RevokeKey revokes the active key with this name and returns it: servers
// refuse it from their next reload (within a poll interval). An unknown
// name is not found.
func (s *Service) RevokeKey(ctx context.Context, name string) (Key, error) {
	return s.db().RevokeKey(ctx, name, Actor(ctx))
}

// ActiveKeys returns the hashes of the keys not revoked, for servers to
// authenticate requests against.
func (s *Service) ActiveKeys(ctx context.Context) ([]KeyHash, error) {
	return s.db().ActiveKeys(ctx)
}

// KeyHolder is who presented a valid secret.
type KeyHolder struct {
	Name string // the key's name
	Role string // RoleSDK or RoleAdmin
	// KeyID names the key itself, not its holder: a key created under the
	// name of a revoked one has another. It is derived from the stored
	// hash (96 bits of a hash of it), never the secret, so it may appear
	// in logs and event-stream URLs.
	KeyID string
}

// keyID derives a KeyHolder's KeyID from a key's hash.
func keyID(hash [sha256.Size]byte) string {
	sum := sha256.Sum256(append([]byte("ramp key id\x00"), hash[:]...))
	return hex.EncodeToString(sum[:12])
}

// ErrUnknownKey is what Keyring.Check returns for a secret that matches no
// active key. It matches ramp.ErrUnauthorized.
var ErrUnknownKey error = &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "unknown API key"}

// Keyring checks API keys' secrets against the active keys, held in memory
// and reloaded by Refresh (ramp serve calls it whenever the configuration
// version changes: creating or revoking a key bumps it), so that no check
// waits on the database and a revoked key is refused from the next
// Refresh on. It is safe for concurrent use.
type Keyring struct {
	keys interface {
		ActiveKeys(context.Context) ([]KeyHash, error)
	}
	set atomic.Pointer[keySet]
}

// keySet is one load of the active keys, and the secrets found among them
// since: a client sends the same secret with every request, and hashing it
// each time is most of the cost of checking it. Refresh replaces the whole
// set, so a revoked key's secret is forgotten with it.
type keySet struct {
	keys []activeKey
	// byID holds the same keys' holders by KeyID, for Active.
	byID map[string]KeyHolder
	// matched holds the secrets that matched a key, by their hash under
	// seed (maphash: fast, and keyed, so clients cannot aim collisions):
	// uint64 → *matchedSecret. Secrets that match nothing are never
	// stored, so it holds at most one entry per active key whatever
	// clients send.
	seed    maphash.Seed
	matched sync.Map
}

// activeKey is one active key: the hash of its secret and its holder.
type activeKey struct {
	hash   [sha256.Size]byte
	holder KeyHolder
}

type matchedSecret struct {
	secret []byte
	holder KeyHolder
}

// Keyring loads the active keys into a Keyring.
func (s *Service) Keyring(ctx context.Context) (*Keyring, error) {
	k := &Keyring{keys: s}
	if err := k.Refresh(ctx, 0); err != nil {
		return nil, err
	}
	return k, nil
}

// Refresh reloads the active keys. The version is the configuration
// version that prompted it (unused: any change reloads).
func (k *Keyring) Refresh(ctx context.Context, _ int64) error {
	keys, err := k.keys.ActiveKeys(ctx)
	if err != nil {
		return fmt.Errorf("load API keys: %w", err)
	}
	set := &keySet{keys: make([]activeKey, len(keys)), byID: make(map[string]KeyHolder, len(keys)), seed: maphash.MakeSeed()}
	for i, key := range keys {
		h := KeyHolder{Name: key.Name, Role: key.Role, KeyID: keyID(key.Hash)}
		set.keys[i] = activeKey{hash: key.Hash, holder: h}
		set.byID[h.KeyID] = h
	}
	k.set.Store(set)
	return nil
}

// Active reports whether the key a holder was admitted with is among the
// active keys of the last Refresh: servers ask it to end the event streams,
// and refuse the stream tokens, of revoked keys.
func (k *Keyring) Active(h KeyHolder) bool {
	got, ok := k.set.Load().byID[h.KeyID]
	return ok && got == h
}

// Check returns who holds secret, or ErrUnknownKey. It runs in constant
// time: a secret seen before in this load of the keys is compared with the
// remembered one over its whole length; any other is hashed and the hash
// compared with every active key's, without stopping at a match, so the
// time taken says nothing about which key, if any, is close. A secret
// seen before costs no allocation.
func (k *Keyring) Check(_ context.Context, secret string) (KeyHolder, error) {
	set := k.set.Load()
	h := maphash.String(set.seed, secret)
	var buf [64]byte // secrets are ~41 bytes: no allocation
	got := append(buf[:0], secret...)
	if m, ok := set.matched.Load(h); ok {
		if m := m.(*matchedSecret); subtle.ConstantTimeCompare(m.secret, got) == 1 {
			return m.holder, nil
		}
	}
	sum := sha256.Sum256(got)
	var holder KeyHolder
	match := 0
	for _, key := range set.keys {
		if subtle.ConstantTimeCompare(sum[:], key.hash[:]) == 1 {
			holder, match = key.holder, 1
		}
	}
	if match == 0 {
		return KeyHolder{}, ErrUnknownKey
	}
	set.matched.Store(h, &matchedSecret{secret: []byte(secret), holder: holder})
	return holder, nil
}

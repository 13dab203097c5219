package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Credential roles (see internal/auth, which says what each may do): an
// sdk credential may ask for decisions and read the snapshot feed, a
// viewer may read everything, an editor change it, an admin manage
// credentials too.
const (
	RoleSDK    = "sdk"
	RoleViewer = "viewer"
	RoleEditor = "editor"
	RoleAdmin  = "admin"
)

// knownRole reports whether role is one of the roles above.
func knownRole(role string) bool {
	switch role {
	case RoleSDK, RoleViewer, RoleEditor, RoleAdmin:
		return true
	}
	return false
}

// Key describes an API key, a credential for automation. The secret itself
// is shown once, at creation, and never stored: the store keeps its SHA-256
// hash.
type Key struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	// Approve is the capability to approve rollout stages.
	Approve   bool      `json:"approve,omitempty"`
	Prefix    string    `json:"prefix"` // the secret's first characters, to recognise it
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	// ExpiresAt is when the key stops working; nil for never.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// LastUsedAt is when a server last admitted the key, as servers
	// record it (in batches: up to a minute late); nil if never.
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	RevokedBy  string     `json:"revokedBy,omitempty"`
}

// Active reports whether the key has not been revoked (it may have
// expired: see Expired).
func (k *Key) Active() bool { return k.RevokedAt == nil }

// Expired reports whether the key has expired at now.
func (k *Key) Expired(now time.Time) bool { return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) }

// NewKey asks for a key: see CreateKeyWith.
type NewKey struct {
	Name    string
	Role    string // RoleSDK, RoleViewer, RoleEditor or RoleAdmin
	Approve bool   // only for RoleEditor and RoleAdmin
	// ExpiresAt is when the key stops working; nil for never.
	ExpiresAt *time.Time
}

// KeyHash is an active key as servers hold it to authenticate requests.
type KeyHash struct {
	Hash [sha256.Size]byte
	Name string
	Role string
}

type keyRow struct {
	ID         int64 `gorm:"primaryKey"`
	Name       string
	Role       string
	Approve    bool
	Prefix     string
	Hash       string
	CreatedAt  time.Time
	CreatedBy  string
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	RevokedBy  string
}

func (keyRow) TableName() string { return "api_keys" }

func (r *keyRow) key() Key {
	return Key{ID: r.ID, Name: r.Name, Role: r.Role, Approve: r.Approve, Prefix: r.Prefix, CreatedAt: r.CreatedAt.UTC(),
		CreatedBy: r.CreatedBy, ExpiresAt: utcPtr(r.ExpiresAt), LastUsedAt: utcPtr(r.LastUsedAt),
		RevokedAt: utcPtr(r.RevokedAt), RevokedBy: r.RevokedBy}
}

// utcPtr returns t in UTC (nil stays nil).
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// migrate2 adds API keys.
func migrate2(tx *gorm.DB, d *dialect) error {
	return exec(tx,
		fmt.Sprintf(`CREATE TABLE api_keys (
			id %[1]s,
			name %[2]s NOT NULL,
			role TEXT NOT NULL,
			prefix TEXT NOT NULL,
			hash TEXT NOT NULL UNIQUE,
			created_at %[3]s NOT NULL,
			created_by TEXT NOT NULL,
			revoked_at %[3]s,
			revoked_by TEXT NOT NULL DEFAULT ''
		)`, d.serial, d.text, d.timestamp),
		// One active key per name, even when two replicas create at once.
		`CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL`,
	)
}

// KeyExistsError reports an active key with the name asked for. It
// matches ErrConflict.
type KeyExistsError struct{ Name string }

func (e *KeyExistsError) Error() string {
	return fmt.Sprintf("an active key named %q already exists: revoke it or choose another name", e.Name)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *KeyExistsError) Is(target error) bool { return target == ErrConflict }

// HashSecret returns the hash under which a key's secret is stored.
func HashSecret(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// Prefixes of the secrets ramp makes, so that a leaked one is recognisable
// (by people, and by secret scanners): what follows is 160 random bits in
// lower-case base32. Keys made before personal tokens existed begin with
// "ramp_sdk_" or "ramp_admin_" and keep working.
const (
	KeyPrefix     = "ramp_key_"
	TokenPrefix   = "ramp_pat_"
	SessionPrefix = "ramp_ses_"
)

// newSecret makes a secret such as "ramp_key_5t3q…": prefix, then 160
// random bits.
func newSecret(prefix string) (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate a secret: %w", err)
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// secretPrefix is what is stored of a secret to recognise it: its prefix
// and 5 characters of its random part (25 bits, which leave 135 unknown).
func secretPrefix(prefix, secret string) string { return secret[:len(prefix)+5] }

// CreateKey makes a key with a role and a name unique among active keys,
// without the approve capability or an expiry: see CreateKeyWith.
func (s *Store) CreateKey(ctx context.Context, name, role, actor string) (string, Key, error) {
	return s.CreateKeyWith(ctx, NewKey{Name: name, Role: role}, actor)
}

// CreateKeyWith makes a key and returns its secret, which is not stored
// and cannot be shown again. The name must be unique among active keys.
// Creating a key bumps the credentials version (servers load it within
// their poll), never the configuration version: no provider re-downloads
// a snapshot for it.
func (s *Store) CreateKeyWith(ctx context.Context, k NewKey, actor string) (string, Key, error) {
	name, role := k.Name, k.Role
	if !knownRole(role) {
		return "", Key{}, fmt.Errorf("create key: unknown role %q (want sdk, viewer, editor or admin)", role)
	}
	if k.Approve && role != RoleEditor && role != RoleAdmin {
		return "", Key{}, fmt.Errorf("create key: only an editor or an admin may approve, not a %s", role)
	}
	if strings.TrimSpace(name) == "" {
		return "", Key{}, fmt.Errorf("create key: a name is required")
	}
	secret, err := newSecret(KeyPrefix)
	if err != nil {
		return "", Key{}, err
	}
	sum := HashSecret(secret)
	var out Key
	err = s.write(ctx, "create key", actor, func(w *writeTx) error {
		var n int64
		if err := w.db.Model(&keyRow{}).Where("name = ? AND revoked_at IS NULL", name).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return &KeyExistsError{Name: name}
		}
		row := keyRow{Name: name, Role: role, Approve: k.Approve, Prefix: secretPrefix(KeyPrefix, secret), Hash: hex.EncodeToString(sum[:]),
			CreatedAt: w.now, CreatedBy: w.actor, ExpiresAt: truncPtr(k.ExpiresAt)}
		if err := w.db.SavePoint("create_key").Error; err != nil {
			return err
		}
		if err := w.db.Create(&row).Error; err != nil {
			// A concurrent creation with the same name trips the unique
			// index: say so rather than surface the driver's error (after
			// rolling back to the savepoint, as Postgres requires).
			if rerr := w.db.RollbackTo("create_key").Error; rerr != nil {
				return err
			}
			var again int64
			if w.db.Model(&keyRow{}).Where("name = ? AND revoked_at IS NULL", name).Count(&again).Error == nil && again > 0 {
				return &KeyExistsError{Name: name}
			}
			return err
		}
		out = row.key()
		if err := w.bumpCredentials(); err != nil {
			return err
		}
		return w.recordInert("key.create", "key", name, nil, out)
	})
	if err != nil {
		return "", Key{}, err
	}
	return secret, out, nil
}

// truncPtr returns t in UTC at the microsecond precision every database
// keeps (nil stays nil).
func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// Keys lists every key, revoked ones included, oldest first.
func (s *Store) Keys(ctx context.Context) ([]Key, error) {
	var rows []keyRow
	err := s.read(ctx, "list keys", func(db *gorm.DB) error {
		return db.Order("id").Find(&rows).Error
	})
	if err != nil {
		return nil, err
	}
	out := make([]Key, len(rows))
	for i := range rows {
		out[i] = rows[i].key()
	}
	return out, nil
}

// ActiveKeys returns the hashes of the keys that are not revoked, for
// servers to authenticate requests against.
func (s *Store) ActiveKeys(ctx context.Context) ([]KeyHash, error) {
	var rows []keyRow
	err := s.read(ctx, "load keys", func(db *gorm.DB) error {
		return db.Where("revoked_at IS NULL").Find(&rows).Error
	})
	if err != nil {
		return nil, err
	}
	out := make([]KeyHash, 0, len(rows))
	for _, r := range rows {
		var kh KeyHash
		b, err := hex.DecodeString(r.Hash)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("load keys: key %q has a malformed hash", r.Name)
		}
		copy(kh.Hash[:], b)
		kh.Name, kh.Role = r.Name, r.Role
		out = append(out, kh)
	}
	return out, nil
}

// RevokeKey revokes the active key with this name. It bumps the
// credentials version, not the configuration's: servers stop accepting the
// key within their poll of it.
func (s *Store) RevokeKey(ctx context.Context, name, actor string) (Key, error) {
	var out Key
	err := s.write(ctx, "revoke key", actor, func(w *writeTx) error {
		var row keyRow
		err := w.db.Where("name = ? AND revoked_at IS NULL", name).First(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return &NotFoundError{Kind: "key", Key: name}
		}
		if err != nil {
			return err
		}
		before := row.key()
		now := w.now
		res := w.db.Model(&keyRow{}).Where("id = ? AND revoked_at IS NULL", row.ID).
			Updates(map[string]any{"revoked_at": now, "revoked_by": w.actor})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return &NotFoundError{Kind: "key", Key: name} // revoked meanwhile
		}
		row.RevokedAt, row.RevokedBy = &now, w.actor
		out = row.key()
		if err := w.bumpCredentials(); err != nil {
			return err
		}
		return w.recordInert("key.revoke", "key", name, before, out)
	})
	return out, err
}

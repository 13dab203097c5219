package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"
)

// Credentials (API keys, personal tokens, dashboard sessions) change under
// a version of their own, the credentials version, kept beside the
// configuration's in config_state. Creating or revoking one bumps it, and
// servers poll it to reload the credentials they hold; the configuration
// version, which makes every provider download the snapshot again, is left
// alone. The audit entries of credentials are recorded as inert for the
// same reason (writeTx.recordInert).

// migrateCredentials gives keys the roles of people (viewer, editor), the
// approve capability, an expiry and a last-used time; adds personal tokens,
// dashboard sessions and the one-time codes and pending logins of single
// sign-on; and the credentials version. Each part is made only when
// missing, so that the migration runs again on a database taken back to an
// earlier schema version by hand (as the migration tests do).
func migrateCredentials(tx *gorm.DB, d *dialect) error {
	for _, c := range []struct{ table, name, def string }{
		{"config_state", "credentials_version", "BIGINT NOT NULL DEFAULT 0"},
		{"api_keys", "approve", "BOOLEAN NOT NULL DEFAULT FALSE"},
		{"api_keys", "expires_at", d.timestamp},
		{"api_keys", "last_used_at", d.timestamp},
	} {
		if tx.Migrator().HasColumn(c.table, c.name) {
			continue
		}
		if err := exec(tx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", c.table, c.name, c.def)); err != nil {
			return err
		}
	}
	return exec(tx,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS personal_tokens (
			id %[1]s,
			person %[2]s NOT NULL,
			role TEXT NOT NULL,
			approve BOOLEAN NOT NULL DEFAULT FALSE,
			note TEXT NOT NULL DEFAULT '',
			source TEXT NOT NULL DEFAULT 'admin',
			prefix TEXT NOT NULL,
			hash TEXT NOT NULL UNIQUE,
			created_at %[3]s NOT NULL,
			created_by TEXT NOT NULL,
			expires_at %[3]s,
			last_used_at %[3]s,
			revoked_at %[3]s,
			revoked_by TEXT NOT NULL DEFAULT ''
		)`, d.serial, d.text, d.timestamp),
		`CREATE INDEX IF NOT EXISTS personal_tokens_person ON personal_tokens (person)`,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS sessions (
			id %[1]s,
			hash TEXT NOT NULL UNIQUE,
			person %[2]s NOT NULL,
			role TEXT NOT NULL,
			approve BOOLEAN NOT NULL DEFAULT FALSE,
			via TEXT NOT NULL,
			created_at %[3]s NOT NULL,
			last_seen_at %[3]s NOT NULL,
			idle_seconds BIGINT NOT NULL,
			expires_at %[3]s NOT NULL
		)`, d.serial, d.text, d.timestamp),
		`CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at)`,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS login_codes (
			hash TEXT PRIMARY KEY,
			kind TEXT NOT NULL,
			data TEXT NOT NULL,
			expires_at %[1]s NOT NULL
		)`, d.timestamp),
		`CREATE INDEX IF NOT EXISTS login_codes_expires ON login_codes (expires_at)`,
	)
}

// bumpCredentials bumps the credentials version in the write's
// transaction, so that servers reload their credentials.
func (w *writeTx) bumpCredentials() error {
	if err := w.db.Exec("UPDATE config_state SET credentials_version = credentials_version + 1 WHERE id = 1").Error; err != nil {
		return fmt.Errorf("bump credentials version: %w", err)
	}
	return nil
}

// CredentialsVersion returns the credentials version: one primary-key read
// of one row, which servers poll several times a second.
func (s *Store) CredentialsVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.r.WithContext(ctx).Raw("SELECT credentials_version FROM config_state WHERE id = 1").Row().Scan(&v)
	return v, s.wrap("read credentials version", err)
}

// Token is a personal token: a credential that belongs to a person, used
// at the CLI or by the admin API. Like a key's, its secret is shown once
// and only its SHA-256 hash is stored.
type Token struct {
	ID     int64  `json:"id"`
	Person string `json:"person"`
	Role   string `json:"role"` // RoleViewer, RoleEditor or RoleAdmin
	// Approve is the capability to approve rollout stages.
	Approve bool   `json:"approve,omitempty"`
	Note    string `json:"note,omitempty"`
	// Source says how the token was made: "admin" (created by an admin)
	// or "login" (by single sign-on, ramp login).
	Source     string     `json:"source"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"createdAt"`
	CreatedBy  string     `json:"createdBy"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	RevokedBy  string     `json:"revokedBy,omitempty"`
}

// Active reports whether the token has not been revoked (it may have
// expired: see Expired).
func (t *Token) Active() bool { return t.RevokedAt == nil }

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool { return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) }

// NewToken asks for a personal token: see CreateToken.
type NewToken struct {
	Person    string
	Role      string // RoleViewer, RoleEditor or RoleAdmin
	Approve   bool   // only for RoleEditor and RoleAdmin
	Note      string
	Source    string     // "admin" (the default) or "login"
	ExpiresAt *time.Time // nil for never
}

// TokenFilter selects personal tokens: those of Person (every person's
// when empty), and revoked ones too with All.
type TokenFilter struct {
	Person string
	All    bool
}

type tokenRow struct {
	ID         int64 `gorm:"primaryKey"`
	Person     string
	Role       string
	Approve    bool
	Note       string
	Source     string
	Prefix     string
	Hash       string
	CreatedAt  time.Time
	CreatedBy  string
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	RevokedBy  string
}

func (tokenRow) TableName() string { return "personal_tokens" }

func (r *tokenRow) token() Token {
	return Token{ID: r.ID, Person: r.Person, Role: r.Role, Approve: r.Approve, Note: r.Note, Source: r.Source,
		Prefix: r.Prefix, CreatedAt: r.CreatedAt.UTC(), CreatedBy: r.CreatedBy, ExpiresAt: utcPtr(r.ExpiresAt),
		LastUsedAt: utcPtr(r.LastUsedAt), RevokedAt: utcPtr(r.RevokedAt), RevokedBy: r.RevokedBy}
}

// ValidPerson checks a person's name as a token or session holds it: not
// empty, at most 200 characters, no control characters, and not of the
// form "key:…", which names keys in the audit log.
func ValidPerson(person string) error {
	switch {
	case strings.TrimSpace(person) == "" || strings.TrimSpace(person) != person:
		return fmt.Errorf("a person's name must not be empty or begin or end with spaces: %q", person)
	case len(person) > 200:
		return fmt.Errorf("a person's name is at most 200 characters")
	case strings.HasPrefix(person, "key:"):
		return fmt.Errorf("a person's name must not begin with \"key:\", which names API keys in the audit log")
	case strings.IndexFunc(person, unicode.IsControl) >= 0:
		return fmt.Errorf("a person's name must not hold control characters: %q", person)
	}
	return nil
}

// CreateToken makes a personal token and returns its secret, which is not
// stored and cannot be shown again. It bumps the credentials version, not
// the configuration's.
func (s *Store) CreateToken(ctx context.Context, nt NewToken, actor string) (string, Token, error) {
	var secret string
	var out Token
	err := s.write(ctx, "create token", actor, func(w *writeTx) error {
		var err error
		secret, out, err = w.createToken(nt)
		return err
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, out, nil
}

// createToken is CreateToken in a write transaction.
func (w *writeTx) createToken(nt NewToken) (string, Token, error) {
	if err := ValidPerson(nt.Person); err != nil {
		return "", Token{}, err
	}
	if nt.Role != RoleViewer && nt.Role != RoleEditor && nt.Role != RoleAdmin {
		return "", Token{}, fmt.Errorf("a personal token's role is viewer, editor or admin, not %q", nt.Role)
	}
	if nt.Approve && nt.Role == RoleViewer {
		return "", Token{}, fmt.Errorf("only an editor or an admin may approve, not a viewer")
	}
	if nt.Source == "" {
		nt.Source = "admin"
	}
	secret, err := newSecret(TokenPrefix)
	if err != nil {
		return "", Token{}, err
	}
	sum := HashSecret(secret)
	row := tokenRow{Person: nt.Person, Role: nt.Role, Approve: nt.Approve, Note: nt.Note, Source: nt.Source,
		Prefix: secretPrefix(TokenPrefix, secret), Hash: hex.EncodeToString(sum[:]), CreatedAt: w.now, CreatedBy: w.actor,
		ExpiresAt: truncPtr(nt.ExpiresAt)}
	if err := w.db.Create(&row).Error; err != nil {
		return "", Token{}, err
	}
	out := row.token()
	if err := w.bumpCredentials(); err != nil {
		return "", Token{}, err
	}
	return secret, out, w.recordInert("token.create", "token", nt.Person, nil, out)
}

// Tokens lists personal tokens, oldest first.
func (s *Store) Tokens(ctx context.Context, f TokenFilter) ([]Token, error) {
	var rows []tokenRow
	err := s.read(ctx, "list tokens", func(db *gorm.DB) error {
		q := db.Order("id")
		if f.Person != "" {
			q = q.Where("person = ?", f.Person)
		}
		if !f.All {
			q = q.Where("revoked_at IS NULL")
		}
		return q.Find(&rows).Error
	})
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(rows))
	for i := range rows {
		out[i] = rows[i].token()
	}
	return out, nil
}

// RevokeToken revokes the active personal token with this id. It bumps
// the credentials version: servers refuse the token within their poll of
// it.
func (s *Store) RevokeToken(ctx context.Context, id int64, actor string) (Token, error) {
	var out Token
	err := s.write(ctx, "revoke token", actor, func(w *writeTx) error {
		notFound := &NotFoundError{Kind: "active token", Key: fmt.Sprint(id)}
		var row tokenRow
		err := w.db.Where("id = ? AND revoked_at IS NULL", id).First(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		before := row.token()
		res := w.db.Model(&tokenRow{}).Where("id = ? AND revoked_at IS NULL", id).
			Updates(map[string]any{"revoked_at": w.now, "revoked_by": w.actor})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return notFound // revoked meanwhile
		}
		now := w.now
		row.RevokedAt, row.RevokedBy = &now, w.actor
		out = row.token()
		if err := w.bumpCredentials(); err != nil {
			return err
		}
		return w.recordInert("token.revoke", "token", row.Person, before, out)
	})
	return out, err
}

// Kinds of Credential.
const (
	CredentialKey     = "key"
	CredentialToken   = "token"
	CredentialSession = "session"
)

// Credential is an active (not revoked) key or personal token as servers
// hold it to authenticate requests: the hash of its secret, never the
// secret.
type Credential struct {
	Hash    [sha256.Size]byte
	Kind    string // CredentialKey or CredentialToken
	ID      int64
	Name    string // the key's name, or the token's person
	Role    string
	Approve bool
	// ExpiresAt is when it stops working; nil for never. Expired
	// credentials are listed: servers refuse them as expired.
	ExpiresAt *time.Time
}

// ActiveCredentials returns every key and personal token not revoked, in
// one consistent read.
func (s *Store) ActiveCredentials(ctx context.Context) ([]Credential, error) {
	var keys []keyRow
	var tokens []tokenRow
	err := s.read(ctx, "load credentials", func(db *gorm.DB) error {
		if err := db.Where("revoked_at IS NULL").Find(&keys).Error; err != nil {
			return err
		}
		return db.Where("revoked_at IS NULL").Find(&tokens).Error
	})
	if err != nil {
		return nil, err
	}
	out := make([]Credential, 0, len(keys)+len(tokens))
	add := func(kind string, id int64, name, role string, approve bool, hash string, expires *time.Time) error {
		c := Credential{Kind: kind, ID: id, Name: name, Role: role, Approve: approve, ExpiresAt: utcPtr(expires)}
		b, err := hex.DecodeString(hash)
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("load credentials: %s %d has a malformed hash", kind, id)
		}
		copy(c.Hash[:], b)
		out = append(out, c)
		return nil
	}
	for _, k := range keys {
		if err := add(CredentialKey, k.ID, k.Name, k.Role, k.Approve, k.Hash, k.ExpiresAt); err != nil {
			return nil, err
		}
	}
	for _, t := range tokens {
		if err := add(CredentialToken, t.ID, t.Person, t.Role, t.Approve, t.Hash, t.ExpiresAt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CredentialUse is a credential a server admitted, and when it last did.
type CredentialUse struct {
	Kind string // CredentialKey, CredentialToken or CredentialSession
	ID   int64
	At   time.Time
}

// TouchCredentials records when credentials were last used, in one
// transaction: servers call it with a batch every few seconds, never once
// per request. A time earlier than the one stored is ignored. It records
// nothing in the audit log and bumps no version.
func (s *Store) TouchCredentials(ctx context.Context, uses []CredentialUse) error {
	if len(uses) == 0 {
		return nil
	}
	err := s.retry(ctx, func() error {
		return s.w.WithContext(ctx).Transaction(func(db *gorm.DB) error {
			for _, u := range uses {
				at := u.At.UTC().Truncate(time.Microsecond)
				var table, column string
				switch u.Kind {
				case CredentialKey:
					table, column = "api_keys", "last_used_at"
				case CredentialToken:
					table, column = "personal_tokens", "last_used_at"
				case CredentialSession:
					table, column = "sessions", "last_seen_at"
				default:
					return fmt.Errorf("unknown credential kind %q", u.Kind)
				}
				q := fmt.Sprintf("UPDATE %[1]s SET %[2]s = ? WHERE id = ? AND (%[2]s IS NULL OR %[2]s < ?)", table, column)
				if err := db.Exec(q, at, u.ID, at).Error; err != nil {
					return err
				}
			}
			return nil
		})
	})
	return s.wrap("record credentials' last use", err)
}

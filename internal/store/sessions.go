package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Session is a dashboard session: a server-side row behind a cookie that
// holds its secret (only the secret's hash is stored). It ends when its
// holder logs out (the row is deleted), when it has not been seen for its
// idle timeout, or at its absolute expiry.
type Session struct {
	ID      int64  `json:"id"`
	Person  string `json:"person"`
	Role    string `json:"role"`
	Approve bool   `json:"approve,omitempty"`
	// Via says how its holder logged in: "token" or "oidc".
	Via        string        `json:"via"`
	CreatedAt  time.Time     `json:"createdAt"`
	LastSeenAt time.Time     `json:"lastSeenAt"`
	Idle       time.Duration `json:"idle"`
	ExpiresAt  time.Time     `json:"expiresAt"`
	Hash       [32]byte      `json:"-"`
}

// Ends returns when the session ends if not seen again: the earlier of its
// idle and absolute expiries.
func (s *Session) Ends() time.Time {
	idle := s.LastSeenAt.Add(s.Idle)
	if idle.Before(s.ExpiresAt) {
		return idle
	}
	return s.ExpiresAt
}

// NewSession asks for a session: see CreateSession.
type NewSession struct {
	Person   string
	Role     string // RoleViewer, RoleEditor or RoleAdmin
	Approve  bool
	Via      string        // "token" or "oidc"
	Idle     time.Duration // ends when not seen for this long
	Lifetime time.Duration // ends this long after its creation, whatever
}

type sessionRow struct {
	ID          int64 `gorm:"primaryKey"`
	Hash        string
	Person      string
	Role        string
	Approve     bool
	Via         string
	CreatedAt   time.Time
	LastSeenAt  time.Time
	IdleSeconds int64
	ExpiresAt   time.Time
}

func (sessionRow) TableName() string { return "sessions" }

func (r *sessionRow) session() Session {
	s := Session{ID: r.ID, Person: r.Person, Role: r.Role, Approve: r.Approve, Via: r.Via, CreatedAt: r.CreatedAt.UTC(),
		LastSeenAt: r.LastSeenAt.UTC(), Idle: time.Duration(r.IdleSeconds) * time.Second, ExpiresAt: r.ExpiresAt.UTC()}
	if b, err := hex.DecodeString(r.Hash); err == nil && len(b) == len(s.Hash) {
		copy(s.Hash[:], b)
	}
	return s
}

// sessionAudit is what the audit log says of a session: never its hash.
func sessionAudit(s Session) map[string]any {
	return map[string]any{"id": s.ID, "person": s.Person, "role": s.Role, "approve": s.Approve, "via": s.Via,
		"expiresAt": s.ExpiresAt}
}

// CreateSession makes a session and returns the secret its cookie holds.
// It bumps no version (a new session is looked up when first presented)
// and deletes sessions that have ended, a few at a time.
func (s *Store) CreateSession(ctx context.Context, ns NewSession, actor string) (string, Session, error) {
	if err := ValidPerson(ns.Person); err != nil {
		return "", Session{}, err
	}
	if !knownRole(ns.Role) || ns.Role == RoleSDK {
		return "", Session{}, fmt.Errorf("a session's role is viewer, editor or admin, not %q", ns.Role)
	}
	if ns.Idle < time.Second || ns.Lifetime < time.Second {
		return "", Session{}, fmt.Errorf("a session needs an idle timeout and a lifetime of at least a second")
	}
	secret, err := newSecret(SessionPrefix)
	if err != nil {
		return "", Session{}, err
	}
	sum := HashSecret(secret)
	var out Session
	err = s.write(ctx, "create session", actor, func(w *writeTx) error {
		// Sessions that ended by time: deleted here rather than by a job,
		// at most 100 at a time, so that the table stays small.
		if err := w.db.Exec("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= ? LIMIT 100)", w.now).Error; err != nil {
			return err
		}
		row := sessionRow{Hash: hex.EncodeToString(sum[:]), Person: ns.Person, Role: ns.Role, Approve: ns.Approve, Via: ns.Via,
			CreatedAt: w.now, LastSeenAt: w.now, IdleSeconds: int64(ns.Idle / time.Second), ExpiresAt: w.now.Add(ns.Lifetime)}
		if err := w.db.Create(&row).Error; err != nil {
			return err
		}
		out = row.session()
		return w.recordInert("session.create", "session", ns.Person, nil, sessionAudit(out))
	})
	if err != nil {
		return "", Session{}, err
	}
	return secret, out, nil
}

// SessionByHash returns the session whose secret has this hash, ended or
// not (the caller compares its times with the clock); not found if there
// is none (never created, or logged out).
func (s *Store) SessionByHash(ctx context.Context, hash [32]byte) (Session, error) {
	var row sessionRow
	err := s.r.WithContext(ctx).Where("hash = ?", hex.EncodeToString(hash[:])).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Session{}, &NotFoundError{Kind: "session", Key: "(secret)"}
	}
	if err != nil {
		return Session{}, s.wrap("read session", err)
	}
	return row.session(), nil
}

// EndSession deletes the session whose secret has this hash (a logout),
// records it, and bumps the credentials version so that every server
// forgets it within its poll. Not found if there is none.
func (s *Store) EndSession(ctx context.Context, hash [32]byte, actor string) (Session, error) {
	var out Session
	err := s.write(ctx, "end session", actor, func(w *writeTx) error {
		var row sessionRow
		err := w.db.Where("hash = ?", hex.EncodeToString(hash[:])).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return &NotFoundError{Kind: "session", Key: "(secret)"}
		}
		if err != nil {
			return err
		}
		if err := w.db.Exec("DELETE FROM sessions WHERE id = ?", row.ID).Error; err != nil {
			return err
		}
		out = row.session()
		if err := w.bumpCredentials(); err != nil {
			return err
		}
		return w.recordInert("session.end", "session", row.Person, sessionAudit(out), nil)
	})
	return out, err
}

// One-time codes: the rows of login_codes, each a short-lived grant that
// one request redeems (and so deletes). Single sign-on keeps two kinds:
// its pending logins (by the hash of their OAuth state), and the codes
// that a CLI exchanges for a personal token. Only hashes of the codes are
// stored.

// NewCode makes a random one-time code: 160 bits in lower-case base32,
// without a prefix (it is not a credential, and travels in URLs).
func NewCode() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate a code: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// PutCode stores a one-time code of a kind, holding data (opaque to the
// store), until expires. It deletes expired codes, a few at a time.
func (s *Store) PutCode(ctx context.Context, kind, code, data string, expires time.Time) error {
	sum := HashSecret(code)
	err := s.retry(ctx, func() error {
		return s.w.WithContext(ctx).Transaction(func(db *gorm.DB) error {
			now := s.now()
			if err := db.Exec("DELETE FROM login_codes WHERE hash IN (SELECT hash FROM login_codes WHERE expires_at <= ? LIMIT 100)", now).Error; err != nil {
				return err
			}
			return db.Exec("INSERT INTO login_codes (hash, kind, data, expires_at) VALUES (?, ?, ?, ?)",
				hex.EncodeToString(sum[:]), kind, data, expires.UTC().Truncate(time.Microsecond)).Error
		})
	})
	return s.wrap("store a one-time code", err)
}

// TakeCode redeems a one-time code of a kind: it deletes it and returns its
// data. A code that does not exist, was taken already, is of another kind
// or has expired is not found (and is deleted all the same); two
// concurrent takes of one code give it to one of them only.
func (s *Store) TakeCode(ctx context.Context, kind, code string) (string, error) {
	sum := hex.EncodeToString(func() []byte { h := HashSecret(code); return h[:] }())
	var data string
	var found bool
	err := s.retry(ctx, func() error {
		found = false
		return s.w.WithContext(ctx).Transaction(func(db *gorm.DB) error {
			var row struct {
				Kind      string
				Data      string
				ExpiresAt time.Time
			}
			err := db.Raw("SELECT kind, data, expires_at FROM login_codes WHERE hash = ?", sum).Scan(&row).Error
			if err != nil {
				return err
			}
			res := db.Exec("DELETE FROM login_codes WHERE hash = ?", sum)
			if res.Error != nil {
				return res.Error
			}
			// The deletion commits whatever follows: a code is tried once.
			found = res.RowsAffected == 1 && row.Kind == kind && s.now().Before(row.ExpiresAt)
			data = row.Data
			return nil
		})
	})
	if err != nil {
		return "", s.wrap("redeem a one-time code", err)
	}
	if !found {
		return "", &NotFoundError{Kind: "one-time code", Key: "(secret)"}
	}
	return data, nil
}

package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
)

// Sessions keeps the dashboard's sign-ins on the server: the cookie holds
// only an opaque secret, and ending a session (or the credential behind
// it) ends it everywhere.
type Sessions interface {
	// CreateSession starts a session for p until expires and returns the
	// secret the cookie carries.
	CreateSession(ctx context.Context, p auth.Principal, expires time.Time) (secret string, err error)
	// Session returns the principal of a live session. An unknown, ended
	// or expired secret is an error matching ramp.ErrUnauthorized.
	Session(ctx context.Context, secret string) (auth.Principal, error)
	// EndSession ends a session; an unknown secret is not an error.
	EndSession(ctx context.Context, secret string) error
}

// MemorySessions keeps sessions in this process's memory, by the SHA-256 of
// their secret. They end when the process stops and are not shared between
// replicas: a fallback for a server whose control plane keeps no session
// rows.
type MemorySessions struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	rows map[[32]byte]memorySession
}

type memorySession struct {
	p       auth.Principal
	expires time.Time
}

// CreateSession implements Sessions.
func (m *MemorySessions) CreateSession(_ context.Context, p auth.Principal, expires time.Time) (string, error) {
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows == nil {
		m.rows = map[[32]byte]memorySession{}
	}
	now := m.now()
	for k, s := range m.rows { // drop expired sessions as new ones come
		if !now.Before(s.expires) {
			delete(m.rows, k)
		}
	}
	p.Kind, p.Expires = auth.KindSession, expires
	m.rows[sha256.Sum256([]byte(secret))] = memorySession{p: p, expires: expires}
	return secret, nil
}

// Session implements Sessions.
func (m *MemorySessions) Session(_ context.Context, secret string) (auth.Principal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.rows[sha256.Sum256([]byte(secret))]
	if !ok || !m.now().Before(s.expires) {
		return auth.Principal{}, &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "no such session, or it has ended"}
	}
	return s.p, nil
}

// EndSession implements Sessions.
func (m *MemorySessions) EndSession(_ context.Context, secret string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rows, sha256.Sum256([]byte(secret)))
	return nil
}

func (m *MemorySessions) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// newSecret returns 256 random bits, URL-safe.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

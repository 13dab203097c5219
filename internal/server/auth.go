package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Roles a key may have. An sdk key may ask for decisions and read the
// snapshot feed; an admin key may do everything.
const (
	RoleSDK   = "sdk"
	RoleAdmin = "admin"
)

// Principal is who a request's key belongs to.
type Principal struct {
	Name string // the key's name, for logs and rate limits; never the secret
	Role string // RoleSDK or RoleAdmin
	// KeyID names the key itself, not its holder: a key created under the
	// name of a revoked one has another. It is derived from the key, never
	// the secret, and may appear in event-stream URLs. Empty when
	// authentication is off.
	KeyID string
}

// may reports whether the principal's role grants a permission.
func (p Principal) may(need string) bool {
	switch p.Role {
	case RoleAdmin:
		return true
	case RoleSDK:
		return need == RoleSDK
	}
	return false
}

// Errors an Authenticator returns for a secret it refuses. Both are answered
// with 401; any other error is a failure to check (503).
var (
	ErrUnknownKey = errors.New("unknown API key")
	ErrRevokedKey = errors.New("revoked API key")
)

// Authenticator checks the secret a request presents. Implementations must
// compare secrets in constant time (or compare hashes) and must be safe for
// concurrent use; Authenticate is called once per request.
//
// If an Authenticator also has a method Refresh(ctx, version int64) error,
// the server calls it whenever the configuration version changes (creating
// or revoking a key bumps it), before the new snapshot is served, so that a
// revoked key stops working within one poll interval.
//
// If it also has a method Active(p Principal) bool, saying whether the key
// a principal was admitted with (p.KeyID) is still active, the server asks
// it after every Refresh about the key behind each open event stream, and
// ends the streams of revoked keys; and it asks it whenever an event-stream
// token is presented, and refuses the token of a revoked key. Without
// Active, streams run and tokens stay valid until they expire, whatever
// happens to their keys.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (Principal, error)
}

// refresher and keyChecker are the optional sides of an Authenticator.
type (
	refresher interface {
		Refresh(ctx context.Context, version int64) error
	}
	keyChecker interface {
		Active(p Principal) bool
	}
)

// keysRefreshed is a broadcast of the authenticator's refreshes: each
// refresh closes the channel wait returned, so that every open event stream
// looks again at its key.
type keysRefreshed struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next refresh.
func (k *keysRefreshed) wait() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ch == nil {
		k.ch = make(chan struct{})
	}
	return k.ch
}

// refreshed wakes every waiter.
func (k *keysRefreshed) refreshed() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ch != nil {
		close(k.ch)
		k.ch = nil
	}
}

// secretOf returns the secret a request presents: "Authorization: Bearer
// <secret>" or "X-API-Key: <secret>".
func secretOf(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(rest)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// streamTokens mints and checks the capability tokens that go in the OFREP
// event-stream URL: browsers' EventSource cannot send headers, so the URL
// itself must carry the right to listen. A token names the key it was
// minted for (its KeyID, not only its name, so that it dies with the key
// and does not pass to a new key of the same name) and expires; it grants
// nothing but the event stream.
type streamTokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	// minted holds the tokens made in the current TTL window: every bulk
	// answer carries one, and it only changes with the window. It is
	// replaced, never modified; mu orders the replacements.
	minted atomic.Pointer[mintedTokens]
	mu     sync.Mutex
}

// mintedTokens are the tokens of one TTL window, by principal (as many as
// there are keys in use).
type mintedTokens struct {
	expires int64
	tokens  map[Principal]string
}

type tokenClaims struct {
	Name    string `json:"n"`
	Role    string `json:"r"`
	KeyID   string `json:"k,omitempty"`
	Expires int64  `json:"e"`
}

var b64 = base64.RawURLEncoding

// mint makes the token for a principal. It is the same for the whole of a
// TTL window and expires at the end of the next one, so it is good for
// between one and two TTLs.
func (t *streamTokens) mint(p Principal) string {
	window := int64(t.ttl / time.Second)
	if window < 1 {
		window = 1
	}
	expires := (t.now().Unix()/window + 2) * window
	if m := t.minted.Load(); m != nil && m.expires == expires {
		if tok, ok := m.tokens[p]; ok {
			return tok
		}
	}
	tok := t.mintExpiring(p, expires)
	t.mu.Lock()
	defer t.mu.Unlock()
	tokens := map[Principal]string{p: tok}
	if m := t.minted.Load(); m != nil && m.expires == expires {
		for k, v := range m.tokens {
			tokens[k] = v
		}
	}
	t.minted.Store(&mintedTokens{expires: expires, tokens: tokens})
	return tok
}

func (t *streamTokens) mintExpiring(p Principal, expires int64) string {
	claims, _ := json.Marshal(tokenClaims{Name: p.Name, Role: p.Role, KeyID: p.KeyID, Expires: expires})
	payload := b64.EncodeToString(claims)
	return payload + "." + b64.EncodeToString(t.sign(payload))
}

func (t *streamTokens) sign(payload string) []byte {
	m := hmac.New(sha256.New, t.secret)
	m.Write([]byte("ramp stream token v1\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// check returns the principal a token was minted for, if its signature holds
// and it has not expired. Whether its key is still active is the caller's
// question (Server.keyActive).
func (t *streamTokens) check(token string) (Principal, bool) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Principal{}, false
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, t.sign(payload)) {
		return Principal{}, false
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return Principal{}, false
	}
	var c tokenClaims
	if json.Unmarshal(raw, &c) != nil || t.now().Unix() >= c.Expires {
		return Principal{}, false
	}
	return Principal{Name: c.Name, Role: c.Role, KeyID: c.KeyID}, true
}

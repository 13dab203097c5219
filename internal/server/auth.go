package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ramp-flags/ramp/internal/auth"
)

// Principal is who a request acts for (see auth.Principal): its Name is
// what logs and rate limits use, never a secret; its CredentialID binds
// event-stream tokens to the credential itself.
type Principal = auth.Principal

// Authenticator turns a request into its principal (see
// auth.Authenticator, and auth.Checker, ramp serve's). Its errors decide
// the status: ramp.ErrUnauthorized is 401, with the error's message as
// the body (it never holds the secret); a *auth.ThrottledError is 429 with
// Retry-After; anything else is a failure to check (503).
//
// If it also has a method Changed() <-chan struct{}, closed whenever its
// credentials were reloaded, and a method Active(p Principal) bool, saying
// whether the credential a principal was admitted with (p.CredentialID) is
// still active, the server asks Active about the credential behind each
// open event stream at every reload, and ends the streams of revoked ones;
// and it asks it whenever an event-stream token is presented, and refuses
// the token of a revoked credential. If it has a method Refuse(r, err)
// error, the server reports refused event-stream tokens through it, so
// that they count against the client address as other failures do.
type Authenticator = auth.Authenticator

// optional sides of an Authenticator.
type (
	changeNotifier interface {
		Changed() <-chan struct{}
	}
	keyChecker interface {
		Active(p Principal) bool
	}
	refuser interface {
		Refuse(r *http.Request, err error) error
	}
	failureCounter interface {
		FailedAddresses() int
	}
)

// keysRefreshed tells event streams when the authenticator reloaded its
// credentials, so that each looks again at its own.
type keysRefreshed struct {
	src changeNotifier // nil: never
}

// never is a channel that is never closed.
var never = make(chan struct{})

// wait returns a channel closed at the next reload of the credentials.
func (k *keysRefreshed) wait() <-chan struct{} {
	if k.src == nil {
		return never
	}
	return k.src.Changed()
}

// streamTokens mints and checks the capability tokens that go in the OFREP
// event-stream URL: browsers' EventSource cannot send headers, so the URL
// itself must carry the right to listen. A token names the key it was
// minted for (its CredentialID, not only its name, so that it dies with the key
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
	Name         string `json:"n"`
	Role         string `json:"r"`
	Kind         string `json:"t,omitempty"`
	CredentialID string `json:"k,omitempty"`
	Expires      int64  `json:"e"`
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
	claims, _ := json.Marshal(tokenClaims{Name: p.Name, Role: string(p.Role), Kind: p.Kind, CredentialID: p.CredentialID, Expires: expires})
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
	return Principal{Name: c.Name, Role: auth.Role(c.Role), Kind: c.Kind, CredentialID: c.CredentialID}, true
}

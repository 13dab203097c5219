package server

import (
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/auth"
)

// clock is a settable Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestStreamTokensMemo: a token is minted once per principal and TTL
// window, and is what minting afresh would give.
func TestStreamTokensMemo(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	tok := &streamTokens{secret: []byte("secret"), ttl: time.Hour, now: c.now}
	p := Principal{Name: "key:checkout", Kind: auth.KindKey, Role: auth.RoleSDK, CredentialID: "key:1"}
	q := Principal{Name: "alice", Kind: auth.KindToken, Role: auth.RoleAdmin, CredentialID: "token:2"}
	renamed := Principal{Name: "key:checkout", Kind: auth.KindKey, Role: auth.RoleSDK, CredentialID: "key:3"} // a new key under p's name
	a := tok.mint(p)
	if b := tok.mint(p); b != a {
		t.Errorf("same window, another token: %s, %s", a, b)
	}
	if tok.mint(q) == a {
		t.Error("two principals, one token")
	}
	if b := tok.mint(renamed); b == a {
		t.Error("two keys of one name, one token")
	} else if got, ok := tok.check(b); !ok || got != renamed {
		t.Errorf("check the new key's token = %v, %v", got, ok)
	}
	if got, ok := tok.check(a); !ok || got != p {
		t.Errorf("check = %v, %v", got, ok)
	}
	window := int64(time.Hour / time.Second)
	if want := tok.mintExpiring(p, (c.t.Unix()/window+2)*window); a != want {
		t.Errorf("remembered token %s, minted afresh %s", a, want)
	}
	c.t = c.t.Add(time.Hour)
	if b := tok.mint(p); b == a {
		t.Error("next window, same token")
	} else if got, ok := tok.check(b); !ok || got != p {
		t.Errorf("check next window's = %v, %v", got, ok)
	}
}

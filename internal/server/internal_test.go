package server

import (
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/auth"
)

// clock is a settable Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := newLimiter(2, c.now)
	for i := range 2 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Errorf("past the burst: allowed %v, wait %v; want refused, wait in (0, 1s]", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Error("another caller refused")
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Error("refused after a token came back")
	}

	// Idle buckets are forgotten at the next sweep, busy ones kept.
	c.t = c.t.Add(idleAfter - time.Minute)
	l.allow("b")
	c.t = c.t.Add(2 * time.Minute)
	l.allow("c")
	for caller, want := range map[string]bool{"a": false, "b": true, "c": true} {
		if _, ok := l.buckets.Load(caller); ok != want {
			t.Errorf("bucket of %s kept: %v, want %v", caller, ok, want)
		}
	}
	if newLimiter(0, c.now) != nil || newLimiter(-1, c.now) != nil {
		t.Error("no limit should be a nil limiter")
	}
	if ok, _ := (*limiter)(nil).allow("x"); !ok {
		t.Error("a nil limiter refused")
	}
}

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

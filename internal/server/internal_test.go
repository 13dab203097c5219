package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
	p, q := Principal{Name: "checkout", Role: RoleSDK, KeyID: "k1"}, Principal{Name: "ops", Role: RoleAdmin, KeyID: "k2"}
	renamed := Principal{Name: "checkout", Role: RoleSDK, KeyID: "k3"} // a new key under p's name
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

func TestFailures(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	f := newFailures(10, 3, c.now) // bursts of 20
	for i := range 20 {
		if ok, _ := f.fail("a"); !ok {
			t.Fatalf("failure %d within the burst refused", i)
		}
	}
	ok, wait := f.fail("a")
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Errorf("past the burst: allowed %v, wait %v; want refused, wait in (0, 100ms]", ok, wait)
	}
	if ok, _ := f.fail("b"); !ok {
		t.Error("another address refused")
	}
	c.t = c.t.Add(100 * time.Millisecond)
	if ok, _ := f.fail("a"); !ok {
		t.Error("refused after a token came back")
	}
	if ok, _ := f.fail("a"); ok {
		t.Error("allowed with no token left")
	}

	// At most maxAddrs addresses: the one whose last failure is oldest goes.
	f.fail("c")
	f.fail("a")
	f.fail("d") // b goes
	if got := f.tracked(); got != 3 {
		t.Errorf("tracking %d addresses, want 3", got)
	}
	for addr, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := f.addrs[addr]; ok != want {
			t.Errorf("address %s kept: %v, want %v", addr, ok, want)
		}
	}
	// An address whose bucket is full again is forgotten: its state is
	// what a new address gets.
	c.t = c.t.Add(2 * time.Second)
	f.fail("e")
	if got := f.tracked(); got != 1 {
		t.Errorf("tracking %d addresses after every bucket refilled, want 1 (the new one)", got)
	}

	if newFailures(0, 3, c.now) != nil || newFailures(-1, 3, c.now) != nil {
		t.Error("no limit should be nil")
	}
	var none *failures
	if ok, _ := none.fail("x"); !ok || none.tracked() != 0 {
		t.Error("a nil limit refused")
	}
}

func TestFailureKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5555", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"@", "@"}, // a Unix socket
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.remote
		if got := failureKey(r); got != tt.want {
			t.Errorf("failureKey(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

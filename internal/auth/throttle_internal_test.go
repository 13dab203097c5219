package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type clock struct{ t time.Time }

// k is the key of an address that is no IP address.
func k(raw string) addrKey { return addrKey{raw: raw} }

func (c *clock) now() time.Time { return c.t }

func TestFailures(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	f := newFailures(10, 3, c.now) // bursts of 20
	for i := range 20 {
		if ok, _ := f.fail(k("a")); !ok {
			t.Fatalf("failure %d within the burst refused", i)
		}
	}
	ok, wait := f.fail(k("a"))
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Errorf("past the burst: allowed %v, wait %v; want refused, wait in (0, 100ms]", ok, wait)
	}
	if ok, _ := f.fail(k("b")); !ok {
		t.Error("another address refused")
	}
	c.t = c.t.Add(100 * time.Millisecond)
	if ok, _ := f.fail(k("a")); !ok {
		t.Error("refused after a token came back")
	}
	if ok, _ := f.fail(k("a")); ok {
		t.Error("allowed with no token left")
	}

	// At most maxAddrs addresses: the one whose last failure is oldest goes.
	f.fail(k("c"))
	f.fail(k("a"))
	f.fail(k("d")) // b goes
	if got := f.tracked(); got != 3 {
		t.Errorf("tracking %d addresses, want 3", got)
	}
	for addr, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := f.addrs[k(addr)]; ok != want {
			t.Errorf("address %s kept: %v, want %v", addr, ok, want)
		}
	}
	// An address whose bucket is full again is forgotten: its state is
	// what a new address gets.
	c.t = c.t.Add(2 * time.Second)
	f.fail(k("e"))
	if got := f.tracked(); got != 1 {
		t.Errorf("tracking %d addresses after every bucket refilled, want 1 (the new one)", got)
	}

	if newFailures(0, 3, c.now) != nil || newFailures(-1, 3, c.now) != nil {
		t.Error("no limit should be nil")
	}
	var none *failures
	if ok, _ := none.fail(k("x")); !ok || none.tracked() != 0 {
		t.Error("a nil limit refused")
	}
}

func TestClientAddress(t *testing.T) {
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
		if got := ClientAddress(r, nil); got != tt.want {
			t.Errorf("ClientAddress(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

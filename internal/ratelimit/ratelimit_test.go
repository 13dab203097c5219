package ratelimit

import (
	"testing"
	"time"
)

// clock is a settable Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestLimiter checks the burst, the wait, callers apart, and that idle
// buckets are forgotten.
func TestLimiter(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(2, c.now)
	for i := range 2 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Errorf("past the burst: allowed %v, wait %v; want refused, wait in (0, 1s]", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another caller refused")
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("refused after a token came back")
	}

	// Idle buckets are forgotten at the next sweep, busy ones kept.
	c.t = c.t.Add(idleAfter - time.Minute)
	l.Allow("b")
	c.t = c.t.Add(2 * time.Minute)
	l.Allow("c")
	for caller, want := range map[string]bool{"a": false, "b": true, "c": true} {
		if _, ok := l.buckets.Load(caller); ok != want {
			t.Errorf("bucket of %s kept: %v, want %v", caller, ok, want)
		}
	}
	if New(0, c.now) != nil || New(-1, c.now) != nil {
		t.Error("no limit should be a nil limiter")
	}
	if ok, _ := (*Limiter)(nil).Allow("x"); !ok {
		t.Error("a nil limiter refused")
	}
}

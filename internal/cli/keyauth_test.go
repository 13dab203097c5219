package cli

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/store"
)

// TestKeyCache checks secrets against the store's keys: the first time by
// hash, then from memory, and a revoked key is refused from the next
// Refresh on, even after it was remembered.
func TestKeyCache(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sdk, _, err := s.CreateKey(ctx, "checkout", store.RoleSDK, "tester")
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := s.CreateKey(ctx, "ops", store.RoleAdmin, "tester")
	if err != nil {
		t.Fatal(err)
	}
	c, err := newKeyCache(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // hashed, then remembered
		for secret, want := range map[string]server.Principal{
			sdk:   {Name: "checkout", Role: server.RoleSDK},
			admin: {Name: "ops", Role: server.RoleAdmin},
		} {
			got, err := c.Authenticate(ctx, secret)
			if err != nil || got.Name != want.Name || got.Role != want.Role || got.KeyID == "" {
				t.Errorf("Authenticate(%.12s…) = %v, %v; want %v with a key id", secret, got, err, want)
			}
			if !c.Active(got) {
				t.Errorf("Active(%v) = false for an active key", got)
			}
		}
		for _, secret := range []string{"", "ramp_sdk_nope", sdk + "x", sdk[:len(sdk)-1]} {
			if _, err := c.Authenticate(ctx, secret); !errors.Is(err, server.ErrUnknownKey) {
				t.Errorf("Authenticate(%q): %v, want ErrUnknownKey", secret, err)
			}
		}
	}
	before, _ := c.Authenticate(ctx, sdk)
	if _, err := s.RevokeKey(ctx, "checkout", "tester"); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, sdk); !errors.Is(err, server.ErrUnknownKey) {
		t.Errorf("a revoked key after Refresh: %v, want ErrUnknownKey", err)
	}
	if c.Active(before) {
		t.Errorf("Active(%v) after its key was revoked", before)
	}
	if p, err := c.Authenticate(ctx, admin); err != nil || !c.Active(p) {
		t.Errorf("another key after Refresh: %v, %v, active %v", p, err, c.Active(p))
	}

	// A new key under the revoked one's name is another key: the old
	// principal (as an event-stream token carries it) stays inactive.
	again, _, err := s.CreateKey(ctx, "checkout", store.RoleSDK, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	after, err := c.Authenticate(ctx, again)
	if err != nil || after.Name != "checkout" || after.KeyID == before.KeyID {
		t.Errorf("the new key of the same name: %v, %v; the revoked one was %v", after, err, before)
	}
	if c.Active(before) || !c.Active(after) {
		t.Errorf("Active: revoked key %v, its successor %v; want false, true", c.Active(before), c.Active(after))
	}
	for _, p := range []server.Principal{{}, {Name: "checkout", Role: server.RoleSDK}, {Name: "checkout", Role: server.RoleAdmin, KeyID: after.KeyID}} {
		if c.Active(p) {
			t.Errorf("Active(%v), a principal no key was admitted as", p)
		}
	}
}

// BenchmarkKeyCache is the per-request cost of checking a key that has
// been seen before, among ten.
func BenchmarkKeyCache(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(b.TempDir(), "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var secret string
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		if secret, _, err = s.CreateKey(ctx, name, store.RoleSDK, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	c, err := newKeyCache(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

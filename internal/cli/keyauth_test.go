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
			if got, err := c.Authenticate(ctx, secret); err != nil || got != want {
				t.Errorf("Authenticate(%.12s…) = %v, %v; want %v", secret, got, err, want)
			}
		}
		for _, secret := range []string{"", "ramp_sdk_nope", sdk + "x", sdk[:len(sdk)-1]} {
			if _, err := c.Authenticate(ctx, secret); !errors.Is(err, server.ErrUnknownKey) {
				t.Errorf("Authenticate(%q): %v, want ErrUnknownKey", secret, err)
			}
		}
	}
	if _, err := s.RevokeKey(ctx, "checkout", "tester"); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, sdk); !errors.Is(err, server.ErrUnknownKey) {
		t.Errorf("a revoked key after Refresh: %v, want ErrUnknownKey", err)
	}
	if _, err := c.Authenticate(ctx, admin); err != nil {
		t.Errorf("another key after Refresh: %v", err)
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

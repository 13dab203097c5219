package cli

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/server"
)

func openKeys(t testing.TB) (context.Context, *admin.Service) {
	t.Helper()
	ctx := admin.WithActor(context.Background(), "tester")
	a, err := admin.Open(ctx, filepath.Join(t.TempDir(), "keys.db"), admin.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return ctx, a
}

// TestKeyAuth checks that ramp serve's authenticator answers in the
// server's terms: the key's name and role, or server.ErrUnknownKey (401).
func TestKeyAuth(t *testing.T) {
	ctx, a := openKeys(t)
	k, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "ops", Role: admin.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := newKeyAuth(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var _ server.Authenticator = auth
	got, err := auth.Authenticate(ctx, k.Secret)
	if err != nil || got.Name != "ops" || got.Role != server.RoleAdmin || len(got.KeyID) != 24 {
		t.Errorf("Authenticate = %+v, %v; want ops, admin and a 96-bit key id", got, err)
	}
	if !auth.Active(got) {
		t.Errorf("Active(%+v) = false for a key just created", got)
	}
	if _, err := a.RevokeKey(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := auth.Refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if auth.Active(got) {
		t.Errorf("Active(%+v) = true after the key was revoked and the keys refreshed", got)
	}
	if _, err := auth.Authenticate(ctx, "ramp_admin_nope"); !errors.Is(err, server.ErrUnknownKey) {
		t.Errorf("an unknown secret: %v, want server.ErrUnknownKey", err)
	}
}

// BenchmarkKeyCache is the per-request cost of checking a key that has
// been seen before, among ten.
func BenchmarkKeyCache(b *testing.B) {
	ctx, a := openKeys(b)
	var secret string
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		k, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: name, Role: admin.RoleSDK})
		if err != nil {
			b.Fatal(err)
		}
		secret = k.Secret
	}
	auth, err := newKeyAuth(ctx, a)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

package admin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
)

// openAdmin opens the control plane on a new SQLite file, closed when the
// test ends.

func TestKeys(t *testing.T) {
	ctx := admin.WithActor(context.Background(), "tester")
	a, _ := open(t)
	for _, tt := range []struct {
		req  admin.CreateKeyRequest
		want error
	}{
		{admin.CreateKeyRequest{Name: "checkout", Role: admin.RoleSDK}, nil},
		{admin.CreateKeyRequest{Name: "ops", Role: admin.RoleAdmin}, nil},
		{admin.CreateKeyRequest{Name: "checkout", Role: admin.RoleSDK}, ramp.ErrConflict},
		{admin.CreateKeyRequest{Name: "x", Role: "root"}, ramp.ErrInvalid},
		{admin.CreateKeyRequest{Name: " ", Role: admin.RoleSDK}, ramp.ErrInvalid},
	} {
		k, err := a.CreateKey(ctx, tt.req)
		if !errors.Is(err, tt.want) || err == nil && (k.Secret == "" || k.Name != tt.req.Name || k.CreatedBy != "tester") {
			t.Errorf("CreateKey(%+v) = %+v, %v; want error %v", tt.req, k, err, tt.want)
		}
	}
	if _, err := a.RevokeKey(ctx, "checkout"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeKey(ctx, "checkout"); !errors.Is(err, ramp.ErrNotFound) {
		t.Errorf("revoking a revoked key: %v, want not found", err)
	}
	for all, want := range map[bool]int{false: 1, true: 2} {
		if ks, err := a.Keys(ctx, all); err != nil || len(ks) != want {
			t.Errorf("Keys(all=%v) = %d keys, %v; want %d", all, len(ks), err, want)
		}
	}
}

// TestKeyring checks secrets against the stored keys: the first time by
// hash, then from memory, and a revoked key is refused from the next
// Refresh on, even after it was remembered.
func TestKeyring(t *testing.T) {
	ctx := admin.WithActor(context.Background(), "tester")
	a, _ := open(t)
	sdk, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "checkout", Role: admin.RoleSDK})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "ops", Role: admin.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	ring, err := a.Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // hashed, then remembered
		for secret, want := range map[string]admin.KeyHolder{
			sdk.Secret: {Name: "checkout", Role: admin.RoleSDK},
			ops.Secret: {Name: "ops", Role: admin.RoleAdmin},
		} {
			got, err := ring.Check(ctx, secret)
			if err != nil || got.Name != want.Name || got.Role != want.Role || got.KeyID == "" || !ring.Active(got) {
				t.Errorf("Check(%.12s…) = %v, %v; want %v", secret, got, err, want)
			}
		}
		for _, secret := range []string{"", "ramp_sdk_nope", sdk.Secret + "x", sdk.Secret[:len(sdk.Secret)-1]} {
			if _, err := ring.Check(ctx, secret); !errors.Is(err, admin.ErrUnknownKey) || !errors.Is(err, ramp.ErrUnauthorized) {
				t.Errorf("Check(%q): %v, want ErrUnknownKey", secret, err)
			}
		}
	}
	revoked, err := ring.Check(ctx, sdk.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeKey(ctx, "checkout"); err != nil {
		t.Fatal(err)
	}
	if err := ring.Refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if ring.Active(revoked) {
		t.Errorf("Active(%v) after the key was revoked", revoked)
	}
	if _, err := ring.Check(ctx, sdk.Secret); !errors.Is(err, admin.ErrUnknownKey) {
		t.Errorf("a revoked key after Refresh: %v, want ErrUnknownKey", err)
	}
	if _, err := ring.Check(ctx, ops.Secret); err != nil {
		t.Errorf("another key after Refresh: %v", err)
	}
}

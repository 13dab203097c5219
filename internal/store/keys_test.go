package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/store"
)

func TestKeys(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	v0, _ := s.Version(ctx)

	secret, k, err := s.CreateKey(ctx, "checkout-service", store.RoleSDK, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, store.KeyPrefix) || len(secret) < 40 || !strings.HasPrefix(secret, k.Prefix) {
		t.Errorf("secret %q, prefix %q", secret, k.Prefix)
	}
	if _, _, err := s.CreateKey(ctx, "checkout-service", store.RoleAdmin, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate active name: %v, want ErrConflict", err)
	}
	if _, _, err := s.CreateKey(ctx, "x", "root", "alice"); err == nil {
		t.Errorf("unknown role accepted")
	}
	admin, _, err := s.CreateKey(ctx, "ops", store.RoleAdmin, "alice")
	if err != nil {
		t.Fatal(err)
	}

	active, err := s.ActiveKeys(ctx)
	if err != nil || len(active) != 2 {
		t.Fatalf("ActiveKeys = %v, %v", active, err)
	}
	found := map[string]string{}
	for _, a := range active {
		for _, sec := range []string{secret, admin} {
			if a.Hash == store.HashSecret(sec) {
				found[a.Name] = a.Role
			}
		}
	}
	if found["checkout-service"] != "sdk" || found["ops"] != "admin" {
		t.Errorf("hashes do not match the secrets: %v", found)
	}

	// Only the hash is stored: the secret appears nowhere in the key list
	// or the audit log.
	keys, _ := s.Keys(ctx)
	entries, _ := s.Audit(ctx, store.AuditFilter{Kind: "key"})
	for _, e := range entries {
		if strings.Contains(string(e.After), secret) || strings.Contains(string(e.After), admin) {
			t.Errorf("secret in the audit log: %s", e.After)
		}
	}
	if len(keys) != 2 || len(entries) != 2 {
		t.Errorf("%d keys, %d audit entries", len(keys), len(entries))
	}

	revoked, err := s.RevokeKey(ctx, "checkout-service", "bob")
	if err != nil || revoked.Active() || revoked.RevokedBy != "bob" {
		t.Fatalf("RevokeKey = %+v, %v", revoked, err)
	}
	if _, err := s.RevokeKey(ctx, "checkout-service", "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second revoke: %v, want ErrNotFound", err)
	}
	active, _ = s.ActiveKeys(ctx)
	if len(active) != 1 || active[0].Name != "ops" {
		t.Errorf("after revoke: %v", active)
	}
	// The name is free again once revoked.
	if _, _, err := s.CreateKey(ctx, "checkout-service", store.RoleSDK, "alice"); err != nil {
		t.Errorf("re-create after revoke: %v", err)
	}
	// Credentials have a version of their own: changing them makes no
	// provider download the snapshot again (issue #14).
	if v1, _ := s.Version(ctx); v1 != v0 {
		t.Errorf("key changes bumped the configuration version (%d → %d)", v0, v1)
	}
	if cv, err := s.CredentialsVersion(ctx); err != nil || cv != 4 {
		t.Errorf("CredentialsVersion = %d, %v; want 4 (three creations, one revocation)", cv, err)
	}
}

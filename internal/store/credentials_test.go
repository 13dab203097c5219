package store_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/store"
)

// TestLegacyKeySecrets: a key made before personal tokens (a "ramp_sdk_…"
// secret, no approve, expiry or last use) is listed among the active
// credentials under its secret's hash, so that it keeps working.
func TestLegacyKeySecrets(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	const legacy = "ramp_sdk_bm2g6ysn3ek5z7sd2xkqcuwh4ftw3v6u"
	if _, _, err := s.CreateKey(ctx, "old-service", store.RoleSDK, "alice"); err != nil {
		t.Fatal(err)
	}
	sum := store.HashSecret(legacy)
	if err := store.Exec(s, "UPDATE api_keys SET hash = ?, prefix = 'ramp_sdk_bm2g6' WHERE name = 'old-service'", hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	creds, err := s.ActiveCredentials(ctx)
	if err != nil || len(creds) != 1 {
		t.Fatalf("ActiveCredentials = %+v, %v", creds, err)
	}
	if c := creds[0]; c.Hash != sum || c.Kind != store.CredentialKey || c.Name != "old-service" || c.Role != store.RoleSDK || c.ExpiresAt != nil {
		t.Errorf("the legacy key is listed as %+v", c)
	}
}

// TestTokens: personal tokens are created with their secret shown once,
// listed, revoked once; their audit entries hold no secret; and they move
// the credentials version, never the configuration's.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	v0, _ := s.Version(ctx)
	c0, _ := s.CredentialsVersion(ctx)
	in90 := time.Now().Add(90 * 24 * time.Hour)
	secret, tok, err := s.CreateToken(ctx, store.NewToken{Person: "alice@example.com", Role: store.RoleEditor, Approve: true, Note: "laptop", ExpiresAt: &in90}, "root")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, store.TokenPrefix) || len(secret) != len(store.TokenPrefix)+32 || !strings.HasPrefix(secret, tok.Prefix) {
		t.Errorf("secret %.14s…, prefix %q", secret, tok.Prefix)
	}
	if tok.Source != "admin" || tok.CreatedBy != "root" || tok.ExpiresAt == nil || !tok.Approve {
		t.Errorf("token %+v", tok)
	}
	for _, bad := range []store.NewToken{
		{Person: "", Role: store.RoleEditor},
		{Person: "key:ci", Role: store.RoleEditor},
		{Person: "bob\n", Role: store.RoleEditor},
		{Person: "bob", Role: store.RoleSDK},
		{Person: "bob", Role: store.RoleViewer, Approve: true},
	} {
		if _, _, err := s.CreateToken(ctx, bad, "root"); err == nil {
			t.Errorf("CreateToken(%+v) accepted", bad)
		}
	}
	_, other, err := s.CreateToken(ctx, store.NewToken{Person: "bob", Role: store.RoleViewer}, "root")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tokens(ctx, store.TokenFilter{Person: "bob"}); len(got) != 1 || got[0].ID != other.ID {
		t.Errorf("bob's tokens: %+v", got)
	}
	revoked, err := s.RevokeToken(ctx, tok.ID, "root")
	if err != nil || revoked.Active() || revoked.RevokedBy != "root" {
		t.Fatalf("RevokeToken = %+v, %v", revoked, err)
	}
	if _, err := s.RevokeToken(ctx, tok.ID, "root"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking twice: %v, want not found", err)
	}
	if got, _ := s.Tokens(ctx, store.TokenFilter{}); len(got) != 1 {
		t.Errorf("active tokens: %d, want 1", len(got))
	}
	if got, _ := s.Tokens(ctx, store.TokenFilter{All: true}); len(got) != 2 {
		t.Errorf("all tokens: %d, want 2", len(got))
	}
	entries, _ := s.Audit(ctx, store.AuditFilter{Kind: "token"})
	if len(entries) != 3 || entries[0].Action != "token.create" || entries[2].Action != "token.revoke" || entries[0].Actor != "root" {
		t.Errorf("audit: %+v", entries)
	}
	for _, e := range entries {
		if strings.Contains(string(e.Before)+string(e.After), secret[len(store.TokenPrefix)+5:]) {
			t.Errorf("a secret in the audit log: %s", e.After)
		}
	}
	if v1, _ := s.Version(ctx); v1 != v0 {
		t.Errorf("tokens moved the configuration version %d → %d", v0, v1)
	}
	if c1, _ := s.CredentialsVersion(ctx); c1 != c0+3 {
		t.Errorf("credentials version %d → %d, want +3", c0, c1)
	}
}

// TestSessions: a session is found by its secret's hash until it ends;
// ending it deletes the row; neither moves the configuration version.
func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	v0, _ := s.Version(ctx)
	secret, sess, err := s.CreateSession(ctx, store.NewSession{Person: "alice", Role: store.RoleAdmin, Approve: true, Via: "oidc",
		Idle: time.Hour, Lifetime: 12 * time.Hour}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, store.SessionPrefix) || sess.Idle != time.Hour || !sess.ExpiresAt.Equal(sess.CreatedAt.Add(12*time.Hour)) {
		t.Errorf("session %+v (secret %.12s…)", sess, secret)
	}
	got, err := s.SessionByHash(ctx, store.HashSecret(secret))
	if err != nil || got.ID != sess.ID || got.Person != "alice" || !got.Approve || got.Hash != store.HashSecret(secret) {
		t.Fatalf("SessionByHash = %+v, %v", got, err)
	}
	if _, err := s.SessionByHash(ctx, store.HashSecret(secret+"x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another secret: %v, want not found", err)
	}
	later := time.Now().Add(30 * time.Minute)
	if err := s.TouchCredentials(ctx, []store.CredentialUse{{Kind: store.CredentialSession, ID: sess.ID, At: later}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByHash(ctx, store.HashSecret(secret)); !got.LastSeenAt.Equal(later.UTC().Truncate(time.Microsecond)) {
		t.Errorf("last seen %v, want %v", got.LastSeenAt, later)
	}
	if _, err := s.EndSession(ctx, store.HashSecret(secret), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, store.HashSecret(secret)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after logout: %v, want not found", err)
	}
	if _, err := s.EndSession(ctx, store.HashSecret(secret), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("logging out twice: %v, want not found", err)
	}
	entries, _ := s.Audit(ctx, store.AuditFilter{Kind: "session"})
	if len(entries) != 2 || entries[0].Action != "session.create" || entries[1].Action != "session.end" {
		t.Errorf("audit: %+v", entries)
	}
	if v1, _ := s.Version(ctx); v1 != v0 {
		t.Errorf("sessions moved the configuration version %d → %d", v0, v1)
	}
}

// TestCodes: a one-time code is redeemed once, by one of two concurrent
// takers, and not at all once expired or as another kind.
func TestCodes(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	code, err := store.NewCode()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutCode(ctx, "cli", code, `{"person":"alice"}`, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeCode(ctx, "oidc", code); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another kind: %v, want not found", err)
	}
	// Taking it as another kind burnt it: a code is tried once.
	if _, err := s.TakeCode(ctx, "cli", code); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a wrong take: %v, want not found", err)
	}

	code2, _ := store.NewCode()
	if err := s.PutCode(ctx, "cli", code2, "data", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := s.TakeCode(ctx, "cli", code2)
			if err == nil && data != "data" {
				err = errors.New("wrong data " + data)
			}
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("TakeCode: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent takes of one code won, want 1", won)
	}

	old, _ := store.NewCode()
	if err := s.PutCode(ctx, "cli", old, "data", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeCode(ctx, "cli", old); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired code: %v, want not found", err)
	}
}

// TestCredentialsMigration: a database from before personal tokens, with
// keys, migrates: its keys keep their secrets (no approve, no expiry, no
// last use), and tokens and sessions work on it.
func TestCredentialsMigration(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	secret, _, err := s.CreateKey(ctx, "ops", store.RoleAdmin, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"DROP TABLE personal_tokens", "DROP TABLE sessions", "DROP TABLE login_codes",
		"ALTER TABLE api_keys DROP COLUMN approve", "ALTER TABLE api_keys DROP COLUMN expires_at", "ALTER TABLE api_keys DROP COLUMN last_used_at",
		"ALTER TABLE config_state DROP COLUMN credentials_version",
	} {
		if err := store.Exec(s, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	// Back to schema version 15, before credentials (16); later
	// migrations run again too, as they do on such a database.
	if err := store.Exec(s, "DELETE FROM schema_migrations WHERE version >= 16"); err != nil {
		t.Fatal(err)
	}
	upgraded := openDSN(t, dsn)
	creds, err := upgraded.ActiveCredentials(ctx)
	if err != nil || len(creds) != 1 || creds[0].Hash != store.HashSecret(secret) || creds[0].Approve || creds[0].ExpiresAt != nil {
		t.Fatalf("after the migration: %+v, %v", creds, err)
	}
	if keys, _ := upgraded.Keys(ctx); len(keys) != 1 || keys[0].LastUsedAt != nil {
		t.Errorf("keys after the migration: %+v", keys)
	}
	if _, _, err := upgraded.CreateToken(ctx, store.NewToken{Person: "bob", Role: store.RoleViewer}, "alice"); err != nil {
		t.Errorf("CreateToken after the migration: %v", err)
	}
	if v, err := upgraded.CredentialsVersion(ctx); err != nil || v != 1 {
		t.Errorf("CredentialsVersion after the migration and a token: %d, %v", v, err)
	}
}

package cli_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/cli"
)

// TestTokensCommands: an admin creates a person's token (secret shown
// once, on stdout alone), lists it without its secret, and revokes it by
// id; bad roles and expiries are usage errors.
func TestTokensCommands(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	secret := strings.TrimSpace(r.ok("tokens", "create", "alice@example.com", "--role", "editor", "--approve", "--expires", "30d", "--note", "laptop", "-o", "table"))
	if !strings.HasPrefix(secret, "ramp_pat_") || strings.ContainsAny(secret, " \n") {
		t.Fatalf("secret = %q", secret)
	}
	created := decode[map[string]any](t, r.ok("tokens", "create", "bob", "--role", "viewer"))
	if !strings.HasPrefix(created["secret"].(string), "ramp_pat_") || created["person"] != "bob" || created["role"] != "viewer" {
		t.Errorf("create -o json = %v", created)
	}
	expires, err := time.Parse(time.RFC3339, created["expiresAt"].(string))
	if err != nil || expires.Before(time.Now().Add(89*24*time.Hour)) || expires.After(time.Now().Add(91*24*time.Hour)) {
		t.Errorf("default expiry %v (%v), want 90 days from now", created["expiresAt"], err)
	}
	list := r.ok("tokens", "list")
	if strings.Contains(list, secret) || strings.Contains(list, created["secret"].(string)) {
		t.Fatalf("tokens list shows a secret:\n%s", list)
	}
	toks := decode[[]map[string]any](t, list)
	if len(toks) != 2 || toks[0]["person"] != "alice@example.com" || toks[0]["approve"] != true || toks[0]["note"] != "laptop" {
		t.Errorf("tokens = %v", toks)
	}
	for _, args := range [][]string{
		{"tokens", "create", "carol", "--role", "sdk"},
		{"tokens", "create", "carol", "--role", "editor", "--expires", "never"},
		{"tokens", "create", "carol", "--role", "editor", "--expires", "soon"},
		{"tokens", "create", "--role", "editor"},
	} {
		if _, _, code := r.run("", args...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want usage", args, code)
		}
	}
	if _, _, code := r.run("", "tokens", "create", "carol", "--role", "viewer", "--approve"); code != cli.ExitInvalid {
		t.Errorf("a viewer who approves: exit %d, want invalid", code)
	}
	id := toks[0]["id"].(float64)
	r.ok("tokens", "revoke", fmt.Sprint(int(id)))
	if toks := decode[[]map[string]any](t, r.ok("tokens", "list")); len(toks) != 1 || toks[0]["person"] != "bob" {
		t.Errorf("after revoke: %v", toks)
	}
	if _, _, code := r.run("", "tokens", "revoke", "1"); code != cli.ExitNotFound {
		t.Errorf("revoke twice: exit %d", code)
	}
	audit := r.ok("audit")
	if strings.Contains(audit, secret) || !strings.Contains(audit, "token.revoke") {
		t.Errorf("audit:\n%s", audit)
	}
}

package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

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

// TestServeOIDCFlags: single sign-on's flags are checked before anything
// is opened or served.
func TestServeOIDCFlags(t *testing.T) {
	r := newRamp(t)
	roles := filepath.Join(t.TempDir(), "roles")
	if err := os.WriteFile(roles, []byte("group:release = editor+approve\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--oidc-client-id", "ramp"}, cli.ExitUsage, "need --oidc-issuer"},
		{[]string{"--oidc-issuer", "https://login.example.com"}, cli.ExitUsage, "needs --oidc-client-id and --oidc-roles"},
		{[]string{"--oidc-issuer", "login.example.com", "--oidc-client-id", "ramp", "--oidc-roles", roles}, cli.ExitUsage, "the issuer's URL"},
		{[]string{"--oidc-issuer", "https://login.example.com", "--oidc-client-id", "ramp", "--oidc-roles", "group:x = root"}, cli.ExitInvalid, "role map"},
		{[]string{"--oidc-issuer", "https://login.example.com", "--oidc-client-id", "ramp", "--oidc-roles", roles,
			"--oidc-client-secret-file", filepath.Join(t.TempDir(), "missing")}, cli.ExitInvalid, "--oidc-client-secret-file"},
		{[]string{"--oidc-issuer", "https://login.example.com", "--oidc-client-id", "ramp", "--oidc-roles", roles, "--insecure-no-auth"}, cli.ExitUsage, "contradict"},
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, cli.ExitUsage, "--trusted-proxies"},
	}
	for _, tt := range tests {
		_, stderr, code := r.run("", append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("serve %v: exit %d, %q; want %d, %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

// TestServeWithOIDC: ramp serve started with single sign-on's flags
// against a real OpenID Connect server mounts it at /auth/oidc/: a browser
// sent to the login is redirected to the issuer with PKCE (S256) and a
// nonce, and comes back with a dashboard session.
func TestServeWithOIDC(t *testing.T) {
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Shutdown()
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(idp.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, r, "--addr", "127.0.0.1:0", "--controller-interval", "0", "--oidc-issuer", idp.Issuer(), "--oidc-client-id", idp.ClientID,
		"--oidc-client-secret-file", secretFile, "--oidc-roles", "domain:example.com = editor, * = viewer")
	resp, err := http.Get(s.url + "/auth/oidc/")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || info["issuer"] != idp.Issuer() {
		t.Fatalf("GET /auth/oidc/: %d %v", resp.StatusCode, info)
	}
	jar, _ := cookiejar.New(nil)
	var toIssuer *url.URL
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), idp.Issuer()) && toIssuer == nil {
			toIssuer = req.URL
		}
		if req.URL.Path == "/flags" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err = browser.Get(s.url + "/auth/oidc/login?return_to=/flags")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	q := toIssuer.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Errorf("the redirect to the issuer: %s", toIssuer)
	}
	var session bool
	for _, c := range resp.Cookies() {
		session = session || c.Name == "__Host-ramp-session" && c.Secure && c.HttpOnly
	}
	if resp.StatusCode != http.StatusFound || !session {
		t.Errorf("the login ended with %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	s.stop()
	if code := <-s.exit; code != cli.ExitOK {
		t.Errorf("ramp serve exited %d", code)
	}
}

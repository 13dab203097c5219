package main_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// interopFlag is the scenario's rollout.
const interopFlag = "messenger-ig-interop"

// TestDashboardThroughServe signs in to the dashboard `ramp serve` mounts
// at /, throws a kill switch from it, and sees the change where services
// and the CLI see it: OFREP answers DISABLED, `ramp audit` names the
// person whose token signed in.
// The browser tests of internal/dashboard drive the pages themselves.
func TestDashboardThroughServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	env := append(os.Environ(), "RAMP_DB="+filepath.Join(dir, "ramp.db"), "RAMP_ACTOR=e2e", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	ramp("--actor", "demo", "rollout", "advance", interopFlag, "--to", "us-10")
	adminKey := strings.TrimSpace(ramp("keys", "create", "--role", "admin", "--name", "ops", "-o", "table"))
	token := strings.TrimSpace(ramp("tokens", "create", "rita", "--role", "editor", "-o", "table"))
	sdkKey := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "svc", "-o", "table"))
	srv := startServe(t, env, "127.0.0.1:0")

	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var cookie string
	do := func(method, path string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.url+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", srv.url)
		}
		if cookie != "" {
			// Go's cookie jar keeps Secure cookies for https only; a
			// browser on localhost keeps them on plain HTTP too.
			req.Header.Set("Cookie", cookie)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	if res, _ := do("GET", "/", nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/flags" {
		t.Errorf("GET /: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := do("GET", "/flags", nil); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("GET /flags signed out: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, key := range []string{sdkKey, adminKey} {
		if res, _ := do("POST", "/login", url.Values{"token": {key}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("an API key signed in: %d (people sign in with personal tokens)", res.StatusCode)
		}
	}
	res, _ := do("POST", "/login", url.Values{"token": {token}})
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-ramp-session" && ck.Secure && ck.HttpOnly {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if res.StatusCode != http.StatusSeeOther || cookie == "" {
		t.Fatalf("sign in with a personal token: %d, cookies %v\n%s", res.StatusCode, res.Header["Set-Cookie"], srv.logs())
	}
	res, page := do("GET", "/rollouts/"+interopFlag, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "us-10") || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("rollout page: %d\n%s", res.StatusCode, page)
	}
	_, page = do("GET", "/flags/"+interopFlag+"/kill-switch?to=off", nil)
	m := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no confirmation:\n%s", page)
	}
	if res, _ := do("POST", "/flags/"+interopFlag+"/kill-switch", url.Values{"version": {m[1]}, "to": {"off"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("kill switch: %d", res.StatusCode)
	}
	disabled := within(patience, func() bool {
		code, body := post(t, srv.url+"/ofrep/v1/evaluate/flags/"+interopFlag, sdkKey, `{"context":{"targetingKey":"u1","region":"US"}}`)
		return code == http.StatusOK && body["reason"] == "DISABLED"
	})
	if !disabled {
		t.Error("OFREP does not answer DISABLED after the dashboard's kill switch")
	}
	if out := ramp("audit", "--flag", interopFlag); !strings.Contains(out, "rita") || !strings.Contains(out, "flag.disable") {
		t.Errorf("ramp audit does not name the dashboard's actor:\n%s", out)
	}
	// The data plane keeps its own routes and refusals.
	if res, _ := do("GET", "/healthz", nil); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", res.StatusCode)
	}
	if res, _ := do("GET", "/metrics", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without a key: %d", res.StatusCode)
	}
}

// TestNoDashboardWithoutAuth: with --insecure-no-auth nothing is served
// at /, since anyone could use it.
func TestNoDashboardWithoutAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	env := append(os.Environ(), "RAMP_DB="+filepath.Join(t.TempDir(), "ramp.db"), "RAMP_ACTOR=e2e")
	rampIn(t, env)("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	srv := startServe(t, env, "127.0.0.1:0", "--insecure-no-auth")
	res, err := http.Get(srv.url + "/flags")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || !strings.Contains(srv.logs(), "the dashboard is off") {
		t.Errorf("GET /flags with --insecure-no-auth: %d\n%s", res.StatusCode, srv.logs())
	}
}

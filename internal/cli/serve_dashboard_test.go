package cli_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/ramp-flags/ramp/internal/cli"
)

// TestDashboardSingleSignOn: with single sign-on, the dashboard's sign-in
// page links to it, and the person the issuer vouches for comes back to
// the page they asked for, signed in with the role the role map gives.
func TestDashboardSingleSignOn(t *testing.T) {
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
		"--oidc-client-secret-file", secretFile, "--oidc-roles", "* = viewer")
	// No browser keeps cookies here: the test carries the session cookie
	// by hand (Go's jar keeps Secure cookies for https only).
	noFollow := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, cookie string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		if !strings.HasPrefix(path, "http") {
			req.URL, _ = url.Parse(s.url + path)
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	_, page := get("/login?next=%2Frollouts", "")
	const link = `/auth/oidc/login?return_to=%2frollouts`
	if !strings.Contains(strings.ToLower(page), link) {
		t.Fatalf("the sign-in page does not link to single sign-on:\n%s", page)
	}
	// Follow the login through the issuer by hand, keeping its cookies.
	var cookies []*http.Cookie
	next := s.url + "/auth/oidc/login?return_to=%2Frollouts"
	var session string
	for i := 0; i < 10 && session == ""; i++ {
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		for _, c := range res.Cookies() {
			if c.Name == "__Host-ramp-session" {
				session = c.Name + "=" + c.Value
			}
			cookies = append(cookies, c)
		}
		loc, err := res.Location()
		if err != nil {
			t.Fatalf("step %d: %d without a redirect", i, res.StatusCode)
		}
		next = loc.String()
	}
	if session == "" || !strings.HasSuffix(next, "/rollouts") {
		t.Fatalf("single sign-on did not come back to /rollouts with a session (at %s)", next)
	}
	res, page := get("/rollouts", session)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "messenger-ig-interop") || !strings.Contains(page, "viewer") {
		t.Errorf("the dashboard after single sign-on: %d\n%s", res.StatusCode, page)
	}
	s.stop()
	if code := <-s.exit; code != cli.ExitOK {
		t.Errorf("ramp serve exited %d", code)
	}
}

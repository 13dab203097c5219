package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/auth/sso"
	"github.com/ramp-flags/ramp/internal/server"
)

// ssoRig is ramp serve with single sign-on against a real OpenID Connect
// server (mockoidc, in this process, on loopback), over a SQLite file.
type ssoRig struct {
	idp     *mockoidc.MockOIDC
	a       *admin.Service
	checker *auth.Checker
	url     string
	logs    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newSSORig(t *testing.T) *ssoRig {
	t.Helper()
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	ctx := admin.WithActor(context.Background(), "tester")
	a, err := admin.Open(ctx, filepath.Join(t.TempDir(), "ramp.db"), admin.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	checker, err := a.Authenticator(ctx, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checker.Close() })
	roles, err := sso.ParseRoleMap(`
		email:jane.doe@example.com = admin   # first match wins
		group:release = editor+approve
		domain:example.com = viewer`)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := sso.New(a, sso.Config{Issuer: idp.Issuer(), ClientID: idp.ClientID, ClientSecret: idp.ClientSecret,
		Scopes: []string{"openid", "email", "profile", "groups"}, Roles: roles, Throttle: checker, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Source: a, Auth: checker, OIDC: h, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() { stop(); <-done })
	return &ssoRig{idp: idp, a: a, checker: checker, url: "http://" + ln.Addr().String(), logs: logs}
}

// browser is an HTTP client with cookies that follows redirects and keeps
// every URL it visited, as a browser would.
type browser struct {
	*http.Client
	mu      sync.Mutex
	visited []string
}

func newBrowser(t *testing.T, stopAt func(*url.URL) bool) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{}
	b.Client = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.note(req.URL.String())
		if stopAt != nil && stopAt(req.URL) {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	return b
}

func (b *browser) note(u string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.visited = append(b.visited, u)
}

func (b *browser) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	b.note(u)
	resp, err := b.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestBrowserLogin: ramp login's browser login end to end, with a real
// HTTP client in the browser's place: the server runs the authorization
// code flow with PKCE against the OpenID Connect server, the role map
// gives each person their role, the CLI gets a personal token that
// authenticates as that person; the token never appears in a URL or a
// log line, and the login bumps no configuration version.
func TestBrowserLogin(t *testing.T) {
	rig := newSSORig(t)
	ctx := context.Background()
	rev0, err := rig.a.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		user *mockoidc.MockUser
		want auth.Principal
	}{
		{"named admin", nil, auth.Principal{Name: "jane.doe@example.com", Kind: auth.KindToken, Role: auth.RoleAdmin}},
		{"group", &mockoidc.MockUser{Subject: "u2", Email: "Rel.Eng@Example.com", EmailVerified: true, Groups: []string{"release"}},
			auth.Principal{Name: "rel.eng@example.com", Kind: auth.KindToken, Role: auth.RoleEditor, Approve: true}},
		{"domain", &mockoidc.MockUser{Subject: "u3", Email: "dev@example.com", EmailVerified: true},
			auth.Principal{Name: "dev@example.com", Kind: auth.KindToken, Role: auth.RoleViewer}},
	}
	var tokens []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.user != nil {
				rig.idp.QueueUser(tt.user)
			}
			b := newBrowser(t, nil)
			var final *http.Response
			var finalBody string
			opened := make(chan struct{})
			openBrowser = func(_ context.Context, u string) error {
				go func() {
					defer close(opened)
					final, finalBody = b.get(t, u)
				}()
				return nil
			}
			t.Cleanup(func() { openBrowser = systemBrowser })
			ios, _, _, errOut := Test()
			ios.StderrTTY = true
			token, err := browserLogin(ctx, ios, rig.url+"/")
			if err != nil {
				t.Fatalf("browserLogin: %v\nstderr: %s\nlogs: %s", err, errOut, rig.logs)
			}
			<-opened
			if final.StatusCode != http.StatusOK || !strings.Contains(finalBody, "logged in") {
				t.Errorf("the browser ended on %d: %s", final.StatusCode, finalBody)
			}
			if !strings.HasPrefix(token, "ramp_pat_") {
				t.Fatalf("token %.12s…", token)
			}
			if !strings.Contains(errOut.String(), rig.url+"/auth/oidc/login?") {
				t.Errorf("stderr does not show the login URL:\n%s", errOut)
			}
			r, _ := http.NewRequest(http.MethodGet, rig.url+"/v1/snapshot", nil)
			r.RemoteAddr = "192.0.2.1:1"
			r.Header.Set("Authorization", "Bearer "+token)
			p, err := waitAuth(rig.checker, r)
			if err != nil {
				t.Fatal(err)
			}
			if p.CredentialID == "" || p.Expires.IsZero() {
				t.Errorf("principal %+v: want a credential id and an expiry", p)
			}
			p.CredentialID, p.Expires = "", time.Time{}
			if p != tt.want {
				t.Errorf("the token acts for %+v, want %+v", p, tt.want)
			}
			// A real HTTP request with it is served.
			resp, err := http.DefaultClient.Do(mustRequest(t, rig.url+"/v1/snapshot", token))
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v1/snapshot with the token: %v, %v", resp.StatusCode, err)
			}
			resp.Body.Close()
			for _, u := range b.visited {
				if strings.Contains(u, token) || strings.Contains(u, "ramp_pat_") {
					t.Errorf("the token went through a URL: %s", u)
				}
			}
			if len(b.visited) < 4 {
				t.Errorf("the browser went through %v: want ramp, the issuer, ramp's callback and the CLI", b.visited)
			}
			tokens = append(tokens, token)
		})
	}
	for _, tok := range tokens {
		if strings.Contains(rig.logs.String(), tok) || strings.Contains(rig.logs.String(), tok[9:]) {
			t.Errorf("a token reached the log")
		}
	}
	toks, err := rig.a.Tokens(ctx, admin.TokenFilter{})
	if err != nil || len(toks) != len(tokens) {
		t.Fatalf("tokens: %+v, %v", toks, err)
	}
	for _, tok := range toks {
		if tok.Source != "login" || tok.CreatedBy != tok.Person || tok.ExpiresAt == nil {
			t.Errorf("token %+v: want made by login, by its person, expiring", tok)
		}
	}
	if rev1, _ := rig.a.Revision(ctx); rev1 != rev0 {
		t.Errorf("logins moved the configuration from %v to %v", rev0, rev1)
	}
}

func mustRequest(t *testing.T, u, token string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// waitAuth authenticates r until it passes (a token made a moment ago
// reaches the checker at its next look).
func waitAuth(c *auth.Checker, r *http.Request) (auth.Principal, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := c.Authenticate(r)
		if err == nil || time.Now().After(deadline) {
			return p, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSSORefusals: the ways a login is refused: a person the role map
// does not name, a callback without the browser's state cookie, a callback
// replayed, a code exchanged with the wrong verifier (which burns it), a
// redirect that is not ramp login's loopback, and a server without single
// sign-on.
func TestSSORefusals(t *testing.T) {
	rig := newSSORig(t)
	ctx := context.Background()
	const cliRedirect = "http://127.0.0.1:9/callback" // never reached: the browser stops before it
	verifier, _ := randomString(32)
	challenge := s256(verifier)
	loginURL := func(redirect string) string {
		return rig.url + "/auth/oidc/login?" + url.Values{"cli_redirect": {redirect}, "cli_challenge": {challenge}, "cli_state": {"st"}}.Encode()
	}
	atCLI := func(u *url.URL) bool { return u.Host == "127.0.0.1:9" }

	t.Run("unknown person", func(t *testing.T) {
		rig.idp.QueueUser(&mockoidc.MockUser{Subject: "x", Email: "eve@elsewhere.example", EmailVerified: true})
		b := newBrowser(t, atCLI)
		resp, body := b.get(t, loginURL(cliRedirect))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "eve@elsewhere.example may not use ramp") {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("unverified address", func(t *testing.T) {
		rig.idp.QueueUser(&mockoidc.MockUser{Subject: "y", Email: "mallory@example.com", EmailVerified: false})
		b := newBrowser(t, atCLI)
		if resp, body := b.get(t, loginURL(cliRedirect)); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})

	// A good login, stopped at the redirect to the CLI.
	b := newBrowser(t, atCLI)
	resp, _ := b.get(t, loginURL(cliRedirect))
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || !atCLI(loc) || loc.Query().Get("state") != "st" {
		t.Fatalf("login: %d to %v (%v)", resp.StatusCode, loc, err)
	}
	code := loc.Query().Get("code")
	var callback string
	for _, u := range b.visited {
		if strings.Contains(u, "/auth/oidc/callback") {
			callback = u
		}
	}
	t.Run("callback replayed", func(t *testing.T) {
		if resp, body := b.get(t, callback); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("callback from another browser", func(t *testing.T) {
		other := newBrowser(t, atCLI)
		if resp, body := other.get(t, callback); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("wrong verifier burns the code", func(t *testing.T) {
		client := &http.Client{Timeout: 30 * time.Second}
		if _, err := exchangeCode(ctx, client, rig.url, code, verifier+"x"); !errors.Is(err, ramp.ErrUnauthorized) {
			t.Errorf("wrong verifier: %v, want unauthorized", err)
		}
		if _, err := exchangeCode(ctx, client, rig.url, code, verifier); !errors.Is(err, ramp.ErrUnauthorized) {
			t.Errorf("the right verifier after a wrong one: %v, want unauthorized", err)
		}
	})
	t.Run("not a loopback redirect", func(t *testing.T) {
		for _, bad := range []string{"https://127.0.0.1:9/callback", "http://evil.example:80/callback", "http://127.0.0.1/callback", "http://user@127.0.0.1:9/"} {
			b := newBrowser(t, atCLI)
			if resp, body := b.get(t, loginURL(bad)); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d %s", bad, resp.StatusCode, body)
			}
		}
	})
	t.Run("dashboard session", func(t *testing.T) {
		rig.idp.QueueUser(&mockoidc.MockUser{Subject: "d", Email: "dev@example.com", EmailVerified: true})
		b := newBrowser(t, func(u *url.URL) bool { return u.Path == "/flags" || u.Host == "evil.example" })
		resp, _ := b.get(t, rig.url+"/auth/oidc/login?return_to=/flags")
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == auth.SessionCookie {
				session = c
			}
		}
		if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || loc.Path != "/flags" || session == nil {
			t.Fatalf("%d to %v, cookie %v", resp.StatusCode, loc, session)
		}
		if !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
			t.Errorf("session cookie %+v: want Secure, HttpOnly, SameSite=Lax, Path=/", session)
		}
		r, _ := http.NewRequest(http.MethodGet, rig.url+"/", nil)
		r.RemoteAddr = "192.0.2.3:1"
		r.AddCookie(session)
		p, err := rig.checker.Sessions().Authenticate(r)
		if err != nil || p.Name != "dev@example.com" || p.Kind != auth.KindSession || p.Role != auth.RoleViewer {
			t.Fatalf("the session: %+v, %v", p, err)
		}
		if _, err := rig.checker.Authenticate(r); !errors.Is(err, auth.ErrNoCredential) {
			t.Errorf("the cookie on an API route: %v, want no credential", err)
		}
		if err := rig.a.EndSession(admin.WithActor(ctx, p.Name), session.Value); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := rig.checker.Sessions().Authenticate(r)
			if errors.Is(err, auth.ErrSessionEnded) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the session still works after logout: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// return_to elsewhere goes to "/".
		rig.idp.QueueUser(&mockoidc.MockUser{Subject: "d", Email: "dev@example.com", EmailVerified: true})
		b = newBrowser(t, func(u *url.URL) bool { return u.Host == "evil.example" || u.Path == "/" })
		resp, _ = b.get(t, rig.url+"/auth/oidc/login?return_to=//evil.example/x")
		if loc, _ := resp.Location(); loc == nil || loc.Host == "evil.example" || loc.Path != "/" {
			t.Errorf("return_to //evil.example/x sent the browser to %v", loc)
		}
	})
	t.Run("no single sign-on", func(t *testing.T) {
		a := rig.a
		checker, err := a.Authenticator(ctx, auth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer checker.Close()
		srv, err := server.New(server.Config{Source: a, Auth: checker, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(sctx, ln) }()
		defer func() { stop(); <-done }()
		ios, _, _, _ := Test()
		_, err = browserLogin(ctx, ios, fmt.Sprintf("http://%s", ln.Addr()))
		if !errors.Is(err, ramp.ErrNotFound) || !strings.Contains(err.Error(), "no single sign-on") {
			t.Errorf("browserLogin without single sign-on: %v", err)
		}
	})
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/cli"
	"github.com/ramp-flags/ramp/internal/dashboard"
)

// The people of the tests, each with a personal token made with `ramp
// tokens create` (and an sdk key), by the names tests sign in with.
var people = []struct {
	name string
	args []string
}{
	{"viewer-token", []string{"tokens", "create", "vera", "--role", "viewer"}},
	{"editor-token", []string{"tokens", "create", "eddie", "--role", "editor", "--approve"}},
	{"plain-editor-token", []string{"tokens", "create", "pat", "--role", "editor"}},
	{"admin-token", []string{"tokens", "create", "ada", "--role", "admin", "--approve"}},
	{"sdk-key", []string{"keys", "create", "--role", "sdk", "--name", "web"}},
	{"admin-key", []string{"keys", "create", "--role", "admin", "--name", "ops"}},
}

// env is a dashboard over the demo scenario in a real SQLite file, served
// over HTTPS on a loopback address.
type env struct {
	t       testing.TB
	db      string
	admin   *admin.Service
	srv     *httptest.Server
	secrets map[string]string
}

// secret returns the secret of one of the people, or name itself (a wrong
// token, for tests that sign in with one).
func (e *env) secret(name string) string {
	if s, ok := e.secrets[name]; ok {
		return s
	}
	return name
}

// rampCLI runs the CLI in process against the env's database, as a person
// at a terminal would, and returns what it printed.
func (e *env) rampCLI(args ...string) string {
	e.t.Helper()
	io, _, out, errOut := cli.Test()
	if code := cli.Execute(context.Background(), append([]string{"--db", e.db}, args...), io); code != 0 {
		e.t.Fatalf("ramp %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out.String()
}

// newEnv applies testdata/scenario.yaml and starts the rollout at us-10,
// as `make run` does, then serves the dashboard.
func newEnv(t testing.TB, tune ...func(*dashboard.Options)) *env {
	t.Helper()
	e := &env{t: t, db: filepath.Join(t.TempDir(), "ramp.db")}
	e.rampCLI("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	e.rampCLI("--actor", "demo", "rollout", "advance", "messenger-ig-interop", "--to", "us-10")
	e.secrets = map[string]string{}
	for _, p := range people {
		e.secrets[p.name] = strings.TrimSpace(e.rampCLI(append(p.args, "-o", "table")...))
	}
	a, err := admin.Open(context.Background(), e.db, admin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.admin = a
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	checker, err := a.Authenticator(context.Background(), auth.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checker.Close() })
	opt := dashboard.Options{Admin: a, Auth: checker, Sessions: dashboard.StoredSessions{Admin: a, Cookies: checker.Sessions()}, Logger: quiet}
	for _, f := range tune {
		f(&opt)
	}
	d, err := dashboard.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewTLSServer(d)
	t.Cleanup(e.srv.Close)
	return e
}

// client is a browser-like client: it keeps cookies and does not follow
// redirects, so that tests see them.
type client struct {
	e *env
	c *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	c := new(http.Client)
	*c = *e.srv.Client() // one per person: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{e: e, c: c}
}

// signedIn returns a client signed in with a token.
func (e *env) signedIn(token string) *client {
	e.t.Helper()
	c := e.client()
	res, _ := c.post("/login", url.Values{"token": {e.secret(token)}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in with %s: %d", token, res.StatusCode)
	}
	return c
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.e.t.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return res, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form as the dashboard's own page would (same origin).
func (c *client) post(path string, form url.Values, header ...string) (*http.Response, string) {
	c.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

var versionField = regexp.MustCompile(`name="version" value="(\d+)"`)

// confirmedVersion reads the version a confirmation page would post.
func confirmedVersion(t testing.TB, body string) string {
	t.Helper()
	m := versionField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the confirmation page has no version field:\n%s", body)
	}
	return m[1]
}

// requireChromium says whether a missing browser fails the test.
func requireChromium() bool { return os.Getenv("RAMP_REQUIRE_CHROMIUM") == "1" }

package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/api"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// env is a control plane over a real database with the scenario applied,
// served by the API on a loopback HTTP server, authenticating with the
// database's own keys and tokens (admin.Service.Authenticator). secrets
// holds, by test name, the secret of each credential created for the
// test: sdk (a key), viewer, editor (no approve), alice and bob (editors
// who may approve), admin, revoked, expired.
type env struct {
	a       *admin.Service
	url     string
	secrets map[string]string
}

func newEnv(t testing.TB) *env {
	return newEnvWith(t, auth.Options{FailureLimit: -1})
}

func newEnvWith(t testing.TB, opt auth.Options) *env {
	t.Helper()
	ctx := context.Background()
	a, err := admin.Open(ctx, testdb.DSN(t), admin.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := config.ParsePartial("scenario.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	setup := admin.WithActor(ctx, "setup")
	if _, err := a.Apply(setup, admin.ApplyRequest{Doc: doc}); err != nil {
		t.Fatal(err)
	}
	e := &env{a: a, secrets: map[string]string{}}
	key, err := a.CreateKey(setup, admin.CreateKeyRequest{Name: "svc", Role: admin.RoleSDK})
	if err != nil {
		t.Fatal(err)
	}
	e.secrets["sdk"] = key.Secret
	for _, c := range []struct {
		name, person, role string
		approve            bool
	}{
		{"viewer", "vera", admin.RoleViewer, false},
		{"editor", "eddie", admin.RoleEditor, false},
		{"alice", "alice", admin.RoleEditor, true},
		{"bob", "bob", admin.RoleEditor, true},
		{"admin", "ada", admin.RoleAdmin, true},
		{"revoked", "rex", admin.RoleAdmin, true},
	} {
		tok, err := a.CreateToken(setup, admin.CreateTokenRequest{Person: c.person, Role: c.role, Approve: c.approve})
		if err != nil {
			t.Fatal(err)
		}
		e.secrets[c.name] = tok.Secret
		if c.name == "revoked" {
			if _, err := a.RevokeToken(setup, strconv.FormatInt(tok.ID, 10)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A token that expired yesterday: created as if two days ago.
	real := a.Now
	a.Now = func() time.Time { return real().Add(-48 * time.Hour) }
	tok, err := a.CreateToken(setup, admin.CreateTokenRequest{Person: "exa", Role: admin.RoleAdmin, Expires: real().Add(-24 * time.Hour)})
	a.Now = real
	if err != nil {
		t.Fatal(err)
	}
	e.secrets["expired"] = tok.Secret

	opt.Now = time.Now
	checker, err := a.Authenticator(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checker.Close() })
	h, err := api.New(api.Config{Admin: a, Auth: checker})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) problem(t testing.TB) api.Problem {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != api.ProblemType {
		t.Fatalf("status %d, Content-Type %q, want %s:\n%s", a.status, ct, api.ProblemType, a.body)
	}
	var p api.Problem
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != a.status || p.Title == "" || p.Detail == "" || p.Kind == "" || p.Type == "" {
		t.Fatalf("problem %+v lacks a member (answer %d)", p, a.status)
	}
	return p
}

// do sends a request: body is JSON unless it is an io.Reader, headers
// are pairs.
func (e *env) do(t testing.TB, method, path, secret string, body any, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		j, _ := json.Marshal(b)
		rd, ct = strings.NewReader(string(j)), "application/json"
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if s, ok := e.secrets[secret]; ok {
		secret = s
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

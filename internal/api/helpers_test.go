package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/api"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// tokens is a test authenticator: bearer secrets to principals, some
// revoked or expired. It refuses a secret in the query string as the real
// one does.
type tokens struct {
	mu      sync.Mutex
	by      map[string]auth.Principal
	revoked map[string]bool
	expired map[string]bool
}

func (tk *tokens) Authenticate(r *http.Request) (auth.Principal, error) {
	if q := r.URL.Query(); q.Has("token") || q.Has("access_token") || q.Has("api_key") {
		return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "a credential in the URL's query string is refused")
	}
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || secret == "" {
		return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "no credential")
	}
	tk.mu.Lock()
	defer tk.mu.Unlock()
	p, ok := tk.by[secret]
	switch {
	case !ok:
		return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "unknown credential")
	case tk.revoked[secret]:
		return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "revoked credential")
	case tk.expired[secret]:
		return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "expired credential")
	}
	return p, nil
}

// The test principals, by their secrets.
var principals = map[string]auth.Principal{
	"sdk":      {Name: "key:svc", Kind: auth.KindKey, Role: auth.RoleSDK},
	"viewer":   {Name: "vera", Kind: auth.KindToken, Role: auth.RoleViewer},
	"editor":   {Name: "eddie", Kind: auth.KindToken, Role: auth.RoleEditor},
	"alice":    {Name: "alice", Kind: auth.KindToken, Role: auth.RoleEditor, Approve: true},
	"bob":      {Name: "bob", Kind: auth.KindToken, Role: auth.RoleEditor, Approve: true},
	"admin":    {Name: "ada", Kind: auth.KindToken, Role: auth.RoleAdmin, Approve: true},
	"revoked":  {Name: "rex", Kind: auth.KindToken, Role: auth.RoleAdmin, Approve: true},
	"expired":  {Name: "exa", Kind: auth.KindToken, Role: auth.RoleAdmin, Approve: true},
	"approver": {Name: "ann", Kind: auth.KindToken, Role: auth.RoleViewer, Approve: true},
}

// env is a control plane over a real database with the scenario applied,
// served by the API on a loopback HTTP server.
type env struct {
	a   *admin.Service
	url string
}

func newEnv(t testing.TB) *env {
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
	if _, err := a.Apply(admin.WithActor(ctx, "setup"), admin.ApplyRequest{Doc: doc}); err != nil {
		t.Fatal(err)
	}
	tk := &tokens{by: principals, revoked: map[string]bool{"revoked": true}, expired: map[string]bool{"expired": true}}
	h, err := api.New(api.Config{Admin: a, Auth: tk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{a: a, url: srv.URL}
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

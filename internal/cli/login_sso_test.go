package cli

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/api"
	"github.com/ramp-flags/ramp/internal/auth/sso"
	"github.com/ramp-flags/ramp/internal/server"
)

// TestLoginWithSingleSignOn: ramp login against a server with single
// sign-on and no token given logs in through the browser (a real OpenID
// Connect server, an HTTP client in the browser's place), saves the
// personal token in a context, and later commands go through the admin
// API as the person the issuer named.
func TestLoginWithSingleSignOn(t *testing.T) {
	rig := newSSORig(t)
	// The rig serves single sign-on; serve the admin API beside it, as
	// ramp serve does, with the same Checker.
	h, err := sso.New(rig.a, sso.Config{Issuer: rig.idp.Issuer(), ClientID: rig.idp.ClientID, ClientSecret: rig.idp.ClientSecret,
		Scopes: []string{"openid", "email", "profile", "groups"}, Roles: mustRoles(t), Throttle: rig.checker})
	if err != nil {
		t.Fatal(err)
	}
	apiH, err := api.New(api.Config{Admin: rig.a, Auth: rig.checker})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Source: rig.a, Auth: rig.checker, OIDC: h, API: apiH})
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
	url := "http://" + ln.Addr().String()

	dir := t.TempDir()
	t.Setenv("RAMP_CONFIG_DIR", dir)
	t.Setenv("RAMP_ACTOR", "")
	b := newBrowser(t, nil)
	opened := make(chan int, 1)
	openBrowser = func(_ context.Context, u string) error {
		go func() {
			resp, _ := b.get(t, u)
			opened <- resp.StatusCode
		}()
		return nil
	}
	t.Cleanup(func() { openBrowser = systemBrowser })

	ios, _, out, errOut := Test()
	ios.StderrTTY = true
	if code := Execute(context.Background(), []string{"login", "--server", url, "--context", "sso", "-o", "table"}, ios); code != ExitOK {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	if status := <-opened; status != http.StatusOK {
		t.Errorf("the browser ended on %d", status)
	}
	if !strings.Contains(errOut.String(), "as jane.doe@example.com (token, role admin)") {
		t.Errorf("login said:\n%s", errOut)
	}
	data, err := os.ReadFile(filepath.Join(dir, "contexts.json"))
	if err != nil || !strings.Contains(string(data), `"token": "ramp_pat_`) {
		t.Fatalf("contexts.json: %v\n%s", err, data)
	}
	if strings.Contains(out.String()+errOut.String(), "ramp_pat_") {
		t.Error("login printed the token")
	}

	ios, _, out, errOut = Test()
	if code := Execute(context.Background(), []string{"flags", "list", "-o", "json"}, ios); code != ExitOK || !strings.Contains(out.String(), "[]") {
		t.Errorf("flags list through the context: exit %d\n%s%s", code, out, errOut)
	}
	ios, _, out, _ = Test()
	if code := Execute(context.Background(), []string{"auth", "status", "-o", "json"}, ios); code != ExitOK ||
		!strings.Contains(out.String(), `"name": "jane.doe@example.com"`) || !strings.Contains(out.String(), `"source": "context \"sso\""`) {
		t.Errorf("auth status: exit %d\n%s", code, out)
	}
}

func mustRoles(t *testing.T) sso.RoleMap {
	t.Helper()
	roles, err := sso.ParseRoleMap("email:jane.doe@example.com = admin")
	if err != nil {
		t.Fatal(err)
	}
	return roles
}

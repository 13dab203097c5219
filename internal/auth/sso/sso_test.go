package sso

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/admin"
)

// TestIssuerDown: while the issuer cannot be reached, a login gets 503 and
// a page that says so; the handler still says single sign-on is on.
func TestIssuerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	ln.Close() // nobody listens there any more
	a, err := admin.Open(context.Background(), filepath.Join(t.TempDir(), "ramp.db"), admin.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	roles, _ := ParseRoleMap("* = viewer")
	h, err := New(a, Config{Issuer: issuer, ClientID: "ramp", Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/auth/oidc/login?return_to=/", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "unavailable") {
		t.Errorf("login with the issuer down: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/auth/oidc/", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), issuer) {
		t.Errorf("info: %d %s", w.Code, w.Body)
	}
	for _, cfg := range []Config{{ClientID: "x", Roles: roles}, {Issuer: issuer, Roles: roles}, {Issuer: issuer, ClientID: "x"}} {
		if _, err := New(a, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/server"
)

// TestAuthFailureThrottle: refused credentials from one client address
// get 429 with Retry-After past the address's limit of failures, however
// they were refused; from then on the address's requests are refused
// before their secret is looked at, but for a credential that was already
// working from it, which is still served; another address is unaffected.
func TestAuthFailureThrottle(t *testing.T) {
	tests := []struct {
		name           string
		path           string
		header, secret string
	}{
		{name: "unknown key", path: "/ofrep/v1/evaluate/flags/common-mailbox", header: "Authorization", secret: "Bearer ramp_key_guess"},
		{name: "revoked key", path: "/v1/snapshot", header: "X-API-Key", secret: "revoked"},
		{name: "no key", path: "/v1/snapshot"},
		{name: "malformed header", path: "/v1/snapshot", header: "Authorization", secret: "Basic dXNlcjpwYXNz"},
		{name: "forged stream token", path: "/ofrep/v1/events?token=abc.def"},
		{name: "secret in the query string", path: "/v1/snapshot?api_key=whatever"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			working := createKey(t, s, "working")
			fresh := createKey(t, s, "fresh")
			ops := createAdminKey(t, s, "ops")
			if tt.secret == "revoked" {
				tt.secret = createKey(t, s, "old")
				if _, err := s.RevokeKey(context.Background(), "old", "tester"); err != nil {
					t.Fatal(err)
				}
			}
			// One every 10 s, in bursts of 5: the burst is spent, and
			// what follows checked, long before a token comes back, even
			// on a slow machine.
			srv := start(t, server.Config{Source: s, Auth: newStoreAuth(t, s, auth.Options{FailureLimit: 0.1})})
			from1 := clientFrom(t, "127.0.0.1")
			from2 := clientFrom(t, "127.0.0.2")
			if resp := send(t, from1, http.MethodGet, srv.URL+"/v1/snapshot", "X-API-Key", working); resp.StatusCode != http.StatusOK {
				t.Fatalf("a valid key: %d", resp.StatusCode)
			}
			wrong := func(c *http.Client) *http.Response {
				t.Helper()
				method := http.MethodGet
				if strings.HasPrefix(tt.path, "/ofrep/v1/evaluate") {
					method = http.MethodPost
				}
				return send(t, c, method, srv.URL+tt.path, tt.header, tt.secret)
			}
			var throttled *http.Response
			failures := 0
			for i := 0; i < 50 && throttled == nil; i++ {
				switch resp := wrong(from1); resp.StatusCode {
				case http.StatusUnauthorized:
					failures++
					if resp.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
				case http.StatusTooManyRequests:
					throttled = resp
				default:
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			if throttled == nil {
				t.Fatal("50 failed authentications from one address, all 401")
			}
			if failures < 5 {
				t.Errorf("429 after %d failures, want at least the burst (5)", failures)
			}
			if ra, err := strconv.Atoi(throttled.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After = %q, want whole seconds", throttled.Header.Get("Retry-After"))
			}
			if resp := wrong(from1); resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("the next failure from the throttled address: %d, want 429", resp.StatusCode)
			}
			// A key that was working from the throttled address still
			// works; a valid key it never used is refused before it is
			// looked at.
			if resp := send(t, from1, http.MethodGet, srv.URL+"/v1/snapshot", "X-API-Key", working); resp.StatusCode != http.StatusOK {
				t.Errorf("a key already used from the throttled address: %d, want 200", resp.StatusCode)
			}
			if resp := send(t, from1, http.MethodGet, srv.URL+"/v1/snapshot", "X-API-Key", fresh); resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("a key new to the throttled address: %d, want 429", resp.StatusCode)
			}
			// Another address has a limit of its own.
			if resp := wrong(from2); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("a failure from another address: %d, want 401", resp.StatusCode)
			}
			if resp := send(t, from2, http.MethodGet, srv.URL+"/v1/snapshot", "X-API-Key", fresh); resp.StatusCode != http.StatusOK {
				t.Errorf("a valid key from another address: %d, want 200", resp.StatusCode)
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
			req.Header.Set("Authorization", "Bearer "+ops)
			resp, err := from2.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`ramp_auth_failures_total{code="401"}`, `ramp_auth_failures_total{code="429"}`, `ramp_auth_failure_addresses 2`} {
				if !strings.Contains(string(metrics), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}

// TestAuthFailureThrottleOff: a negative limit turns it off.
func TestAuthFailureThrottleOff(t *testing.T) {
	s, _ := openStore(t)
	srv := start(t, server.Config{Source: s, Auth: newStoreAuth(t, s, auth.Options{FailureLimit: -1})})
	for i := range 50 {
		if resp, _ := do(t, http.MethodGet, srv.URL+"/v1/snapshot", "ramp_key_guess", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d without a limit: %d, want 401", i, resp.StatusCode)
		}
	}
}

// clientFrom returns a client whose connections come from a local address
// (any of 127.0.0.0/8 on Linux); it skips the test where that cannot be.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	local := &net.TCPAddr{IP: net.ParseIP(ip)}
	if ln, err := net.ListenTCP("tcp", local); err != nil {
		t.Skipf("cannot use %s as a client address: %v", ip, err)
	} else {
		ln.Close()
	}
	d := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// send makes a request with a client, the header given if any, and returns
// the response with its body read and closed.
func send(t *testing.T, c *http.Client, method, url, header, value string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

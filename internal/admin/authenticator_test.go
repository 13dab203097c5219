package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/store"
)

// patience bounds every wait on something another goroutine or process
// does; tests never assert how fast it was.
const patience = 30 * time.Second

// clock is a settable Now, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// request is a request from addr with headers (name, value pairs).
func request(target, addr string, hdr ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = addr + ":4242"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func checker(t testing.TB, a *admin.Service, opt auth.Options) *auth.Checker {
	t.Helper()
	c, err := a.Authenticator(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestAuthenticate: every way a credential is admitted or refused, and
// the principal it acts for.
func TestAuthenticate(t *testing.T) {
	clk := newClock()
	a, _ := open(t)
	a.Now = clk.now
	ctx := admin.WithActor(context.Background(), "root")
	sdk, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "checkout", Role: admin.RoleSDK})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "ci", Role: admin.RoleEditor, Approve: true, Expires: clk.now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := a.CreateToken(ctx, admin.CreateTokenRequest{Person: "alice@example.com", Role: admin.RoleEditor, Approve: true, Note: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	brief, err := a.CreateToken(ctx, admin.CreateTokenRequest{Person: "bob", Role: admin.RoleViewer, Expires: clk.now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := a.CreateToken(ctx, admin.CreateTokenRequest{Person: "carol", Role: admin.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeToken(ctx, fmt.Sprint(gone.ID)); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{sdk.Secret, ci.Secret} {
		if !strings.HasPrefix(secret, "ramp_key_") {
			t.Errorf("key secret %.12s…: want the prefix ramp_key_", secret)
		}
	}
	if !strings.HasPrefix(alice.Secret, "ramp_pat_") {
		t.Errorf("token secret %.12s…: want the prefix ramp_pat_", alice.Secret)
	}
	c := checker(t, a, auth.Options{FailureLimit: -1})
	clk.add(2 * time.Hour) // bob's token has expired; ci's key has not

	tests := []struct {
		name   string
		target string
		hdr    []string
		want   auth.Principal
		err    error
	}{
		{name: "bearer key", hdr: []string{"Authorization", "Bearer " + sdk.Secret},
			want: auth.Principal{Name: "key:checkout", Kind: auth.KindKey, Role: auth.RoleSDK, CredentialID: fmt.Sprintf("key:%d", sdk.ID)}},
		{name: "X-API-Key", hdr: []string{"X-API-Key", ci.Secret},
			want: auth.Principal{Name: "key:ci", Kind: auth.KindKey, Role: auth.RoleEditor, Approve: true, CredentialID: fmt.Sprintf("key:%d", ci.ID), Expires: *ci.ExpiresAt}},
		{name: "personal token, scheme in lower case", hdr: []string{"Authorization", "bearer " + alice.Secret},
			want: auth.Principal{Name: "alice@example.com", Kind: auth.KindToken, Role: auth.RoleEditor, Approve: true, CredentialID: fmt.Sprintf("token:%d", alice.ID), Expires: *alice.ExpiresAt}},
		{name: "both headers, one secret", hdr: []string{"Authorization", "Bearer " + sdk.Secret, "X-API-Key", sdk.Secret},
			want: auth.Principal{Name: "key:checkout", Kind: auth.KindKey, Role: auth.RoleSDK, CredentialID: fmt.Sprintf("key:%d", sdk.ID)}},
		{name: "no credential", err: auth.ErrNoCredential},
		{name: "unknown", hdr: []string{"Authorization", "Bearer ramp_pat_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, err: auth.ErrUnknownCredential},
		{name: "revoked", hdr: []string{"Authorization", "Bearer " + gone.Secret}, err: auth.ErrUnknownCredential},
		{name: "expired", hdr: []string{"Authorization", "Bearer " + brief.Secret}, err: auth.ErrExpiredCredential},
		{name: "a secret's prefix", hdr: []string{"Authorization", "Bearer " + sdk.Secret[:20]}, err: auth.ErrUnknownCredential},
		{name: "basic scheme", hdr: []string{"Authorization", "Basic " + sdk.Secret}, err: auth.ErrMalformedCredential},
		{name: "two secrets", hdr: []string{"Authorization", "Bearer " + sdk.Secret, "X-API-Key", alice.Secret}, err: auth.ErrMalformedCredential},
		{name: "secret in the query string", target: "/v1/snapshot?token=" + sdk.Secret, hdr: []string{"Authorization", "Bearer " + sdk.Secret}, err: auth.ErrSecretInQuery},
		{name: "access_token in the query string", target: "/api/v1/flags?access_token=x", hdr: []string{"Authorization", "Bearer " + sdk.Secret}, err: auth.ErrSecretInQuery},
		{name: "escaped secret in the query string", target: "/x?q=%72amp_pat_abc", hdr: []string{"Authorization", "Bearer " + sdk.Secret}, err: auth.ErrSecretInQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/v1/snapshot"
			}
			got, err := c.Authenticate(request(target, "192.0.2.1", tt.hdr...))
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !errors.Is(err, ramp.ErrUnauthorized) {
					t.Fatalf("Authenticate = %+v, %v; want %v", got, err, tt.err)
				}
				for _, secret := range []string{sdk.Secret, ci.Secret, alice.Secret, brief.Secret, gone.Secret} {
					if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[9:20]) {
						t.Errorf("the error %q holds a secret", err)
					}
				}
				return
			}
			if err != nil || !got.Expires.Equal(tt.want.Expires) {
				t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, tt.want)
			}
			got.Expires, tt.want.Expires = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("Authenticate = %+v, want %+v", got, tt.want)
			}
			if !c.Active(got) {
				t.Errorf("Active(%+v) = false", got)
			}
		})
	}
}

// TestRevocationAcrossServers: two servers' authenticators on one database
// (two Services, as two ramp serve processes open it) admit a token, and
// refuse it soon after a third process revokes it; neither the creation nor
// the revocation moves the configuration version.
func TestRevocationAcrossServers(t *testing.T) {
	a, _, dsn := openDSN(t)
	ctx := admin.WithActor(context.Background(), "root")
	rev0, err := a.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var servers []*auth.Checker
	for range 2 {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		servers = append(servers, checker(t, admin.New(st), auth.Options{}))
	}
	// Created after the servers loaded their credentials: admitted at once
	// (an unknown secret makes a server look for new credentials).
	tok, err := a.CreateToken(ctx, admin.CreateTokenRequest{Person: "alice", Role: admin.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range servers {
		if _, err := waitFor(c, tok.Secret, nil); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
	start := time.Now()
	if _, err := a.RevokeToken(ctx, fmt.Sprint(tok.ID)); err != nil {
		t.Fatal(err)
	}
	for i, c := range servers {
		if _, err := waitFor(c, tok.Secret, auth.ErrUnknownCredential); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
	t.Logf("revocation refused by both servers %s after it was committed", time.Since(start).Round(time.Millisecond))
	rev1, err := a.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev1 != rev0 {
		t.Errorf("creating and revoking a token moved the configuration from %v to %v", rev0, rev1)
	}
}

// waitFor authenticates secret until the error is want (nil: admitted).
func waitFor(c *auth.Checker, secret string, want error) (auth.Principal, error) {
	deadline := time.Now().Add(patience)
	for {
		p, err := c.Authenticate(request("/v1/snapshot", "192.0.2.9", "Authorization", "Bearer "+secret))
		if want == nil && err == nil || want != nil && errors.Is(err, want) {
			return p, nil
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("still %v after %s, want %v", err, patience, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestThrottle: a client address that fails past its limit is refused
// before its secret is looked at; a credential it already used still
// works; behind a trusted proxy the forwarded address counts, and a
// forwarded address from an untrusted peer is ignored.
func TestThrottle(t *testing.T) {
	clk := newClock()
	a, _ := open(t)
	a.Now = clk.now
	ctx := admin.WithActor(context.Background(), "root")
	used, _ := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "used", Role: admin.RoleSDK})
	unused, _ := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "unused", Role: admin.RoleSDK})
	proxies, err := auth.ParseProxies("10.0.0.0/8, 192.0.2.200")
	if err != nil {
		t.Fatal(err)
	}
	c := checker(t, a, auth.Options{FailureLimit: 1, TrustedProxies: proxies}) // bursts of 5
	bearer := func(s string) []string { return []string{"Authorization", "Bearer " + s} }
	try := func(addr string, hdr ...string) error {
		_, err := c.Authenticate(request("/v1/snapshot", addr, hdr...))
		return err
	}
	if err := try("192.0.2.1", bearer(used.Secret)...); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := try("192.0.2.1", bearer("ramp_key_guess")...); !errors.Is(err, auth.ErrUnknownCredential) {
			t.Fatalf("failure %d within the burst: %v", i, err)
		}
	}
	var throttled *auth.ThrottledError
	if err := try("192.0.2.1", bearer("ramp_key_guess")...); !errors.As(err, &throttled) || throttled.RetryAfter <= 0 || !errors.Is(err, ramp.ErrUnauthorized) {
		t.Fatalf("past the burst: %v, want a ThrottledError", err)
	}
	if err := try("192.0.2.1", bearer(unused.Secret)...); !errors.As(err, &throttled) {
		t.Errorf("a valid key new to the throttled address: %v, want throttled", err)
	}
	if err := try("192.0.2.1", bearer(used.Secret)...); err != nil {
		t.Errorf("the key the throttled address was using: %v", err)
	}
	if err := try("192.0.2.2", bearer(unused.Secret)...); err != nil {
		t.Errorf("another address: %v", err)
	}
	// Through a trusted proxy: the client's forwarded address is
	// throttled, not the proxy's, and not an address the client wrote.
	if err := try("10.1.2.3", append(bearer(unused.Secret), "X-Forwarded-For", "198.51.100.7, 192.0.2.1")...); !errors.As(err, &throttled) {
		t.Errorf("the throttled address through a trusted proxy: %v, want throttled", err)
	}
	if err := try("10.1.2.3", append(bearer(unused.Secret), "X-Forwarded-For", "192.0.2.1, 198.51.100.7")...); err != nil {
		t.Errorf("another client through a trusted proxy, naming the throttled address first: %v", err)
	}
	if err := try("192.0.2.1", append(bearer(unused.Secret), "X-Forwarded-For", "198.51.100.8")...); !errors.As(err, &throttled) {
		t.Errorf("the throttled address from an untrusted peer with X-Forwarded-For: %v, want throttled", err)
	}
	// The address's failures refill: it may try again.
	clk.add(10 * time.Second)
	if err := try("192.0.2.1", bearer(unused.Secret)...); err != nil {
		t.Errorf("after the limit refilled: %v", err)
	}
}

// TestAuthenticateConcurrently: requests authenticate while credentials
// are created and revoked and the checker reloads (run with -race).
func TestAuthenticateConcurrently(t *testing.T) {
	a, _ := open(t)
	ctx := admin.WithActor(context.Background(), "root")
	keep, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "keep", Role: admin.RoleSDK})
	if err != nil {
		t.Fatal(err)
	}
	c := checker(t, a, auth.Options{Poll: time.Millisecond, TouchEvery: 5 * time.Millisecond, FailureLimit: -1})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var admitted atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				secret := keep.Secret
				if i%3 == 0 {
					secret = fmt.Sprintf("ramp_key_wrong%d", g)
				}
				p, err := c.Authenticate(request("/v1/snapshot", fmt.Sprintf("192.0.2.%d", g+1), "X-API-Key", secret))
				switch {
				case secret == keep.Secret && (err != nil || p.Name != "key:keep"):
					t.Errorf("the kept key: %+v, %v", p, err)
				case secret != keep.Secret && !errors.Is(err, auth.ErrUnknownCredential):
					t.Errorf("a wrong key: %v", err)
				case err == nil:
					admitted.Add(1)
					c.Active(p)
				}
			}
		}()
	}
	for i := range 20 {
		tok, err := a.CreateToken(ctx, admin.CreateTokenRequest{Person: fmt.Sprintf("p%d", i), Role: admin.RoleViewer})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := waitFor(c, tok.Secret, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := a.RevokeToken(ctx, fmt.Sprint(tok.ID)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if admitted.Load() == 0 {
		t.Error("no request was admitted")
	}
}

// TestLastUsed: uses are written in batches, not per request: nothing
// until the checker flushes (here at Close), then the time of the last use.
func TestLastUsed(t *testing.T) {
	clk := newClock()
	a, _ := open(t)
	a.Now = clk.now
	ctx := admin.WithActor(context.Background(), "root")
	k, _ := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "svc", Role: admin.RoleSDK})
	tok, _ := a.CreateToken(ctx, admin.CreateTokenRequest{Person: "alice", Role: admin.RoleEditor})
	c, err := a.Authenticator(ctx, auth.Options{TouchEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		for _, s := range []string{k.Secret, tok.Secret} {
			if _, err := c.Authenticate(request("/", "192.0.2.1", "X-API-Key", s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	last := clk.now()
	keys, _ := a.Keys(ctx, false)
	if keys[0].LastUsedAt != nil {
		t.Errorf("last use written before the batch: %v", keys[0].LastUsedAt)
	}
	c.Close()
	keys, _ = a.Keys(ctx, false)
	toks, _ := a.Tokens(ctx, admin.TokenFilter{})
	if keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(last.UTC().Truncate(time.Microsecond)) {
		t.Errorf("key last used %v, want %v", keys[0].LastUsedAt, last)
	}
	if toks[0].LastUsedAt == nil || !toks[0].LastUsedAt.Equal(last.UTC().Truncate(time.Microsecond)) {
		t.Errorf("token last used %v, want %v", toks[0].LastUsedAt, last)
	}
}

// TestNoSecretLogged: a checker whose source fails logs the failure, and
// nothing it logs or returns holds a secret, whatever requests it sees.
func TestNoSecretLogged(t *testing.T) {
	a, s := open(t)
	ctx := admin.WithActor(context.Background(), "root")
	k, _ := a.CreateKey(ctx, admin.CreateKeyRequest{Name: "svc", Role: admin.RoleSDK})
	tok, _ := a.CreateToken(ctx, admin.CreateTokenRequest{Person: "alice", Role: admin.RoleEditor})
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := checker(t, a, auth.Options{Poll: time.Millisecond, TouchEvery: time.Millisecond, FailureLimit: 1, Logger: log})
	secrets := []string{k.Secret, tok.Secret, "ramp_pat_notarealsecretbutsecretnonetheless"}
	var errs []string
	for _, secret := range secrets {
		for _, r := range []*http.Request{
			request("/", "192.0.2.1", "Authorization", "Bearer "+secret),
			request("/?api_key="+secret, "192.0.2.2", "X-API-Key", secret),
			request("/", "192.0.2.3", "Authorization", "Basic "+secret),
			request("/", "192.0.2.4", "Authorization", "Bearer "+secret+" "+secret),
		} {
			for range 8 { // past the limit too
				if _, err := c.Authenticate(r); err != nil {
					errs = append(errs, err.Error())
				}
			}
		}
	}
	// The database goes away: the checker logs that it cannot reload or
	// record last uses.
	s.Close()
	deadline := time.Now().Add(patience)
	for !strings.Contains(logs.String(), "credentials") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "credentials") {
		t.Error("a failing source was not logged")
	}
	c.Close()
	all := logs.String() + strings.Join(errs, "\n")
	for _, secret := range secrets {
		if strings.Contains(all, secret) || strings.Contains(all, secret[9:]) {
			t.Errorf("a secret was logged or returned:\n%s", all)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// BenchmarkAuthenticate is the cost of authenticating one request: with a
// key among 100 (the common case: a service's sdk key), and with an
// unknown secret (no limit on failures).
func BenchmarkAuthenticate(b *testing.B) {
	a, _ := open(b)
	ctx := admin.WithActor(context.Background(), "root")
	var secret string
	for i := range 100 {
		k, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: fmt.Sprintf("svc-%d", i), Role: admin.RoleSDK})
		if err != nil {
			b.Fatal(err)
		}
		secret = k.Secret
	}
	c := checker(b, a, auth.Options{FailureLimit: -1})
	for _, bm := range []struct{ name, secret string }{{"known", secret}, {"unknown", "ramp_key_" + strings.Repeat("a", 32)}} {
		b.Run(bm.name, func(b *testing.B) {
			r := request("/v1/snapshot", "192.0.2.1", "Authorization", "Bearer "+bm.secret)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.Authenticate(r)
			}
		})
	}
}

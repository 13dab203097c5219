package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

// TestSessions: a dashboard session is admitted by its cookie until it is
// idle too long, passes its lifetime, or its holder logs out (on every
// server within a poll); none of it moves the configuration version.
func TestSessions(t *testing.T) {
	clk := newClock()
	a, st := open(t)
	a.Now, st.Now = clk.now, clk.now
	ctx := admin.WithActor(context.Background(), "alice")
	rev0, _ := a.Revision(ctx)
	c := checker(t, a, auth.Options{FailureLimit: -1})
	sessions := c.Sessions()
	newSession := func() admin.CreatedSession {
		t.Helper()
		s, err := a.CreateSession(ctx, admin.CreateSessionRequest{Person: "alice", Role: admin.RoleEditor, Approve: true, Via: "token",
			Idle: time.Hour, Lifetime: 3 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	withCookie := func(secret string) *http.Request {
		r := request("/flags", "192.0.2.1")
		r.AddCookie(auth.NewSessionCookie(secret, clk.now().Add(time.Hour)))
		return r
	}
	s := newSession()
	p, err := sessions.Authenticate(withCookie(s.Secret))
	want := auth.Principal{Name: "alice", Kind: auth.KindSession, Role: auth.RoleEditor, Approve: true, CredentialID: fmt.Sprintf("session:%d", s.ID), Expires: s.ExpiresAt}
	if err != nil || p != want {
		t.Fatalf("Authenticate = %+v, %v; want %+v", p, err, want)
	}
	if got, err := a.Session(ctx, s.Secret); err != nil || got.ID != s.ID {
		t.Errorf("Session = %+v, %v", got, err)
	}
	if _, err := c.Authenticate(withCookie(s.Secret)); !errors.Is(err, auth.ErrNoCredential) {
		t.Errorf("the API authenticator took a cookie: %v", err)
	}
	if _, err := sessions.Authenticate(request("/flags", "192.0.2.1", "Authorization", "Bearer "+s.Secret)); !errors.Is(err, auth.ErrSessionEnded) {
		t.Errorf("the session authenticator took a header: %v", err)
	}
	// Seen every 50 minutes, it lives to its lifetime, not a minute more.
	for range 3 {
		clk.add(50 * time.Minute)
		if _, err := sessions.Authenticate(withCookie(s.Secret)); err != nil && clk.now().Before(s.ExpiresAt) {
			t.Fatalf("a session seen within its idle time: %v", err)
		}
	}
	clk.add(31 * time.Minute) // 3h01 after its creation, 31 minutes after it was last seen
	if _, err := sessions.Authenticate(withCookie(s.Secret)); !errors.Is(err, auth.ErrSessionEnded) {
		t.Errorf("past its lifetime: %v, want ended", err)
	}
	if _, err := a.Session(ctx, s.Secret); !errors.Is(err, ramp.ErrUnauthorized) {
		t.Errorf("Session past its lifetime: %v", err)
	}

	// Idle for more than an hour: ended.
	idle := newSession()
	if _, err := sessions.Authenticate(withCookie(idle.Secret)); err != nil {
		t.Fatal(err)
	}
	clk.add(61 * time.Minute)
	if _, err := sessions.Authenticate(withCookie(idle.Secret)); !errors.Is(err, auth.ErrSessionEnded) {
		t.Errorf("idle for 61 minutes: %v, want ended", err)
	}

	// Logout.
	out := newSession()
	if _, err := sessions.Authenticate(withCookie(out.Secret)); err != nil {
		t.Fatal(err)
	}
	if err := a.EndSession(ctx, out.Secret); err != nil {
		t.Fatal(err)
	}
	if err := a.EndSession(ctx, out.Secret); err != nil {
		t.Errorf("logging out twice: %v", err)
	}
	deadline := time.Now().Add(patience)
	for {
		_, err := sessions.Authenticate(withCookie(out.Secret))
		if errors.Is(err, auth.ErrSessionEnded) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a session still admitted after logout: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := sessions.Authenticate(withCookie("ramp_ses_forged")); !errors.Is(err, auth.ErrSessionEnded) {
		t.Errorf("a forged cookie: %v", err)
	}
	if rev1, _ := a.Revision(ctx); rev1 != rev0 {
		t.Errorf("sessions moved the configuration from %v to %v", rev0, rev1)
	}
	ck := auth.NewSessionCookie("x", clk.now())
	if ck.Name != "__Host-ramp-session" || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("session cookie %+v", ck)
	}
}

// TestCredentialPermissions: with a principal in the context (the admin
// API), only an admin manages credentials, grants only what it holds, and
// a person may list and revoke their own tokens.
func TestCredentialPermissions(t *testing.T) {
	a, _ := open(t)
	root := admin.WithActor(context.Background(), "root")
	as := func(p auth.Principal) context.Context {
		return auth.WithPrincipal(admin.WithActor(context.Background(), p.Name), p)
	}
	adminApprover := as(auth.Principal{Name: "ada", Kind: auth.KindToken, Role: auth.RoleAdmin, Approve: true})
	adminOnly := as(auth.Principal{Name: "adam", Kind: auth.KindToken, Role: auth.RoleAdmin})
	editor := as(auth.Principal{Name: "eve", Kind: auth.KindToken, Role: auth.RoleEditor, Approve: true})
	ciKey := as(auth.Principal{Name: "key:ci", Kind: auth.KindKey, Role: auth.RoleEditor})

	if _, err := a.CreateToken(adminApprover, admin.CreateTokenRequest{Person: "bob", Role: admin.RoleEditor, Approve: true}); err != nil {
		t.Errorf("an approving admin grants approve: %v", err)
	}
	if _, err := a.CreateToken(adminOnly, admin.CreateTokenRequest{Person: "adam", Role: admin.RoleEditor, Approve: true}); !errors.Is(err, ramp.ErrForbidden) {
		t.Errorf("an admin without approve grants it: %v, want forbidden", err)
	}
	if _, err := a.CreateKey(editor, admin.CreateKeyRequest{Name: "x", Role: admin.RoleSDK}); !errors.Is(err, ramp.ErrForbidden) {
		t.Errorf("an editor creates a key: %v, want forbidden", err)
	}
	if _, err := a.Keys(editor, false); !errors.Is(err, ramp.ErrForbidden) {
		t.Errorf("an editor lists keys: %v, want forbidden", err)
	}
	mine, err := a.CreateToken(root, admin.CreateTokenRequest{Person: "eve", Role: admin.RoleEditor})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := a.CreateToken(root, admin.CreateTokenRequest{Person: "frank", Role: admin.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	if toks, err := a.Tokens(editor, admin.TokenFilter{}); err != nil || len(toks) != 1 || toks[0].Person != "eve" {
		t.Errorf("eve lists tokens: %+v, %v; want hers only", toks, err)
	}
	if _, err := a.Tokens(ciKey, admin.TokenFilter{}); !errors.Is(err, ramp.ErrForbidden) {
		t.Errorf("a key lists tokens: %v, want forbidden", err)
	}
	if _, err := a.RevokeToken(editor, fmt.Sprint(theirs.ID)); !errors.Is(err, ramp.ErrForbidden) {
		t.Errorf("eve revokes frank's token: %v, want forbidden", err)
	}
	if tok, err := a.RevokeToken(editor, fmt.Sprint(mine.ID)); err != nil || tok.RevokedBy != "eve" {
		t.Errorf("eve revokes her own token: %+v, %v", tok, err)
	}
	if _, err := a.RevokeToken(adminOnly, fmt.Sprint(theirs.ID)); err != nil {
		t.Errorf("an admin revokes anyone's: %v", err)
	}
	if _, err := a.RevokeToken(root, "twelve"); !errors.Is(err, ramp.ErrInvalid) {
		t.Errorf("a token id that is no number: %v, want invalid", err)
	}
	for _, req := range []admin.CreateTokenRequest{
		{Person: "key:ci", Role: admin.RoleEditor},
		{Person: "bob", Role: admin.RoleSDK},
		{Person: "bob", Role: admin.RoleEditor, Expires: time.Now().Add(400 * 24 * time.Hour)},
		{Person: "bob", Role: admin.RoleEditor, Expires: time.Now().Add(-time.Minute)},
	} {
		if _, err := a.CreateToken(root, req); !errors.Is(err, ramp.ErrInvalid) {
			t.Errorf("CreateToken(%+v): %v, want invalid", req, err)
		}
	}
	// The audit log names who acted: the principal's name.
	log, err := a.Audit(root, admin.AuditFilter{Kind: "token", Action: "token.revoke"})
	if err != nil || len(log.Entries) != 2 || log.Entries[0].Actor != "eve" || log.Entries[1].Actor != "adam" {
		t.Errorf("audit of revocations: %+v, %v", log.Entries, err)
	}
}

package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/dashboard"
)

const interop = "messenger-ig-interop"

// TestPagesRender reads every page as a viewer: each answers 200 with what
// it is for.
func TestPagesRender(t *testing.T) {
	e := newEnv(t)
	e.seedExperiment()
	c := e.signedIn("viewer-token")
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/flags", []string{interop, "ig-dm-via-whatsapp", "Owner"}},
		{"/flags?q=interop", []string{interop}},
		{"/flags?tag=experiment", []string{"wa-link-code-ttl-seconds"}},
		{"/flags/" + interop, []string{"Variants", "Rules, in order", "Kill switch", "us-10", "Why does a user get a variant?"}},
		{"/flags/" + interop + "?user=u1&region=US", []string{"rule", "bucketing: ", "of 10000", "Rollout: live stage us-10"}},
		{"/flags/" + interop + "?user=emp-1", []string{"→"}},
		{"/rollouts", []string{interop, "us-10", "live", "next", "due"}},
		{"/rollouts/" + interop, []string{"Live audience", "region US", "users listed in cohorts", "History"}},
		{"/audit", []string{"demo", "rollout.advance"}},
		{"/audit?flag=" + interop, []string{"rollout.advance", "Diff"}},
		{"/audit?actor=nobody", []string{"No entry matches."}},
		{"/experiments", []string{"dm-handoff-vs-inline", "running"}},
		{"/experiments/dm-handoff-vs-inline", []string{"Sample ratio", "(χ² = 0.00, p = 1.000, 2,000 units)", "replies-per-user", "inline vs control", "report.svg", "Phases"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, body := c.get(tc.path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", tc.path, res.StatusCode, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q", tc.path, w)
				}
			}
		})
	}
	// The chart is the report's, as an SVG with its own narrow policy.
	res, svg := c.get("/experiments/dm-handoff-vs-inline/report.svg")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "<svg") ||
		!strings.Contains(svg, "replies-per-user") || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("report.svg: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Security-Policy"))
	}
	// A viewer sees no action.
	for _, path := range []string{"/flags/" + interop, "/rollouts/" + interop} {
		_, body := c.get(path)
		for _, action := range []string{"kill-switch", "/advance", "/pause", "/rollback", "/approve"} {
			if strings.Contains(body, action) {
				t.Errorf("a viewer's %s links to %s", path, action)
			}
		}
	}
	res, body := c.get("/flags/no-such-flag")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "no-such-flag") {
		t.Errorf("unknown flag: %d\n%s", res.StatusCode, body)
	}
}

// TestRefusals checks who may do what, at every action's endpoint, not
// only on the pages: 401 without a session, 403 for a role that may not.
func TestRefusals(t *testing.T) {
	e := newEnv(t)
	anon := e.client()
	viewer := e.signedIn("viewer-token")
	editor := e.signedIn("editor-token")

	t.Run("pages redirect to sign in", func(t *testing.T) {
		res, _ := anon.get("/rollouts/" + interop)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Frollouts%2F"+interop {
			t.Errorf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
	actions := []string{"/flags/" + interop + "/kill-switch", "/rollouts/" + interop + "/advance", "/rollouts/" + interop + "/pause",
		"/rollouts/" + interop + "/resume", "/rollouts/" + interop + "/rollback", "/rollouts/" + interop + "/approve"}
	form := url.Values{"version": {"1"}, "reason": {"x"}, "to": {"off"}}
	for _, path := range actions {
		t.Run(path, func(t *testing.T) {
			if res, _ := anon.post(path, form); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("without a session: %d, want 401", res.StatusCode)
			}
			if res, _ := viewer.post(path, form); res.StatusCode != http.StatusForbidden {
				t.Errorf("viewer POST: %d, want 403", res.StatusCode)
			}
			if res, _ := viewer.get(path); res.StatusCode != http.StatusForbidden {
				t.Errorf("viewer GET confirmation: %d, want 403", res.StatusCode)
			}
		})
	}
	t.Run("an editor without the approve capability", func(t *testing.T) {
		// eddie has it; pat does not.
		c := e.signedIn("plain-editor-token")
		if res, _ := c.post("/rollouts/"+interop+"/approve", form); res.StatusCode != http.StatusForbidden {
			t.Errorf("approve without the capability: %d, want 403", res.StatusCode)
		}
	})
	t.Run("nothing was changed", func(t *testing.T) {
		st, err := e.admin.RolloutStatus(context.Background(), interop)
		if err != nil {
			t.Fatal(err)
		}
		if st.Stage != "us-10" || st.Paused || st.Killed {
			t.Errorf("refused requests changed the rollout: %+v", st)
		}
	})
	t.Run("sign-in refusals", func(t *testing.T) {
		for _, tc := range []struct {
			token string
			code  int
		}{{"wrong", http.StatusUnauthorized}, {"", http.StatusBadRequest}, {"sdk-key", http.StatusForbidden}, {"admin-key", http.StatusForbidden}} {
			res, body := anon.post("/login", url.Values{"token": {e.secret(tc.token)}})
			if res.StatusCode != tc.code {
				t.Errorf("sign in with %q: %d, want %d\n%s", tc.token, res.StatusCode, tc.code, body)
			}
			if res.Header.Get("Set-Cookie") != "" {
				t.Errorf("sign in with %q set a cookie", tc.token)
			}
		}
	})
	t.Run("sign out ends the session on the server", func(t *testing.T) {
		c := e.signedIn("editor-token")
		cookies := c.c.Jar.Cookies(mustURL(t, e.srv.URL))
		c.post("/logout", nil)
		// Replaying the old cookie does not work.
		replay := e.client()
		replay.c.Jar.SetCookies(mustURL(t, e.srv.URL), cookies)
		if res, _ := replay.get("/flags"); res.StatusCode != http.StatusSeeOther {
			t.Errorf("a signed-out session still reads: %d", res.StatusCode)
		}
	})
	_ = editor
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestCrossOrigin refuses state-changing requests from another site, even
// with a valid session cookie (which SameSite=Lax already withholds from
// cross-site posts in browsers).
func TestCrossOrigin(t *testing.T) {
	e := newEnv(t)
	editor := e.signedIn("editor-token")
	_, page := editor.get("/flags/" + interop + "/kill-switch?to=off")
	form := url.Values{"version": {confirmedVersion(t, page)}, "to": {"off"}}
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin", []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := editor.post("/flags/"+interop+"/kill-switch", form, tc.header...)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "cross-origin request refused") {
				t.Errorf("%d\n%s", res.StatusCode, body)
			}
		})
	}
	for _, path := range []string{"/login", "/logout"} {
		if res, _ := e.client().post(path, url.Values{"token": {e.secret("admin-token")}}, "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, res.StatusCode)
		}
	}
	info, err := e.admin.Flag(context.Background(), interop)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Flag.Enabled {
		t.Error("a cross-site post threw the kill switch")
	}
}

// TestSecurityHeaders checks the policy and headers of every kind of
// answer, and the session cookie's attributes.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	anon := e.client()
	res, _ := anon.post("/login", url.Values{"token": {e.secret("viewer-token")}})
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == auth.SessionCookie {
			session = c
		}
	}
	switch {
	case session == nil:
		t.Fatalf("no %s cookie: %v", auth.SessionCookie, res.Header["Set-Cookie"])
	case !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Domain != "":
		t.Errorf("cookie attributes: %s", res.Header.Get("Set-Cookie"))
	case !strings.HasPrefix(session.Name, "__Host-") || len(session.Value) < 40:
		t.Errorf("cookie: %s", res.Header.Get("Set-Cookie"))
	}
	viewer := e.signedIn("viewer-token")
	for _, tc := range []struct {
		c    *client
		path string
	}{{anon, "/login"}, {anon, "/flags"}, {viewer, "/flags"}, {viewer, "/nowhere"}, {viewer, "/static/style.css"},
		{viewer, "/flags/" + interop + "/kill-switch"}} {
		res, _ := tc.c.get(tc.path)
		h := res.Header
		if got := h.Get("Content-Security-Policy"); got != dashboard.ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", tc.path, got)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "same-origin", "Strict-Transport-Security": "max-age=31536000"} {
			if h.Get(k) != want {
				t.Errorf("%s: %s = %q, want %q", tc.path, k, h.Get(k), want)
			}
		}
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(dashboard.ContentSecurityPolicy, want) {
			t.Errorf("the policy lacks %s", want)
		}
	}
	res, body := viewer.get("/flags")
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("a page carries an inline script or style, or a link elsewhere")
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("pages are cached: %q", res.Header.Get("Cache-Control"))
	}
}

// TestSignInStaysHere never redirects a sign-in elsewhere.
func TestSignInStaysHere(t *testing.T) {
	e := newEnv(t)
	for next, want := range map[string]string{
		"/rollouts":              "/rollouts",
		"//evil.example/x":       "/flags",
		"https://evil.example/x": "/flags",
		"/\\evil.example":        "/flags",
		"":                       "/flags",
	} {
		res, _ := e.client().post("/login", url.Values{"token": {e.secret("viewer-token")}, "next": {next}})
		if got := res.Header.Get("Location"); got != want {
			t.Errorf("next %q: redirected to %q, want %q", next, got, want)
		}
	}
}

// TestActions takes every action through its confirmation, as an editor
// and as an admin, and checks the audit log names them.
func TestActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	eddie := e.signedIn("editor-token")
	ada := e.signedIn("admin-token")
	rollout := "/rollouts/" + interop

	confirm := func(c *client, path, want string) string {
		t.Helper()
		res, body := c.get(path)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("GET %s: %d, want %q\n%s", path, res.StatusCode, want, body)
		}
		return confirmedVersion(t, body)
	}
	act := func(c *client, path string, form url.Values, wantCode int, wantLocation string) string {
		t.Helper()
		res, body := c.post(path, form)
		if res.StatusCode != wantCode || res.Header.Get("Location") != wantLocation {
			t.Fatalf("POST %s: %d to %q, want %d to %q\n%s", path, res.StatusCode, res.Header.Get("Location"), wantCode, wantLocation, body)
		}
		return body
	}

	// Advance: the confirmation shows the dry run.
	v := confirm(eddie, rollout+"/advance", "Start stage us-50")
	_, page := eddie.get(rollout + "/advance")
	for _, w := range []string{"region US", "10%", "50%", "users listed in cohorts"} {
		if !strings.Contains(page, w) {
			t.Errorf("the advance confirmation lacks %q", w)
		}
	}
	act(eddie, rollout+"/advance", url.Values{"version": {v}}, http.StatusSeeOther, rollout+"?done=advance")
	if st, _ := e.admin.RolloutStatus(ctx, interop); st.Stage != "us-50" {
		t.Fatalf("after advance: at %s", st.Stage)
	}
	// Replaying the same confirmation is stale: nothing moves.
	body := act(eddie, rollout+"/advance", url.Values{"version": {v}}, http.StatusConflict, "")
	if !strings.Contains(body, "Changed meanwhile") || !strings.Contains(body, "nothing was applied") {
		t.Errorf("stale advance:\n%s", body)
	}
	if st, _ := e.admin.RolloutStatus(ctx, interop); st.Stage != "us-50" {
		t.Fatalf("a stale advance moved the plan to %s", st.Stage)
	}

	// Pause needs a reason; then resume.
	v = confirm(eddie, rollout+"/pause", "Pause the rollout")
	act(eddie, rollout+"/pause", url.Values{"version": {v}}, http.StatusBadRequest, "")
	act(eddie, rollout+"/pause", url.Values{"version": {v}, "reason": {"crash rate up in EU"}}, http.StatusSeeOther, rollout+"?done=pause")
	_, page = eddie.get(rollout)
	if !strings.Contains(page, "crash rate up in EU") || !strings.Contains(page, "Resume…") {
		t.Errorf("the paused rollout's page lacks its reason or the resume button")
	}
	v = confirm(eddie, rollout+"/resume", "Resume the rollout")
	act(eddie, rollout+"/resume", url.Values{"version": {v}}, http.StatusSeeOther, rollout+"?done=resume")

	// Roll back to us-10, with a reason kept on the pause.
	v = confirm(ada, rollout+"/rollback", "Roll "+interop+" back from us-50 to us-10")
	act(ada, rollout+"/rollback", url.Values{"version": {v}, "stage": {"us-10"}, "reason": {"support tickets"}}, http.StatusSeeOther, rollout+"?done=rollback")
	st, err := e.admin.RolloutStatus(ctx, interop)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stage != "us-10" || !st.Paused || st.Pause.Reason != "support tickets" || st.Pause.By != "ada" {
		t.Errorf("after rollback: %+v %+v", st, st.Pause)
	}

	// The kill switch, and back.
	flag := "/flags/" + interop
	v = confirm(eddie, flag+"/kill-switch?to=off", "Every context gets the default variant, off")
	act(eddie, flag+"/kill-switch", url.Values{"version": {v}, "to": {"off"}}, http.StatusSeeOther, flag+"?done=kill")
	if info, _ := e.admin.Flag(ctx, interop); info.Flag.Enabled {
		t.Fatal("the kill switch did not disable the flag")
	}
	if res, _ := eddie.get(flag + "/kill-switch?to=off"); res.StatusCode != http.StatusConflict {
		t.Errorf("confirming an already thrown switch: %d", res.StatusCode)
	}
	v = confirm(eddie, flag+"/kill-switch?to=on", "decide again")
	act(eddie, flag+"/kill-switch", url.Values{"version": {v}, "to": {"on"}}, http.StatusSeeOther, flag+"?done=enable")

	log, err := e.admin.Audit(ctx, admin.AuditFilter{Target: interop})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range log.Entries {
		got = append(got, en.Actor+" "+en.Action)
	}
	want := []string{"eddie rollout.advance", "eddie rollout.pause", "eddie rollout.resume", "ada rollout.rollback", "eddie flag.disable", "eddie flag.enable"}
	if !strings.Contains(strings.Join(got, "\n"), strings.Join(want, "\n")) {
		t.Errorf("audit log:\n%s\nwant in order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestApproval goes through a stage that needs a second person: the one
// who asked cannot approve it, anywhere.
func TestApproval(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	doc := `flags:
  - key: checkout-v2
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: off
rollouts:
  - flag: checkout-v2
    variant: "on"
    stages:
      - {name: one, regions: [US], percent: 1}
      - {name: big, regions: [US], percent: 50, approval: true}
`
	path := filepath.Join(dir, "approval.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	e.rampCLI("apply", "-f", path)
	e.rampCLI("--actor", "demo", "rollout", "advance", "checkout-v2")
	eddie := e.signedIn("editor-token")
	ada := e.signedIn("admin-token")
	viewer := e.signedIn("viewer-token")
	rollout := "/rollouts/checkout-v2"

	_, body := eddie.get(rollout + "/advance")
	if !strings.Contains(body, "needs a second person") {
		t.Errorf("the confirmation does not say the stage needs approval:\n%s", body)
	}
	res, _ := eddie.post(rollout+"/advance", url.Values{"version": {confirmedVersion(t, body)}})
	if res.Header.Get("Location") != rollout+"?done=request" {
		t.Fatalf("advance to an approval stage: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if _, page := viewer.get(rollout); strings.Contains(page, "/approve") || !strings.Contains(page, "awaiting approval") {
		t.Errorf("the viewer's page shows an approve button, or not the request")
	}
	// eddie asked: his confirmation refuses, and so does the endpoint.
	res, body = eddie.get(rollout + "/approve")
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "another person must approve") {
		t.Errorf("self-approval confirmation: %d\n%s", res.StatusCode, body)
	}
	st, _ := e.admin.RolloutStatus(context.Background(), "checkout-v2")
	res, body = eddie.post(rollout+"/approve", url.Values{"version": {itoa(st.Version)}, "stage": {"big"}})
	if res.StatusCode != http.StatusConflict {
		t.Errorf("self-approval: %d\n%s", res.StatusCode, body)
	}
	res, body = ada.get(rollout + "/approve")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Approve stage big") {
		t.Fatalf("ada's confirmation: %d\n%s", res.StatusCode, body)
	}
	res, _ = ada.post(rollout+"/approve", url.Values{"version": {confirmedVersion(t, body)}, "stage": {"big"}})
	if res.Header.Get("Location") != rollout+"?done=approve" {
		t.Fatalf("approve: %d", res.StatusCode)
	}
	if st, _ := e.admin.RolloutStatus(context.Background(), "checkout-v2"); st.Stage != "big" || st.ApprovedBy != "ada" {
		t.Errorf("after approval: at %s approved by %s", st.Stage, st.ApprovedBy)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestMoveToAnotherStage computes the dry run of a move to a stage the
// person chooses, and makes that move.
func TestMoveToAnotherStage(t *testing.T) {
	e := newEnv(t)
	ada := e.signedIn("admin-token")
	rollout := "/rollouts/" + interop
	res, body := ada.get(rollout + "/rollback?to=none")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "back from us-10 to none") || !strings.Contains(body, `<option selected>none</option>`) {
		t.Fatalf("rollback to none: %d\n%s", res.StatusCode, body)
	}
	res, _ = ada.post(rollout+"/rollback", url.Values{"version": {confirmedVersion(t, body)}, "stage": {"none"}, "reason": {"incident 42"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rollback: %d", res.StatusCode)
	}
	st, err := e.admin.RolloutStatus(context.Background(), interop)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stage != "" || !st.Paused || st.Pause.Reason != "incident 42" {
		t.Errorf("after rollback to none: stage %q, pause %+v", st.Stage, st.Pause)
	}
	// Paused: advancing is refused on the confirmation, with no button.
	res, body = ada.get(rollout + "/advance?to=us-50")
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "Not possible now") || strings.Contains(body, `method="post" action="/rollouts`) {
		t.Errorf("advance of a paused plan: %d\n%s", res.StatusCode, body)
	}
}

// TestSignInThrottled: an address that keeps pasting wrong tokens is told
// to wait (429 with Retry-After) by the server's checker, before any
// secret is looked at.
func TestSignInThrottled(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for i := 0; i < 200; i++ {
		res, body := c.post("/login", url.Values{"token": {"ramp_pat_wrong" + strconv.Itoa(i)}})
		switch res.StatusCode {
		case http.StatusUnauthorized:
			continue
		case http.StatusTooManyRequests:
			if res.Header.Get("Retry-After") == "" || !strings.Contains(body, "too many failed") {
				t.Errorf("429 without Retry-After or a reason:\n%s", body)
			}
			return
		default:
			t.Fatalf("attempt %d: %d", i, res.StatusCode)
		}
	}
	t.Error("200 wrong tokens in a row were never throttled")
}

// TestSingleSignOnLink: with single sign-on, the sign-in page links to it
// with the page to come back to; without, it does not.
func TestSingleSignOnLink(t *testing.T) {
	withSSO := newEnv(t, func(o *dashboard.Options) { o.OIDCLogin = "/auth/oidc/login" })
	_, body := withSSO.client().get("/login?next=%2Frollouts")
	if !strings.Contains(body, `href="/auth/oidc/login?return_to=%2frollouts"`) && !strings.Contains(body, `href="/auth/oidc/login?return_to=%2Frollouts"`) {
		t.Errorf("no single sign-on link:\n%s", body)
	}
	_, body = newEnv(t).client().get("/login")
	if strings.Contains(body, "/auth/oidc/") {
		t.Error("a sign-on link without single sign-on")
	}
}

// TestSeriesUnitLimit: above the limit the chart leaves out the lift over
// time (each of its points reads every unit) and the page says how to draw
// it; at or below, the chart has it.
func TestSeriesUnitLimit(t *testing.T) {
	for _, tc := range []struct {
		limit   int64
		drawn   bool
		comment string
	}{
		{0, true, "the default limit, above the 2,000 units seeded"},
		{2000, true, "as many units as the limit"},
		{1999, false, "one unit more than the limit"},
	} {
		t.Run(tc.comment, func(t *testing.T) {
			e := newEnv(t, func(o *dashboard.Options) { o.SeriesUnitLimit = tc.limit })
			e.seedExperiment()
			c := e.signedIn("viewer-token")
			_, page := c.get("/experiments/dm-handoff-vs-inline")
			if note := strings.Contains(page, "The lift over time is left out"); note == tc.drawn {
				t.Errorf("limit %d: the page's note shown %v, want %v", tc.limit, note, !tc.drawn)
			}
			res, svg := c.get("/experiments/dm-handoff-vs-inline/report.svg")
			if res.StatusCode != http.StatusOK || !strings.Contains(svg, "replies-per-user") {
				t.Fatalf("report.svg: %d", res.StatusCode)
			}
			if got := strings.Contains(svg, "Lift over time"); got != tc.drawn {
				t.Errorf("limit %d: the chart has the lift over time %v, want %v", tc.limit, got, tc.drawn)
			}
		})
	}
}

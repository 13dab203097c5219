package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/api"
	"github.com/ramp-flags/ramp/internal/auth"
)

// concrete turns a route pattern into a method and a path to request.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	key := "messenger-ig-interop"
	switch {
	case strings.Contains(path, "/cohorts/"):
		key = "employees"
	case strings.Contains(path, "/experiments/"):
		key = "dm-handoff-vs-inline"
	case strings.Contains(path, "/metrics/"):
		key = "replies-per-user"
	}
	r := strings.NewReplacer("{key}", key, "{flag}", "messenger-ig-interop", "{stage}", "us-1", "{name}", "ops", "{id}", "999")
	return method, r.Replace(path)
}

// reads are the routes that are not GETs but write nothing.
var reads = map[string]bool{
	"POST /api/v1/flags/{key}/evaluate":      true,
	"POST /api/v1/snapshot":                  true,
	"POST /api/v1/flags/{key}/explain":       true,
	"POST /api/v1/rollouts/{flag}/explain":   true,
	"POST /api/v1/rollouts/{flag}/estimate":  true,
	"POST /api/v1/cohorts/{key}/diff":        true,
	"GET /api/v1/experiments/{key}/report":   false, // compacts first, by default
	"GET /api/v1/keys":                       false, // admin only
	"POST /api/v1/rollouts/{flag}/approve":   false, // the approve capability
	"POST /api/v1/db/renew-epoch":            false,
	"GET /api/v1/openapi.yaml":               true,
	"POST /api/v1/apply":                     false,
	"POST /api/v1/cohorts/{key}/import":      false,
	"POST /api/v1/experiments/{key}/weights": false,
}

// isWrite says whether a viewer must be refused a route as sent by the
// test (no dry run).
func isWrite(pattern string) bool {
	if r, ok := reads[pattern]; ok {
		return !r
	}
	return !strings.HasPrefix(pattern, "GET ")
}

// TestEveryRouteAuthenticates: every route refuses a request without a
// credential, with an unknown, revoked or expired one, and with one in the
// query string (401); an sdk key (403); and a viewer every write (403).
func TestEveryRouteAuthenticates(t *testing.T) {
	e := newEnv(t)
	routes := api.Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, pattern := range routes {
		method, path := concrete(pattern)
		t.Run(pattern, func(t *testing.T) {
			cases := []struct {
				name, secret, query string
				want                int
			}{
				{"no credential", "", "", http.StatusUnauthorized},
				{"unknown", "guess", "", http.StatusUnauthorized},
				{"revoked", "revoked", "", http.StatusUnauthorized},
				{"expired", "expired", "", http.StatusUnauthorized},
				{"in the query string", "", "?token=" + e.secrets["admin"], http.StatusUnauthorized},
				{"in the query string too", "admin", "?access_token=" + e.secrets["admin"], http.StatusUnauthorized},
				{"as api_key", "", "?api_key=" + e.secrets["admin"], http.StatusUnauthorized},
				{"sdk", "sdk", "", http.StatusForbidden},
			}
			if isWrite(pattern) {
				cases = append(cases, struct {
					name, secret, query string
					want                int
				}{"viewer", "viewer", "", http.StatusForbidden})
			}
			for _, c := range cases {
				got := e.do(t, method, path+c.query, c.secret, nil)
				if got.status != c.want {
					t.Errorf("%s: status %d, want %d: %s", c.name, got.status, c.want, got.body)
					continue
				}
				p := got.problem(t)
				if c.want == http.StatusUnauthorized && got.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", c.name)
				}
				if want := map[int]string{401: "unauthorized", 403: "forbidden"}[c.want]; p.Kind != want {
					t.Errorf("%s: kind %q, want %q", c.name, p.Kind, want)
				}
			}
		})
	}
}

// TestViewerReads: a viewer reads, and is refused the write forms of the
// routes that are reads when dry.
func TestViewerReads(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/api/v1/flags", "/api/v1/rollouts", "/api/v1/cohorts/employees", "/api/v1/audit?limit=5", "/api/v1/whoami"} {
		if got := e.do(t, "GET", path, "viewer", nil); got.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, got.status, got.body)
		}
	}
	dry := e.do(t, "POST", "/api/v1/rollouts/messenger-ig-interop/advance", "viewer", `{"dryRun":true}`)
	if dry.status != http.StatusOK {
		t.Errorf("viewer's dry run: %d %s", dry.status, dry.body)
	}
	wet := e.do(t, "POST", "/api/v1/rollouts/messenger-ig-interop/advance", "viewer", `{}`)
	if wet.status != http.StatusForbidden {
		t.Errorf("viewer's advance: %d %s", wet.status, wet.body)
	}
	if got := e.do(t, "GET", "/api/v1/experiments/dm-handoff-vs-inline/report?compact=false", "viewer", nil); got.status == http.StatusForbidden {
		t.Errorf("viewer's report without compaction: %d %s", got.status, got.body)
	}
}

// etag reads an object's ETag.
func (e *env) etag(t *testing.T, path string) string {
	t.Helper()
	got := e.do(t, "GET", path, "viewer", nil)
	tag := got.header.Get("ETag")
	if got.status != http.StatusOK || tag == "" {
		t.Fatalf("GET %s: %d, ETag %q: %s", path, got.status, tag, got.body)
	}
	return tag
}

// TestPreconditions: moves that depend on the plan's state need If-Match
// (428 without), refuse a stale one (412, with the CLI's "changed
// meanwhile" message) and a malformed one (400).
func TestPreconditions(t *testing.T) {
	e := newEnv(t)
	const plan = "/api/v1/rollouts/messenger-ig-interop"
	for _, c := range []struct{ method, path, body string }{
		{"POST", plan + "/advance", `{}`},
		{"POST", plan + "/rollback", `{"confirmed":true}`},
		{"POST", plan + "/stages", `{"stage":{"name":"x","regions":["FR"],"percent":1}}`},
		{"PATCH", plan + "/stages/us-1", `{"set":{"percent":2},"fields":["percent"]}`},
		{"DELETE", plan + "/stages/us-1", ""},
		{"DELETE", plan, ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		got := e.do(t, c.method, c.path, "editor", body)
		if got.status != http.StatusPreconditionRequired {
			t.Errorf("%s %s without If-Match: %d %s", c.method, c.path, got.status, got.body)
			continue
		}
		got.problem(t)
	}
	tag := e.etag(t, plan)
	if got := e.do(t, "POST", plan+"/advance", "editor", `{}`, "If-Match", `"1-not-this-database"`); got.status != http.StatusPreconditionFailed {
		t.Errorf("If-Match of another epoch: %d %s", got.status, got.body)
	}
	if got := e.do(t, "POST", plan+"/advance", "editor", `{}`, "If-Match", "garbage"); got.status != http.StatusBadRequest {
		t.Errorf("malformed If-Match: %d %s", got.status, got.body)
	}
	if got := e.do(t, "POST", plan+"/advance", "editor", `{}`, "If-Match", tag); got.status != http.StatusOK {
		t.Fatalf("advance: %d %s", got.status, got.body)
	}
	stale := e.do(t, "POST", plan+"/advance", "editor", `{}`, "If-Match", tag)
	if stale.status != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d %s", stale.status, stale.body)
	}
	p := stale.problem(t)
	if !strings.Contains(p.Detail, `rollout "messenger-ig-interop" changed meanwhile (version 1 → 2, by eddie at `) ||
		!strings.Contains(p.Detail, "re-read and retry") || p.Kind != "conflict" || p.Error != "conflict" {
		t.Errorf("stale If-Match: %+v", p)
	}
}

// TestConflictingMoves: two principals advance one plan at once from the
// same version: one wins, the other gets 412 saying what changed.
func TestConflictingMoves(t *testing.T) {
	e := newEnv(t)
	const plan = "/api/v1/rollouts/messenger-ig-interop"
	for round := 0; round < 3; round++ {
		tag := e.etag(t, plan)
		var wg sync.WaitGroup
		got := make([]answer, 2)
		for i, who := range []string{"alice", "bob"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = e.do(t, "POST", plan+"/advance", who, `{}`, "If-Match", tag)
			}()
		}
		wg.Wait()
		statuses := map[int]int{}
		for _, g := range got {
			statuses[g.status]++
		}
		if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != 1 {
			t.Fatalf("round %d: statuses %v: %s / %s", round, statuses, got[0].body, got[1].body)
		}
		for _, g := range got {
			if g.status == http.StatusPreconditionFailed && !strings.Contains(g.problem(t).Detail, "changed meanwhile") {
				t.Errorf("loser: %s", g.body)
			}
		}
	}
}

// TestApprovals: an approval comes from another principal on every path;
// approving takes the capability; a plan edit cancels a request awaiting
// approval.
func TestApprovals(t *testing.T) {
	e := newEnv(t)
	const plan = "/api/v1/rollouts/messenger-ig-interop"
	// us-1 of the scenario's plan needs no approval: make it need one.
	if got := e.do(t, "PATCH", plan+"/stages/us-1", "alice", `{"set":{"approval":true},"fields":["approval"]}`,
		"If-Match", e.etag(t, plan)); got.status != http.StatusOK {
		t.Fatalf("edit: %d %s", got.status, got.body)
	}
	advance := func(who string) answer {
		return e.do(t, "POST", plan+"/advance", who, `{"to":"us-1"}`, "If-Match", e.etag(t, plan))
	}
	if got := advance("alice"); got.status != http.StatusOK || !strings.Contains(string(got.body), `"outcome":"requested"`) {
		t.Fatalf("request: %d %s", got.status, got.body)
	}
	self := e.do(t, "POST", plan+"/approve", "alice", `{"stage":"us-1"}`)
	if self.status != http.StatusConflict || !strings.Contains(self.problem(t).Detail, "alice asked for stage us-1 and cannot approve it too") {
		t.Errorf("self-approval: %d %s", self.status, self.body)
	}
	if got := e.do(t, "POST", plan+"/approve", "editor", `{"stage":"us-1"}`); got.status != http.StatusForbidden {
		t.Errorf("approval without the capability: %d %s", got.status, got.body)
	}
	if got := e.do(t, "POST", plan+"/approve", "viewer", `{"stage":"us-1"}`); got.status != http.StatusForbidden {
		t.Errorf("a viewer's approval: %d %s", got.status, got.body)
	}

	// A plan edit while the request waits cancels it: bob cannot approve
	// what alice did not ask for.
	if got := e.do(t, "PATCH", plan+"/stages/us-1", "alice", `{"set":{"percent":5},"fields":["percent"]}`,
		"If-Match", e.etag(t, plan)); got.status != http.StatusOK {
		t.Fatalf("edit while awaiting approval: %d %s", got.status, got.body)
	}
	st := e.do(t, "GET", plan+"/status", "viewer", nil)
	if strings.Contains(string(st.body), "awaitingApproval") {
		t.Errorf("the request survived the plan edit: %s", st.body)
	}
	if got := e.do(t, "POST", plan+"/approve", "bob", `{"stage":"us-1"}`); got.status != http.StatusConflict ||
		!strings.Contains(got.problem(t).Detail, "no stage awaiting approval") {
		t.Errorf("approving a canceled request: %d %s", got.status, got.body)
	}

	// Asked again, another principal approves.
	if got := advance("alice"); got.status != http.StatusOK {
		t.Fatalf("request again: %d %s", got.status, got.body)
	}
	ok := e.do(t, "POST", plan+"/approve", "bob", `{"stage":"us-1"}`)
	if ok.status != http.StatusOK || !strings.Contains(string(ok.body), `"approvedBy":"bob"`) {
		t.Errorf("bob's approval: %d %s", ok.status, ok.body)
	}
	log := e.do(t, "GET", "/api/v1/audit?action=rollout.approve", "viewer", nil)
	if !strings.Contains(string(log.body), `"actor":"bob"`) {
		t.Errorf("the audit log does not name bob: %s", log.body)
	}
}

// TestBodies: JSON bodies need their media type, are bounded and strict.
func TestBodies(t *testing.T) {
	e := newEnv(t)
	const path = "/api/v1/rollouts/messenger-ig-interop/pause"
	for _, c := range []struct {
		name   string
		body   any
		ct     string
		status int
	}{
		{"not JSON's media type", strings.NewReader(`{"reason":"x"}`), "text/plain", http.StatusUnsupportedMediaType},
		{"unknown field", `{"reasn":"x"}`, "", http.StatusBadRequest},
		{"two values", `{} {}`, "", http.StatusBadRequest},
		{"syntax", `{"reason":`, "", http.StatusBadRequest},
		{"too large", `{"reason":"` + strings.Repeat("x", 2<<20) + `"}`, "", http.StatusRequestEntityTooLarge},
	} {
		var hs []string
		if c.ct != "" {
			hs = []string{"Content-Type", c.ct}
		}
		got := e.do(t, "POST", path, "editor", c.body, hs...)
		if got.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, got.status, c.status, got.body)
			continue
		}
		if p := got.problem(t); p.Kind != "invalid" {
			t.Errorf("%s: kind %q", c.name, p.Kind)
		}
	}
	if got := e.do(t, "GET", "/api/v1/nothing-here", "viewer", nil); got.status != http.StatusNotFound {
		t.Errorf("unknown route: %d", got.status)
	}
	if got := e.do(t, "GET", "/api/v1/nothing-here", "", nil); got.status != http.StatusUnauthorized {
		t.Errorf("unknown route without a credential: %d", got.status)
	}
}

// TestProblemShape: errors are problems whose status comes from the
// kind, carrying the typed error.
func TestProblemShape(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path, body string
		status             int
		kind, error        string
	}{
		{"GET", "/api/v1/flags/nope", "", 404, "not found", ""},
		{"GET", "/api/v1/rollouts/common-mailbox", "", 404, "not found", "rollout.no-plan"},
		{"POST", "/api/v1/rollouts/messenger-ig-interop/advance", `{"to":"nope","dryRun":true}`, 404, "not found", "rollout.stage"},
		{"POST", "/api/v1/rollouts/messenger-ig-interop/resume", "", 409, "refused", ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		got := e.do(t, c.method, c.path, "admin", body)
		if got.status != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, got.status, c.status, got.body)
			continue
		}
		p := got.problem(t)
		if p.Kind != c.kind || p.Error != c.error {
			t.Errorf("%s %s: %+v", c.method, c.path, p)
		}
	}
}

// TestThrottled: an address that keeps failing to authenticate gets 429
// with Retry-After, as a problem.
func TestThrottled(t *testing.T) {
	e := newEnvWith(t, auth.Options{FailureLimit: 1})
	var last answer
	for range 50 {
		last = e.do(t, "GET", "/api/v1/flags", "wrong", nil)
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("50 failures: still %d", last.status)
	}
	p := last.problem(t)
	if last.header.Get("Retry-After") == "" || p.RetryAfter < 1 || p.Kind != "unauthorized" {
		t.Errorf("429: Retry-After %q, problem %+v", last.header.Get("Retry-After"), p)
	}
}

// TestRevokedThroughTheAPI: a token an admin revokes through the API is
// refused soon after (the Checker polls the credentials' version), and a
// person may revoke their own token but not another's.
func TestRevokedThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	if got := e.do(t, "GET", "/api/v1/whoami", "editor", nil); got.status != http.StatusOK {
		t.Fatalf("whoami: %d %s", got.status, got.body)
	}
	var mine []struct{ ID int64 }
	list := e.do(t, "GET", "/api/v1/tokens", "editor", nil)
	if err := json.Unmarshal(list.body, &mine); err != nil || len(mine) != 1 {
		t.Fatalf("an editor's tokens: %s", list.body)
	}
	var all []struct{ ID int64 }
	_ = json.Unmarshal(e.do(t, "GET", "/api/v1/tokens", "admin", nil).body, &all)
	if len(all) < 6 {
		t.Fatalf("an admin's tokens: %d", len(all))
	}
	for _, tok := range all {
		if tok.ID != mine[0].ID {
			if got := e.do(t, "POST", "/api/v1/tokens/"+strconv.FormatInt(tok.ID, 10)+"/revoke", "editor", nil); got.status != http.StatusForbidden {
				t.Errorf("revoking another's token: %d %s", got.status, got.body)
			}
			break
		}
	}
	if got := e.do(t, "POST", "/api/v1/tokens/"+strconv.FormatInt(mine[0].ID, 10)+"/revoke", "editor", nil); got.status != http.StatusOK {
		t.Fatalf("revoking one's own: %d %s", got.status, got.body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := e.do(t, "GET", "/api/v1/whoami", "editor", nil)
		if got.status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a revoked token still works: %d", got.status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRateLimitPerPrincipal: each principal has its own token bucket;
// past it a request gets 429 of kind busy with Retry-After, which a client
// reads as "retry later", not as a refused credential; the bucket refills
// with time.
func TestRateLimitPerPrincipal(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	checker, err := e.a.Authenticator(ctx, auth.Options{FailureLimit: -1, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checker.Close() })
	var now atomic.Int64 // Unix nanoseconds: the server reads it
	now.Store(time.Unix(1_800_000_000, 0).UnixNano())
	h, err := api.New(api.Config{Admin: e.a, Auth: checker, RateLimit: 3, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL

	for i := range 3 {
		if a := e.do(t, "GET", api.Prefix+"/flags", "viewer", nil); a.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, a.status, a.body)
		}
	}
	a := e.do(t, "GET", api.Prefix+"/flags", "viewer", nil)
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("past the burst: %d %s, want 429", a.status, a.body)
	}
	p := a.problem(t)
	if p.Kind != "busy" || a.header.Get("Retry-After") != "1" || !strings.Contains(p.Detail, "too many requests from vera (more than 3 a second)") {
		t.Errorf("past the burst: kind %q, Retry-After %q, detail %q", p.Kind, a.header.Get("Retry-After"), p.Detail)
	}
	if err := p.Err(); !errors.Is(err, ramp.ErrBusy) || errors.Is(err, ramp.ErrUnauthorized) {
		t.Errorf("the client's error %v: want busy, not unauthorized", err)
	}
	if a := e.do(t, "GET", api.Prefix+"/flags", "editor", nil); a.status != http.StatusOK {
		t.Errorf("another principal: %d, want 200", a.status)
	}
	now.Add(int64(time.Second))
	if a := e.do(t, "GET", api.Prefix+"/flags", "viewer", nil); a.status != http.StatusOK {
		t.Errorf("a second later: %d, want 200", a.status)
	}
}

// TestResumeAtTheVersionSeen: resume takes If-Match when given, so that a
// person who saw one pause does not release another (a pause for a new
// reason since); without it, it resumes whatever the plan is.
func TestResumeAtTheVersionSeen(t *testing.T) {
	e := newEnv(t)
	const plan = "/api/v1/rollouts/messenger-ig-interop"
	pause := func(reason string) {
		t.Helper()
		if got := e.do(t, "POST", plan+"/pause", "editor", map[string]string{"reason": reason}); got.status != http.StatusOK {
			t.Fatalf("pause: %d %s", got.status, got.body)
		}
	}
	pause("checking the error rate")
	seen := e.etag(t, plan)
	if got := e.do(t, "POST", plan+"/resume", "editor", `{}`, "If-Match", seen); got.status != http.StatusOK {
		t.Fatalf("resume at the version seen: %d %s", got.status, got.body)
	}
	pause("checking the error rate")
	seen = e.etag(t, plan)
	if got := e.do(t, "POST", plan+"/resume", "alice", `{}`); got.status != http.StatusOK {
		t.Fatalf("resume without If-Match: %d %s", got.status, got.body)
	}
	pause("a second incident") // after alice's resume: the plan moved twice since seen
	stale := e.do(t, "POST", plan+"/resume", "editor", `{}`, "If-Match", seen)
	if stale.status != http.StatusPreconditionFailed {
		t.Fatalf("resume at a stale version: %d %s, want 412", stale.status, stale.body)
	}
	if p := stale.problem(t); p.Kind != "conflict" || !strings.Contains(p.Detail, "changed meanwhile") {
		t.Errorf("resume at a stale version: %+v", p)
	}
	if ro, err := e.a.RolloutGet(context.Background(), "messenger-ig-interop"); err != nil || !ro.Progress.Paused || ro.Progress.PauseReason != "a second incident" {
		t.Errorf("after the refused resume: paused %v (%q; %v), want still paused for the second incident", ro.Progress.Paused, ro.Progress.PauseReason, err)
	}
}

// TestExperimentResumeAtTheVersionSeen: an experiment's resume may
// override the sample-ratio check's pause, so it too takes If-Match:
// stale, it is refused and the experiment stays paused.
func TestExperimentResumeAtTheVersionSeen(t *testing.T) {
	e := newEnv(t)
	const exp = "/api/v1/experiments/dm-handoff-vs-inline"
	move := func(who, action string, headers ...string) answer {
		t.Helper()
		return e.do(t, "POST", exp+"/"+action, who, `{}`, headers...)
	}
	if got := move("editor", "pause"); got.status != http.StatusOK {
		t.Fatalf("pause: %d %s", got.status, got.body)
	}
	seen := e.etag(t, exp)
	if got := move("alice", "resume"); got.status != http.StatusOK {
		t.Fatalf("resume without If-Match: %d %s", got.status, got.body)
	}
	if got := move("alice", "pause"); got.status != http.StatusOK {
		t.Fatalf("pause again: %d %s", got.status, got.body)
	}
	stale := move("editor", "resume", "If-Match", seen)
	if stale.status != http.StatusPreconditionFailed {
		t.Fatalf("resume at a stale version: %d %s, want 412", stale.status, stale.body)
	}
	if p := stale.problem(t); p.Kind != "conflict" {
		t.Errorf("resume at a stale version: %+v", p)
	}
	if got := move("editor", "resume", "If-Match", e.etag(t, exp)); got.status != http.StatusOK {
		t.Errorf("resume at the version now: %d %s", got.status, got.body)
	}
}

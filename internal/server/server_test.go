package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/ramp-flags/ramp"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/ofrep"
	"github.com/ramp-flags/ramp/internal/server"
)

// TestEvaluate covers every answer of the single-flag endpoint against the
// demo scenario, each body compared with the engine's decision.
func TestEvaluate(t *testing.T) {
	s, _ := openStore(t)
	snap := engine(t, s)
	srv := start(t, server.Config{Source: s})
	url := srv.URL + "/ofrep/v1/evaluate/flags/"

	usEmployee := map[string]any{"targetingKey": "emp-1", "region": "US"}
	noKey := map[string]any{"region": "BR", "accountType": "business", "app": "instagram", "platform": "ios"}
	tests := []struct {
		name       string
		flag, body string
		status     int
		want       string // exact body, when the engine is not the reference
		engineCtx  map[string]any
	}{
		{name: "rule match", flag: "common-mailbox", body: evalBody(usEmployee), status: 200, engineCtx: usEmployee},
		{name: "split", flag: "messenger-ig-interop", body: evalBody(map[string]any{"targetingKey": "u-77", "region": "US"}), status: 200,
			engineCtx: map[string]any{"targetingKey": "u-77", "region": "US"}},
		{name: "integer flag", flag: "wa-link-code-ttl-seconds", body: evalBody(map[string]any{"targetingKey": "u-3", "region": "BR"}), status: 200,
			engineCtx: map[string]any{"targetingKey": "u-3", "region": "BR"}},
		{name: "no rule matches", flag: "common-mailbox", body: evalBody(map[string]any{"targetingKey": "u-1"}), status: 200,
			engineCtx: map[string]any{"targetingKey": "u-1"}},
		{name: "empty body is the empty context", flag: "common-mailbox", body: "", status: 200, engineCtx: map[string]any{}},
		{name: "null context", flag: "common-mailbox", body: `{"context":null}`, status: 200, engineCtx: map[string]any{}},
		{name: "no context member", flag: "common-mailbox", body: `{"other":1}`, status: 200, engineCtx: map[string]any{}},
		{name: "no targeting key, rule does not need it", flag: "messenger-ig-interop", body: `{"context":{"region":"FR"}}`, status: 200,
			engineCtx: map[string]any{"region": "FR"}},
		{name: "split without targeting key", flag: "ig-business-inbox-tools", body: evalBody(noKey), status: 400, engineCtx: noKey},
		{name: "unknown flag", flag: "no-such-flag", body: evalBody(usEmployee), status: 404, engineCtx: usEmployee},
		{name: "malformed JSON", flag: "common-mailbox", body: `{"context":`, status: 400,
			want: `{"key":"common-mailbox","errorCode":"PARSE_ERROR","errorDetails":"the request body is not valid JSON: unexpected end of input"}`},
		{name: "body not an object", flag: "common-mailbox", body: `[1,2]`, status: 400,
			want: `{"key":"common-mailbox","errorCode":"PARSE_ERROR","errorDetails":"the request body must be a JSON object like {\"context\":{…}}"}`},
		{name: "context not an object", flag: "common-mailbox", body: `{"context":"emp-1"}`, status: 400,
			want: `{"key":"common-mailbox","errorCode":"INVALID_CONTEXT","errorDetails":"\"context\" must be a JSON object"}`},
		{name: "trailing data", flag: "common-mailbox", body: `{"context":{}} {}`, status: 400,
			want: `{"key":"common-mailbox","errorCode":"PARSE_ERROR","errorDetails":"the request body has data after its JSON object"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, url+tt.flag, sdkKey, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			want := tt.want
			if want == "" {
				d := snap.Evaluate(tt.flag, tt.engineCtx)
				b, _ := ofrep.AppendJSON(nil, &d)
				want = string(b)
			}
			if diff := cmp.Diff(want, string(body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if resp.StatusCode == 200 && !strings.Contains(string(body), `"value":`) {
				t.Errorf("a success without a value: %s", body)
			}
		})
	}
}

func TestRequestLimits(t *testing.T) {
	s, _ := openStore(t)
	srv := start(t, server.Config{Source: s, MaxBody: 1 << 20})
	big := `{"context":{"targetingKey":"` + strings.Repeat("x", 1<<20) + `"}}`
	for _, path := range []string{"/ofrep/v1/evaluate/flags/common-mailbox", "/ofrep/v1/evaluate/flags"} {
		resp, body := do(t, http.MethodPost, srv.URL+path, sdkKey, big)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with a body over 1 MiB: status %d, want 413", path, resp.StatusCode)
		}
		if !strings.Contains(string(body), "larger than 1048576 bytes") {
			t.Errorf("413 body = %s", body)
		}
	}
	// Without a Content-Length the cap holds while reading.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"context":{"k":"`))
		pw.Write([]byte(strings.Repeat("y", 2<<20)))
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/common-mailbox", pr)
	req.Header.Set("Authorization", "Bearer "+sdkKey)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over 1 MiB: status %d, want 413", resp.StatusCode)
	}
	// Wrong method: the mux answers 405 with Allow.
	resp, _ = do(t, http.MethodGet, srv.URL+"/ofrep/v1/evaluate/flags/common-mailbox", sdkKey, "")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("GET on the evaluate route: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestAuth(t *testing.T) {
	s, _ := openStore(t)
	srv := start(t, server.Config{Source: s})
	eval := srv.URL + "/ofrep/v1/evaluate/flags/common-mailbox"
	tests := []struct {
		name           string
		method, url    string
		header, secret string
		status         int
	}{
		{"no key", "POST", eval, "", "", 401},
		{"unknown key", "POST", eval, "Authorization", "Bearer nope", 401},
		{"revoked key", "POST", eval, "Authorization", "Bearer " + revokedKey, 401},
		{"not a bearer scheme", "POST", eval, "Authorization", "Basic " + sdkKey, 401},
		{"key check fails", "POST", eval, "Authorization", "Bearer " + brokenKey, 503},
		{"bearer sdk key", "POST", eval, "Authorization", "Bearer " + sdkKey, 200},
		{"X-API-Key", "POST", eval, "X-API-Key", sdkKey, 200},
		{"lower-case bearer", "POST", eval, "Authorization", "bearer " + sdkKey, 200},
		{"admin may evaluate", "POST", eval, "X-API-Key", adminKey, 200},
		{"sdk key reads the snapshot", "GET", srv.URL + "/v1/snapshot", "X-API-Key", sdkKey, 200},
		{"snapshot without a key", "GET", srv.URL + "/v1/snapshot", "", "", 401},
		{"snapshot events without a key", "GET", srv.URL + "/v1/snapshot/events", "", "", 401},
		{"ofrep events without a key", "GET", srv.URL + "/ofrep/v1/events", "", "", 401},
		{"ofrep events with a forged token", "GET", srv.URL + "/ofrep/v1/events?token=abc.def", "", "", 401},
		{"a secret in the query string", "GET", srv.URL + "/v1/snapshot?token=" + sdkKey, "X-API-Key", sdkKey, 401},
		{"a named credential in the query string", "POST", eval + "?access_token=x", "X-API-Key", sdkKey, 401},
		{"a secret in the stream's query string", "GET", srv.URL + "/ofrep/v1/events?key=" + sdkKey, "", "", 401},
		{"metrics need a viewer", "GET", srv.URL + "/metrics", "X-API-Key", sdkKey, 403},
		{"reload needs an editor", "POST", srv.URL + "/v1/reload", "X-API-Key", sdkKey, 403},
		{"admin reads metrics", "GET", srv.URL + "/metrics", "X-API-Key", adminKey, 200},
		{"admin reloads", "POST", srv.URL + "/v1/reload", "X-API-Key", adminKey, 200},
		{"health needs no key", "GET", srv.URL + "/healthz", "", "", 200},
		{"readiness needs no key", "GET", srv.URL + "/readyz", "", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.header != "" {
				hdr = []string{tt.header, tt.secret}
			}
			resp, body := do(t, tt.method, tt.url, "", "", hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			// A 403 says nothing; a 401 says why, never with the secret.
			if tt.status == 403 && len(body) != 0 {
				t.Errorf("%d with a body: %q", tt.status, body)
			}
			if tt.status == 401 && (len(body) == 0 || strings.Contains(string(body), sdkKey) || strings.Contains(string(body), "ramp_sdk")) {
				t.Errorf("401 body %q: want the reason, without the secret", body)
			}
			if strings.Contains(tt.name, "query string") && !strings.Contains(string(body), "query string") {
				t.Errorf("401 body %q does not say the query string is the problem", body)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
	if strings.Contains(srv.log.String(), sdkKey) || strings.Contains(srv.log.String(), adminKey) {
		t.Errorf("a secret reached the log")
	}
}

func TestInsecureNoAuth(t *testing.T) {
	s, _ := openStore(t)
	srv := start(t, server.Config{Source: s, InsecureNoAuth: true})
	for _, u := range []string{"/v1/snapshot", "/metrics"} {
		if resp, _ := do(t, "GET", srv.URL+u, "", ""); resp.StatusCode != 200 {
			t.Errorf("GET %s without a key: %d", u, resp.StatusCode)
		}
	}
	resp, body := do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags", "", "{}")
	if resp.StatusCode != 200 || strings.Contains(string(body), "token=") {
		t.Errorf("bulk without auth: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(srv.log.String(), "AUTHENTICATION IS OFF") {
		t.Errorf("no warning in the log:\n%s", srv.log.String())
	}
}

func TestRateLimit(t *testing.T) {
	s, _ := openStore(t)
	srv := start(t, server.Config{Source: s, RateLimit: 3})
	url := srv.URL + "/ofrep/v1/evaluate/flags/common-mailbox"
	var limited *http.Response
	for i := 0; i < 20 && limited == nil; i++ {
		resp, _ := do(t, "POST", url, sdkKey, "{}")
		switch resp.StatusCode {
		case 200:
		case 429:
			limited = resp
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if limited == nil {
		t.Fatal("20 requests at once to a 3/s limit were all served")
	}
	ra, err := strconv.Atoi(limited.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 2 {
		t.Errorf("Retry-After = %q, want whole seconds (1)", limited.Header.Get("Retry-After"))
	}
	// Another key has a bucket of its own.
	if resp, _ := do(t, "POST", url, sdkKey2, "{}"); resp.StatusCode != 200 {
		t.Errorf("another key: status %d", resp.StatusCode)
	}
	// The bucket refills.
	time.Sleep(time.Duration(ra) * time.Second)
	if resp, _ := do(t, "POST", url, sdkKey, "{}"); resp.StatusCode != 200 {
		t.Errorf("after Retry-After: status %d", resp.StatusCode)
	}
}

type bulkBody struct {
	Flags        []map[string]any    `json:"flags"`
	Metadata     map[string]any      `json:"metadata"`
	EventStreams []ofrep.EventStream `json:"eventStreams"`
}

func TestBulk(t *testing.T) {
	s, path := openStore(t)
	snap := engine(t, s)
	srv := start(t, server.Config{Source: s, Poll: 20 * time.Millisecond})
	url := srv.URL + "/ofrep/v1/evaluate/flags"
	ctx := map[string]any{"targetingKey": "ig-12", "region": "US", "accountCenterId": "ac-12", "appVersion": "301.0.0", "app": "instagram"}

	resp, body := do(t, "POST", url, sdkKey, evalBody(ctx))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`+strconv.FormatInt(snap.Version(), 10)+"-") {
		t.Errorf("ETag = %q, want the config version and a hash", etag)
	}
	var got bulkBody
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Flags) != len(snap.Keys()) {
		t.Fatalf("%d flags, want %d", len(got.Flags), len(snap.Keys()))
	}
	for i, k := range snap.Keys() {
		d := snap.Evaluate(k, ctx)
		b, _ := ofrep.AppendJSON(nil, &d)
		var want map[string]any
		_ = json.Unmarshal(b, &want)
		if diff := cmp.Diff(want, got.Flags[i]); diff != "" {
			t.Errorf("flag %s (-engine +bulk):\n%s", k, diff)
		}
	}
	if got.Metadata["configVersion"] != float64(snap.Version()) {
		t.Errorf("metadata = %v", got.Metadata)
	}
	if len(got.EventStreams) != 1 || got.EventStreams[0].Type != "sse" ||
		!strings.HasPrefix(got.EventStreams[0].URL, srv.URL+"/ofrep/v1/events?token=") || got.EventStreams[0].InactivityDelaySec != 120 {
		t.Errorf("eventStreams = %+v", got.EventStreams)
	}

	// Same context, same configuration: 304 with no body.
	resp, body = do(t, "POST", url, sdkKey, evalBody(ctx), "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Errorf("If-None-Match: status %d, ETag %q, body %q", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	resp, _ = do(t, "POST", url, sdkKey, evalBody(ctx), "If-None-Match", `"other", W/`+etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match list with a weak match: status %d", resp.StatusCode)
	}
	// Another context: another body, another ETag.
	resp, _ = do(t, "POST", url, sdkKey, evalBody(map[string]any{"targetingKey": "emp-2"}), "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("another context: status %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	// After a change, the old ETag no longer holds.
	if _, err := openPath(t, path).SetEnabled(context.Background(), "common-mailbox", false, "tester"); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, srv, snap.Version()+1)
	resp, _ = do(t, "POST", url, sdkKey, evalBody(ctx), "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("after a change: status %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}

	// Bad bodies fail the whole request, without a key.
	for body, code := range map[string]string{`{"context":[]}`: "INVALID_CONTEXT", `nope`: "PARSE_ERROR"} {
		resp, b := do(t, "POST", url, sdkKey, body)
		var f map[string]any
		_ = json.Unmarshal(b, &f)
		if resp.StatusCode != 400 || f["errorCode"] != code || f["key"] != nil {
			t.Errorf("bulk %s: %d %s", body, resp.StatusCode, b)
		}
	}
}

// waitVersion waits until the server answers from a configuration version.
func waitVersion(t *testing.T, srv *running, v int64) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		_, body := do(t, "GET", srv.URL+"/readyz", "", "")
		var r struct{ Version int64 }
		_ = json.Unmarshal(body, &r)
		if r.Version >= v {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("version %d not served within %s", v, patience)
}

func TestSnapshotFeed(t *testing.T) {
	s, _ := openStore(t)
	snap := engine(t, s)
	rev := revision(t, s)
	srv := start(t, server.Config{Source: s})
	resp, body := do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "")
	want := `"` + strconv.FormatInt(snap.Version(), 10) + "-" + rev.Epoch + `"`
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != want || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, ETag %q, Content-Type %q", resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Content-Type"))
	}
	decoded, err := wire.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if decoded.Version() != snap.Version() || !cmp.Equal(decoded.Keys(), snap.Keys()) {
		t.Errorf("snapshot version %d keys %v", decoded.Version(), decoded.Keys())
	}
	for _, u := range []map[string]any{{"targetingKey": "emp-3", "region": "GB"}, {"targetingKey": "wa-beta-2", "region": "MX", "accountCenterId": "a"}} {
		for _, k := range snap.Keys() {
			if a, b := decoded.Evaluate(k, u), snap.Evaluate(k, u); a.Value != b.Value || a.Variant != b.Variant {
				t.Errorf("%s %v: feed %v, engine %v", k, u, a.Value, b.Value)
			}
		}
	}
	resp, body = do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "", "If-None-Match", want)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != want {
		t.Errorf("If-None-Match: %d %q %q", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	resp, _ = do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "", "If-None-Match", `"0"`)
	if resp.StatusCode != 200 {
		t.Errorf("stale If-None-Match: %d", resp.StatusCode)
	}
	// The version alone (what providers before epochs send) does not say
	// which database it is from.
	resp, _ = do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "", "If-None-Match", `"`+strconv.FormatInt(snap.Version(), 10)+`"`)
	if resp.StatusCode != 200 {
		t.Errorf("If-None-Match with the version alone: %d", resp.StatusCode)
	}
}

// TestLiveReload writes through a second store handle, as another ramp
// process would, and checks that both event streams announce the new
// version and that OFREP answers change (how soon is logged).
func TestLiveReload(t *testing.T) {
	s, path := openStore(t)
	v0 := engine(t, s).Version()
	epoch := revision(t, s).Epoch
	srv := start(t, server.Config{Source: s})

	resp, feed := sse(t, srv.URL+"/v1/snapshot/events", sdkKey)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("snapshot events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if ev := next(t, feed, time.Second); ev.Event != "snapshot" || ev.Data != fmt.Sprintf(`{"version":%d,"epoch":%q}`, v0, epoch) {
		t.Fatalf("first event = %+v", ev)
	}
	// The OFREP stream, through the URL a bulk answer advertises (no header).
	_, body := do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags", sdkKey, "{}")
	var bulk bulkBody
	_ = json.Unmarshal(body, &bulk)
	resp, ofrepFeed := sse(t, bulk.EventStreams[0].URL, "")
	if resp.StatusCode != 200 {
		t.Fatalf("ofrep events via the advertised URL: %d", resp.StatusCode)
	}

	emp := evalBody(map[string]any{"targetingKey": "emp-1"})
	if _, b := do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags/common-mailbox", sdkKey, emp); !strings.Contains(string(b), `"reason":"TARGETING_MATCH"`) {
		t.Fatalf("before: %s", b)
	}
	other := openPath(t, path)
	written := time.Now()
	if _, err := other.SetEnabled(context.Background(), "common-mailbox", false, "tester"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, feed, time.Second); ev.Data != fmt.Sprintf(`{"version":%d,"epoch":%q}`, v0+1, epoch) {
		t.Fatalf("snapshot event after the write = %+v", ev)
	}
	t.Logf("snapshot event %s after the write", time.Since(written).Round(time.Millisecond))
	ev := next(t, ofrepFeed, time.Second)
	var msg ofrep.Event
	if err := json.Unmarshal([]byte(ev.Data), &msg); err != nil || msg.Type != "refetchEvaluation" ||
		msg.ETag != fmt.Sprintf(`"%d-%s"`, v0+1, epoch) || msg.LastModified == 0 || ev.ID != fmt.Sprintf("%d-%s", v0+1, epoch) || ev.Event != "message" {
		t.Fatalf("ofrep event = %+v (%v)", ev, err)
	}
	for {
		_, b := do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags/common-mailbox", sdkKey, emp)
		if strings.Contains(string(b), `"reason":"DISABLED"`) {
			if !strings.Contains(string(b), `"value":false`) || !strings.Contains(string(b), `"variant":"off"`) {
				t.Errorf("disabled flag answered %s", b)
			}
			break
		}
		if time.Since(written) > patience {
			t.Fatalf("OFREP still answers %s %s after the write", b, patience)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("OFREP answer changed %s after the write", time.Since(written).Round(time.Millisecond))

	// A bulk re-fetch prompted by the stream names the version it heard of.
	resp, _ = do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags?flagConfigEtag="+strings.ReplaceAll(msg.ETag, `"`, "%22"), sdkKey, "{}")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("ETag"), fmt.Sprintf(`"%d-`, v0+1)) {
		t.Errorf("re-fetch: %d %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	// A client reconnecting after missing a version hears of it at once.
	_, again := sse(t, srv.URL+"/ofrep/v1/events", sdkKey, "Last-Event-ID", fmt.Sprintf("%d-%s", v0, epoch))
	if ev := next(t, again, time.Second); ev.ID != fmt.Sprintf("%d-%s", v0+1, epoch) {
		t.Errorf("after reconnecting with Last-Event-ID %d: %+v", v0, ev)
	}
}

// TestPing shortens the keep-alive interval and checks the comments.
func TestPing(t *testing.T) {
	s, _ := openStore(t)
	srv := start(t, server.Config{Source: s, Ping: 30 * time.Millisecond})
	_, feed := sse(t, srv.URL+"/v1/snapshot/events", sdkKey)
	deadline := time.After(patience)
	for {
		select {
		case ev := <-feed:
			if len(ev.Comments) > 0 && ev.Comments[0] == "ping" {
				return
			}
		case <-deadline:
			t.Fatalf("no ping within %s (pinging every 30ms)", patience)
		}
	}
}

// TestReloadRace answers bulk requests while another handle writes: every
// answer comes whole from one configuration version.
func TestReloadRace(t *testing.T) {
	s, path := openStore(t)
	srv := start(t, server.Config{Source: s, Poll: 5 * time.Millisecond, RateLimit: -1})
	other := openPath(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		on := false
		for i := 0; i < 20 && ctx.Err() == nil; i++ {
			for _, k := range []string{"common-mailbox", "messenger-ig-interop", "ig-dm-via-whatsapp"} {
				if _, err := other.SetEnabled(ctx, k, on, "tester"); err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
			on = !on
			time.Sleep(3 * time.Millisecond)
		}
	}()
	versions := map[float64]bool{}
	var mu sync.Mutex
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				resp, body := do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags", sdkKey, evalBody(map[string]any{"targetingKey": "emp-1"}))
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
					return
				}
				var b bulkBody
				if err := json.Unmarshal(body, &b); err != nil {
					t.Error(err)
					return
				}
				v := b.Metadata["configVersion"].(float64)
				mu.Lock()
				versions[v] = true
				mu.Unlock()
				for _, f := range b.Flags {
					if md, _ := f["metadata"].(map[string]any); md["configVersion"] != v {
						t.Errorf("flag %v from version %v in an answer from version %v", f["key"], md["configVersion"], v)
					}
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	if len(versions) < 2 {
		t.Logf("only versions %v seen (the writer may have been slow)", versions)
	}
}

// failing wraps a source whose Configuration can be made to fail.
type failing struct {
	server.Source
	mu   sync.Mutex
	fail bool
}

func (f *failing) Configuration(ctx context.Context) (ramp.Config, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return ramp.Config{}, fmt.Errorf("disk on fire")
	}
	return f.Source.Configuration(ctx)
}

func TestReloadFailureKeepsServing(t *testing.T) {
	s, path := openStore(t)
	v0 := engine(t, s).Version()
	src := &failing{Source: s}
	srv := start(t, server.Config{Source: src, Poll: 10 * time.Millisecond})
	waitVersion(t, srv, v0)
	src.mu.Lock()
	src.fail = true
	src.mu.Unlock()
	if _, err := openPath(t, path).SetEnabled(context.Background(), "common-mailbox", false, "tester"); err != nil {
		t.Fatal(err)
	}
	// The reload of the new version fails (counted, then logged); the old
	// version must still be served after that.
	for deadline := time.Now().Add(patience); !strings.Contains(srv.log.String(), "disk on fire"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failed reload logged within %s of the write", patience)
		}
	}
	_, body := do(t, "GET", srv.URL+"/readyz", "", "")
	if !strings.Contains(string(body), fmt.Sprintf(`"version":%d`, v0)) {
		t.Errorf("readyz = %s, want the old version still served", body)
	}
	_, metrics := do(t, "GET", srv.URL+"/metrics", adminKey, "")
	if !strings.Contains(string(metrics), "ramp_config_reload_errors_total") || strings.Contains(string(metrics), "ramp_config_reload_errors_total 0") {
		t.Errorf("reload errors not counted")
	}
	src.mu.Lock()
	src.fail = false
	src.mu.Unlock()
	waitVersion(t, srv, v0+1)
}

func TestMetrics(t *testing.T) {
	s, _ := openStore(t)
	srv := start(t, server.Config{Source: s})
	for _, k := range []string{"common-mailbox", "does-not-exist-1", "does-not-exist-2"} {
		do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags/"+k, sdkKey, `{"context":{"targetingKey":"emp-1"}}`)
	}
	_, body := do(t, "GET", srv.URL+"/metrics", adminKey, "")
	m := string(body)
	for _, want := range []string{
		`ramp_evaluations_total{error="",flag="common-mailbox",reason="TARGETING_MATCH",variant="on"} 1`,
		`ramp_evaluations_total{error="FLAG_NOT_FOUND",flag="_unknown",reason="ERROR",variant=""} 2`,
		`ramp_http_requests_total{code="404",route="POST /ofrep/v1/evaluate/flags/{key}"} 2`,
		`ramp_http_request_duration_seconds_bucket{code="200",route="POST /ofrep/v1/evaluate/flags/{key}",le="+Inf"} 1`,
		"ramp_config_version ", "ramp_config_age_seconds ", "ramp_store_contact_age_seconds ", "go_goroutines ",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "does-not-exist") {
		t.Errorf("an unknown flag key became a label value")
	}
}

// arrivals is an Authenticator that signals when a request with key has
// reached the server's handlers.
type arrivals struct {
	*fakeAuth
	key     string
	arrived chan struct{}
}

func (a arrivals) Authenticate(r *http.Request) (server.Principal, error) {
	if secret, _ := auth.ParseCredential(r.Header); secret == a.key {
		select {
		case a.arrived <- struct{}{}:
		default:
		}
	}
	return a.fakeAuth.Authenticate(r)
}

// TestGracefulShutdown stops the server while a request is in flight (its
// body half sent) and an event stream is open: the stream ends at once, the
// request is answered, and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	s, _ := openStore(t)
	arrived := make(chan struct{}, 1)
	srv := start(t, server.Config{Source: s, Auth: arrivals{newFakeAuth(), sdkKey2, arrived}})
	_, feed := sse(t, srv.URL+"/v1/snapshot/events", sdkKey)
	next(t, feed, time.Second)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", srv.URL+"/ofrep/v1/evaluate/flags/common-mailbox", pr)
	req.Header.Set("Authorization", "Bearer "+sdkKey2)
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{status: resp.StatusCode, body: string(b)}
	}()
	if _, err := pw.Write([]byte(`{"context":{"targetingKey":`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived: // the server is now reading the body
	case <-time.After(patience):
		t.Fatalf("the request did not reach the server within %s", patience)
	}

	stopped := make(chan error, 1)
	began := time.Now()
	go func() { stopped <- srv.shutdown(10 * time.Second) }()
	select {
	case _, ok := <-feed:
		for ok {
			_, ok = <-feed
		}
	case <-time.After(patience):
		t.Fatalf("the event stream stayed open %s after shutdown began", patience)
	}
	t.Logf("event stream closed %s after shutdown began", time.Since(began).Round(time.Millisecond))
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) before the request in flight finished", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := pw.Write([]byte(`"emp-1"}}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-res
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"value":true`) {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := client.Post(srv.URL+"/healthz", "", nil); err == nil {
		t.Errorf("the server still accepts connections")
	}
}

package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	ofrepprovider "github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags/provider"
	"github.com/ramp-flags/ramp/tracking"
)

// TestTrackingEndToEnd: the real binary on a SQLite file with the
// scenario's running experiments; a service on the stock OpenFeature Go
// SDK with ramp's provider and another on the stock OFREP provider (its
// events posted over plain HTTP, as a service in any language would)
// evaluate and track. Exposures and events land once each, also when
// `ramp serve` is killed (SIGKILL) while batches are in flight and the
// clients retry against a restarted server on the same address.
//
// The experiment used is link-code-ttl (flag wa-link-code-ttl-seconds,
// audience BR and IN, traffic 100, no layer), so that every BR or IN unit
// is in it.
func TestTrackingEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs servers")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "ramp.db")
	env := append(os.Environ(), "RAMP_DB="+db, "RAMP_ACTOR=e2e", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	sdkKey := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "svc", "-o", "table"))

	// A fixed address, so that the clients find the restarted server.
	addr := freeAddr(t)
	srv := startServe(t, env, addr)
	const flag = "wa-link-code-ttl-seconds"

	// What this test needs from the other branches of issue #12. The
	// probe evaluates br-0, one of the OFREP service's units below, so that
	// its exposure is counted once whether or not the server flushed it
	// before the kill: a unit of its own was an 81st exposure whenever the
	// kill came after the server's first flush (on a loaded machine).
	var missing []string
	if code, body := post(t, srv.url+"/ofrep/v1/evaluate/flags/"+flag, sdkKey, `{"context":{"targetingKey":"br-0","region":"BR"}}`); code != http.StatusOK {
		t.Fatalf("probe evaluation: %d %v", code, body)
	} else if md, _ := body["metadata"].(map[string]any); md["experiment"] != "link-code-ttl" {
		missing = append(missing, "a running experiment served from the store: after `ramp apply -f testdata/scenario.yaml`, "+
			flag+" for a BR unit carries no experiment in its metadata ("+fmt.Sprint(body)+"); the store must keep experiments and "+
			"store.Configuration return them (branch h-life)")
	}
	if code, body := post(t, srv.url+tracking.TrackPath, sdkKey, `{"events":[{"id":"probe-1","event":"probe","context":{"targetingKey":"probe"}}]}`); code != http.StatusOK {
		missing = append(missing, fmt.Sprintf("a tracking store: POST /v1/track answers %d %v; admin.Service must implement tracking.Sink "+
			"(WriteExposures, WriteEvents; branch h-track), which internal/cli/serve.go wires in", code, body))
	}
	if len(missing) > 0 {
		t.Skip("cannot run yet; missing:\n- " + strings.Join(missing, "\n- "))
	}
	stored := storedCounter(t, db)

	// 1. A service on the stock OFREP provider: 40 BR units, each
	// evaluated twice (one exposure each), and their events posted
	// over HTTP with ids of the client's.
	const domain = "tracking-e2e-ofrep"
	if err := openfeature.SetNamedProviderAndWait(domain, ofrepprovider.NewProvider(srv.url, ofrepprovider.WithBearerToken(sdkKey))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(openfeature.Shutdown)
	ofrepClient := openfeature.NewClient(domain)
	ctx := context.Background()
	ofrepUnits := func() {
		for i := range 40 {
			ec := openfeature.NewEvaluationContext(fmt.Sprint("br-", i), map[string]any{"region": "BR"})
			for range 2 {
				if d, err := ofrepClient.IntValueDetails(ctx, flag, -1, ec); err != nil || d.FlagMetadata["experiment"] != "link-code-ttl" {
					t.Fatalf("OFREP evaluation of br-%d: %+v %v", i, d, err)
				}
			}
		}
	}
	ofrepUnits()

	// 2. A service on ramp's provider: 40 IN units, exposures recorded in
	// process and posted to the server, and a stream of tracked events.
	p, err := provider.New(srv.url, sdkKey, provider.PollInterval(time.Hour),
		provider.TrackingOptions(tracking.Options{BatchSize: 200, FlushInterval: 20 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if err := openfeature.SetNamedProviderAndWait("tracking-e2e-ramp", p); err != nil {
		t.Fatal(err)
	}
	rampClient := openfeature.NewClient("tracking-e2e-ramp")
	for i := range 40 {
		ec := openfeature.NewEvaluationContext(fmt.Sprint("in-", i), map[string]any{"region": "IN"})
		for range 3 {
			if d, err := rampClient.IntValueDetails(ctx, flag, -1, ec); err != nil || d.FlagMetadata["experiment"] != "link-code-ttl" {
				t.Fatalf("provider evaluation of in-%d: %+v %v", i, d, err)
			}
		}
	}

	// Events flow from both services while the server is killed and
	// restarted: 6,000 through the provider, 6,000 posted by the "other
	// language" in batches of 100 that it retries until answered 200.
	const perClient = 6000
	trackURL := srv.url + tracking.TrackPath // the restarted server listens on the same address
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range perClient {
			ec := openfeature.NewEvaluationContext(fmt.Sprint("in-", i%40), map[string]any{"region": "IN"})
			rampClient.Track(ctx, "wa_link_completed", ec, openfeature.NewTrackingEventDetails(1))
			if i%500 == 0 {
				time.Sleep(20 * time.Millisecond) // spread over the kill
			}
		}
	})
	wg.Go(func() {
		for b := range perClient / 100 {
			var body bytes.Buffer
			body.WriteString(`{"events":[`)
			for j := range 100 {
				if j > 0 {
					body.WriteByte(',')
				}
				fmt.Fprintf(&body, `{"id":"other-%d-%d","event":"link_abuse_report","value":1,"context":{"targetingKey":"br-%d","region":"BR"}}`, b, j, j%40)
			}
			body.WriteString(`]}`)
			postUntilStored(t, trackURL, sdkKey, body.Bytes())
			time.Sleep(5 * time.Millisecond)
		}
	})

	// Kill the server once some events are stored and more are coming.
	if !within(patience, func() bool { _, ev := stored(); return ev > 1000 }) {
		t.Fatalf("no events stored:\n%s", srv.logs())
	}
	_ = srv.cmd.Process.Signal(syscall.SIGKILL)
	_ = srv.cmd.Wait()
	_, atKill := stored()
	t.Logf("SIGKILL with %d events stored", atKill)
	srv = startServe(t, env, addr)
	wg.Wait()

	// The server's own exposures queued at the kill were lost with it:
	// the OFREP service's units are evaluated again, as they would be.
	ofrepUnits()
	if !within(patience, func() bool {
		s := p.TrackingStats()
		return s.Queued == 0 && s.EventsSent+s.EventsDropped == s.EventsRecorded
	}) {
		t.Fatalf("the provider did not send everything: %+v", p.TrackingStats())
	}
	if s := p.TrackingStats(); s.EventsDropped != 0 || s.ExposuresDropped != 0 || s.EventsRecorded != perClient {
		t.Errorf("provider stats %+v: want %d events recorded and nothing dropped", s, perClient)
	}
	wantExp, wantEv := 40+40, 2*perClient+1 // + the probe event
	if !within(patience, func() bool { e, v := stored(); return e >= wantExp && v >= wantEv }) {
		e, v := stored()
		t.Fatalf("stored %d exposures and %d events, want %d and %d", e, v, wantExp, wantEv)
	}
	// Nothing more arrives, and nothing was stored twice.
	if err := p.ShutdownWithContext(ctx); err != nil {
		t.Errorf("provider shutdown: %v", err)
	}
	srv.stop(t)
	if e, v := stored(); e != wantExp || v != wantEv {
		t.Errorf("finally stored %d exposures and %d events, want exactly %d and %d; exposures:\n%s", e, v, wantExp, wantEv, dumpExposures(t, db))
	}
}

// dumpExposures lists the stored exposures, one a line, for a failure's
// message.
func dumpExposures(t *testing.T, path string) string {
	t.Helper()
	conn, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	rows, err := conn.Query(`SELECT * FROM tracking_exposures`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	b.WriteString(strings.Join(cols, "\t") + "\n")
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err.Error()
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('\t')
			}
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprint(&b, v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// postUntilStored posts a batch until the server answers 200, retrying
// connection failures and 503s as a client must (the ids make retries
// safe).
func postUntilStored(t *testing.T, url, key string, body []byte) {
	deadline := time.Now().Add(2 * patience)
	for {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("POST /v1/track: %d", resp.StatusCode)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("POST /v1/track never answered 200 (last error %v)", err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storedCounter returns a function counting the exposures and events in
// the SQLite database (the store's tracking tables), for checking that
// each landed once.
func storedCounter(t *testing.T, path string) func() (exposures, events int) {
	t.Helper()
	conn, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return func() (int, int) {
		t.Helper()
		var e, v int
		if err := conn.QueryRow(`SELECT count(*) FROM tracking_exposures`).Scan(&e); err != nil {
			t.Fatalf("count exposures: %v", err)
		}
		if err := conn.QueryRow(`SELECT count(*) FROM tracking_events`).Scan(&v); err != nil {
			t.Fatalf("count events: %v", err)
		}
		return e, v
	}
}

// freeAddr returns a loopback address with a port free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

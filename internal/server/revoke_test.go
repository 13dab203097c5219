package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/store"
)

// Revocation reaches a server within one poll interval; the tests allow
// far more (patience), for a loaded machine, and never check how fast it
// was.
const revocationDeadline = patience

// TestRevocationEndsStreams: revoking a key in the store ends its open event
// streams, both kinds, however they were authenticated; another key's
// stream goes on, and hears of no new configuration version: a revocation
// leaves the configuration alone (issue #11, item 9; issue #14).
func TestRevocationEndsStreams(t *testing.T) {
	s, path := openStore(t)
	doomed := createKey(t, s, "svc-a")
	kept := createKey(t, s, "svc-b")
	srv := start(t, server.Config{Source: s, Auth: newStoreAuth(t, s)})

	open := func(url, key string) <-chan sseEvent {
		t.Helper()
		resp, ch := sse(t, url, key)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		return ch
	}
	streams := map[string]<-chan sseEvent{
		"snapshot feed":             open(srv.URL+"/v1/snapshot/events", doomed),
		"OFREP stream, key":         open(srv.URL+"/ofrep/v1/events", doomed),
		"OFREP stream, token URL":   open(streamURL(t, srv, doomed), ""),
		"snapshot feed, other key":  open(srv.URL+"/v1/snapshot/events", kept),
		"OFREP stream, other token": open(streamURL(t, srv, kept), ""),
	}
	next(t, streams["snapshot feed"], revocationDeadline) // on connect
	next(t, streams["snapshot feed, other key"], revocationDeadline)

	other := openPath(t, path)
	if _, err := other.RevokeKey(context.Background(), "svc-a", "tester"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"snapshot feed", "OFREP stream, key", "OFREP stream, token URL"} {
		waitEnd(t, name, streams[name], revocationDeadline)
	}
	// The other key's streams outlived the reload, and the next event they
	// hear is of the next change to the configuration, not the revocation.
	v0 := revision(t, other).Version
	if _, err := other.SetEnabled(context.Background(), "common-mailbox", false, "tester"); err != nil {
		t.Fatal(err)
	}
	ev := next(t, streams["snapshot feed, other key"], revocationDeadline)
	if want := fmt.Sprintf(`"version":%d`, v0+1); !strings.Contains(ev.Data, want) {
		t.Errorf("the other key's feed heard %q, want the version after the revocation's (%s)", ev.Data, want)
	}
	next(t, streams["OFREP stream, other token"], revocationDeadline)
	if resp, _ := do(t, http.MethodGet, srv.URL+"/v1/snapshot/events", doomed, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the revoked key opens a stream: %d", resp.StatusCode)
	}
}

// TestRevocationVoidsStreamTokens: the event-stream URL minted for a key is
// refused once the key is revoked, and stays refused when a new key takes
// the revoked one's name; the new key's URL is another, and works.
func TestRevocationVoidsStreamTokens(t *testing.T) {
	tests := []struct {
		name      string
		reuseName bool
	}{
		{name: "revoked"},
		{name: "revoked, name reused", reuseName: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openStore(t)
			first := createKey(t, s, "svc")
			srv := start(t, server.Config{Source: s, Auth: newStoreAuth(t, s)})
			old := streamURL(t, srv, first)
			if code := streamStatus(t, old); code != http.StatusOK {
				t.Fatalf("the token URL before revocation: %d", code)
			}

			other := openPath(t, path)
			if _, err := other.RevokeKey(context.Background(), "svc", "tester"); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, srv.URL+"/v1/snapshot", first, http.StatusUnauthorized)
			if tt.reuseName {
				second := createKey(t, other, "svc")
				waitStatus(t, srv.URL+"/v1/snapshot", second, http.StatusOK)
				fresh := streamURL(t, srv, second)
				if fresh == old {
					t.Errorf("the new key was given the revoked key's stream URL")
				}
				if code := streamStatus(t, fresh); code != http.StatusOK {
					t.Errorf("the new key's token URL: %d", code)
				}
			}
			if code := streamStatus(t, old); code != http.StatusUnauthorized {
				t.Errorf("the revoked key's token URL: %d, want 401", code)
			}
		})
	}
}

// streamURL returns the event-stream URL a bulk answer gives a key.
func streamURL(t *testing.T, srv *running, key string) string {
	t.Helper()
	resp, body := do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags", key, "{}")
	var bulk bulkBody
	if err := json.Unmarshal(body, &bulk); err != nil || resp.StatusCode != http.StatusOK || len(bulk.EventStreams) != 1 {
		t.Fatalf("bulk: %d %s (%v)", resp.StatusCode, body, err)
	}
	return bulk.EventStreams[0].URL
}

// streamStatus opens an event stream without a key and returns its status,
// then leaves.
func streamStatus(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), revocationDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus polls GET url with a key until it answers status.
func waitStatus(t *testing.T, url, key string, status int) {
	t.Helper()
	deadline := time.Now().Add(revocationDeadline)
	for {
		resp, _ := do(t, http.MethodGet, url, key, "")
		if resp.StatusCode == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s still answers %d after %s, want %d", url, resp.StatusCode, revocationDeadline, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEnd waits for a stream to end, and fails if it hears of anything but
// pings meanwhile.
func waitEnd(t *testing.T, name string, ch <-chan sseEvent, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if ev.Data != "" || ev.Event != "" {
				t.Errorf("%s heard %+v after its key was revoked", name, ev)
			}
		case <-deadline:
			t.Fatalf("%s still open %s after its key was revoked", name, within)
		}
	}
}

// TestRevocationAcrossReplicas: two servers on one database, as two ramp
// serve replicas behind a load balancer, each with its own authenticator:
// a personal token made through a third handle works on both at once, and
// once revoked is refused by both, with no change to the configuration
// version (so no provider downloads the snapshot again). How long it took
// is logged, not asserted: within a second on an idle machine (the
// authenticator polls every 250 ms).
func TestRevocationAcrossReplicas(t *testing.T) {
	s, path := openStore(t)
	var replicas []*running
	for range 2 {
		st := openPath(t, path)
		replicas = append(replicas, start(t, server.Config{Source: st, Auth: newStoreAuth(t, st, auth.Options{})}))
	}
	other := openPath(t, path)
	ctx := context.Background()
	secret, tok, err := other.CreateToken(ctx, store.NewToken{Person: "alice", Role: store.RoleEditor}, "root")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		waitStatus(t, r.URL+"/v1/snapshot", secret, http.StatusOK)
	}
	rev := revision(t, s)
	began := time.Now()
	if _, err := other.RevokeToken(ctx, tok.ID, "root"); err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		waitStatus(t, r.URL+"/v1/snapshot", secret, http.StatusUnauthorized)
	}
	t.Logf("both replicas refused the revoked token %s after the revocation", time.Since(began).Round(time.Millisecond))
	if got := revision(t, s); got != rev {
		t.Errorf("the revocation moved the configuration from %v to %v", rev, got)
	}
}

// TestNoSecretInLogs: with request logging on (debug), through every way a
// credential is admitted or refused (headers, the query string, a stream
// token, throttled, revoked), no log line holds a secret.
func TestNoSecretInLogs(t *testing.T) {
	s, _ := openStore(t)
	good := createKey(t, s, "good")
	gone := createKey(t, s, "gone")
	if _, err := s.RevokeKey(context.Background(), "gone", "tester"); err != nil {
		t.Fatal(err)
	}
	tokSecret, _, err := s.CreateToken(context.Background(), store.NewToken{Person: "alice", Role: store.RoleViewer}, "root")
	if err != nil {
		t.Fatal(err)
	}
	srv := start(t, server.Config{Source: s, Auth: newStoreAuth(t, s, auth.Options{FailureLimit: 1})})
	secrets := []string{good, gone, tokSecret, "ramp_pat_neverissuedbutstillsecret0000"}
	stream := streamURL(t, srv, good)
	for _, secret := range secrets {
		for range 4 { // past the failure limit too
			do(t, http.MethodGet, srv.URL+"/v1/snapshot", secret, "")
			do(t, http.MethodGet, srv.URL+"/v1/snapshot?api_key="+secret, "", "")
			do(t, http.MethodGet, srv.URL+"/metrics?x="+secret, secret, "")
			do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/common-mailbox", "", "{}", "Authorization", "Basic "+secret)
		}
	}
	if code := streamStatus(t, stream); code != http.StatusOK {
		t.Errorf("stream URL: %d", code)
	}
	srv.shutdown(patience)
	logs := srv.log.String()
	if !strings.Contains(logs, `"status":401`) || !strings.Contains(logs, `"status":429`) {
		t.Fatalf("the requests were not logged:\n%.2000s", logs)
	}
	token := stream[strings.Index(stream, "token=")+len("token="):]
	for _, secret := range append(secrets, token) {
		if strings.Contains(logs, secret) || strings.Contains(logs, secret[len(secret)-20:]) {
			t.Errorf("a secret (%.12s…) is in the log", secret)
		}
	}
}

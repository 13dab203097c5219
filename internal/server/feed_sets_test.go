package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/store"
)

// countingSource is the store, counting the member sets the server takes
// back from those it holds and those it has the store build.
type countingSource struct {
	*store.Store
	reused atomic.Int64
	read   sync.Map // cohort key → times its list was read
}

func (c *countingSource) reads(key string) int64 {
	n, _ := c.read.LoadOrStore(key, new(atomic.Int64))
	return n.(*atomic.Int64).Load()
}

func (c *countingSource) ConfigurationReusing(ctx context.Context, reuse func(string, int64) *cohorts.Set) (ramp.Config, error) {
	return c.Store.ConfigurationReusing(ctx, func(key string, v int64) *cohorts.Set {
		set := reuse(key, v)
		if set != nil {
			c.reused.Add(1)
		} else {
			n, _ := c.read.LoadOrStore(key, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
		return set
	})
}

// manifest fetches the snapshot as a wire.FormatV2 manifest.
func manifest(t *testing.T, srv *running) *wire.Manifest {
	t.Helper()
	resp, body := do(t, "GET", srv.URL+"/v1/snapshot?"+wire.FormatQuery, sdkKey, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/snapshot?format=2: %s %s", resp.Status, body)
	}
	m, err := wire.DecodeManifest(body)
	if err != nil {
		t.Fatalf("manifest: %v\n%.300s", err, body)
	}
	return m
}

// fetchSet fetches a set by ID: the set, or nil and the status.
func fetchSet(t *testing.T, srv *running, id string) (*cohorts.Set, int) {
	t.Helper()
	resp, body := do(t, "GET", srv.URL+"/v1/snapshot/sets/"+id, sdkKey, "")
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); ct != wire.SetContentType {
		t.Errorf("set content type %q", ct)
	}
	set, err := wire.DecodeSet(bytes.NewReader(body), int64(len(body)), id)
	if err != nil {
		t.Fatalf("set %s: %v", id, err)
	}
	return set, resp.StatusCode
}

// TestSnapshotFormats: GET /v1/snapshot without format=2 is the whole v1
// document older providers read (decoded here by the v1 decoder, as they
// do); with it, a manifest whose sets come by ID and decide alike; a flag
// change keeps the set (the server reads and builds no list, and the
// manifest names the same set); an import changes its ID, and the old ID
// is no longer served.
func TestSnapshotFormats(t *testing.T) {
	s, _ := openStore(t)
	importIDs(t, s, "whatsapp-beta-testers", store.ImportReplace, "beta-%d", 5000)
	src := &countingSource{Store: s}
	srv := start(t, server.Config{Source: src, Poll: 10 * time.Millisecond, RateLimit: -1})
	waitVersion(t, srv, revision(t, s).Version)

	// The old client's path: the whole document, every list inline.
	resp, whole := do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/snapshot: %s", resp.Status)
	}
	old, epoch, err := wire.DecodeEpoch(whole)
	if err != nil {
		t.Fatalf("the v1 decoder refuses what the server sends older providers: %v", err)
	}
	if epoch != revision(t, s).Epoch || old.Version() != revision(t, s).Version {
		t.Errorf("v1 document at %d-%s, store at %+v", old.Version(), epoch, revision(t, s))
	}

	m := manifest(t, srv)
	id := m.Sets["whatsapp-beta-testers"]
	if id == "" || !strings.HasPrefix(id, "5000-") {
		t.Fatalf("manifest sets %v", m.Sets)
	}
	set, code := fetchSet(t, srv, id)
	if set == nil {
		t.Fatalf("GET set %s: %d", id, code)
	}
	for key, sid := range m.Sets {
		if m.State.MemberSets[key], _ = fetchSet(t, srv, sid); m.State.MemberSets[key] == nil {
			t.Fatalf("set %s of %s not served", sid, key)
		}
	}
	fresh, err := flags.Compile(m.State, m.Version)
	if err != nil {
		t.Fatal(err)
	}
	sameDecisions(t, old, fresh, 3000)

	// A kill switch: the set is neither read nor built again.
	read := src.reads("whatsapp-beta-testers")
	if _, err := s.SetEnabled(context.Background(), "common-mailbox", false, "tester"); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, srv, revision(t, s).Version)
	if got := manifest(t, srv).Sets["whatsapp-beta-testers"]; got != id {
		t.Errorf("after a flag change the set is %s, was %s", got, id)
	}
	if n := src.reads("whatsapp-beta-testers") - read; n != 0 {
		t.Errorf("a flag change read the imported list %d times", n)
	}
	if src.reused.Load() == 0 {
		t.Error("no set was reused")
	}

	// An import: a new set, and the old one is gone.
	importIDs(t, s, "whatsapp-beta-testers", store.ImportAdd, "more-%d", 10)
	waitVersion(t, srv, revision(t, s).Version)
	m2 := manifest(t, srv)
	if got := m2.Sets["whatsapp-beta-testers"]; got == id || !strings.HasPrefix(got, "5010-") {
		t.Errorf("after an import the set is %s (was %s)", got, id)
	}
	if _, code := fetchSet(t, srv, id); code != http.StatusNotFound {
		t.Errorf("the replaced set: %d, want 404", code)
	}
	if _, code := fetchSet(t, srv, m2.Sets["whatsapp-beta-testers"]); code != http.StatusOK {
		t.Errorf("the new set: %d", code)
	}

	// Conditional requests answer 304 in both formats.
	for _, q := range []string{"", "?" + wire.FormatQuery} {
		resp, _ := do(t, "GET", srv.URL+"/v1/snapshot"+q, sdkKey, "", "If-None-Match", fmt.Sprintf(`"%d-%s"`, m2.Version, m2.Epoch))
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET /v1/snapshot%s with the held tag: %s", q, resp.Status)
		}
	}
	// Without a key, nothing.
	if resp, _ := do(t, "GET", srv.URL+"/v1/snapshot/sets/"+m2.Sets["whatsapp-beta-testers"], "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a set without a key: %s", resp.Status)
	}
}

// TestManifestGzip: a manifest large enough is sent gzipped to a client
// that takes it, and as it is to one that does not.
func TestManifestGzip(t *testing.T) {
	st := flags.State{}
	for i := range 40 {
		st.Flags = append(st.Flags, flags.Flag{Key: fmt.Sprintf("flag-%02d", i), Type: flags.Boolean, Enabled: true, Bucketing: 1,
			Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}, DefaultVariant: "off"})
	}
	srv := start(t, server.Config{Source: staticSource{st}, RateLimit: -1})
	waitVersion(t, srv, 1)
	get := func(encoding string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/snapshot?"+wire.FormatQuery, nil)
		req.Header.Set("Authorization", "Bearer "+sdkKey)
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, plain := get("identity")
	resp, gz := get("gzip, br")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q for a %d-byte manifest", resp.Header.Get("Content-Encoding"), len(plain))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) || len(gz) >= len(plain)/2 {
		t.Errorf("gzipped %d bytes into %d; same content: %v", len(plain), len(gz), bytes.Equal(unzipped, plain))
	}
}

// staticSource serves one state at version 1, without set versions.
type staticSource struct{ st flags.State }

func (s staticSource) Configuration(context.Context) (ramp.Config, error) {
	return ramp.Config{State: s.st, Revision: ramp.Revision{Version: 1, Epoch: "e1"}}, nil
}

func (s staticSource) Revision(context.Context) (ramp.Revision, error) {
	return ramp.Revision{Version: 1, Epoch: "e1"}, nil
}

// sameDecisions compares two snapshots' decisions for n contexts.
func sameDecisions(t *testing.T, a, b *flags.Snapshot, n int) {
	t.Helper()
	for i := range n {
		ctx := map[string]any{"targetingKey": fmt.Sprintf("beta-%d", i*7%6000), "region": []string{"US", "FR", "BR"}[i%3],
			"accountCenterId": fmt.Sprintf("ac-%d", i)}
		for _, key := range a.Keys() {
			x, y := a.Evaluate(key, ctx), b.Evaluate(key, ctx)
			if x.Variant != y.Variant || x.Reason != y.Reason || x.Rule != y.Rule {
				t.Fatalf("%s %v: %s/%s, %s/%s", key, ctx, x.Variant, x.Reason, y.Variant, y.Reason)
			}
		}
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/ramp-flags/ramp"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// swappable is a source whose database can be replaced under the server,
// as a restore or a move to another database replaces it behind one DSN.
type swappable struct{ cur atomic.Pointer[store.Store] }

func (s *swappable) Configuration(ctx context.Context) (ramp.Config, error) {
	return s.cur.Load().Configuration(ctx)
}

func (s *swappable) Revision(ctx context.Context) (store.Revision, error) {
	return s.cur.Load().Revision(ctx)
}

// waitEpoch waits until the server answers from a database's epoch.
func waitEpoch(t *testing.T, srv *running, epoch string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		_, body := do(t, "GET", srv.URL+"/readyz", "", "")
		var r struct{ Epoch string }
		_ = json.Unmarshal(body, &r)
		if r.Epoch == epoch {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("epoch %s not served within %s", epoch, patience)
}

// TestDatabaseSwap replaces the database under a running server with
// another at the same version, then with one at a lower version: the server
// serves each (its live reload compares epochs, not only versions), every
// ETag changes, and a validator from the first database never earns a 304
// from the second, even where the answer is byte for byte the same.
func TestDatabaseSwap(t *testing.T) {
	a, _ := openStore(t)
	b, _ := openStore(t) // the same configuration, at the same version
	ra, rb := revision(t, a), revision(t, b)
	if ra.Version != rb.Version || ra.Epoch == rb.Epoch {
		t.Fatalf("revisions %v and %v: want the same version, different epochs", ra, rb)
	}
	src := &swappable{}
	src.cur.Store(a)
	srv := start(t, server.Config{Source: src, Poll: 10 * time.Millisecond})
	waitEpoch(t, srv, ra.Epoch)

	resp, _ := do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "")
	snapTag := resp.Header.Get("ETag")
	if want := fmt.Sprintf(`"%d-%s"`, ra.Version, ra.Epoch); snapTag != want {
		t.Fatalf("snapshot ETag %q, want %q", snapTag, want)
	}
	bulkURL := srv.URL + "/ofrep/v1/evaluate/flags"
	ctx := evalBody(map[string]any{"targetingKey": "emp-1"})
	resp, bulkA := do(t, "POST", bulkURL, sdkKey, ctx)
	bulkTag := resp.Header.Get("ETag")
	_, feed := sse(t, srv.URL+"/v1/snapshot/events", sdkKey)
	if ev := next(t, feed, time.Second); ev.Data != fmt.Sprintf(`{"version":%d,"epoch":%q}`, ra.Version, ra.Epoch) {
		t.Fatalf("first snapshot event %+v", ev)
	}

	// Database B: the same configuration at the same version.
	src.cur.Store(b)
	if ev := next(t, feed, time.Second); ev.Data != fmt.Sprintf(`{"version":%d,"epoch":%q}`, rb.Version, rb.Epoch) {
		t.Fatalf("snapshot event after the swap %+v", ev)
	}
	waitEpoch(t, srv, rb.Epoch)
	resp, body := do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "", "If-None-Match", snapTag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == snapTag {
		t.Errorf("snapshot with A's ETag from B: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	if _, epoch, err := wire.DecodeEpoch(body); err != nil || epoch != rb.Epoch {
		t.Errorf("snapshot document from B: epoch %q (%v), want %q", epoch, err, rb.Epoch)
	}
	resp, bulkB := do(t, "POST", bulkURL, sdkKey, ctx, "If-None-Match", bulkTag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == bulkTag {
		t.Errorf("bulk with A's ETag from B: %d, ETag %q (was %q)", resp.StatusCode, resp.Header.Get("ETag"), bulkTag)
	}
	if string(bulkA) != string(bulkB) {
		// Equal answers show that the ETag does not rest on the body alone.
		t.Errorf("bulk answers from A and B differ:\n%s\n%s", bulkA, bulkB)
	}
	// B's own tags do earn a 304.
	tagB := resp.Header.Get("ETag")
	if resp, _ := do(t, "POST", bulkURL, sdkKey, ctx, "If-None-Match", tagB); resp.StatusCode != http.StatusNotModified {
		t.Errorf("bulk with B's ETag: %d", resp.StatusCode)
	}

	// Database C: another configuration at a lower version.
	c := openPath(t, testdb.DSN(t))
	if _, err := c.RenewEpoch(context.Background(), "tester"); err != nil { // any write: version 1
		t.Fatal(err)
	}
	rc := revision(t, c)
	src.cur.Store(c)
	if ev := next(t, feed, time.Second); ev.Data != fmt.Sprintf(`{"version":%d,"epoch":%q}`, rc.Version, rc.Epoch) {
		t.Fatalf("snapshot event after swapping to a lower version %+v (was at %d)", ev, rb.Version)
	}
	waitEpoch(t, srv, rc.Epoch)
	if _, body := do(t, "POST", bulkURL, sdkKey, ctx); strings.Contains(string(body), "common-mailbox") {
		t.Errorf("bulk from the empty database C still has A's flags: %s", body)
	}
	if !strings.Contains(srv.log.String(), "the database was replaced") {
		t.Errorf("no log line about the replaced database:\n%s", srv.log.String())
	}
}

// TestRenewedEpochIsServed renews the epoch of the database being served:
// the server reloads, and the old ETag no longer holds.
func TestRenewedEpochIsServed(t *testing.T) {
	s, _ := openStore(t)
	srv := start(t, server.Config{Source: s, Poll: 10 * time.Millisecond})
	resp, _ := do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "")
	old := resp.Header.Get("ETag")
	rev, err := s.RenewEpoch(context.Background(), "tester")
	if err != nil {
		t.Fatal(err)
	}
	waitEpoch(t, srv, rev.Epoch)
	resp, _ = do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "", "If-None-Match", old)
	if want := fmt.Sprintf(`"%d-%s"`, rev.Version, rev.Epoch); resp.StatusCode != 200 || resp.Header.Get("ETag") != want {
		t.Errorf("after renewing: %d, ETag %q, want 200 and %q", resp.StatusCode, resp.Header.Get("ETag"), want)
	}
}

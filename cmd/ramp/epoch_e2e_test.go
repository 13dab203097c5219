package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags/provider"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// TestDatabaseMovedUnderProvider follows README's "From SQLite to
// PostgreSQL" with services running: `ramp serve` on database A, a service's
// provider synced to A's latest version (a high one) and caching it; serve
// stops; A is exported and applied into a new database B (a Postgres schema
// in the Postgres pass), whose versions start again from 1; serve starts on
// B at the same address. The service, restarted with B's key and A's cache
// file, starts from the cache and comes to serve B's configuration (how
// soon is logged), although B's version is lower than the cached one.
func TestDatabaseMovedUnderProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs servers")
	}
	dir := t.TempDir()
	base := slices.Clip(append(os.Environ(), "RAMP_ACTOR=e2e", "RAMP_FORCE_TTY="))
	envA := append(base, "RAMP_DB="+filepath.Join(dir, "a.db"))
	envB := append(base, "RAMP_DB="+testdb.DSN(t))
	rampA, rampB := rampIn(t, envA), rampIn(t, envB)
	status := func(ramp func(...string) string) (rev struct {
		Epoch   string
		Version int64
	}) {
		t.Helper()
		if err := json.Unmarshal([]byte(ramp("db", "status", "-o", "json")), &rev); err != nil {
			t.Fatal(err)
		}
		return rev
	}

	rampA("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	keyA := strings.TrimSpace(rampA("keys", "create", "--role", "sdk", "--name", "checkout", "-o", "table"))
	for range 10 { // a database with some history
		rampA("flags", "disable", "ig-business-inbox-tools")
		rampA("flags", "enable", "ig-business-inbox-tools")
	}
	revA := status(rampA)

	srv := startServe(t, envA, "127.0.0.1:0")
	addr := strings.TrimPrefix(srv.url, "http://")
	cache := filepath.Join(dir, "checkout-snapshot.json")
	p, err := provider.New(srv.url, keyA, provider.CacheFile(cache))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	if !within(patience, func() bool { return cachedVersion(cache) == revA.Version }) {
		t.Fatalf("cache file at version %d, want A's %d", cachedVersion(cache), revA.Version)
	}
	employee := map[string]any{"targetingKey": "emp-1"}
	if on, _ := p.Snapshot().Bool("common-mailbox", false, employee); !on {
		t.Fatal("common-mailbox is off for an employee on A")
	}
	p.Shutdown()
	srv.stop(t)

	// The move, as README describes it; B then turns common-mailbox off.
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(rampA("export")), 0o600); err != nil {
		t.Fatal(err)
	}
	rampB("apply", "-f", config)
	keyB := strings.TrimSpace(rampB("keys", "create", "--role", "sdk", "--name", "checkout", "-o", "table"))
	rampB("flags", "disable", "common-mailbox")
	revB := status(rampB)
	if revB.Epoch == revA.Epoch || revB.Version >= revA.Version {
		t.Fatalf("A at %+v, B at %+v: want another epoch and a lower version", revA, revB)
	}

	srvB := startServe(t, envB, addr)
	resp, err := http.Get(srvB.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct{ Epoch string }
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if ready.Epoch != revB.Epoch {
		t.Errorf("ramp serve on B reports epoch %q, want B's %q", ready.Epoch, revB.Epoch)
	}

	var logs lockedBuffer
	p2, err := provider.New(srvB.url, keyB, provider.CacheFile(cache),
		provider.Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Shutdown()
	start := time.Now()
	if err := p2.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	if v := p2.Snapshot().Version(); v != revA.Version && v != revB.Version {
		t.Errorf("started from version %d, want A's cached %d (or already B's %d)", v, revA.Version, revB.Version)
	}
	if !within(patience, func() bool {
		on, _ := p2.Snapshot().Bool("common-mailbox", false, employee)
		return !on && p2.Snapshot().Version() == revB.Version
	}) {
		t.Fatalf("provider still at version %d (common-mailbox on) %s after B's server started; log:\n%s", p2.Snapshot().Version(), patience, logs.String())
	}
	t.Logf("B's configuration served %s after Init", time.Since(start).Round(time.Millisecond))
	// The provider logs the move just after it makes B's snapshot current:
	// wait for the line rather than read the log at once.
	if !within(patience, func() bool { return strings.Contains(logs.String(), "snapshot from another database") }) {
		t.Errorf("no log line about the other database:\n%s", logs.String())
	}
	if !within(patience, func() bool { return cachedVersion(cache) == revB.Version }) {
		t.Errorf("cache file at version %d, want B's %d", cachedVersion(cache), revB.Version)
	}
	if _, epoch, err := cachedRevision(cache); err != nil || epoch != revB.Epoch {
		t.Errorf("cache file epoch %q (%v), want B's %q", epoch, err, revB.Epoch)
	}
}

// cachedVersion reads the version of a provider's cache file, or -1.
func cachedVersion(path string) int64 {
	v, _, err := cachedRevision(path)
	if err != nil {
		return -1
	}
	return v
}

// cachedRevision reads the version and epoch of a provider's cache file:
// the manifest on its first line (wire.FormatV2, then the member sets), or
// a whole wire.Format document from a server without manifests.
func cachedRevision(path string) (int64, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	if line, _, _ := bytes.Cut(b, []byte("\n")); bytes.Contains(line, []byte(wire.FormatV2)) {
		m, err := wire.DecodeManifest(line)
		if err != nil {
			return 0, "", err
		}
		return m.Version, m.Epoch, nil
	}
	snap, epoch, err := wire.DecodeEpoch(b)
	if err != nil {
		return 0, "", err
	}
	return snap.Version(), epoch, nil
}

// lockedBuffer is a log destination safe for the provider's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

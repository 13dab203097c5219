package provider_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/provider"
	"github.com/ramp-flags/ramp/flags/wire"
)

// Two databases' epochs: A's configuration reached version 57; B was made
// from an export of A (or restored and renewed) and is at version 3.
const (
	epochA = "aaaaaaaaaaaaaaaa"
	epochB = "bbbbbbbbbbbbbbbb"
)

// logBuffer collects a provider's log lines, for tests that read them.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() provider.Option {
	return provider.Logger(slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// dmMode is what a provider answers for dm-mode, which next() changes.
func dmMode(c *openfeature.Client) string {
	return c.String(context.Background(), "dm-mode", "x", openfeature.NewEvaluationContext("u", nil))
}

func writeSnapshotEpoch(t testing.TB, path string, st flags.State, version int64, epoch string) {
	t.Helper()
	doc, err := wire.MarshalEpoch(&st, version, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// fileEpoch reads the epoch of a wire document file, or "?" when it cannot.
func fileEpoch(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	_, epoch, err := wire.DecodeEpoch(b)
	if err != nil {
		return "?"
	}
	return epoch
}

// TestOtherDatabaseFromFeed: a provider holding version 57 of database A
// takes version 3 of database B as soon as the server announces it, says so
// in its log and its event, and caches it; a lagging replica of B (same
// epoch, lower version) is still ignored. (That its announcement is not
// even fetched is TestLaggingAnnouncementNotFetched's: from outside, such
// a fetch cannot be told from one a coalesced earlier wake-up makes.)
func TestOtherDatabaseFromFeed(t *testing.T) {
	t.Parallel()
	cache := tempPath(t, "cache.json")
	var logs logBuffer
	f := newFeed(t)
	f.setEpoch(scenario(), 57, epochA)
	f.listen("127.0.0.1:0")
	t.Cleanup(f.stop)
	p := newProvider(t, f.URL(), provider.CacheFile(cache), logs.logger())
	client, rec := mustSDK(t, p)
	eventually(t, 2*time.Second, "cache file at A's version 57", func() bool { return fileVersion(cache) == 57 })
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })

	mark := rec.mark()
	start := time.Now()
	f.publishEpoch(next(), 3, epochB)
	ev := rec.wait(t, mark, openfeature.ProviderConfigChange, 2*time.Second)
	t.Logf("B's version 3 served %s after it was announced", time.Since(start).Round(time.Millisecond))
	if v := p.Snapshot().Version(); v != 3 {
		t.Errorf("version %d, want B's 3", v)
	}
	if got := dmMode(client); got != "handoff" {
		t.Errorf("dm-mode = %q, want B's handoff", got)
	}
	if !strings.Contains(ev.Message, "another database") || ev.EventMetadata["configVersion"] != int64(3) || ev.EventMetadata["previousVersion"] != int64(57) {
		t.Errorf("CONFIGURATION_CHANGED %q %v", ev.Message, ev.EventMetadata)
	}
	if !strings.Contains(logs.String(), "snapshot from another database") {
		t.Errorf("no log line about the other database:\n%s", logs.String())
	}
	eventually(t, 2*time.Second, "cache file at B's version 3", func() bool {
		return fileVersion(cache) == 3 && fileEpoch(cache) == epochB
	})

	// B moves on; one of its replicas lags behind: ignored, as ever. B's
	// next version, announced after the lagging one on the same stream,
	// marks when the provider has dealt with it: the change it brings must
	// come from version 4, with no change in between.
	mark = rec.mark()
	f.publishEpoch(scenario(), 4, epochB)
	rec.wait(t, mark, openfeature.ProviderConfigChange, 2*time.Second)
	mark = rec.mark()
	f.publishEpoch(next(), 2, epochB)
	eventually(t, time.Second, "B's lagging version 2 announced", func() bool { return f.sent.Load() == 2 })
	f.publishEpoch(next(), 5, epochB)
	ev = rec.wait(t, mark, openfeature.ProviderConfigChange, 2*time.Second)
	if ev.EventMetadata["configVersion"] != int64(5) || ev.EventMetadata["previousVersion"] != int64(4) {
		t.Errorf("CONFIGURATION_CHANGED %v after B's lagging version 2 and then its version 5, want 4 → 5", ev.EventMetadata)
	}
	if evs := rec.since(mark, openfeature.ProviderConfigChange); len(evs) != 1 {
		t.Errorf("%d CONFIGURATION_CHANGED for a lower version of the same database and then a newer one, want 1: %v", len(evs), evs)
	}
	if v := p.Snapshot().Version(); v != 5 {
		t.Errorf("version %d, want B's 5", v)
	}
}

// TestOtherDatabaseFromCacheFile: a provider restarting with A's version 57
// in its cache file starts from it, then takes B's version 3 from the
// server and caches it; the next restart starts from B's and the server
// answers its If-None-Match with 304.
func TestOtherDatabaseFromCacheFile(t *testing.T) {
	t.Parallel()
	cache := tempPath(t, "cache.json")
	writeSnapshotEpoch(t, cache, scenario(), 57, epochA)
	f := newFeed(t)
	f.setEpoch(next(), 3, epochB)
	f.listen("127.0.0.1:0")
	t.Cleanup(f.stop)

	p := newProvider(t, f.URL(), provider.CacheFile(cache))
	client, _ := mustSDK(t, p)
	eventually(t, 2*time.Second, "B's version 3 served", func() bool { return p.Snapshot().Version() == 3 })
	if got := dmMode(client); got != "handoff" {
		t.Errorf("dm-mode = %q, want B's handoff", got)
	}
	eventually(t, 2*time.Second, "cache file at B's version 3", func() bool {
		return fileVersion(cache) == 3 && fileEpoch(cache) == epochB
	})
	p.Shutdown()

	notMod := f.notMod.Load()
	again := newProvider(t, f.URL(), provider.CacheFile(cache), provider.PollInterval(20*time.Millisecond))
	mustSDK(t, again)
	eventually(t, 2*time.Second, "a 304 for the cached B", func() bool { return f.notMod.Load() > notMod })
	if v := again.Snapshot().Version(); v != 3 {
		t.Errorf("restarted at version %d, want B's 3", v)
	}
}

// TestOtherDatabaseFromWatchedFile: NewFromFile treats a replaced file the
// same way.
func TestOtherDatabaseFromWatchedFile(t *testing.T) {
	t.Parallel()
	path := tempPath(t, "snapshot.json")
	writeSnapshotEpoch(t, path, scenario(), 57, epochA)
	p, err := provider.NewFromFile(path, provider.WatchFile(10*time.Millisecond), provider.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	client, rec := mustSDK(t, p)
	mark := rec.mark()
	writeSnapshotEpoch(t, path, next(), 3, epochB)
	rec.wait(t, mark, openfeature.ProviderConfigChange, 2*time.Second)
	if v := p.Snapshot().Version(); v != 3 || dmMode(client) != "handoff" {
		t.Errorf("version %d, dm-mode %q: want B's 3 and handoff", v, dmMode(client))
	}
}

// TestEpochFromOlderServer: documents without an epoch (from a ramp before
// epochs) are ordered by version alone; a provider holding one learns the
// epoch from the first document at the same version that has one, without
// announcing a change, and then ignores older versions without an epoch.
func TestEpochFromOlderServer(t *testing.T) {
	t.Parallel()
	f := startFeed(t, scenario(), 57) // no epoch
	p := newProvider(t, f.URL(), provider.PollInterval(20*time.Millisecond))
	_, rec := mustSDK(t, p)
	eventually(t, time.Second, "event stream open", func() bool { return f.streams.Load() == 1 })

	mark := rec.mark()
	f.publishEpoch(scenario(), 57, epochA) // the server upgraded
	eventually(t, 2*time.Second, "a 304 for A's version 57", func() bool {
		n := f.notMod.Load()
		time.Sleep(50 * time.Millisecond)
		return f.notMod.Load() > n
	})
	fetched := f.fetched.Load()
	f.publishEpoch(next(), 3, "") // an old replica, behind
	// Polled, its document is fetched (the ETag differs); once a second
	// fetch is answered, the provider has decided about the first.
	eventually(t, 2*time.Second, "two polls of the old replica's version 3", func() bool { return f.fetched.Load() >= fetched+2 })
	if v := p.Snapshot().Version(); v != 57 {
		t.Errorf("version %d, want 57 kept", v)
	}
	if evs := rec.since(mark, openfeature.ProviderConfigChange); len(evs) != 0 {
		t.Errorf("CONFIGURATION_CHANGED: %v", evs)
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/tracking"
)

// Source is where the server reads the configuration: the store.
// Configuration is read only when Revision says something changed: a new
// version, or a new epoch (another database behind the same address, whose
// version may be lower).
//
// Configuration returns the configuration as stored, with the revision it
// is at; the server composes it (ramp.Compose) before compiling. A cohort's
// listed members may come as a hashed set in flags.State.MemberSets rather
// than as ids in Members (as the store returns them, so that a cohort of 10
// million members is never held as 10 million strings); flags.Compile and
// wire.Marshal take either form.
type Source interface {
	Configuration(ctx context.Context) (ramp.Config, error)
	Revision(ctx context.Context) (ramp.Revision, error)
}

// listener is the optional side of a Source that announces changes as they
// commit (store.Store.Listen on Postgres).
type listener interface {
	Listen(ctx context.Context, onChange func(version int64)) error
}

// largeConfig is the size of a wire document from which a reload returns
// freed memory to the operating system at once.
const largeConfig = 64 << 20

// loaded is one configuration as served: compiled for evaluation and encoded
// for the snapshot feed, both made once per version. It is immutable once
// published; next is closed when a newer one replaces it.
type loaded struct {
	snap *flags.Snapshot
	// manifest is the wire.FormatV2 document (sets by ID), made at load;
	// manifestGz the same gzipped, made on first use. whole is the
	// wire.Format document (every list inline), for providers that do not
	// ask for FormatV2, made on first use: its cost grows with the lists.
	manifest   []byte
	manifestGz lazyDoc
	whole      lazyDoc
	// sets are the member sets the configuration refers to, by ID and by
	// cohort (feed_sets.go).
	sets     map[string]*servedSet
	byCohort map[string]cohortSet
	version  int64
	epoch    string // the database's (ramp.Revision)
	etag     string // `"<version>-<epoch>"`, the snapshot feed's ETag (feedTag)
	loadedAt time.Time
	next     chan struct{}
	outcomes *outcomes // what snap's decisions are counted in and encoded as
	// units are the attributes the configuration places units by
	// (tracking.UnitAttributes): what a tracked event keeps of its
	// context besides targetingKey.
	units []string
	// exposures checks reported exposures against the running phases.
	exposures *tracking.ExposureCheck
}

// live holds the configuration being served and keeps it current: it polls
// the source's version every poll interval (and whenever Trigger is called)
// and, when the version changed, loads, compiles and encodes the new state
// and swaps it in atomically. A request reads the pointer once and uses
// that configuration to the end, so it sees the old one or the new one,
// never a mix. A failed reload keeps the old configuration and is retried
// with backoff.
type live struct {
	src     Source
	poll    time.Duration
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
	// prepare runs before a new version is published (the authenticator's
	// Refresh); its failure fails the reload.
	prepare func(ctx context.Context, version int64) error

	cur     atomic.Pointer[loaded]
	trigger chan struct{}
	// lastContact is when the source last answered (Unix nanoseconds), for
	// readiness.
	lastContact atomic.Int64
}

func newLive(src Source, poll time.Duration, now func() time.Time, log *slog.Logger, m *metrics) *live {
	return &live{src: src, poll: poll, now: now, log: log, metrics: m, trigger: make(chan struct{}, 1)}
}

// current returns the configuration being served, or nil before the first
// load.
func (l *live) current() *loaded { return l.cur.Load() }

// Trigger asks for a version check now instead of at the next poll. It never
// blocks; triggers that arrive while one is pending are merged.
func (l *live) Trigger() {
	select {
	case l.trigger <- struct{}{}:
	default:
	}
}

// load reads, compiles and encodes the source's state and publishes it.
// Member sets the configuration being served holds at the same members
// version are taken as they are (feed_sets.go): a change that leaves the
// lists alone reads, builds and encodes none of them.
func (l *live) load(ctx context.Context) (*loaded, error) {
	start := l.now()
	prev := l.current()
	cfg, reused, err := l.readConfiguration(ctx, prev)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	st, rev := ramp.Compose(&cfg), cfg.Revision
	version := rev.Version
	l.contact()
	if l.prepare != nil {
		if err := l.prepare(ctx, version); err != nil {
			return nil, fmt.Errorf("refresh keys at version %d: %w", version, err)
		}
	}
	setsFromMembers(&st)
	snap, err := flags.Compile(st, version)
	if err != nil {
		return nil, fmt.Errorf("compile configuration version %d: %w", version, err)
	}
	byCohort, byID, built := serveSets(snap.State(), cfg.SetVersions, prev)
	doc, err := wire.MarshalManifest(snap.State(), version, rev.Epoch, manifestIDs(byCohort))
	if err != nil {
		return nil, fmt.Errorf("encode configuration version %d: %w", version, err)
	}
	n := &loaded{snap: snap, manifest: doc, sets: byID, byCohort: byCohort, version: version, epoch: rev.Epoch, etag: `"` + feedTag(version, rev.Epoch) + `"`,
		loadedAt: l.now(), next: make(chan struct{}), outcomes: newOutcomes(snap, l.metrics.evaluations),
		units: tracking.UnitAttributes(snap.State()), exposures: tracking.NewExposureCheck(snap.State())}
	old := l.cur.Swap(n)
	if old != nil {
		switch {
		case old.epoch != n.epoch:
			l.log.Warn("the database was replaced (new epoch): serving its configuration whatever its version; providers take it too",
				"epoch", n.epoch, "version", version, "previous_epoch", old.epoch, "previous_version", old.version)
		case version < old.version:
			l.log.Error("the configuration version went back in the same database (restored from a backup?): "+
				"providers holding a newer version ignore this one; run `ramp db renew-epoch` on the database",
				"epoch", n.epoch, "version", version, "previous_version", old.version)
		}
	}
	if old != nil {
		close(old.next)
	}
	l.metrics.swapped(old, n)
	dropped := 0
	if old != nil {
		for id, s := range old.sets {
			if n := byID[id]; n == nil || n.set != s.set {
				dropped += s.set.SizeBytes()
			}
		}
		dropped += old.whole.size()
	}
	if built >= largeConfig || dropped >= largeConfig {
		// A reload that builds or drops a large set (cohorts of
		// millions) leaves hundreds of MiB of garbage: the replaced
		// sets and documents, the hashes the new sets were built from.
		// The runtime would keep them mapped until its scavenger got to
		// them, holding the process at about twice its live heap; a
		// forced collection now returns them (docs/BENCHMARKS.md). A
		// reload that keeps every set skips it.
		debug.FreeOSMemory()
	}
	l.log.Info("configuration loaded", "version", version, "epoch", rev.Epoch, "flags", len(snap.Keys()),
		"cohorts", len(st.Cohorts), "sets_reused", reused, "sets_built_bytes", built, "bytes", len(doc),
		"took", l.now().Sub(start).Round(time.Microsecond).String())
	return n, nil
}

// wholeDoc returns the wire.Format document of the configuration, made on
// first use: what providers that do not ask for wire.FormatV2 download.
func (n *loaded) wholeDoc() ([]byte, error) {
	return n.whole.get(func() ([]byte, error) {
		return wire.MarshalEpoch(n.snap.State(), n.version, n.epoch)
	})
}

func (l *live) contact() { l.lastContact.Store(l.now().UnixNano()) }

// sinceContact is how long ago the source last answered.
func (l *live) sinceContact() time.Duration {
	t := l.lastContact.Load()
	if t == 0 {
		return time.Duration(1<<63 - 1)
	}
	return l.now().Sub(time.Unix(0, t))
}

// run keeps the configuration current until ctx is done.
func (l *live) run(ctx context.Context) {
	if lis, ok := l.src.(listener); ok {
		go l.listen(ctx, lis)
	}
	tick := time.NewTicker(l.poll)
	defer tick.Stop()
	var (
		failures int
		retryAt  time.Time
		down     time.Time // when version checks began to fail
		warned   time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-l.trigger:
		}
		rev, err := l.src.Revision(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.metrics.reloadErrors.Inc()
			now := l.now()
			if down.IsZero() {
				down = now
			}
			if now.Sub(warned) >= 30*time.Second { // not every poll
				warned = now
				l.log.Warn("cannot read the configuration version; serving the last one", "err", err,
					"version", l.current().version, "failing_for", now.Sub(down).Round(time.Millisecond).String())
			}
			continue
		}
		if !down.IsZero() {
			l.log.Info("the store answers again", "was_down_for", l.now().Sub(down).Round(time.Millisecond).String())
			down, warned = time.Time{}, time.Time{}
		}
		l.contact()
		if cur := l.current(); (rev.Version == cur.version && rev.Epoch == cur.epoch) || l.now().Before(retryAt) {
			continue
		}
		if _, err := l.load(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			wait := min(l.poll<<min(failures, 10), 10*time.Second)
			retryAt = l.now().Add(wait)
			l.metrics.reloadErrors.Inc()
			l.log.Error("reload failed; serving the last configuration", "err", err,
				"serving", l.current().version, "stored", rev.Version, "stored_epoch", rev.Epoch, "retry_in", wait.String())
			continue
		}
		failures, retryAt = 0, time.Time{}
	}
}

// listen turns the source's change announcements into triggers, for as long
// as the source can announce them; polling goes on regardless.
func (l *live) listen(ctx context.Context, lis listener) {
	for {
		err := lis.Listen(ctx, func(int64) { l.Trigger() })
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ramp.ErrListenUnsupported) {
			l.log.Debug("the database does not announce changes; polling only")
			return
		}
		l.log.Warn("listening for configuration changes failed; polling until it reconnects", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// waitFor waits until a configuration at least as new as rev is served
// (of rev's epoch, at rev's version or later; any epoch if rev's is empty),
// for at most d. It reports whether one is.
func (l *live) waitFor(ctx context.Context, rev ramp.Revision, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		cur := l.current()
		if cur.version >= rev.Version && (rev.Epoch == "" || rev.Epoch == cur.epoch) {
			return true
		}
		select {
		case <-cur.next:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// feedTag is the validator of a configuration, unquoted: "<version>-<epoch>",
// or "<version>" for a source without epochs. The version alone does not
// name a configuration: another database (moved with export and apply, or
// restored from a backup and renewed) may be at the same number with another
// configuration.
func feedTag(version int64, epoch string) string {
	if epoch == "" {
		return strconv.FormatInt(version, 10)
	}
	return strconv.FormatInt(version, 10) + "-" + epoch
}

// parseFeedTag reads a configuration's validator (as feedTag writes it,
// quoted or not, weak or not) back into its version and epoch.
func parseFeedTag(tag string) (ramp.Revision, bool) {
	tag = strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`)
	v, epoch, _ := strings.Cut(tag, "-")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return ramp.Revision{}, false
	}
	return ramp.Revision{Epoch: epoch, Version: n}, true
}

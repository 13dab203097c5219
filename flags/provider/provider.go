package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/tracking"
)

// Name is the provider's name in OpenFeature metadata and events.
const Name = "ramp"

// Errors Init returns (wrapped) when the server refuses the SDK key.
var (
	// ErrUnauthorized: the server does not know the key, or it was revoked.
	ErrUnauthorized = errors.New("sdk key refused (401): unknown or revoked")
	// ErrForbidden: the key is valid but its role may not read snapshots.
	ErrForbidden = errors.New("sdk key refused (403): its role may not read snapshots")
)

// Provider is an OpenFeature provider that decides flags in-process from a
// ramp snapshot. It implements openfeature.FeatureProvider, StateHandler,
// ContextAwareStateHandler, EventHandler and Tracker, and is safe for
// concurrent use. It records the exposures of decisions made by running
// experiments and the events tracked through it (see Track), in batches.
type Provider struct {
	cfg      config
	base     string // feed URL without trailing slash; "" for a file provider
	key      string
	filePath string // set for NewFromFile

	current atomic.Pointer[loaded]
	events  chan openfeature.Event
	// rec records exposures and events during a run (nil when tracking is
	// off).
	rec atomic.Pointer[tracking.Recorder]

	mu         sync.Mutex
	run        *run
	health     health
	lastErr    error
	announce   bool // Init has returned: state changes become events
	initFailed bool // Init returned without a snapshot: the first one brings READY
}

// run is one Init..Shutdown cycle: its goroutines and the signals Init
// waits on.
type run struct {
	rec      *tracking.Recorder // nil when tracking is off
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	wake     chan struct{} // asks the sync loop to fetch now
	first    chan struct{} // closed once a snapshot is held
	hopeless chan struct{} // closed when waiting for a first snapshot is pointless
	inited   chan struct{} // closed when Init returns
	once     [3]sync.Once
}

func (r *run) gotFirst() { r.once[0].Do(func() { close(r.first) }) }
func (r *run) giveUp()   { r.once[1].Do(func() { close(r.hopeless) }) }
func (r *run) initDone() { r.once[2].Do(func() { close(r.inited) }) }
func (r *run) fetchSoon() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

type health int

const (
	healthy health = iota
	stale          // the server cannot be reached or its snapshot not read
	refused        // the server refuses the key
)

// New returns a provider that syncs from the snapshot feed of `ramp serve`
// at baseURL (e.g. "https://ramp.internal:8080"), authenticating with an SDK
// key. Nothing is fetched until Init (which openfeature.SetProviderAndWait
// calls).
func New(baseURL, sdkKey string, opts ...Option) (*Provider, error) {
	cfg, err := newConfig(opts)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	u, perr := url.Parse(baseURL)
	switch {
	case perr != nil:
		errs = append(errs, fmt.Errorf("base URL: %w", perr))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		errs = append(errs, fmt.Errorf("base URL %q: want http(s)://host[:port][/path]", baseURL))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, fmt.Errorf("base URL %q: no query or fragment", baseURL))
	}
	if sdkKey == "" {
		errs = append(errs, errors.New("empty SDK key"))
	}
	if cfg.watchEvery != 0 {
		errs = append(errs, errors.New("WatchFile applies to NewFromFile; use CacheFile to persist snapshots"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ramp provider: %w", err)
	}
	return &Provider{cfg: cfg, base: strings.TrimRight(baseURL, "/"), key: sdkKey, events: make(chan openfeature.Event, eventBuffer)}, nil
}

// NewFromFile returns a provider that serves the snapshot in a wire document
// file (as CacheFile writes it, or as `ramp serve` sends it), with no server:
// for tests, edge deployments and air-gapped hosts. Init reads the file; with
// WatchFile it is read again whenever it changes, and newer versions are
// announced as configuration changes.
func NewFromFile(path string, opts ...Option) (*Provider, error) {
	cfg, err := newConfig(opts)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if path == "" {
		errs = append(errs, errors.New("empty snapshot file path"))
	}
	if cfg.cacheFile != "" {
		errs = append(errs, errors.New("CacheFile applies to New: a file provider has its file already"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ramp provider: %w", err)
	}
	return &Provider{cfg: cfg, filePath: path, events: make(chan openfeature.Event, eventBuffer)}, nil
}

// Metadata names the provider.
func (p *Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: Name} }

// Hooks returns none: the provider needs no hooks.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

// Snapshot returns the snapshot in use, for callers who want the engine
// directly (Explain, Keys, typed look-ups without the SDK), or nil before the
// first one. It is immutable; a later call may return a newer one.
func (p *Provider) Snapshot() *flags.Snapshot {
	if l := p.current.Load(); l != nil {
		return l.snap
	}
	return nil
}

// EventChannel returns the provider's events (see the package
// documentation). The channel is never closed.
func (p *Provider) EventChannel() <-chan openfeature.Event { return p.events }

// Init starts syncing and waits for a snapshot; see InitWithContext.
func (p *Provider) Init(ec openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), ec)
}

// InitWithContext starts syncing and returns nil as soon as a snapshot is
// held: at once when the cache file (or NewFromFile's file) could be read,
// else after the first fetch. It returns an error if none is held by
// InitTimeout, when ctx ends, or at once when the server refuses the key
// (errors.Is ErrUnauthorized or ErrForbidden). After an error the provider
// keeps trying in the background, and announces its first snapshot with
// PROVIDER_READY. Calling Init again while running waits in the same way.
func (p *Provider) InitWithContext(ctx context.Context, _ openfeature.EvaluationContext) error {
	r := p.start()
	var waitErr error
	if p.current.Load() == nil {
		timer := time.NewTimer(p.cfg.initTimeout)
		select {
		case <-r.first:
		case <-r.hopeless:
			waitErr = p.lastError()
		case <-timer.C:
			waitErr = fmt.Errorf("no snapshot within %s: %w", p.cfg.initTimeout, p.lastError())
		case <-ctx.Done():
			waitErr = fmt.Errorf("waiting for the first snapshot: %w", ctx.Err())
		case <-r.ctx.Done():
			waitErr = errors.New("shut down while waiting for the first snapshot")
		}
		timer.Stop()
	}

	// From here on state changes are events. Whether Init succeeded is
	// decided under the lock, so that a snapshot landing as the wait ends is
	// neither lost nor announced twice.
	p.mu.Lock()
	defer p.mu.Unlock()
	defer r.initDone()
	if p.run != r { // shut down meanwhile
		return errors.New("ramp provider: shut down during Init")
	}
	p.announce = true
	if p.current.Load() == nil {
		p.initFailed = true
		if waitErr == nil {
			waitErr = p.lastErr
		}
		return fmt.Errorf("ramp provider: %w", waitErr)
	}
	p.initFailed = false
	// A failure seen while Init was waiting is reported now (the SDK's own
	// READY for Init may still overtake it: the SDK gives no way to order
	// the two).
	switch p.health {
	case stale:
		p.emitStaleLocked()
	case refused:
		p.emitRefusedLocked()
	}
	return nil
}

func (p *Provider) lastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastErr == nil {
		return errors.New("no answer yet")
	}
	return p.lastErr
}

// start begins a run unless one is under way, loading the cache file or the
// snapshot file first.
func (p *Provider) start() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run != nil {
		return p.run
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1),
		first: make(chan struct{}), hopeless: make(chan struct{}), inited: make(chan struct{})}
	p.run, p.health, p.lastErr, p.announce, p.initFailed = r, healthy, nil, false, false
	if rec, err := p.newRecorder(); err != nil {
		p.cfg.log.Error("ramp provider: exposures and events will not be recorded", "err", err)
	} else if rec != nil {
		r.rec = rec
		p.rec.Store(rec)
	}
	if p.current.Load() != nil {
		r.gotFirst() // from an earlier run
	}

	if p.filePath != "" {
		stamp, err := p.loadFileLocked(r, p.filePath)
		if err != nil {
			p.lastErr = err
			if p.cfg.watchEvery == 0 {
				r.giveUp()
			}
		}
		if p.cfg.watchEvery > 0 {
			r.wg.Go(func() { p.watch(r, stamp) })
		}
		return r
	}
	if p.cfg.cacheFile != "" {
		switch _, err := p.loadFileLocked(r, p.cfg.cacheFile); {
		case errors.Is(err, fs.ErrNotExist):
			p.cfg.log.Info("ramp provider: no cache file yet; it is written after the first sync", "file", p.cfg.cacheFile)
		case err != nil:
			p.cfg.log.Warn("ramp provider: cache file not used", "file", p.cfg.cacheFile, "err", err)
		}
	}
	// Starting from a snapshot, Init returns at once and the SDK reports
	// READY for it: the network waits until then, so that a server found
	// down is reported (STALE) after that READY, not before it.
	var after <-chan struct{}
	if p.current.Load() != nil {
		after = r.inited
	}
	r.wg.Go(func() { p.syncLoop(r, after) })
	r.wg.Go(func() { p.streamLoop(r, after) })
	return r
}

// Shutdown stops syncing: it ends the provider's goroutines, sends the
// exposures and events still queued (for at most FlushTimeout), closes its
// connections and waits for all of it. It is idempotent, and a later Init
// starts again. The last snapshot stays in memory.
func (p *Provider) Shutdown() { _ = p.ShutdownWithContext(context.Background()) }

// ShutdownWithContext is Shutdown, giving up waiting when ctx ends.
func (p *Provider) ShutdownWithContext(ctx context.Context) error {
	p.mu.Lock()
	r := p.run
	p.run, p.announce = nil, false
	p.mu.Unlock()
	if r == nil {
		return nil
	}
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = p.closeRecorder(ctx, r.rec)
		return fmt.Errorf("ramp provider shutdown: %w", ctx.Err())
	}
	flushErr := p.closeRecorder(ctx, r.rec)
	if p.cfg.ownClient {
		p.cfg.client.CloseIdleConnections()
	}
	return flushErr
}

// installLocked makes l the current snapshot if it supersedes the one held
// (newer, or from another database), and announces it. It reports whether l
// was installed.
func (p *Provider) installLocked(r *run, l *loaded, from string) bool {
	prev := p.current.Load()
	if !supersedes(prev, l.version, l.epoch) {
		lvl := p.cfg.log.Debug
		if l.version < prev.version {
			lvl = p.cfg.log.Warn
		}
		lvl("ramp provider: snapshot ignored: not newer than the one held", "from", from,
			"version", l.version, "epoch", l.epoch, "held", prev.version, "held_epoch", prev.epoch)
		return false
	}
	p.current.Store(l)
	r.gotFirst()
	otherDB := prev != nil && prev.epoch != "" && l.epoch != prev.epoch
	switch {
	case prev == nil:
		p.cfg.log.Info("ramp provider: snapshot loaded", "from", from, "version", l.version, "epoch", l.epoch, "flags", len(l.prints))
	case otherDB:
		p.cfg.log.Warn("ramp provider: snapshot from another database (new epoch) replaces the one held, whatever the versions",
			"from", from, "version", l.version, "epoch", l.epoch, "previous", prev.version, "previous_epoch", prev.epoch)
	default:
		p.cfg.log.Info("ramp provider: snapshot updated", "from", from, "version", l.version, "epoch", l.epoch, "previous", prev.version)
	}
	if !p.announce {
		return true
	}
	meta := map[string]any{"configVersion": l.version}
	if p.initFailed || prev == nil {
		p.initFailed = false
		p.emitLocked(openfeature.ProviderReady, openfeature.ProviderEventDetails{
			Message: fmt.Sprintf("snapshot version %d loaded", l.version), EventMetadata: meta})
		return true
	}
	changed := changedFlags(prev, l)
	if l.version == prev.version && !otherDB && len(changed) == 0 {
		return true // the same snapshot, its epoch learnt: nothing to announce
	}
	meta["previousVersion"] = prev.version
	msg := fmt.Sprintf("snapshot version %d replaces %d", l.version, prev.version)
	if otherDB {
		msg = fmt.Sprintf("snapshot version %d of another database (epoch %s) replaces version %d (epoch %s)",
			l.version, l.epoch, prev.version, prev.epoch)
	}
	p.emitLocked(openfeature.ProviderConfigChange, openfeature.ProviderEventDetails{
		Message:       msg,
		FlagChanges:   changed,
		EventMetadata: meta,
	})
	return true
}

// syncedLocked records a successful exchange with the server.
func (p *Provider) syncedLocked() {
	p.lastErr = nil
	if p.health == healthy {
		return
	}
	was := p.health
	p.health = healthy
	p.cfg.log.Info("ramp provider: snapshot feed reachable again")
	if l := p.current.Load(); p.announce && l != nil && !p.initFailed {
		msg := "snapshot feed reachable again"
		if was == refused {
			msg = "sdk key accepted again"
		}
		p.emitLocked(openfeature.ProviderReady, openfeature.ProviderEventDetails{
			Message: msg, EventMetadata: map[string]any{"configVersion": l.version}})
	}
}

// failedLocked records a failed exchange: a refused key makes the provider
// refused (ERROR), a rate limit (429) changes nothing, anything else makes
// it stale (STALE). Refused is kept until an exchange succeeds, even if the
// server then also becomes unreachable.
func (p *Provider) failedLocked(r *run, err error) {
	p.lastErr = err
	if isRefusal(err) {
		if p.current.Load() == nil {
			r.giveUp() // Init need not wait out its timeout
		}
		if p.health == refused {
			return
		}
		p.health = refused
		p.cfg.log.Error("ramp provider: snapshot feed refuses the SDK key; serving the last snapshot", "err", err)
		p.emitRefusedLocked()
		return
	}
	if _, busy := errors.AsType[*busyError](err); busy || p.health != healthy {
		p.cfg.log.Debug("ramp provider: sync failed", "err", err)
		return
	}
	p.health = stale
	p.cfg.log.Warn("ramp provider: snapshot feed unreachable; serving the last snapshot", "err", err)
	p.emitStaleLocked()
}

func (p *Provider) emitStaleLocked() {
	if l := p.current.Load(); p.announce && l != nil {
		p.emitLocked(openfeature.ProviderStale, openfeature.ProviderEventDetails{
			Message:       fmt.Sprintf("snapshot feed unreachable, serving version %d: %v", l.version, p.lastErr),
			EventMetadata: map[string]any{"configVersion": l.version},
		})
	}
}

func (p *Provider) emitRefusedLocked() {
	if l := p.current.Load(); p.announce && l != nil {
		p.emitLocked(openfeature.ProviderError, openfeature.ProviderEventDetails{
			Message:       fmt.Sprintf("%v; serving version %d", p.lastErr, l.version),
			ErrorCode:     openfeature.GeneralCode,
			EventMetadata: map[string]any{"configVersion": l.version},
		})
	}
}

// emitLocked sends an event without blocking; the lock keeps events in the
// order of the changes they report.
func (p *Provider) emitLocked(t openfeature.EventType, d openfeature.ProviderEventDetails) {
	select {
	case p.events <- openfeature.Event{ProviderName: Name, EventType: t, ProviderEventDetails: d}:
	default:
		p.cfg.log.Warn("ramp provider: event dropped, nobody reads the event channel", "event", t)
	}
}

func isRefusal(err error) bool {
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden)
}

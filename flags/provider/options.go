package provider

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ramp-flags/ramp/tracking"
)

// Defaults of the options.
const (
	DefaultPollInterval = 30 * time.Second
	DefaultInitTimeout  = 10 * time.Second
	DefaultBackoffMin   = 500 * time.Millisecond
	DefaultBackoffMax   = 30 * time.Second
	// DefaultFlushTimeout bounds how long Shutdown waits to send the
	// exposures and events still queued.
	DefaultFlushTimeout = 10 * time.Second
)

const (
	// fetchTimeout bounds one snapshot request.
	fetchTimeout = 30 * time.Second
	// streamIdleTimeout is how long the event stream may stay silent (the
	// server pings every 15 s) before it is taken for dead and reconnected.
	streamIdleTimeout = 45 * time.Second
	// eventBuffer is the capacity of the event channel. Events that find it
	// full are dropped (and logged) rather than block the sync loop: a
	// provider used without the SDK may never read them.
	eventBuffer = 64
)

// Option configures a Provider.
type Option func(*config)

type config struct {
	client       *http.Client
	ownClient    bool
	pollInterval time.Duration
	initTimeout  time.Duration
	backoffMin   time.Duration
	backoffMax   time.Duration
	streamIdle   time.Duration
	cacheFile    string
	watchEvery   time.Duration
	log          *slog.Logger

	// Tracking: noTracking turns it off; sink replaces the default (the
	// server's tracking endpoint, for New; none for NewFromFile).
	noTracking   bool
	sink         tracking.Sink
	recorder     tracking.Options
	flushTimeout time.Duration
}

func newConfig(opts []Option) (config, error) {
	c := config{
		pollInterval: DefaultPollInterval,
		initTimeout:  DefaultInitTimeout,
		backoffMin:   DefaultBackoffMin,
		backoffMax:   DefaultBackoffMax,
		streamIdle:   streamIdleTimeout,
		flushTimeout: DefaultFlushTimeout,
	}
	for _, o := range opts {
		o(&c)
	}
	var errs []error
	if c.pollInterval <= 0 {
		errs = append(errs, fmt.Errorf("poll interval %s: must be positive", c.pollInterval))
	}
	if c.initTimeout <= 0 {
		errs = append(errs, fmt.Errorf("init timeout %s: must be positive", c.initTimeout))
	}
	if c.backoffMin <= 0 || c.backoffMax < c.backoffMin {
		errs = append(errs, fmt.Errorf("backoff %s..%s: want 0 < initial <= max", c.backoffMin, c.backoffMax))
	}
	if c.flushTimeout <= 0 {
		errs = append(errs, fmt.Errorf("flush timeout %s: must be positive", c.flushTimeout))
	}
	if c.noTracking && c.sink != nil {
		errs = append(errs, errors.New("NoTracking and TrackingSink contradict each other"))
	}
	if c.watchEvery < 0 {
		errs = append(errs, fmt.Errorf("watch interval %s: must not be negative", c.watchEvery))
	}
	if c.client == nil {
		// A transport of our own, so that Shutdown can close its idle
		// connections without touching anybody else's. No Client.Timeout:
		// it would cut the event stream; requests carry their own deadlines.
		c.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.ownClient = true
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if !c.ownClient && c.client.Timeout > 0 {
		c.log.Warn("ramp provider: the HTTP client's Timeout cuts the event stream; it will reconnect every Timeout", "timeout", c.client.Timeout)
	}
	return c, errors.Join(errs...)
}

// HTTPClient sets the client used for the snapshot feed (default: a client
// with its own copy of http.DefaultTransport). Its Timeout must be zero, or
// the event stream is cut every Timeout; the provider sets per-request
// deadlines itself.
func HTTPClient(c *http.Client) Option {
	return func(cfg *config) { cfg.client = c }
}

// PollInterval sets how often the snapshot is fetched (with If-None-Match,
// so an unchanged snapshot costs a 304) in addition to the event stream.
// Default 30 s.
func PollInterval(d time.Duration) Option {
	return func(cfg *config) { cfg.pollInterval = d }
}

// InitTimeout bounds how long Init waits for the first snapshot when there is
// no cache file to start from. Default 10 s. Init also returns early when the
// server refuses the key, or when the context given to InitWithContext ends.
func InitTimeout(d time.Duration) Option {
	return func(cfg *config) { cfg.initTimeout = d }
}

// Backoff sets the first and the largest delay between reconnections of the
// event stream and between failed fetches; each failure doubles the delay,
// and a random jitter of up to half of it is taken off so that a fleet does
// not reconnect in step. Default 500 ms to 30 s.
func Backoff(initial, max time.Duration) Option {
	return func(cfg *config) { cfg.backoffMin, cfg.backoffMax = initial, max }
}

// CacheFile persists every new snapshot to path (written to a temporary file
// in the same directory, then renamed over it) and, at Init, starts from it
// when it exists: the provider is READY at once, even with the server down.
// The file holds cohort members as hashes, never raw ids; it is created with
// mode 0600. New only.
func CacheFile(path string) Option {
	return func(cfg *config) { cfg.cacheFile = path }
}

// WatchFile makes a provider from NewFromFile re-read its file when its
// modification time, size or identity changes, checking every interval.
// NewFromFile only.
func WatchFile(every time.Duration) Option {
	return func(cfg *config) { cfg.watchEvery = every }
}

// Logger sets where the provider logs state changes, new versions and sync
// failures (default: slog.Default()). Failures are logged once when the state changes, not
// at every retry; retries log at debug level.
func Logger(l *slog.Logger) Option {
	return func(cfg *config) { cfg.log = l }
}

// TrackingSink sends the provider's exposures and tracking events to sink
// rather than to the tracking endpoint of the `ramp serve` the provider
// syncs from. It is how a provider made by NewFromFile, which records
// nothing by default, records them.
func TrackingSink(sink tracking.Sink) Option {
	return func(cfg *config) { cfg.sink = sink }
}

// NoTracking turns exposures and tracking events off: the provider records
// no exposure and Track does nothing.
func NoTracking() Option {
	return func(cfg *config) { cfg.noTracking = true }
}

// TrackingOptions tunes the batching of exposures and events (queue size,
// batch size, interval, deduplication table, retries; the defaults of
// package tracking otherwise), and FlushTimeout the wait at Shutdown.
func TrackingOptions(o tracking.Options) Option {
	return func(cfg *config) { cfg.recorder = o }
}

// FlushTimeout bounds how long Shutdown waits to send the exposures and
// events still queued (default 10 s); what is left then is dropped and
// counted (TrackingStats).
func FlushTimeout(d time.Duration) Option {
	return func(cfg *config) { cfg.flushTimeout = d }
}

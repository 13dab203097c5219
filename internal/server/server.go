package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/ratelimit"
	"github.com/ramp-flags/ramp/tracking"
)

// Defaults of Config.
const (
	DefaultPoll              = 200 * time.Millisecond
	DefaultRateLimit         = 20000 // requests a second per key: a fleet shares one SDK key
	DefaultMaxBody           = 1 << 20
	DefaultPing              = 15 * time.Second
	DefaultInactivityDelay   = 120 // seconds, advertised in eventStreams
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 15 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultTrackingWriters   = 4
	DefaultTrackingWait      = 5 * time.Second
)

// Config configures a Server. Source is required, and Auth unless
// InsecureNoAuth; zero values of the rest mean the defaults above.
type Config struct {
	Source Source
	Auth   Authenticator
	// OIDC, when set, is single sign-on (internal/auth/sso), mounted at
	// /auth/oidc/: it answers browsers, and authenticates no request of
	// its own.
	OIDC http.Handler
	// InsecureNoAuth serves every request without a key, as an admin. The
	// server says so loudly at startup and every minute.
	InsecureNoAuth bool

	// Poll is how often the configuration version is checked.
	Poll time.Duration
	// RateLimit is the requests a second each key may make (in bursts of as
	// many); negative means no limit, zero DefaultRateLimit. Without
	// authentication the client address stands for the key.
	RateLimit float64
	// MaxBody caps request bodies; larger ones get 413.
	MaxBody int64

	// PublicURL is the server's base URL as clients reach it
	// ("https://flags.example.com"), used in the event-stream URL of bulk
	// answers; by default it is taken from the request's Host.
	PublicURL string
	// StreamSecret signs the tokens in event-stream URLs. Servers behind
	// one load balancer must share it; by default each process makes its
	// own, and a provider whose stream lands on another replica falls back
	// to polling until its next bulk fetch.
	StreamSecret []byte
	// StreamTokenTTL is how long an event-stream URL stays valid (default
	// one hour; a URL is good for between one and two TTLs).
	StreamTokenTTL time.Duration
	// Ping is the interval of keep-alive comments on event streams.
	Ping time.Duration
	// InactivityDelaySec is advertised to providers in eventStreams.
	InactivityDelaySec int

	ShutdownTimeout   time.Duration
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	Logger *slog.Logger
	Now    func() time.Time

	// Collectors are more Prometheus collectors served on /metrics with
	// the server's own (the rollout controller's, in ramp serve).
	Collectors []prometheus.Collector

	// Tracking stores exposures and tracking events. With it, the server
	// records an exposure for every OFREP decision a running experiment
	// makes (once per unit and phase, through a tracking.Recorder shaped
	// by TrackingOptions, flushed at shutdown), and POST /v1/track stores
	// the batches clients send. Without it, POST /v1/track answers 501
	// and no exposure is recorded.
	Tracking        tracking.Sink
	TrackingOptions tracking.Options
	// TrackingWriters is how many POST /v1/track requests may write to
	// Tracking at once (default DefaultTrackingWriters); others wait for
	// up to TrackingWait (default 5 s) before their body is read, then
	// get 503 with Retry-After.
	TrackingWriters int
	TrackingWait    time.Duration

	// API, when set, serves the admin API (internal/api) under /api/v1/:
	// it authenticates its requests itself.
	API http.Handler
	// Dashboard, when set, serves every path the data plane does not
	// (the web dashboard at /, with its own sign-in and sessions); without
	// it those paths are 404.
	Dashboard http.Handler
}

// Server serves OFREP decisions and the snapshot feed from the compiled
// configuration it keeps in memory.
type Server struct {
	cfg     Config
	log     *slog.Logger
	live    *live
	metrics *metrics
	limit   *ratelimit.Limiter
	tokens  *streamTokens
	handler http.Handler

	// checker says whether a principal's credential is still active (nil:
	// the authenticator cannot say); keys wakes event streams after each
	// reload of the authenticator's credentials, to ask it.
	checker keyChecker
	keys    keysRefreshed

	// lastThrottleWarn is when failed authentications were last logged as
	// throttled (Unix nanoseconds).
	lastThrottleWarn atomic.Int64

	closing   chan struct{} // closed when shutdown begins: event streams end
	closeOnce sync.Once
	// recorderOnce closes the exposure recorder once, whichever path
	// Serve leaves by.
	recorderOnce sync.Once
	scratch      sync.Pool // *scratch

	// rec records the exposures of OFREP decisions (nil without
	// Config.Tracking); ingest holds a token per POST /v1/track writing
	// to the sink.
	rec    *tracking.Recorder
	ingest chan struct{}
}

// New checks a configuration and builds a Server; nothing runs until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("server: a configuration source is required")
	}
	if cfg.Auth == nil && !cfg.InsecureNoAuth {
		return nil, errors.New("server: an authenticator is required (or InsecureNoAuth)")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, DefaultPoll)
	def(&cfg.Ping, DefaultPing)
	def(&cfg.StreamTokenTTL, time.Hour)
	def(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	def(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&cfg.ReadTimeout, DefaultReadTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.InactivityDelaySec <= 0 {
		cfg.InactivityDelaySec = DefaultInactivityDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TrackingWriters <= 0 {
		cfg.TrackingWriters = DefaultTrackingWriters
	}
	def(&cfg.TrackingWait, DefaultTrackingWait)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if len(cfg.StreamSecret) == 0 {
		cfg.StreamSecret = make([]byte, 32)
		if _, err := rand.Read(cfg.StreamSecret); err != nil {
			return nil, fmt.Errorf("server: stream secret: %w", err)
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, closing: make(chan struct{}), ingest: make(chan struct{}, cfg.TrackingWriters)}
	s.metrics = newMetrics(func() *live { return s.live }, cfg.Now)
	if cfg.Tracking != nil {
		opt := cfg.TrackingOptions
		if opt.Logger == nil {
			opt.Logger = cfg.Logger.With("component", "exposures")
		}
		if opt.Now == nil {
			opt.Now = cfg.Now
		}
		s.rec = tracking.NewRecorder(cfg.Tracking, opt)
		s.metrics.trackRecorder(s.rec.Stats)
	}
	for _, c := range cfg.Collectors {
		if err := s.metrics.reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	s.live = newLive(cfg.Source, cfg.Poll, cfg.Now, cfg.Logger, s.metrics)
	if n, ok := cfg.Auth.(changeNotifier); ok && !cfg.InsecureNoAuth {
		s.keys.src = n
	}
	if c, ok := cfg.Auth.(keyChecker); ok && !cfg.InsecureNoAuth {
		s.checker = c
	}
	s.limit = ratelimit.New(cfg.RateLimit, cfg.Now)
	failed := func() int { return 0 }
	if f, ok := cfg.Auth.(failureCounter); ok && !cfg.InsecureNoAuth {
		failed = f.FailedAddresses
	}
	s.metrics.trackFailures(failed)
	s.tokens = &streamTokens{secret: cfg.StreamSecret, ttl: cfg.StreamTokenTTL, now: cfg.Now}
	s.scratch.New = newScratch
	s.handler = s.routes()
	return s, nil
}

// Route patterns, also the "route" label of the HTTP metrics.
const (
	routeEvaluate     = "POST /ofrep/v1/evaluate/flags/{key}"
	routeBulk         = "POST /ofrep/v1/evaluate/flags"
	routeOFREPEvents  = "GET /ofrep/v1/events"
	routeSnapshot     = "GET /v1/snapshot"
	routeSnapshotFeed = "GET /v1/snapshot/events"
	routeSnapshotSet  = "GET /v1/snapshot/sets/{id}" // feed_sets.go
	routeReload       = "POST /v1/reload"
	routeMetrics      = "GET /metrics"
	routeHealth       = "GET /healthz"
	routeReady        = "GET /readyz"
	routeTrack        = "POST " + tracking.TrackPath
	routeAPI          = "/api/v1/"
	routeOIDC         = "/auth/oidc/"
	routeDashboard    = "/"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(routeEvaluate, s.guard(auth.Evaluate, false, s.evaluate))
	mux.Handle(routeBulk, s.guard(auth.Evaluate, false, s.bulk))
	mux.Handle(routeOFREPEvents, s.guard(auth.Evaluate, true, s.ofrepEvents))
	mux.Handle(routeSnapshot, s.guard(auth.Evaluate, false, anyone(s.snapshot)))
	mux.Handle(routeSnapshotFeed, s.guard(auth.Evaluate, false, s.snapshotEvents))
	mux.Handle(routeSnapshotSet, s.guard(auth.Evaluate, false, anyone(s.snapshotSet)))
	mux.Handle(routeTrack, s.guard(auth.Evaluate, false, anyone(s.track)))
	mux.Handle(routeReload, s.guard(auth.Write, false, anyone(s.reload)))
	mux.Handle(routeMetrics, s.guard(auth.Read, false, anyone(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP)))
	if s.cfg.API != nil {
		mux.Handle(routeAPI, s.cfg.API)
	}
	if s.cfg.OIDC != nil {
		mux.Handle(routeOIDC, s.cfg.OIDC)
	}
	mux.HandleFunc(routeHealth, s.healthz)
	mux.HandleFunc(routeReady, s.readyz)
	if s.cfg.Dashboard != nil {
		mux.Handle(routeDashboard, s.cfg.Dashboard)
	}
	return s.observe(mux)
}

// Handler returns the server's HTTP handler. It serves 503 until Serve has
// loaded the first configuration.
func (s *Server) Handler() http.Handler { return s.handler }

// Trigger asks for an immediate configuration check, as a change
// notification would; polling goes on regardless.
func (s *Server) Trigger() { s.live.Trigger() }

// Serve loads the configuration, then serves HTTP on ln until ctx is done;
// it then shuts down gracefully: event streams end at once, requests in
// flight finish (for at most ShutdownTimeout), and Serve returns nil. It
// fails at once if the first configuration cannot be loaded. Serve closes
// ln. Call it once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer ln.Close()
	if s.cfg.InsecureNoAuth {
		s.warnInsecure()
	}
	defer s.closeRecorder() // on every path (once)
	if _, err := s.live.load(ctx); err != nil {
		return fmt.Errorf("load the first configuration: %w", err)
	}
	loopCtx, stopLoop := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoop()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		s.live.run(loopCtx)
	}()
	if s.cfg.InsecureNoAuth {
		go func() {
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			for {
				select {
				case <-loopCtx.Done():
					return
				case <-t.C:
					s.warnInsecure()
				}
			}
		}()
	}

	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		// Requests must outlive the signal that starts the shutdown, so
		// that the ones in flight can finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	s.log.Info("listening", "addr", addr, "url", "http://"+addr, "auth", !s.cfg.InsecureNoAuth,
		"poll", s.cfg.Poll.String(), "rate_limit_per_key", s.cfg.RateLimit)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		s.close()
		stopLoop()
		<-loopDone
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: closing event streams, finishing requests in flight", "timeout", s.cfg.ShutdownTimeout.String())
	s.close()
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		s.log.Warn("requests still in flight at the shutdown deadline were cut", "err", err)
		_ = srv.Close()
	}
	stopLoop()
	<-loopDone
	<-served
	s.closeRecorder() // before "stopped", which is the last word of a clean shutdown
	s.log.Info("stopped")
	return nil
}

// keyActive reports whether the key a principal was admitted with is still
// active, as far as the authenticator can say.
func (s *Server) keyActive(p Principal) bool {
	return s.checker == nil || s.checker.Active(p)
}

func (s *Server) close() { s.closeOnce.Do(func() { close(s.closing) }) }

// closeRecorder sends the exposures still queued, for at most
// ShutdownTimeout; what it cannot send is counted as dropped and logged.
func (s *Server) closeRecorder() {
	if s.rec == nil {
		return
	}
	s.recorderOnce.Do(s.flushRecorder)
}

func (s *Server) flushRecorder() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.rec.Close(ctx); err != nil {
		s.log.Error("exposures lost at shutdown", "err", err)
		return
	}
	st := s.rec.Stats()
	s.log.Info("exposures flushed", "sent", st.ExposuresSent, "deduplicated", st.ExposuresDeduplicated, "dropped", st.ExposuresDropped)
}

func (s *Server) warnInsecure() {
	s.log.Warn("AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this address may read every flag and the whole configuration, and change it through the admin API")
}

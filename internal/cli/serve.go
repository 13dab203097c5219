package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/api"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/auth/sso"
	"github.com/ramp-flags/ramp/internal/controller"
	"github.com/ramp-flags/ramp/internal/dashboard"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/tracking"
)

type serveOptions struct {
	f              *Factory
	addr           string
	poll           time.Duration
	rateLimit      string
	apiRateLimit   string
	auth           authOptions
	insecureNoAuth bool
	publicURL      string
	logLevel       string
	controller     time.Duration
	compact        time.Duration
	trackWriters   int
	tlsCert        string
	tlsKey         string
	dashboard      dashboardOptions
}

// eventsTrackingWriters is how many POST /v1/track requests write at once
// with --events (server.DefaultTrackingWriters without): the more join a
// ClickHouse insert, the larger the part it makes and the less the server
// merges afterwards (with 64 concurrent clients of 5,000 events, inserts
// of 175,000 rows instead of 55,000 with 16, and a fifth less of
// ClickHouse's CPU per event over a 7-minute run).
const eventsTrackingWriters = 64

// maxTrackingWriters bounds --tracking-writers: each writer holds a body
// of up to server.DefaultMaxBody and its decoded events (about 4 MB in
// all for a body of 5,000 events).
const maxTrackingWriters = 256

func newServeCmd(f *Factory, runF func(*serveOptions) error) *cobra.Command {
	opts := &serveOptions{f: f}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve decisions over OFREP and the snapshot feed for providers",
		Long: `Serve flag decisions over HTTP from the stored configuration, compiled and
held in memory: the OpenFeature Remote Evaluation Protocol (OFREP v1) for any
OpenFeature SDK, and the snapshot feed that ramp's in-process Go provider
syncs from. The configuration is reloaded within --poll of any change made by
"ramp apply", "ramp flags …" or another process.

Requests need a credential: an API key ("ramp keys create") or a personal
token ("ramp tokens create"), as Authorization: Bearer <secret> or X-API-Key:
<secret>; never in the URL, where it is refused. --insecure-no-auth turns
credentials off, for local experiments only. Each credential may make
--rate-limit requests a second (--api-rate-limit on the admin API under
/api/v1/, whose reports, imports and exports cost far more); past that it
gets 429 with Retry-After. A
client address that fails to authenticate more than --auth-failure-limit
times a second is refused with 429 before its secrets are looked at (but
for credentials it already used successfully). Revoking a credential takes
effect on every server within a second. With --oidc-issuer, people log in
through single sign-on ("ramp login"; docs/security.md).

The server also runs the rollout controller: every --controller-interval it
starts the scheduled rollout stages that are due (see "ramp rollout"). Several
servers on one database may all run it; each stage is started once.
--controller-interval 0 turns it off (then run "ramp rollout tick" from cron).
The controller also pauses a running experiment whose sample ratio breaks and
halts a rollout stage whose guardrail regresses; for those, and for reports,
the server folds tracking events into per-unit totals every
--compact-interval (0: never; then run "ramp events compact").

With --events clickhouse://host:port/database, exposures, tracking events,
reports and the safety checks use that ClickHouse database (docs/clickhouse.md)
while the configuration stays in --db; several servers may ingest into one.

With --tls-cert and --tls-key the server speaks HTTPS (HTTP/2 and HTTP/1.1)
with that certificate, PEM-encoded (the certificate file may hold its chain);
the files are read once, at startup: restart to take a renewed certificate.
Without them it speaks plain HTTP: put it behind a TLS-terminating proxy or
load balancer before it is reached over any network you do not trust.

Logs are JSON lines on stderr; the first says where the server listens
(--addr 127.0.0.1:0 picks a free port). SIGINT or SIGTERM stops the server
gracefully: event streams close, requests in flight finish, and the
exposures still queued are stored.

Exposures of OFREP decisions made by running experiments are recorded once
per unit and phase; services in any language post tracking events to
POST /v1/track (batches, with the sdk key).

The admin API under /api/v1 serves the control plane to "ramp login" and
"ramp --server": every command that works on a database works through it, as
the person a personal token stands for (ramp tokens create), with the same
output; keys and tokens need a role above sdk (viewer reads, editor
changes, admin manages credentials; approving a stage takes --approve).

The web dashboard is served at / (--dashboard, on by default; off with
--insecure-no-auth): flags, rollout timelines, the audit log, experiments,
and the kill switch and rollout moves behind a confirmation. People sign in
with a personal token ("ramp tokens create"); the session lasts at most
--dashboard-session-ttl. Its cookie is Secure: serve HTTPS (or use
localhost). See docs/dashboard.md.

Endpoints and bodies: docs/http-api.md.`,
		Example: `  ramp serve --addr 127.0.0.1:8080
  ramp serve --addr :8080 --rate-limit 200 --public-url https://flags.example.com
  ramp serve --addr :8443 --tls-cert /etc/ramp/tls.crt --tls-key /etc/ramp/tls.key
  ramp serve --insecure-no-auth --log-level debug
  curl -s -H "Authorization: Bearer $RAMP_KEY" -d '{"context":{"targetingKey":"u1","region":"US"}}' \
    http://127.0.0.1:8080/ofrep/v1/evaluate/flags/messenger-ig-interop`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	cmd.Flags().DurationVar(&opts.poll, "poll", server.DefaultPoll, "how often to check the database for a new configuration")
	cmd.Flags().StringVar(&opts.rateLimit, "rate-limit", strconv.Itoa(server.DefaultRateLimit), "requests a second each key may make, as N or N/s (0: no limit)")
	cmd.Flags().StringVar(&opts.apiRateLimit, "api-rate-limit", strconv.Itoa(api.DefaultRateLimit), "requests a second each person or key may make to the admin API, as N or N/s (0: no limit)")
	addAuthFlags(cmd, &opts.auth)
	cmd.Flags().BoolVar(&opts.insecureNoAuth, "insecure-no-auth", false, "serve everyone without a key (local experiments only)")
	cmd.Flags().StringVar(&opts.publicURL, "public-url", "", "base URL clients reach the server at, for the event-stream URL in bulk answers (default: from each request's Host)")
	cmd.Flags().StringVar(&opts.logLevel, "log-level", "info", "debug (one line per request), info, warn or error")
	cmd.Flags().DurationVar(&opts.controller, "controller-interval", 10*time.Second, "how often the rollout controller starts due stages (0: do not run it)")
	cmd.Flags().DurationVar(&opts.compact, "compact-interval", time.Minute, "how often to fold tracking events into the per-unit totals that guardrails and reports read (0: never)")
	cmd.Flags().IntVar(&opts.trackWriters, "tracking-writers", 0, fmt.Sprintf("how many POST /v1/track requests may write at once; the others wait their turn before their body is read (default %d, %d with --events: ClickHouse writes wait on shared inserts, and more writers make fewer, larger ones)", server.DefaultTrackingWriters, eventsTrackingWriters))
	cmd.Flags().StringVar(&opts.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	cmd.Flags().StringVar(&opts.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	cmd.Flags().BoolVar(&opts.dashboard.on, "dashboard", true, "serve the web dashboard at / (never with --insecure-no-auth)")
	cmd.Flags().DurationVar(&opts.dashboard.sessionTTL, "dashboard-session-ttl", dashboard.DefaultSessionTTL, "how long a dashboard sign-in lasts")
	return cmd
}

// parseRate reads a rate flag (--rate-limit, --auth-failure-limit): "N" or
// "N/s", N >= 0.
func parseRate(flag, s string) (float64, error) {
	n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "/s"), 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--%s %q: want a number a second, such as 100 or 100/s", flag, s)
	}
	return n, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// insecureAddrError refuses --insecure-no-auth on an address other
// machines can reach.
func insecureAddrError(addr string) error {
	return &UsageError{Command: "ramp serve", Err: fmt.Errorf(
		"--insecure-no-auth serves the whole control plane, changes included, to anyone: it listens on a loopback address only (--addr 127.0.0.1:PORT), not %s", addr)}
}

// loadTLS reads --tls-cert and --tls-key: nil when neither is given.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, &UsageError{Err: fmt.Errorf("--tls-cert and --tls-key go together: give both, or neither for plain HTTP"), Command: "ramp serve"}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, &InvalidError{fmt.Errorf("--tls-cert %s, --tls-key %s: %w", certFile, keyFile, err)}
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

func serveRun(ctx context.Context, opts *serveOptions) error {
	if opts.insecureNoAuth {
		// Without authentication the admin API takes every change from
		// anyone: only this machine may reach it.
		host, _, err := net.SplitHostPort(opts.addr)
		if ip := net.ParseIP(host); err == nil && (host == "" || ip != nil && !ip.IsLoopback()) {
			return insecureAddrError(opts.addr)
		}
	}
	perSecond, err := parseRate("rate-limit", opts.rateLimit)
	if err != nil {
		return &UsageError{Err: err, Command: "ramp serve"}
	}
	if perSecond == 0 {
		perSecond = -1 // no limit
	}
	apiPerSecond, err := parseRate("api-rate-limit", opts.apiRateLimit)
	if err != nil {
		return &UsageError{Err: err, Command: "ramp serve"}
	}
	if apiPerSecond == 0 {
		apiPerSecond = -1 // no limit
	}
	level, err := parseLevel(opts.logLevel)
	if err != nil {
		return &UsageError{Err: err, Command: "ramp serve"}
	}
	if opts.controller < 0 {
		return &UsageError{Err: fmt.Errorf("--controller-interval %s: must not be negative", opts.controller), Command: "ramp serve"}
	}
	if opts.compact < 0 {
		return &UsageError{Err: fmt.Errorf("--compact-interval %s: must not be negative", opts.compact), Command: "ramp serve"}
	}
	if opts.poll <= 0 {
		return &UsageError{Err: fmt.Errorf("--poll %s: must be positive", opts.poll), Command: "ramp serve"}
	}
	if opts.trackWriters < 0 || opts.trackWriters > maxTrackingWriters {
		return &UsageError{Err: fmt.Errorf("--tracking-writers %d: want 1 to %d, or 0 for the default (each writer holds a request's body and its events)", opts.trackWriters, maxTrackingWriters), Command: "ramp serve"}
	}
	tlsConfig, err := loadTLS(opts.tlsCert, opts.tlsKey)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(opts.f.IO.ErrOut, &slog.HandlerOptions{Level: level}))
	authOpts, err := opts.auth.options(log)
	if err != nil {
		return err
	}
	oidcCfg, err := opts.auth.oidcConfig(opts.publicURL, log)
	if err != nil {
		return err
	}
	if oidcCfg != nil && opts.insecureNoAuth {
		return &UsageError{Err: fmt.Errorf("--oidc-issuer and --insecure-no-auth contradict each other"), Command: "ramp serve"}
	}

	return opts.f.withAdminOptions(ctx, admin.Options{Log: log}, func(ctx context.Context, a *admin.Service) error {
		cfg := server.Config{
			Source:         a,
			InsecureNoAuth: opts.insecureNoAuth,
			Poll:           opts.poll,
			RateLimit:      perSecond,
			PublicURL:      opts.publicURL,
			StreamSecret:   []byte(opts.f.Getenv("RAMP_STREAM_SECRET")),
			Logger:         log,
		}
		// The control plane stores exposures and events (admin.Service
		// implements tracking.Sink); a build whose admin does not yet
		// serves tracking answers POST /v1/track with 501.
		if sink, ok := any(a).(tracking.Sink); ok {
			cfg.Tracking = sink
			if opts.f.Events != "" {
				// ClickHouse writes wait on shared inserts, not on a
				// core: more requests may join each one.
				cfg.TrackingWriters = eventsTrackingWriters
			}
			if opts.trackWriters > 0 {
				cfg.TrackingWriters = opts.trackWriters
			}
		} else {
			log.Warn("this build stores no exposures or tracking events: POST /v1/track answers 501")
		}
		var ctlMetrics *controller.Metrics
		if opts.controller > 0 {
			ctlMetrics = controller.NewMetrics()
			cfg.Collectors = ctlMetrics.Collectors()
		}
		// The admin API under /api/v1 authenticates with the same Checker
		// (anyone is an admin without authentication).
		apiAuth := auth.Authenticator(anyone{})
		if !opts.insecureNoAuth {
			checker, err := a.Authenticator(ctx, authOpts)
			if err != nil {
				return err
			}
			defer checker.Close()
			cfg.Auth, apiAuth = checker, checker
			if oidcCfg != nil {
				oidcCfg.Throttle = checker
				if cfg.OIDC, err = sso.New(a, *oidcCfg); err != nil {
					return err
				}
			}
		}
		if cfg.API, err = api.New(api.Config{Admin: a, Auth: apiAuth, Logger: log.With("component", "api"), RateLimit: apiPerSecond}); err != nil {
			return err
		}
		if dash, err := newDashboard(opts, a, cfg.Auth, oidcLogin(cfg.OIDC), tlsConfig != nil, log); err != nil {
			return err
		} else if dash != nil {
			cfg.Dashboard = dash
		}
		srv, err := server.New(cfg)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", opts.addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", opts.addr, err)
		}
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok && opts.insecureNoAuth && !tcp.IP.IsLoopback() {
			ln.Close() // a name that resolved to another address
			return insecureAddrError(ln.Addr().String())
		}
		if tlsConfig != nil {
			log.Info("TLS on: serving HTTPS", "cert", opts.tlsCert, "url", "https://"+ln.Addr().String())
			ln = tls.NewListener(ln, tlsConfig)
		}
		if opts.controller > 0 {
			ctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			defer func() { stop(); <-done }()
			go func() {
				defer close(done)
				controller.Run(ctx, a, opts.controller, log.With("component", "controller"), ctlMetrics)
			}()
		}
		if opts.compact > 0 && cfg.Tracking != nil {
			ctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			defer func() { stop(); <-done }()
			go func() {
				defer close(done)
				controller.RunCompaction(ctx, a, opts.compact, log.With("component", "compaction"))
			}()
		}
		return srv.Serve(ctx, ln)
	})
}

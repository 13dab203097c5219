package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/tracking"
)

// unknownFlag is the flag label of evaluations of keys the configuration
// does not have: callers choose those keys, so they must not become label
// values.
const unknownFlag = "_unknown"

// metrics are the server's Prometheus collectors, in a registry of its own
// (several servers may run in one test process). Every label is bounded:
// routes are ServeMux patterns, flags and variants come from the
// configuration, reasons and error codes from fixed lists.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	evaluations  *prometheus.CounterVec
	version      prometheus.Gauge
	reloads      prometheus.Counter
	reloadErrors prometheus.Counter
	streams      *prometheus.GaugeVec
	// authFailed and authThrottled count failed authentications answered
	// 401 and, past the address's limit, 429.
	authFailed, authThrottled prometheus.Counter

	// ingested counts the items POST /v1/track stored, by kind;
	// ingestRefused the requests it refused, by reason.
	ingested      *prometheus.CounterVec
	ingestRefused *prometheus.CounterVec

	// byRoute caches the request series: routeCode → *routeSeries.
	byRoute sync.Map
}

type routeCode struct {
	route string
	code  int
}

type routeSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(l func() *live, now func() time.Time) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ramp_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ramp_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests (event streams: until the stream opened), by route pattern and status code.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ramp_evaluations_total",
			Help: "Flag decisions served over OFREP, by flag, variant, reason and error code (flags the configuration lacks count as flag=\"" + unknownFlag + "\").",
		}, []string{"flag", "variant", "reason", "error"}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ramp_config_version",
			Help: "Configuration version being served.",
		}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ramp_config_reloads_total",
			Help: "Configurations loaded and swapped in.",
		}),
		reloadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ramp_config_reload_errors_total",
			Help: "Failed attempts to check or load the configuration (the last good one is still served).",
		}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ramp_event_streams",
			Help: "Open event-stream connections, by stream.",
		}, []string{"stream"}),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ramp_tracking_ingested_total",
			Help: "Items stored through POST /v1/track, by kind (event, exposure); a retried item counts again (the store keeps it once).",
		}, []string{"kind"}),
		ingestRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ramp_tracking_refused_total",
			Help: "POST /v1/track requests refused, by reason: invalid (400), busy (503: every writer busy), store (503: the store failed), off (501: no store); and exposures left out of stored batches because a running phase contradicts them (inconsistent_exposure).",
		}, []string{"reason"}),
	}
	for _, k := range []string{"event", "exposure"} {
		m.ingested.WithLabelValues(k)
	}
	for _, r := range []string{"invalid", "busy", "store", "off", "inconsistent_exposure"} {
		m.ingestRefused.WithLabelValues(r)
	}
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ramp_auth_failures_total",
		Help: "Requests refused for a missing, unknown or revoked key or stream token, by answer: 401, or 429 past the client address's limit of failures.",
	}, []string{"code"})
	m.authFailed, m.authThrottled = failures.WithLabelValues("401"), failures.WithLabelValues("429")
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ramp_config_age_seconds",
		Help: "Seconds since the configuration being served was loaded.",
	}, func() float64 {
		if c := l().current(); c != nil {
			return now().Sub(c.loadedAt).Seconds()
		}
		return -1
	})
	contact := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ramp_store_contact_age_seconds",
		Help: "Seconds since the store last answered a version check: how stale the configuration may be.",
	}, func() float64 {
		if d := l().sinceContact(); d < 1<<62 {
			return d.Seconds()
		}
		return -1
	})
	m.reg.MustRegister(m.requests, m.latency, m.evaluations, m.version, m.reloads, m.reloadErrors, m.streams, failures, m.ingested, m.ingestRefused,
		age, contact, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// trackFailures serves the number of client addresses whose failed
// authentications are being counted.
func (m *metrics) trackFailures(tracked func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ramp_auth_failure_addresses",
		Help: "Client addresses with recent failed authentications, held to limit them (at most " + strconv.Itoa(auth.MaxFailureAddrs) + ").",
	}, func() float64 { return float64(tracked()) }))
}

// trackRecorder serves the counters of the recorder of OFREP exposures.
func (m *metrics) trackRecorder(stats func() tracking.Stats) {
	exposures := func(outcome string, v func(tracking.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "ramp_exposures_total",
			Help:        "Exposures of OFREP decisions made by running experiments, by outcome: recorded (new, queued), deduplicated (the unit already recorded in that phase), sent (stored), dropped (the queue was full, or the store refused them or was down at shutdown).",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(v(stats())) })
	}
	m.reg.MustRegister(
		exposures("recorded", func(s tracking.Stats) uint64 { return s.ExposuresRecorded }),
		exposures("deduplicated", func(s tracking.Stats) uint64 { return s.ExposuresDeduplicated }),
		exposures("sent", func(s tracking.Stats) uint64 { return s.ExposuresSent }),
		exposures("dropped", func(s tracking.Stats) uint64 { return s.ExposuresDropped }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ramp_exposure_failed_batches_total",
			Help: "Failed attempts to store a batch of exposures (each failed retry counts).",
		}, func() float64 { return float64(stats().FailedBatches) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ramp_exposures_queued",
			Help: "Exposures waiting to be stored.",
		}, func() float64 { return float64(stats().Queued) }),
	)
}

// swapped records a new configuration, and forgets the evaluation series of
// flags it no longer has.
func (m *metrics) swapped(old, n *loaded) {
	m.version.Set(float64(n.version))
	m.reloads.Inc()
	if old == nil {
		return
	}
	for _, k := range old.snap.Keys() {
		if _, ok := n.snap.Type(k); !ok {
			m.evaluations.DeletePartialMatch(prometheus.Labels{"flag": k})
		}
	}
}

// request records one answered request.
func (m *metrics) request(route string, code int, took time.Duration) {
	k := routeCode{route, code}
	rm, ok := m.byRoute.Load(k)
	if !ok {
		c := strconv.Itoa(code)
		rm, _ = m.byRoute.LoadOrStore(k, &routeSeries{m.requests.WithLabelValues(route, c), m.latency.WithLabelValues(route, c)})
	}
	r := rm.(*routeSeries)
	r.requests.Inc()
	r.latency.Observe(took.Seconds())
}

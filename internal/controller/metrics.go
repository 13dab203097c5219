package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp/rollout"
)

// Metrics are the controller's Prometheus series, updated by every pass of
// Run: where each rollout stands (one series per flag with a plan, dropped
// with the plan) and what the passes did.
type Metrics struct {
	stage    *prometheus.GaugeVec
	stages   *prometheus.GaugeVec
	paused   *prometheus.GaugeVec
	awaiting *prometheus.GaugeVec
	due      *prometheus.GaugeVec
	moves    *prometheus.CounterVec
	passes   prometheus.Counter
	failures prometheus.Counter
	safety   safetyMetrics // safety.go
}

// NewMetrics makes the controller's series; register Collectors with a
// registry and pass the Metrics to Run.
func NewMetrics() *Metrics {
	flag := []string{"flag"}
	return &Metrics{
		stage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ramp_rollout_stage",
			Help: "The live stage of each rollout plan, counted from 1 (0 before the first stage).",
		}, flag),
		stages: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ramp_rollout_stages",
			Help: "The number of stages of each rollout plan.",
		}, flag),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ramp_rollout_paused",
			Help: "1 when the rollout's schedule is paused.",
		}, flag),
		awaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ramp_rollout_awaiting_approval",
			Help: "1 when a stage of the rollout waits for approval.",
		}, flag),
		due: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ramp_rollout_next_stage_due_timestamp_seconds",
			Help: "When the schedule may start the rollout's next stage (Unix time); absent when nothing is scheduled (by hand, paused, held, awaiting approval, killed, done).",
		}, flag),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ramp_rollout_scheduled_moves_total",
			Help: "Stages the schedule started (outcome=started) or asked approval for (outcome=requested), by this server.",
		}, []string{"outcome"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ramp_rollout_controller_passes_total",
			Help: "Passes of the rollout schedule run by this server.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ramp_rollout_controller_failures_total",
			Help: "Passes of the rollout schedule that failed, wholly or for some rollout.",
		}),
		safety: newSafetyMetrics(),
	}
}

// Collectors returns the series to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.stage, m.stages, m.paused, m.awaiting, m.due, m.moves, m.passes, m.failures, m.safety.checks, m.safety.halts}
}

// observe records a pass: the rollouts as it read them (nil when it could
// not read them), what it did, and whether it failed.
func (m *Metrics) observe(rs []rollout.Rollout, killed map[string]bool, events []Event, err error) {
	if m == nil {
		return
	}
	m.passes.Inc()
	if err != nil {
		m.failures.Inc()
	}
	for _, e := range events {
		m.moves.WithLabelValues(string(e.Outcome)).Inc()
	}
	if rs == nil {
		return
	}
	for _, g := range []*prometheus.GaugeVec{m.stage, m.stages, m.paused, m.awaiting, m.due} {
		g.Reset()
	}
	for i := range rs {
		r := &rs[i]
		m.stage.WithLabelValues(r.Flag).Set(float64(r.Live() + 1))
		m.stages.WithLabelValues(r.Flag).Set(float64(len(r.Stages)))
		m.paused.WithLabelValues(r.Flag).Set(boolGauge(r.Progress.Paused))
		m.awaiting.WithLabelValues(r.Flag).Set(boolGauge(r.Progress.Pending != nil))
		if n := r.Next(killed[r.Flag]); n.Stage >= 0 && n.Blocked == "" {
			m.due.WithLabelValues(r.Flag).Set(float64(n.Due.Unix()))
		}
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

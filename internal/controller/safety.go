package controller

import (
	"log/slog"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp/internal/admin"
)

// logSafety logs what a pass's automatic safety did: a pause is a
// warning, every time; a check that would pause a phase a person resumed
// (an override) is noted once per phase, in seen.
func logSafety(log *slog.Logger, p *admin.TickResult, seen map[string]string) {
	for _, e := range p.Guards {
		if e.Halted {
			what := "rollout halted: guardrail regression (paused)"
			if e.RolledBack {
				what = "rollout halted: guardrail regression (rolled back to the previous stage and paused)"
			}
			log.Warn(what, "flag", e.Flag, "stage", e.Stage, "reason", e.Judgement.Reason)
		}
	}
	for _, e := range p.SampleRatios {
		c := &e.Check
		switch {
		case e.Paused:
			log.Warn("experiment paused: sample ratio mismatch", "experiment", e.Experiment, "phase", c.Phase,
				"units", c.Units, "p", c.MinP, "reason", c.Reason)
		case e.Overridden && seen["srm:"+e.Experiment] != strconv.Itoa(c.Phase):
			seen["srm:"+e.Experiment] = strconv.Itoa(c.Phase)
			log.Info("sample ratio mismatch overridden by a person: not pausing again in this phase", "experiment", e.Experiment,
				"phase", c.Phase, "p", c.MinP)
		}
	}
}

// safetyMetrics are the automatic safety's series.
type safetyMetrics struct {
	checks *prometheus.CounterVec
	halts  *prometheus.CounterVec
}

func newSafetyMetrics() safetyMetrics {
	return safetyMetrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ramp_safety_checks_total",
			Help: "Checks the automatic safety made, by this server: check=sample_ratio for an experiment phase's sample ratio, check=guardrails for a live guarded rollout stage.",
		}, []string{"check"}),
		halts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ramp_safety_halts_total",
			Help: "What the automatic safety stopped, by this server: check=sample_ratio for an experiment it paused, check=guardrails for a rollout plan it halted.",
		}, []string{"check"}),
	}
}

// observeSafety counts a pass's checks and halts.
func (m *Metrics) observeSafety(p *admin.TickResult) {
	if m == nil {
		return
	}
	for _, e := range p.SampleRatios {
		m.safety.checks.WithLabelValues("sample_ratio").Inc()
		if e.Paused {
			m.safety.halts.WithLabelValues("sample_ratio").Inc()
		}
	}
	for _, e := range p.Guards {
		m.safety.checks.WithLabelValues("guardrails").Inc()
		if e.Halted {
			m.safety.halts.WithLabelValues("guardrails").Inc()
		}
	}
}

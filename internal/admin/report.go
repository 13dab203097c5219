package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// ReportRequest asks for the report of one experiment phase.
type ReportRequest struct {
	Key string
	// Phase is the phase to read, from 1; 0 reads the current one.
	Phase   int
	Options report.Options
	// Series adds the estimate over time: the comparison as it stood at
	// the end of each day of the phase (at most MaxSeriesPoints), for
	// charts. Each point is one more grouped query per metric.
	Series bool
	// Compact first folds the raw events stored so far into per-unit
	// totals (what the report reads). Compaction is idempotent; without
	// it, events stored since the last compaction are not counted yet.
	Compact bool
}

// MaxSeriesPoints bounds the estimate over time: a longer phase is read
// every few days instead of every day.
const MaxSeriesPoints = 60

// Report reads one phase of an experiment: the sample-ratio check of its
// exposures, and each metric it names (primary, secondary, guardrails)
// compared across arms. Per-arm sufficient statistics come from what
// compaction maintains (a few rows per metric, whatever the number of
// units) or, for a statistic not maintained or not built yet and for the
// series, from one grouped query per metric and point in time; only those
// numbers reach the statistics (experiment/report). The sample-ratio
// counts come from a maintained statistic of the phase too when one is
// current (store.Store.MaintainedExposureCounts).
func (s *Service) Report(ctx context.Context, req ReportRequest) (report.Report, error) {
	sx, err := s.db().Experiment(ctx, req.Key)
	if err != nil {
		return report.Report{}, err
	}
	x := sx.Experiment
	ph, err := reportPhase(&x, req.Phase)
	if err != nil {
		return report.Report{}, err
	}
	if req.Compact {
		if _, err := s.Compact(ctx, CompactOptions{SkipStatBuild: true}); err != nil {
			return report.Report{}, fmt.Errorf("compact events before the report: %w", err)
		}
	}
	in := report.Input{Experiment: x, Phase: ph}
	counts, err := s.exposureCounts(ctx, x.Key, ph.Number)
	if err != nil {
		return report.Report{}, err
	}
	for _, c := range counts {
		in.Exposures = append(in.Exposures, report.ArmCount{Arm: c.Arm, Units: c.Units, MultiArm: c.MultiArm})
	}
	var missing []string
	for _, named := range namedMetrics(&x.Metrics) {
		sm, err := s.db().Metric(ctx, named.key)
		if errors.Is(err, ramp.ErrNotFound) {
			missing = append(missing, named.key)
			continue
		}
		if err != nil {
			return report.Report{}, err
		}
		md, err := s.metricData(ctx, &x, &ph, sm.Metric, named.role, req.Series)
		if err != nil {
			return report.Report{}, err
		}
		in.Metrics = append(in.Metrics, md)
	}
	r, err := report.Build(in, req.Options)
	if err != nil {
		return report.Report{}, err
	}
	for _, k := range missing {
		r.Warnings = append(r.Warnings, fmt.Sprintf("metric %q is named by the experiment but not declared: apply a metrics: entry for it", k))
	}
	if w, err := s.refreshWarning(ctx, x.Key); err != nil {
		return report.Report{}, err
	} else if w != "" {
		r.Warnings = append(r.Warnings, w)
	}
	return r, nil
}

// refreshWarning says, when the experiment's numbers come from a refresh
// of its statistics in ClickHouse rather than from the raw rows, as of
// when they are.
func (s *Service) refreshWarning(ctx context.Context, experiment string) (string, error) {
	r, ok := s.ev.(interface {
		RefreshedAt(ctx context.Context, experiment string) (time.Time, bool, error)
	})
	if !ok {
		return "", nil
	}
	at, ok, err := r.RefreshedAt(ctx, experiment)
	if err != nil || !ok {
		return "", err
	}
	return fmt.Sprintf("the numbers are as of %s (%s ago), when compaction last refreshed this experiment's statistics in ClickHouse: "+
		"what was stored since counts at the next refresh (ramp serve refreshes them a minute after a change at the soonest; "+
		"ramp events compact --rebuild-stats does it now)", at.Format(time.RFC3339), s.Now().Sub(at).Round(time.Second)), nil
}

// exposureCounts returns the exposed units per arm of one phase for the
// sample-ratio check: from a maintained statistic of the phase when one
// is current (a few rows; the units compaction has taken in, those the
// metrics count), else by reading the phase's exposures (seconds at
// millions of units).
func (s *Service) exposureCounts(ctx context.Context, key string, phase int) ([]store.ExposureCount, error) {
	if s.ev == nil { // compaction maintains counts only in the SQL store
		counts, ok, err := s.db().MaintainedExposureCounts(ctx, key, phase)
		if err != nil || ok {
			return counts, err
		}
	}
	all, err := s.events().ExposureCounts(ctx, key)
	if err != nil {
		return nil, err
	}
	var counts []store.ExposureCount
	for _, c := range all {
		if c.Phase == phase {
			counts = append(counts, c)
		}
	}
	return counts, nil
}

// reportPhase returns phase n of x (the current one for 0).
func reportPhase(x *experiment.Experiment, n int) (experiment.Phase, error) {
	if len(x.Phases) == 0 {
		return experiment.Phase{}, ramp.Errorf(ramp.KindRefused, "experiment %q has not started: it has no phase to report", x.Key)
	}
	if n == 0 {
		return x.Phases[len(x.Phases)-1], nil
	}
	for _, p := range x.Phases {
		if p.Number == n {
			return p, nil
		}
	}
	return experiment.Phase{}, ramp.Errorf(ramp.KindNotFound, "experiment %q has no phase %d (it has %d)", x.Key, n, len(x.Phases))
}

type namedMetric struct {
	key  string
	role report.Role
}

// namedMetrics lists the metrics an experiment names, primary first, each
// once (in its first role).
func namedMetrics(m *experiment.Metrics) []namedMetric {
	var out []namedMetric
	seen := map[string]bool{}
	add := func(k string, r report.Role) {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, namedMetric{k, r})
		}
	}
	add(m.Primary, report.Primary)
	for _, k := range m.Secondary {
		add(k, report.Secondary)
	}
	for _, k := range m.Guardrails {
		add(k, report.Guardrail)
	}
	return out
}

// metricData queries one metric's per-arm statistics, and with series
// the same at the end of each day of the phase.
func (s *Service) metricData(ctx context.Context, x *experiment.Experiment, ph *experiment.Phase, m experiment.Metric, role report.Role, series bool) (report.MetricData, error) {
	q := metricQuery(x.Key, ph.Number, &m)
	md := report.MetricData{Metric: m, Role: role}
	arms, _, err := s.events().ArmStats(ctx, q)
	if err != nil {
		return md, fmt.Errorf("metric %s: %w", m.Key, err)
	}
	md.Arms = reportArms(arms)
	if !series {
		return md, nil
	}
	days, end := seriesTimes(ph, s.Now())
	for _, at := range days {
		q.Before = at.UnixMicro()
		arms, _, err := s.events().ArmStats(ctx, q)
		if err != nil {
			return md, fmt.Errorf("metric %s as of %s: %w", m.Key, at.Format(time.DateOnly), err)
		}
		md.Series = append(md.Series, report.Snapshot{At: at, Arms: reportArms(arms)})
	}
	// The last point is the report itself: everything stored so far.
	md.Series = append(md.Series, report.Snapshot{At: end, Arms: md.Arms})
	return md, nil
}

// metricQuery is the store's query of a metric in an experiment phase:
// its value, and a ratio's denominator or a mean's covariate.
func metricQuery(experiment string, phase int, m *experiment.Metric) store.ArmQuery {
	q := store.ArmQuery{Experiment: experiment, Phase: phase, Y: store.UnitValue(m.Y())}
	if xv, ok := m.X(); ok {
		v := store.UnitValue(xv)
		q.X = &v
	}
	return q
}

// guardQuery is the store's query of a guardrail metric on a plan's
// stage phase, as the controller's judgement (guardSides) asks for it:
// the value, and a ratio's denominator; no covariate.
func guardQuery(r *rollout.Rollout, phase int, m *experiment.Metric) store.ArmQuery {
	q := store.ArmQuery{Experiment: rollout.ExperimentKey(r.Flag), Phase: phase, Y: storeValue(m.Y())}
	if m.Kind == experiment.Ratio {
		if x, ok := m.X(); ok {
			sx := storeValue(x)
			q.X = &sx
		}
	}
	return q
}

func reportArms(arms []store.ArmStats) []report.ArmStats {
	out := make([]report.ArmStats, len(arms))
	for i, a := range arms {
		out[i] = report.ArmStats(a) // the same fields: the store's sums are the report's input
	}
	return out
}

// seriesTimes returns the ends of the phase's UTC days before its end (or
// now), every day or every few days so that there are at most
// MaxSeriesPoints with the end itself, and that end.
func seriesTimes(ph *experiment.Phase, now time.Time) ([]time.Time, time.Time) {
	end := now
	if ph.Ended != nil && ph.Ended.Before(end) {
		end = *ph.Ended
	}
	start := ph.Started.UTC().Truncate(24 * time.Hour)
	days := int(end.Sub(start)/(24*time.Hour)) + 1
	step := max(1, (days+MaxSeriesPoints-1)/MaxSeriesPoints)
	var out []time.Time
	for d := step; ; d += step {
		at := start.AddDate(0, 0, d)
		if !at.Before(end) {
			break
		}
		out = append(out, at)
	}
	return out, end
}

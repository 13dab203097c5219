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
// compared across arms. The database reduces exposures and events to
// per-arm sufficient statistics (one grouped query per metric and point
// in time); only those numbers reach the statistics (experiment/report).
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
		if _, err := s.Compact(ctx, CompactOptions{}); err != nil {
			return report.Report{}, fmt.Errorf("compact events before the report: %w", err)
		}
	}
	in := report.Input{Experiment: x, Phase: ph}
	counts, err := s.events().ExposureCounts(ctx, x.Key)
	if err != nil {
		return report.Report{}, err
	}
	for _, c := range counts {
		if c.Phase == ph.Number {
			in.Exposures = append(in.Exposures, report.ArmCount{Arm: c.Arm, Units: c.Units, MultiArm: c.MultiArm})
		}
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
	return r, nil
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
	q := store.ArmQuery{Experiment: x.Key, Phase: ph.Number, Y: store.UnitValue(m.Y())}
	if xv, ok := m.X(); ok {
		v := store.UnitValue(xv)
		q.X = &v
	}
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

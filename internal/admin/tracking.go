package admin

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/rollout"

	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

// The Service is a tracking.Sink: `ramp serve`'s recorders and the
// provider's ingest endpoint store exposures and events through it.
var _ tracking.Sink = (*Service)(nil)

// WriteExposures stores a batch of exposures in one transaction. An
// exposure already stored for its (experiment, phase, unit attribute,
// unit) changes nothing, except that a unit seen in another arm is flagged
// (counted in ExposureCount.MultiArm, excluded by the report). An invalid
// exposure rejects the batch with an error matching ramp.ErrInvalid.
func (s *Service) WriteExposures(ctx context.Context, batch []tracking.Exposure) error {
	return s.events().WriteExposures(ctx, batch)
}

// WriteEvents stores a batch of tracking events in one transaction, one
// row per event with its units; an event stored already (the same event
// time and id) is skipped, so a retried batch is stored once.
// An invalid event rejects the batch with an error matching
// ramp.ErrInvalid.
func (s *Service) WriteEvents(ctx context.Context, batch []tracking.Event) error {
	return s.events().WriteEvents(ctx, batch)
}

// ExposureCount is how many units of one phase and arm are exposed, and
// how many of them were also seen in another arm.
type ExposureCount = store.ExposureCount

// ExposureCounts returns an experiment's exposed units per phase and arm
// (each unit under the arm it was first exposed to), in phase and arm
// order: what the sample-ratio check reads.
func (s *Service) ExposureCounts(ctx context.Context, experiment string) ([]ExposureCount, error) {
	return s.events().ExposureCounts(ctx, experiment)
}

// CompactionDue reports whether Compact has anything to do, cheaply and
// without writing: events or exposures not compacted yet
// (store.Store.CompactionDue), or maintained statistics to add, build or
// drop (the configuration names a new metric, a metric's window changed,
// a guarded stage went live).
func (s *Service) CompactionDue(ctx context.Context) (bool, error) {
	due, err := s.events().CompactionDue(ctx)
	if err != nil || due {
		return due, err
	}
	qs, err := s.MaintainedQueries(ctx)
	if err != nil {
		return false, err
	}
	return s.events().ArmStatsDue(ctx, qs)
}

// StoppedReportDays is how long after an experiment stops compaction
// keeps maintaining its statistics (late events still count); after that
// its report reads the grouped query (slower at millions of units).
const StoppedReportDays = 30

// MaintainedQueries lists the per-arm statistics compaction keeps up to
// date (store.Store.MaintainArmStats), from the stored configuration:
// every metric an experiment names (primary, secondary, guardrails, with
// a mean's CUPED covariate or a ratio's denominator as X), as Report asks
// for it, in the experiment's current phase — for experiments started
// and not stopped more than StoppedReportDays ago; and every guardrail of
// a rollout plan's live guarded stage, as the controller's judgement asks
// for it (the stage's phase of rollout.ExperimentKey). A metric named but
// not declared is skipped.
func (s *Service) MaintainedQueries(ctx context.Context) ([]store.ArmQuery, error) {
	ms, err := s.db().Metrics(ctx)
	if err != nil {
		return nil, err
	}
	metrics := map[string]*experiment.Metric{}
	for i := range ms {
		metrics[ms[i].Metric.Key] = &ms[i].Metric
	}
	_, xs, err := s.db().ExperimentsAndLayers(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.ArmQuery
	cutoff := s.Now().Add(-StoppedReportDays * 24 * time.Hour)
	for i := range xs {
		x := &xs[i].Experiment
		if len(x.Phases) == 0 {
			continue
		}
		ph := x.Phases[len(x.Phases)-1]
		if x.Status == experiment.Stopped && ph.Ended != nil && ph.Ended.Before(cutoff) {
			continue
		}
		for _, named := range namedMetrics(&x.Metrics) {
			if m := metrics[named.key]; m != nil {
				out = append(out, metricQuery(x.Key, ph.Number, m))
			}
		}
	}
	rs, err := s.db().Rollouts(ctx)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		r := &rs[i]
		live := r.Live()
		if live < 0 || !r.Stages[live].Compares() {
			continue
		}
		for _, g := range r.Stages[live].Guardrails {
			if m := metrics[g.Metric]; m != nil {
				out = append(out, guardQuery(r, rollout.Phase(live), m))
			}
		}
	}
	return out, nil
}

// TrackingStats counts stored exposures, raw event rows (and how many
// await compaction) and per-unit totals, with compaction's watermarks.
type TrackingStats = store.TrackingStats

// TrackingStats reads the tracking tables' counts.
func (s *Service) TrackingStats(ctx context.Context) (TrackingStats, error) {
	return s.events().TrackingStats(ctx)
}

// EventCount returns how many raw event rows are stored (one per event,
// until retention drops them).
func (s *Service) EventCount(ctx context.Context) (int64, error) {
	st, err := s.events().TrackingStats(ctx)
	return st.EventRows, err
}

// UnitTotal is one unit's n, Σvalue and Σvalue² for one event on one day
// relative to its first exposure (negative days: the pre-period), with its
// arm.
type UnitTotal = store.UnitTotal

// UnitTotals calls fn with each per-unit total of an experiment's phase,
// ordered by unit, event and day, streaming (memory does not grow with the
// units). On the SQL store only compacted events are included; on
// ClickHouse every event stored.
func (s *Service) UnitTotals(ctx context.Context, experiment string, phase int, fn func(UnitTotal) error) error {
	return s.events().UnitTotals(ctx, experiment, phase, fn)
}

// CompactOptions say how Compact runs.
type CompactOptions struct {
	// Retention, when positive, drops raw event rows that are compacted
	// and whose time is older than Retention; the per-unit totals keep
	// what they counted.
	Retention time.Duration
	// ChunkRows is how many seqs one transaction covers; 0 means the
	// store's default (store.DefaultCompactChunk).
	ChunkRows int64
	// Progress, when set, is called after each committed chunk.
	Progress func(CompactProgress)
	// RebuildStats builds every maintained statistic again from the
	// per-unit totals (see MaintainedQueries): for sums of fractional
	// values that have drifted after very many updates, or after a
	// suspected fault. Reports read the grouped query until it is done.
	RebuildStats bool
	// SkipStatBuild leaves statistics not built yet for a later
	// compaction (store.CompactOptions.SkipStatBuild).
	SkipStatBuild bool
	// StatBuildBatches, when positive, bounds the build work of one
	// compaction (store.CompactOptions.StatBuildBatches): the build goes
	// on at the next one.
	StatBuildBatches int
}

// CompactProgress is where a compaction stands after a chunk.
type CompactProgress = store.CompactProgress

// CompactResult is what a compaction did.
type CompactResult = store.CompactResult

// Compact turns the raw events stored since the last compaction into
// per-unit totals, and counts the events stored before exposures that
// arrived since, chunk by chunk, each chunk in one transaction with its
// watermark: it is idempotent and safe to interrupt (run again, it goes
// on from the last chunk committed). See the store's comment on
// compaction for the rules.
//
// It also sets the statistics compaction maintains to MaintainedQueries,
// and builds those not built yet (unless SkipStatBuild), in bounded
// batches: reports read them once current (a few rows whatever the
// number of units), the grouped query until then.
func (s *Service) Compact(ctx context.Context, opt CompactOptions) (CompactResult, error) {
	qs, err := s.MaintainedQueries(ctx)
	if err != nil {
		return CompactResult{}, fmt.Errorf("compact: the statistics to maintain: %w", err)
	}
	if err := s.events().MaintainArmStats(ctx, qs, opt.RebuildStats); err != nil {
		return CompactResult{}, err
	}
	so := store.CompactOptions{Retention: opt.Retention, ChunkRows: opt.ChunkRows, Now: s.Now(),
		SkipStatBuild: opt.SkipStatBuild, StatBuildBatches: opt.StatBuildBatches}
	if opt.Progress != nil {
		so.AfterChunk = func(p store.CompactProgress) error { opt.Progress(p); return nil }
	}
	return s.events().Compact(ctx, so)
}

// EventImportRequest asks to import an events file.
type EventImportRequest struct {
	// Source is the file's content: CSV with a header row, possibly
	// gzip-compressed; it is read once.
	Source io.Reader
	// File names the file in errors ("-" for stdin).
	File string
	CSV  EventCSVOptions
	// Progress, when set, is called as the file is read (every few
	// thousand rows, and once at the end with Done set).
	Progress func(ImportProgress)
}

// EventImportResult is what an events import did: rows read, stored, and
// found stored already.
type EventImportResult = store.EventImportResult

// ImportEvents reads an events file (see EventReader) and stores its rows
// as events whose unit matches whatever each experiment buckets by, all or
// nothing: a row that cannot be imported rejects the whole file with an
// *EventFileError (matching ramp.ErrInvalid) naming the file, the line and
// the column, and nothing is stored. Each row's event id is derived from
// its fields and its ordinal among identical rows (store.ImportedEventID),
// so importing a file again stores nothing new.
func (s *Service) ImportEvents(ctx context.Context, req EventImportRequest) (EventImportResult, error) {
	file := req.File
	if file == "" {
		file = "-"
	}
	counted := &countingReader{r: req.Source}
	rd, err := NewEventReader(counted, file, req.CSV)
	if err != nil {
		return EventImportResult{}, err
	}
	progress := func(done bool) {
		if req.Progress != nil {
			req.Progress(ImportProgress{Rows: rd.Rows(), Bytes: counted.n, Done: done})
		}
	}
	res, err := s.events().ImportEvents(ctx, func() (store.ImportedEvent, error) {
		e, err := rd.Next()
		if err == io.EOF {
			progress(true)
		} else if rd.Rows()%progressEvery == 0 {
			progress(false)
		}
		return e, err
	})
	return res, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

package admin

import (
	"context"
	"io"
	"time"

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
// without writing (see store.Store.CompactionDue).
func (s *Service) CompactionDue(ctx context.Context) (bool, error) {
	return s.events().CompactionDue(ctx)
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
// units). Only compacted events are included.
func (s *Service) UnitTotals(ctx context.Context, experiment string, phase int, fn func(UnitTotal) error) error {
	return s.db().UnitTotals(ctx, experiment, phase, fn)
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
func (s *Service) Compact(ctx context.Context, opt CompactOptions) (CompactResult, error) {
	so := store.CompactOptions{Retention: opt.Retention, ChunkRows: opt.ChunkRows, Now: s.Now()}
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

package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Compaction turns raw events into per-unit totals.
//
// tracking_state holds two watermarks, E (events_done) and X
// (exposures_done). tracking_unit_days always holds the events with
// e.id ≤ E, and tracking_totals exactly the pairs (event e, exposure x)
// that join (same unit; the event's attribute is the exposure's unit
// attribute, or AnyUnit) with e.id ≤ E and x.id ≤ X. Compact moves the
// watermarks in chunks, each chunk's writes and its watermark in one
// transaction:
//
//  1. backfill: X moves up to the newest exposure, adding the new
//     exposures' pairs with every event compacted so far, read from
//     tracking_unit_days (keyed by unit). This is the reprocessing rule for
//     events stored before their exposure — a pre-period event, or an
//     exposure batch that arrived after its events: they count as soon as
//     the exposure is compacted, however long ago they were compacted, and
//     even once retention has dropped their raw rows;
//  2. forward: E moves up to the newest event, adding the new events to
//     tracking_unit_days and their pairs with every exposure compacted
//     (x.id ≤ X) to the totals.
//
// Every pair is added once: by the step that moves the watermark of
// whichever of its two rows is newer. A chunk interrupted (the process
// killed, the context cancelled) rolls back with its watermark; two
// compactions at once take turns on the state row. On Postgres, where
// numbers from a sequence commit out of order, the newest seqs are read
// under the tracking lock taken exclusively (see trackingLock), so no row
// below them is still to commit.
//
// Days are UTC calendar days (Unix time divided by 86,400 s, rounded
// down), so that the backfill, which reads days, and the forward step,
// which reads times, agree exactly.

// CompactOptions say how Compact runs.
type CompactOptions struct {
	// Retention, when positive, drops raw event rows that are compacted
	// and whose event time is older than Retention before Now.
	Retention time.Duration
	// Now is the time retention counts back from; zero means the Store's
	// clock.
	Now time.Time
	// ChunkRows is how wide (in seqs) one transaction's range of events or
	// exposures is; 0 means DefaultCompactChunk.
	ChunkRows int64
	// AfterChunk, when set, is called after each committed chunk; an error
	// stops the compaction and is returned (tests interrupt it this way).
	AfterChunk func(CompactProgress) error
	// SkipStatBuild leaves the maintained statistics that are not current
	// yet (see MaintainArmStats) for a later compaction: the others are
	// kept up to date all the same. A report's own compaction sets it, so
	// that it does not wait for a build (it falls back to the grouped
	// query meanwhile).
	SkipStatBuild bool
	// StatBuildBatches, when positive, bounds the build batches (of
	// ChunkRows units each) this compaction runs: a build goes on at the
	// next compaction from where it stopped, so that a long build does
	// not hold up the compaction of new events for long.
	StatBuildBatches int
}

// DefaultCompactChunk is the default CompactOptions.ChunkRows: a chunk
// holds SQLite's write lock for a fraction of a second.
const DefaultCompactChunk = 50_000

// CompactProgress is where a compaction stands after a chunk.
type CompactProgress struct {
	EventsDone, EventsTarget       int64
	ExposuresDone, ExposuresTarget int64
}

// CompactResult is what a compaction did.
type CompactResult struct {
	// Exposures and Events are the seqs the watermarks moved over (rows
	// and gaps left by duplicates).
	Exposures int64 `json:"exposureSeqs"`
	Events    int64 `json:"eventSeqs"`
	// Totals counts per-unit total rows written (inserted or added to).
	Totals int64 `json:"totalsWritten"`
	// Dropped counts raw event rows dropped by retention.
	Dropped int64 `json:"dropped"`
	// EventsDone and ExposuresDone are the watermarks afterwards.
	EventsDone    int64 `json:"eventsCompactedTo"`
	ExposuresDone int64 `json:"exposuresCompactedTo"`
	// StatsBuilt counts the maintained statistics built (made current) by
	// this compaction, and StatsBuildTime is how long building them took.
	StatsBuilt     int           `json:"statsBuilt,omitempty"`
	StatsBuildTime time.Duration `json:"statsBuildTime,omitempty"`
}

// utcDay is the UTC day of the time column col (Unix microseconds),
// rounded down also before 1970.
func utcDay(col string) string {
	d := strconv.FormatInt(dayMicros, 10)
	return "(CASE WHEN " + col + " >= 0 THEN " + col + " / " + d + " ELSE -((-" + col + " - 1) / " + d + ") - 1 END)"
}

// upsertSums is the ON CONFLICT clause adding n, total and total_sq.
func upsertSums(table, key string) string {
	return `ON CONFLICT (` + key + `) DO UPDATE SET
			n = ` + table + `.n + excluded.n,
			total = ` + table + `.total + excluded.total,
			total_sq = ` + table + `.total_sq + excluded.total_sq`
}

const totalsKey = "experiment, phase, unit_attr, unit, event, day"

var (
	// backfillTotals: exposures (?, ?] with the unit days (all events up
	// to E; the third parameter is unused).
	backfillTotals = `INSERT INTO tracking_totals (` + totalsKey + `, n, total, total_sq)
		SELECT x.experiment, x.phase, x.unit_attr, x.unit, d.event, d.day - ` + utcDay("x.first_at") + `, SUM(d.n), SUM(d.total), SUM(d.total_sq)
		FROM tracking_exposures x JOIN tracking_unit_days d ON d.unit = x.unit AND (d.attr = x.unit_attr OR d.attr = '*')
		WHERE x.id > ? AND x.id <= ? AND ? >= 0
		GROUP BY x.experiment, x.phase, x.unit_attr, x.unit, d.event, d.day - ` + utcDay("x.first_at") + `
		` + upsertSums("tracking_totals", totalsKey)
	// forwardDays: events (?, ?] into the unit days.
	forwardDays = `INSERT INTO tracking_unit_days (unit, attr, event, day, n, total, total_sq)
		SELECT u.value, u.key, e.name, ` + utcDay("e.at") + `, COUNT(*), SUM(e.value), SUM(e.value * e.value)
		FROM %s WHERE e.id > ? AND e.id <= ?
		GROUP BY u.value, u.key, e.name, ` + utcDay("e.at") + `
		` + upsertSums("tracking_unit_days", "unit, attr, event, day")
	// forwardTotals: events (?, ?] with exposures up to ?.
	forwardTotals = `INSERT INTO tracking_totals (` + totalsKey + `, n, total, total_sq)
		SELECT x.experiment, x.phase, x.unit_attr, x.unit, e.name, ` + utcDay("e.at") + ` - ` + utcDay("x.first_at") + `, COUNT(*), SUM(e.value), SUM(e.value * e.value)
		FROM %s JOIN tracking_exposures x ON x.unit = u.value AND (x.unit_attr = u.key OR u.key = '*')
		WHERE e.id > ? AND e.id <= ? AND x.id <= ?
		GROUP BY x.experiment, x.phase, x.unit_attr, x.unit, e.name, ` + utcDay("e.at") + ` - ` + utcDay("x.first_at") + `
		` + upsertSums("tracking_totals", totalsKey)
)

// backfillSQL is backfillTotals for the dialect. On SQLite the exposures
// are read NOT INDEXED: by their rowid range, the chunk's rows only.
// Otherwise SQLite, without statistics on the tables, prefers to scan
// the narrower covering index tracking_exposures_arms (which holds id)
// whole, filtering ids: every exposure at every chunk, so a backfill of
// 10 million exposures in 50,000-row chunks read 2·10^9 index entries
// (measured: 3,000 exposures/s, and slower as they grow).
func backfillSQL(d *dialect) string {
	if trackingSQLite(d) {
		return strings.Replace(backfillTotals, "FROM tracking_exposures x JOIN", "FROM tracking_exposures x NOT INDEXED JOIN", 1)
	}
	return backfillTotals
}

// eventUnits is the FROM clause of raw events e expanded into their units
// u (u.key the attribute, u.value the unit): one row per event and
// identifying attribute.
func eventUnits(d *dialect) string {
	if trackingSQLite(d) {
		return "tracking_events e, json_each(e.units) u"
	}
	return "tracking_events e CROSS JOIN LATERAL jsonb_each_text(e.units::jsonb) u"
}

// Compact moves the compaction watermarks up to the newest exposure and
// event, chunk by chunk (see the comment above), then applies retention.
// It is idempotent and safe to interrupt: run again, it continues where
// the last committed chunk left off.
func (s *Store) Compact(ctx context.Context, opt CompactOptions) (CompactResult, error) {
	var res CompactResult
	if opt.ChunkRows <= 0 {
		opt.ChunkRows = DefaultCompactChunk
	}
	if opt.Now.IsZero() {
		opt.Now = s.now()
	}
	evMax, exMax, err := s.trackingLimits(ctx)
	if err != nil {
		return res, s.wrap("compact: read the newest rows", err)
	}
	prog := CompactProgress{EventsTarget: evMax, ExposuresTarget: exMax}
	// chunk runs one transaction moving one watermark from its stored
	// value by at most ChunkRows towards target, and reports whether it
	// is there.
	chunk := func(col string, target int64, stmt string, other string) (bool, error) {
		done := false
		var totals, moved int64 // of the attempt that commits
		err := s.retry(ctx, func() error {
			totals, moved = 0, 0
			return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				var st struct{ EventsDone, ExposuresDone int64 }
				lock := ""
				if !trackingSQLite(s.d) {
					lock = " FOR UPDATE"
				}
				if err := tx.Exec(ensureTrackingState).Error; err != nil {
					return fmt.Errorf("read watermarks: %w", err)
				}
				if err := tx.Raw("SELECT events_done, exposures_done FROM tracking_state WHERE id = 1"+lock).Row().Scan(&st.EventsDone, &st.ExposuresDone); err != nil {
					return fmt.Errorf("read watermarks: %w", err)
				}
				lo, fixed := st.ExposuresDone, st.EventsDone
				if col == "events_done" {
					lo, fixed = st.EventsDone, st.ExposuresDone
				}
				if lo >= target {
					done = true
					prog.EventsDone, prog.ExposuresDone = st.EventsDone, st.ExposuresDone
					return nil
				}
				hi := min(lo+opt.ChunkRows, target)
				if col == "events_done" {
					if err := tx.Exec(fmt.Sprintf(forwardDays, eventUnits(s.d)), lo, hi).Error; err != nil {
						return fmt.Errorf("add unit days of events (%d, %d]: %w", lo, hi, err)
					}
				}
				r := tx.Exec(stmt, lo, hi, fixed)
				if r.Error != nil {
					return fmt.Errorf("add totals of %s (%d, %d]: %w", other, lo, hi, r.Error)
				}
				totals = r.RowsAffected
				var serr error
				if col == "events_done" {
					serr = statsForward(tx, s.d, lo, hi, fixed)
				} else {
					serr = statsBackfill(tx, lo, hi)
				}
				if err := serr; err != nil {
					return fmt.Errorf("maintain statistics with %s (%d, %d]: %w", other, lo, hi, err)
				}
				if err := tx.Exec("UPDATE tracking_state SET "+col+" = ? WHERE id = 1", hi).Error; err != nil {
					return fmt.Errorf("move watermark: %w", err)
				}
				if col == "events_done" {
					moved = hi - lo
					prog.EventsDone, prog.ExposuresDone = hi, st.ExposuresDone
				} else {
					moved = hi - lo
					prog.EventsDone, prog.ExposuresDone = st.EventsDone, hi
				}
				done = hi >= target
				return nil
			})
		})
		if err != nil {
			return false, err
		}
		res.Totals += totals
		if col == "events_done" {
			res.Events += moved
		} else {
			res.Exposures += moved
		}
		if opt.AfterChunk != nil && !done {
			if err := opt.AfterChunk(prog); err != nil {
				return false, err
			}
		}
		return done, nil
	}
	for _, step := range []struct {
		col, stmt, what string
		target          int64
	}{
		{"exposures_done", backfillSQL(s.d), "exposures", exMax},
		{"events_done", fmt.Sprintf(forwardTotals, eventUnits(s.d)), "events", evMax},
	} {
		for {
			done, err := chunk(step.col, step.target, step.stmt, step.what)
			if err != nil {
				return res, s.wrap("compact "+step.what, err)
			}
			if done {
				break
			}
		}
	}
	res.EventsDone, res.ExposuresDone = prog.EventsDone, prog.ExposuresDone
	if err := s.compactStats(ctx, opt, &res); err != nil {
		return res, s.wrap("compact: maintained statistics", err)
	}
	if opt.Retention > 0 {
		n, err := s.dropCompacted(ctx, micros(opt.Now.Add(-opt.Retention)), opt.ChunkRows)
		res.Dropped = n
		if err != nil {
			return res, s.wrap("compact: drop old events", err)
		}
	}
	return res, nil
}

// trackingLimits returns the highest event and exposure seqs every row
// below which is committed.
func (s *Store) trackingLimits(ctx context.Context) (events, exposures int64, err error) {
	if trackingSQLite(s.d) {
		// One writer at a time: whatever is numbered is committed.
		err = s.r.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if events, err = scanInt64(tx, "SELECT COALESCE((SELECT next_event_seq - 1 FROM tracking_state WHERE id = 1), 0)"); err != nil {
				return err
			}
			exposures, err = scanInt64(tx, "SELECT MAX(id) FROM tracking_exposures")
			return err
		}, s.d.readTx)
		return events, exposures, err
	}
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(trackingLock)).Error; err != nil {
			return err
		}
		if events, err = scanInt64(tx, "SELECT MAX(id) FROM tracking_events"); err != nil {
			return err
		}
		exposures, err = scanInt64(tx, "SELECT MAX(id) FROM tracking_exposures")
		return err
	})
	return events, exposures, err
}

// dropCompacted deletes compacted event rows older than cutoff (Unix
// microseconds), a chunk of seqs per transaction.
func (s *Store) dropCompacted(ctx context.Context, cutoff, chunk int64) (int64, error) {
	var lo, done int64
	err := s.read(ctx, "", func(db *gorm.DB) error {
		var err error
		if lo, err = scanInt64(db, "SELECT MIN(id) - 1 FROM tracking_events"); err != nil {
			return err
		}
		done, err = scanInt64(db, "SELECT COALESCE((SELECT events_done FROM tracking_state WHERE id = 1), 0)")
		return err
	})
	if err != nil {
		return 0, err
	}
	var dropped int64
	for lo < done {
		hi := min(lo+chunk*4, done)
		err := s.retry(ctx, func() error {
			r := s.w.WithContext(ctx).Exec("DELETE FROM tracking_events WHERE id > ? AND id <= ? AND at < ?", lo, hi, cutoff)
			if r.Error == nil {
				dropped += r.RowsAffected
			}
			return r.Error
		})
		if err != nil {
			return dropped, err
		}
		lo = hi
	}
	return dropped, nil
}

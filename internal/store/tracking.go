package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/tracking"
)

// Exposures and tracking events (issue #12).
//
// Five tables:
//
//   - tracking_exposures: one row per (experiment, phase, unit_attr, unit),
//     the first arm and time stored, and multi_arm set once the unit has
//     also been seen in another arm (the report excludes such units). seq
//     numbers the rows in the order they were stored; an index on (unit,
//     unit_attr) joins events to them.
//   - tracking_events: raw events, one row per (event, identifying
//     attribute), keyed by (at, event_id, attr): a retried event has the
//     same time and id, so a retried batch is stored once, and since events
//     arrive roughly in time order, inserts land at the end of the key
//     (a key that starts with the unit or the id would put every insert
//     on a random page: measured, ingest fell to tens of thousands of rows
//     a second once the table outgrew the cache). seq (indexed, also
//     append-only) numbers the rows in the order they were stored, which
//     is what compaction follows. A CSV event's attr is tracking.AnyUnit
//     ("*").
//   - tracking_unit_days: what compaction made of the raw events, per
//     (unit, attr, event, UTC day): n, Σvalue, Σvalue², whatever the
//     experiments. It outlives the raw rows that retention drops, and it is
//     where an exposure compacted after its unit's events finds them.
//   - tracking_totals: per-unit totals per (experiment, phase, unit_attr,
//     unit, event, day): n, Σvalue, Σvalue², where day is the UTC day of
//     the events minus the UTC day of the unit's first exposure in that
//     phase (negative before it: the pre-period).
//   - tracking_state: compaction's watermarks (see Compact) and, on
//     SQLite, the next event seq.
//
// Times are stored as Unix microseconds (BIGINT) on both engines: integer
// arithmetic on them is the same everywhere and costs nothing to parse.

// migrateTracking creates the tracking tables. It may run again over its
// own tables (a test takes the schema's version back below it), so it
// creates only what is missing.
func migrateTracking(tx *gorm.DB, d *dialect) error {
	if trackingSQLite(d) {
		return exec(tx,
			`CREATE TABLE IF NOT EXISTS tracking_exposures (
				seq INTEGER PRIMARY KEY,
				experiment TEXT NOT NULL,
				phase INTEGER NOT NULL,
				unit_attr TEXT NOT NULL,
				unit TEXT NOT NULL,
				arm TEXT NOT NULL,
				flag TEXT NOT NULL DEFAULT '',
				first_at INTEGER NOT NULL,
				multi_arm INTEGER NOT NULL DEFAULT 0,
				UNIQUE (experiment, phase, unit_attr, unit)
			)`,
			`CREATE INDEX IF NOT EXISTS tracking_exposures_unit ON tracking_exposures (unit, unit_attr)`,
			`CREATE TABLE IF NOT EXISTS tracking_events (
				at INTEGER NOT NULL,
				event_id TEXT NOT NULL,
				attr TEXT NOT NULL,
				unit TEXT NOT NULL,
				seq INTEGER NOT NULL,
				name TEXT NOT NULL,
				value REAL NOT NULL,
				PRIMARY KEY (at, event_id, attr)
			) WITHOUT ROWID`,
			`CREATE INDEX IF NOT EXISTS tracking_events_seq ON tracking_events (seq)`,
			`CREATE TABLE IF NOT EXISTS tracking_unit_days (
				unit TEXT NOT NULL,
				attr TEXT NOT NULL,
				event TEXT NOT NULL,
				day INTEGER NOT NULL,
				n INTEGER NOT NULL,
				total REAL NOT NULL,
				total_sq REAL NOT NULL,
				PRIMARY KEY (unit, attr, event, day)
			) WITHOUT ROWID`,
			`CREATE TABLE IF NOT EXISTS tracking_totals (
				experiment TEXT NOT NULL,
				phase INTEGER NOT NULL,
				unit_attr TEXT NOT NULL,
				unit TEXT NOT NULL,
				event TEXT NOT NULL,
				day INTEGER NOT NULL,
				n INTEGER NOT NULL,
				total REAL NOT NULL,
				total_sq REAL NOT NULL,
				PRIMARY KEY (experiment, phase, unit_attr, unit, event, day)
			) WITHOUT ROWID`,
			`CREATE TABLE IF NOT EXISTS tracking_state (
				id INTEGER PRIMARY KEY CHECK (id = 1),
				next_event_seq INTEGER NOT NULL,
				events_done INTEGER NOT NULL,
				exposures_done INTEGER NOT NULL
			)`,
			`INSERT INTO tracking_state (id, next_event_seq, events_done, exposures_done) VALUES (1, 1, 0, 0) ON CONFLICT DO NOTHING`,
		)
	}
	t := d.text
	return exec(tx,
		`CREATE TABLE IF NOT EXISTS tracking_exposures (
			seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			experiment `+t+` NOT NULL,
			phase INTEGER NOT NULL,
			unit_attr `+t+` NOT NULL,
			unit `+t+` NOT NULL,
			arm `+t+` NOT NULL,
			flag `+t+` NOT NULL DEFAULT '',
			first_at BIGINT NOT NULL,
			multi_arm INTEGER NOT NULL DEFAULT 0,
			UNIQUE (experiment, phase, unit_attr, unit)
		)`,
		`CREATE INDEX IF NOT EXISTS tracking_exposures_unit ON tracking_exposures (unit, unit_attr)`,
		`CREATE TABLE IF NOT EXISTS tracking_events (
			seq BIGINT GENERATED ALWAYS AS IDENTITY,
			at BIGINT NOT NULL,
			event_id `+t+` NOT NULL,
			attr `+t+` NOT NULL,
			unit `+t+` NOT NULL,
			name `+t+` NOT NULL,
			value DOUBLE PRECISION NOT NULL,
			PRIMARY KEY (at, event_id, attr)
		)`,
		`CREATE INDEX IF NOT EXISTS tracking_events_seq ON tracking_events (seq)`,
		`CREATE TABLE IF NOT EXISTS tracking_unit_days (
			unit `+t+` NOT NULL,
			attr `+t+` NOT NULL,
			event `+t+` NOT NULL,
			day INTEGER NOT NULL,
			n BIGINT NOT NULL,
			total DOUBLE PRECISION NOT NULL,
			total_sq DOUBLE PRECISION NOT NULL,
			PRIMARY KEY (unit, attr, event, day)
		)`,
		`CREATE TABLE IF NOT EXISTS tracking_totals (
			experiment `+t+` NOT NULL,
			phase INTEGER NOT NULL,
			unit_attr `+t+` NOT NULL,
			unit `+t+` NOT NULL,
			event `+t+` NOT NULL,
			day INTEGER NOT NULL,
			n BIGINT NOT NULL,
			total DOUBLE PRECISION NOT NULL,
			total_sq DOUBLE PRECISION NOT NULL,
			PRIMARY KEY (experiment, phase, unit_attr, unit, event, day)
		)`,
		`CREATE TABLE IF NOT EXISTS tracking_state (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			next_event_seq BIGINT NOT NULL,
			events_done BIGINT NOT NULL,
			exposures_done BIGINT NOT NULL
		)`,
		`INSERT INTO tracking_state (id, next_event_seq, events_done, exposures_done) VALUES (1, 1, 0, 0) ON CONFLICT DO NOTHING`,
	)
}

// trackingSQLite reports whether d is SQLite's dialect.
func trackingSQLite(d *dialect) bool { return d.timestamp == sqliteDialect.timestamp }

// trackingLock is the advisory lock that orders tracking writes and
// compaction on Postgres ("ramptrak"): every write transaction holds it
// shared; compaction takes it exclusively for the instant it reads the
// highest seqs, so that every row numbered up to them is committed (a
// sequence hands out numbers in one order and transactions commit in
// another).
const trackingLock = 0x72616d7074726b6b

// Day is the length of the periods per-unit totals are kept by.
const Day = 24 * time.Hour

const dayMicros = int64(Day / time.Microsecond)

// ErrInvalidTracking is matched by the refusal of an exposure or event
// that cannot be stored (an empty key, a value that is not a finite
// number, a string that is not UTF-8). It is ramp's invalid kind.
var ErrInvalidTracking = ramp.ErrInvalid

// invalidTracking returns an error matching ramp.ErrInvalid.
func invalidTracking(format string, args ...any) error {
	return ramp.Errorf(ramp.KindInvalid, format, args...)
}

// ValidateExposure checks what the store needs of an exposure: an
// experiment, a phase of at least 1, a unit attribute, a unit and an arm,
// all valid UTF-8 without NUL, and a time.
func ValidateExposure(x *tracking.Exposure) error {
	switch {
	case x.Phase < 1:
		return invalidTracking("exposure of %q: phase %d: phases count from 1", x.Experiment, x.Phase)
	case x.Time.IsZero():
		return invalidTracking("exposure of %q: no time", x.Experiment)
	}
	for _, f := range [...]struct{ name, v string }{
		{"experiment", x.Experiment}, {"unit attribute", x.UnitAttr}, {"unit", x.Unit}, {"arm", x.Arm},
	} {
		if err := validText(f.name, f.v, true); err != nil {
			return invalidTracking("exposure of %q: %v", x.Experiment, err)
		}
	}
	if err := validText("flag", x.Flag, false); err != nil {
		return invalidTracking("exposure of %q: %v", x.Experiment, err)
	}
	return nil
}

// ValidateEvent checks what the store needs of an event: an id, a name, at
// least one unit, a finite value and a time; strings valid UTF-8 without
// NUL.
func ValidateEvent(e *tracking.Event) error {
	if err := validText("id", e.ID, true); err != nil {
		return invalidTracking("event: %v", err)
	}
	if err := validText("name", e.Name, true); err != nil {
		return invalidTracking("event %q: %v", e.ID, err)
	}
	switch {
	case math.IsNaN(e.Value) || math.IsInf(e.Value, 0):
		return invalidTracking("event %q: value %v is not a finite number", e.ID, e.Value)
	case e.Time.IsZero():
		return invalidTracking("event %q: no time", e.ID)
	case len(e.Units) == 0:
		return invalidTracking("event %q: no units", e.ID)
	}
	for attr, unit := range e.Units {
		if err := validText("unit attribute", attr, true); err != nil {
			return invalidTracking("event %q: %v", e.ID, err)
		}
		if err := validText("unit of "+attr, unit, true); err != nil {
			return invalidTracking("event %q: %v", e.ID, err)
		}
	}
	return nil
}

// maxTrackingText is the longest key, unit or name stored, in bytes.
const maxTrackingText = 1024

func validText(what, s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("%s is empty", what)
	case len(s) > maxTrackingText:
		return fmt.Errorf("%s is longer than %d bytes", what, maxTrackingText)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("%s contains a NUL byte", what)
		}
	}
	return nil
}

// micros returns t as Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// exposureKey identifies an exposure row.
type exposureKey struct {
	experiment string
	phase      int
	attr, unit string
}

// exposureRow is an exposure as written: the batch's first of its key,
// with multi set when the batch itself has the key in two arms.
type exposureRow struct {
	x     tracking.Exposure
	multi bool
}

// foldExposures validates a batch and folds it to one row per key: the
// earliest exposure of each, multi set when the batch saw another arm.
// (Postgres refuses an upsert that touches one row twice.)
func foldExposures(batch []tracking.Exposure) ([]exposureRow, error) {
	idx := make(map[exposureKey]int, len(batch))
	rows := make([]exposureRow, 0, len(batch))
	for i := range batch {
		x := &batch[i]
		if err := ValidateExposure(x); err != nil {
			return nil, err
		}
		k := exposureKey{x.Experiment, x.Phase, x.UnitAttr, x.Unit}
		j, ok := idx[k]
		if !ok {
			idx[k] = len(rows)
			rows = append(rows, exposureRow{x: *x})
			continue
		}
		r := &rows[j]
		if r.x.Arm != x.Arm {
			r.multi = true
		}
		if x.Time.Before(r.x.Time) {
			r.x.Time, r.x.Arm = x.Time, x.Arm
		}
	}
	return rows, nil
}

// WriteExposures stores a batch of exposures in one transaction (the
// tracking.Sink method). An exposure whose (experiment, phase, unit
// attribute, unit) is stored already changes nothing, unless its arm
// differs: then the stored row is flagged multi-arm, once. The first
// exposure stored keeps its arm and time. An invalid exposure rejects the
// batch with an error matching ramp.ErrInvalid.
func (s *Store) WriteExposures(ctx context.Context, batch []tracking.Exposure) error {
	if len(batch) == 0 {
		return nil
	}
	rows, err := foldExposures(batch)
	if err != nil {
		return err
	}
	if !trackingSQLite(s.d) {
		return s.wrap("write exposures", s.retry(ctx, func() error { return s.pgWriteExposures(ctx, rows) }))
	}
	const q = `INSERT INTO tracking_exposures (experiment, phase, unit_attr, unit, arm, flag, first_at, multi_arm)
		SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7 FROM json_each(?) WHERE true
		ON CONFLICT (experiment, phase, unit_attr, unit) DO UPDATE SET multi_arm = 1
		WHERE tracking_exposures.multi_arm = 0 AND (tracking_exposures.arm <> excluded.arm OR excluded.multi_arm = 1)`
	return s.wrap("write exposures", s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for start := 0; start < len(rows); start += sqliteBatchRows {
			chunk := rows[start:min(start+sqliteBatchRows, len(rows))]
			buf := make([]byte, 0, 128*len(chunk))
			buf = append(buf, '[')
			for i, r := range chunk {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, '[')
				buf = appendJSONString(buf, r.x.Experiment)
				buf = append(buf, ',')
				buf = strconv.AppendInt(buf, int64(r.x.Phase), 10)
				buf = append(buf, ',')
				buf = appendJSONString(buf, r.x.UnitAttr)
				buf = append(buf, ',')
				buf = appendJSONString(buf, r.x.Unit)
				buf = append(buf, ',')
				buf = appendJSONString(buf, r.x.Arm)
				buf = append(buf, ',')
				buf = appendJSONString(buf, r.x.Flag)
				buf = append(buf, ',')
				buf = strconv.AppendInt(buf, micros(r.x.Time), 10)
				buf = append(buf, ',')
				buf = strconv.AppendBool(buf, r.multi)
				buf = append(buf, ']')
			}
			buf = append(buf, ']')
			if err := tx.Exec(q, string(buf)).Error; err != nil {
				return err
			}
		}
		return nil
	}))
}

// sqliteBatchRows is how many rows one INSERT … SELECT FROM json_each
// statement carries: one parameter for many rows, which costs far less
// than binding each value.
const sqliteBatchRows = 5000

// WriteEvents stores a batch of events in one transaction (the
// tracking.Sink method): one row per event and unit attribute. A row whose
// (unit, attribute, event id) is stored already is skipped, so a retried
// batch is stored once. An invalid event rejects the batch with an error
// matching ramp.ErrInvalid.
func (s *Store) WriteEvents(ctx context.Context, batch []tracking.Event) error {
	if len(batch) == 0 {
		return nil
	}
	n := 0
	for i := range batch {
		if err := ValidateEvent(&batch[i]); err != nil {
			return err
		}
		n += len(batch[i].Units)
	}
	if !trackingSQLite(s.d) {
		return s.wrap("write events", s.retry(ctx, func() error { return s.pgWriteEvents(ctx, batch, n) }))
	}
	return s.wrap("write events", s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return sqliteInsertEvents(tx, func(yield func(id, attr, unit, name string, value float64, at int64) bool) {
			for i := range batch {
				e := &batch[i]
				for attr, unit := range e.Units {
					if !yield(e.ID, attr, unit, e.Name, e.Value, micros(e.Time)) {
						return
					}
				}
			}
		}, n)
	}))
}

// eventRows yields event rows: id, attribute, unit, name, value, time.
type eventRows func(yield func(id, attr, unit, name string, value float64, at int64) bool)

// sqliteInsertEvents inserts n rows in tx, numbering them from the state's
// next_event_seq, in statements of sqliteBatchRows.
func sqliteInsertEvents(tx *gorm.DB, rows eventRows, n int) error {
	var next int64
	if err := tx.Raw("UPDATE tracking_state SET next_event_seq = next_event_seq + ? WHERE id = 1 RETURNING next_event_seq - ?", n, n).Scan(&next).Error; err != nil {
		return fmt.Errorf("number events: %w", err)
	}
	const q = `INSERT INTO tracking_events (unit, attr, event_id, seq, name, value, at)
		SELECT value->>2, value->>1, value->>0, ? + key, value->>3, value->>4, value->>5 FROM json_each(?) WHERE true
		ON CONFLICT DO NOTHING`
	buf := make([]byte, 0, 1<<20)
	k := 0
	flush := func() error {
		if k == 0 {
			return nil
		}
		buf = append(buf, ']')
		err := tx.Exec(q, next, string(buf)).Error
		next += int64(k)
		buf, k = buf[:0], 0
		return err
	}
	var err error
	rows(func(id, attr, unit, name string, value float64, at int64) bool {
		if k == 0 {
			buf = append(buf, '[')
		} else {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		buf = appendJSONString(buf, id)
		buf = append(buf, ',')
		buf = appendJSONString(buf, attr)
		buf = append(buf, ',')
		buf = appendJSONString(buf, unit)
		buf = append(buf, ',')
		buf = appendJSONString(buf, name)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, value, 'g', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, at, 10)
		buf = append(buf, ']')
		if k++; k == sqliteBatchRows {
			err = flush()
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// pgTx runs fn in a transaction on a pgx connection of the Store's pool,
// holding the tracking lock shared.
func (s *Store) pgTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	sqlDB, err := s.w.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("not a pgx connection (%T)", dc)
		}
		return pgx.BeginFunc(ctx, c.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock_shared($1)", int64(trackingLock)); err != nil {
				return err
			}
			return fn(tx)
		})
	})
}

// pgWriteExposures upserts rows with one statement over arrays.
func (s *Store) pgWriteExposures(ctx context.Context, rows []exposureRow) error {
	n := len(rows)
	exp, attr, unit, arm, flag := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	phase, multi := make([]int32, n), make([]int32, n)
	at := make([]int64, n)
	for i, r := range rows {
		exp[i], phase[i], attr[i], unit[i], arm[i], flag[i], at[i] = r.x.Experiment, int32(r.x.Phase), r.x.UnitAttr, r.x.Unit, r.x.Arm, r.x.Flag, micros(r.x.Time)
		if r.multi {
			multi[i] = 1
		}
	}
	return s.pgTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tracking_exposures (experiment, phase, unit_attr, unit, arm, flag, first_at, multi_arm)
			SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::int[])
			ON CONFLICT (experiment, phase, unit_attr, unit) DO UPDATE SET multi_arm = 1
			WHERE tracking_exposures.multi_arm = 0 AND (tracking_exposures.arm <> excluded.arm OR excluded.multi_arm = 1)`,
			exp, phase, attr, unit, arm, flag, at, multi)
		return err
	})
}

// pgWriteEvents inserts the n rows of batch with one statement over arrays.
func (s *Store) pgWriteEvents(ctx context.Context, batch []tracking.Event, n int) error {
	cols := newPGEventCols(n)
	for i := range batch {
		e := &batch[i]
		for attr, unit := range e.Units {
			cols.add(e.ID, attr, unit, e.Name, e.Value, micros(e.Time))
		}
	}
	return s.pgTx(ctx, func(tx pgx.Tx) error { return cols.insert(ctx, tx, "unnest") })
}

// pgEventCols are event rows as columns, for unnest or COPY.
type pgEventCols struct {
	id, attr, unit, name []string
	value                []float64
	at                   []int64
}

func newPGEventCols(n int) *pgEventCols {
	return &pgEventCols{
		id: make([]string, 0, n), attr: make([]string, 0, n), unit: make([]string, 0, n), name: make([]string, 0, n),
		value: make([]float64, 0, n), at: make([]int64, 0, n),
	}
}

func (c *pgEventCols) add(id, attr, unit, name string, value float64, at int64) {
	c.id, c.attr, c.unit, c.name = append(c.id, id), append(c.attr, attr), append(c.unit, unit), append(c.name, name)
	c.value, c.at = append(c.value, value), append(c.at, at)
}

func (c *pgEventCols) insert(ctx context.Context, tx pgx.Tx, _ string) error {
	_, err := tx.Exec(ctx, `INSERT INTO tracking_events (unit, attr, event_id, name, value, at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::bigint[])
		ON CONFLICT DO NOTHING`, c.unit, c.attr, c.id, c.name, c.value, c.at)
	return err
}

// ExposureCount is how many units of one phase and arm are exposed.
type ExposureCount struct {
	Phase int    `json:"phase"`
	Arm   string `json:"arm"`
	// Units counts every unit whose first exposure was to the arm;
	// MultiArm counts those of them later seen in another arm too (which
	// the report excludes).
	Units    int64 `json:"units"`
	MultiArm int64 `json:"multiArm"`
}

// ExposureCounts returns an experiment's exposed units per phase and arm
// (by first arm), in phase and arm order; none for an experiment with no
// exposures.
func (s *Store) ExposureCounts(ctx context.Context, experiment string) ([]ExposureCount, error) {
	var out []ExposureCount
	err := s.read(ctx, "count exposures", func(db *gorm.DB) error {
		return db.Raw(`SELECT phase, arm, COUNT(*) AS units, COALESCE(SUM(multi_arm), 0) AS multi_arm
			FROM tracking_exposures WHERE experiment = ? GROUP BY phase, arm ORDER BY phase, arm`, experiment).Scan(&out).Error
	})
	return out, err
}

// TrackingStats describes the tracking tables.
type TrackingStats struct {
	Exposures int64 `json:"exposures"` // exposure rows (units per experiment phase)
	MultiArm  int64 `json:"multiArm"`  // of which seen in more than one arm
	// EventRows counts raw event rows (one per event and unit attribute);
	// Pending those not compacted yet.
	EventRows int64 `json:"eventRows"`
	Pending   int64 `json:"pending"`
	// Totals counts per-unit total rows.
	Totals int64 `json:"totals"`
	// EventsDone and ExposuresDone are compaction's watermarks: the
	// highest event and exposure seqs whose pairs are in the totals.
	EventsDone    int64 `json:"eventsCompactedTo"`
	ExposuresDone int64 `json:"exposuresCompactedTo"`
}

// TrackingStats counts the tracking tables' rows. It reads whole indexes:
// seconds for tens of millions of rows.
func (s *Store) TrackingStats(ctx context.Context) (TrackingStats, error) {
	var st TrackingStats
	err := s.read(ctx, "tracking stats", func(db *gorm.DB) error {
		if err := db.Raw("SELECT events_done, exposures_done FROM tracking_state WHERE id = 1").Row().Scan(&st.EventsDone, &st.ExposuresDone); err != nil {
			return err
		}
		return db.Raw(`SELECT
			(SELECT COUNT(*) FROM tracking_exposures),
			(SELECT COALESCE(SUM(multi_arm), 0) FROM tracking_exposures),
			(SELECT COUNT(*) FROM tracking_events),
			(SELECT COUNT(*) FROM tracking_events WHERE seq > ?),
			(SELECT COUNT(*) FROM tracking_totals)`, st.EventsDone).Row().
			Scan(&st.Exposures, &st.MultiArm, &st.EventRows, &st.Pending, &st.Totals)
	})
	return st, err
}

// UnitTotal is one unit's total for one event on one day, with the arm the
// unit was first exposed to.
type UnitTotal struct {
	UnitAttr string
	Unit     string
	Arm      string
	MultiArm bool
	Event    string
	// Day is the UTC day of the events minus the UTC day of the unit's
	// first exposure in the phase: 0 for the day of the exposure, negative
	// before it (the pre-period).
	Day   int
	N     int64
	Sum   float64
	SumSq float64 // Σ value² of the single events
}

// UnitTotals calls fn with each per-unit total of an experiment's phase,
// ordered by unit, event and day, streaming from the database (memory does
// not grow with the rows). fn's error stops the reading and is returned.
func (s *Store) UnitTotals(ctx context.Context, experiment string, phase int, fn func(UnitTotal) error) error {
	return s.read(ctx, "read unit totals", func(db *gorm.DB) error {
		rows, err := db.Raw(`SELECT t.unit_attr, t.unit, x.arm, x.multi_arm, t.event, t.day, t.n, t.total, t.total_sq
			FROM tracking_totals t JOIN tracking_exposures x
				ON x.experiment = t.experiment AND x.phase = t.phase AND x.unit_attr = t.unit_attr AND x.unit = t.unit
			WHERE t.experiment = ? AND t.phase = ?
			ORDER BY t.unit_attr, t.unit, t.event, t.day`, experiment, phase).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var u UnitTotal
			var multi int
			if err := rows.Scan(&u.UnitAttr, &u.Unit, &u.Arm, &multi, &u.Event, &u.Day, &u.N, &u.Sum, &u.SumSq); err != nil {
				return err
			}
			u.MultiArm = multi != 0
			if err := fn(u); err != nil {
				return &callbackError{err}
			}
		}
		return rows.Err()
	})
}

// callbackError carries a caller's error out of a read unchanged.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// scanInt64 runs a query returning one integer.
func scanInt64(db *gorm.DB, q string, args ...any) (int64, error) {
	var v sql.NullInt64
	err := db.Raw(q, args...).Row().Scan(&v)
	return v.Int64, err
}

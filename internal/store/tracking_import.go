package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/ramp-flags/ramp/tracking"
)

// ImportedEvent is one row of an events file: a unit (matched against
// whatever each experiment buckets by), an event name, a value and a time.
type ImportedEvent struct {
	Line  int // the row's line in the file, from 1
	Unit  string
	Name  string
	Value float64
	Time  time.Time
}

// EventImportResult is what an events import did.
type EventImportResult struct {
	Rows       int64 `json:"rows"`       // rows read
	Stored     int64 `json:"stored"`     // rows stored
	Duplicates int64 `json:"duplicates"` // rows stored already (by an earlier import of the same rows)
}

// ImportedEventID returns the id an imported row is stored under: a hash
// of its unit, name, value and time, and its ordinal among the identical
// rows of its file (1 for the first). Importing a file twice therefore
// stores its rows once, and a file that repeats a row stores each repeat.
// ImportEvents computes the same ids in the database.
func ImportedEventID(e ImportedEvent, ordinal int) string {
	return "csv:" + importHash(e) + ":" + strconv.Itoa(ordinal)
}

// importHash is the hex of the first 16 bytes of the SHA-256 of the row's
// fields, NUL-separated (validation refuses NUL in them); the value is
// written in Go's shortest 'g' form, the time in Unix microseconds.
func importHash(e ImportedEvent) string {
	h := sha256.New()
	buf := make([]byte, 0, 128)
	buf = append(buf, e.Unit...)
	buf = append(buf, 0)
	buf = append(buf, e.Name...)
	buf = append(buf, 0)
	buf = strconv.AppendFloat(buf, e.Value, 'g', -1, 64)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, micros(e.Time), 10)
	h.Write(buf)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// validateImported checks a row as ValidateEvent checks an event.
func validateImported(r *ImportedEvent) error {
	e := tracking.Event{ID: "x", Name: r.Name, Value: r.Value, Time: r.Time, Units: map[string]string{tracking.AnyUnit: r.Unit}}
	return ValidateEvent(&e)
}

// ImportEvents stores the rows next returns (io.EOF after the last) as
// events of unit attribute tracking.AnyUnit, all or nothing. Rows are
// staged first in a temporary table on a connection of the import's own,
// which locks nothing, however slowly they come; then one transaction
// numbers them and inserts those not stored already (see
// ImportedEventID). An error from next, or an invalid row, leaves the
// database as it was. Memory does not grow with the rows.
func (s *Store) ImportEvents(ctx context.Context, next func() (ImportedEvent, error)) (EventImportResult, error) {
	var res EventImportResult
	var err error
	if trackingSQLite(s.d) {
		res, err = s.sqliteImportEvents(ctx, next)
	} else {
		res, err = s.pgImportEvents(ctx, next)
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	var cb *callbackError
	if errors.As(err, &cb) {
		return EventImportResult{}, cb.err
	}
	if err != nil {
		return EventImportResult{}, s.wrap("import events", err)
	}
	return res, nil
}

// importMerge inserts the staged rows: base is the seq before the first;
// the event id's ordinal counts identical rows in file order. Rows go in
// in key order (by time), which is far cheaper for a large file than file
// order.
// The units are {"*": unit} (tracking.AnyUnit), made by the database:
// %s is json_object('*', unit) or json_build_object('*', unit)::text.
const importMerge = `INSERT INTO tracking_events (units, event_id, %s name, value, at)
	SELECT %s, 'csv:' || h || ':' || CAST(ROW_NUMBER() OVER (PARTITION BY h ORDER BY line) AS TEXT), %s name, value, at
	FROM tracking_import WHERE true ORDER BY at
	ON CONFLICT DO NOTHING`

func (s *Store) sqliteImportEvents(ctx context.Context, next func() (ImportedEvent, error)) (EventImportResult, error) {
	var res EventImportResult
	pool, done, err := s.d.importPool()
	if err != nil {
		return res, err
	}
	defer done()
	err = pool.WithContext(ctx).Connection(func(cdb *gorm.DB) error {
		conn, ok := cdb.Statement.ConnPool.(*sql.Conn)
		if !ok {
			return fmt.Errorf("no dedicated connection (have %T)", cdb.Statement.ConnPool)
		}
		defer func() { _ = conn.Raw(func(any) error { return driver.ErrBadConn }) }()
		db := cdb.Session(&gorm.Session{NewDB: true})
		if err := exec(db,
			`DROP TABLE IF EXISTS temp.tracking_import`,
			`CREATE TEMP TABLE tracking_import (line INTEGER NOT NULL, h TEXT NOT NULL, unit TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, at INTEGER NOT NULL)`,
		); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		const q = `INSERT INTO tracking_import (line, h, unit, name, value, at)
			SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 FROM json_each(?)`
		buf := make([]byte, 0, 1<<20)
		k := 0
		flush := func() error {
			if k == 0 {
				return nil
			}
			buf = append(buf, ']')
			err := db.Exec(q, string(buf)).Error
			buf, k = buf[:0], 0
			return err
		}
		for {
			r, err := next()
			if errors.Is(err, errEOF) {
				break
			}
			if err != nil {
				return &callbackError{err}
			}
			if err := validateImported(&r); err != nil {
				return &callbackError{fmt.Errorf("line %d: %w", r.Line, err)}
			}
			res.Rows++
			if k == 0 {
				buf = append(buf, '[')
			} else {
				buf = append(buf, ',')
			}
			buf = append(buf, '[')
			buf = strconv.AppendInt(buf, int64(r.Line), 10)
			buf = append(buf, ',', '"')
			buf = append(buf, importHash(r)...)
			buf = append(buf, '"', ',')
			buf = appendJSONString(buf, r.Unit)
			buf = append(buf, ',')
			buf = appendJSONString(buf, r.Name)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, r.Value, 'g', -1, 64)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, micros(r.Time), 10)
			buf = append(buf, ']')
			if k++; k == sqliteBatchRows {
				if err := flush(); err != nil {
					return fmt.Errorf("stage rows: %w", err)
				}
			}
		}
		if err := flush(); err != nil {
			return fmt.Errorf("stage rows: %w", err)
		}
		if res.Rows == 0 {
			return nil
		}
		return s.retry(ctx, func() error {
			return db.Transaction(func(tx *gorm.DB) error {
				var base int64
				if err := tx.Exec(ensureTrackingState).Error; err != nil {
					return fmt.Errorf("number events: %w", err)
				}
				if err := tx.Raw("UPDATE tracking_state SET next_event_seq = next_event_seq + ? WHERE id = 1 RETURNING next_event_seq - ? - 1", res.Rows, res.Rows).Scan(&base).Error; err != nil {
					return fmt.Errorf("number events: %w", err)
				}
				r := tx.Exec(fmt.Sprintf(importMerge, "id,", "json_object('*', unit)", "? + ROW_NUMBER() OVER (ORDER BY line),"), base)
				if r.Error != nil {
					return fmt.Errorf("merge: %w", r.Error)
				}
				res.Stored = r.RowsAffected
				return nil
			})
		})
	})
	res.Duplicates = res.Rows - res.Stored
	return res, err
}

func (s *Store) pgImportEvents(ctx context.Context, next func() (ImportedEvent, error)) (EventImportResult, error) {
	var res EventImportResult
	sqlDB, err := s.w.DB()
	if err != nil {
		return res, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("not a pgx connection (%T)", dc)
		}
		c := sc.Conn()
		// ON COMMIT DROP would drop it after the COPY; the connection is
		// reused by the pool, so drop it at the end.
		if _, err := c.Exec(ctx, `DROP TABLE IF EXISTS pg_temp.tracking_import;
			CREATE TEMP TABLE tracking_import (line BIGINT NOT NULL, h TEXT NOT NULL, unit TEXT COLLATE "C" NOT NULL, name TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		defer func() { _, _ = c.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS pg_temp.tracking_import") }()
		src := &importSource{next: next, res: &res}
		if _, err := c.CopyFrom(ctx, pgx.Identifier{"tracking_import"}, []string{"line", "h", "unit", "name", "value", "at"}, src); err != nil {
			if src.err != nil {
				return src.err
			}
			return fmt.Errorf("stage rows: %w", err)
		}
		if res.Rows == 0 {
			return nil
		}
		return s.retry(ctx, func() error {
			return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock_shared($1)", int64(trackingLock)); err != nil {
					return err
				}
				tag, err := tx.Exec(ctx, fmt.Sprintf(importMerge, "", "json_build_object('*', unit)::text", ""))
				if err != nil {
					return fmt.Errorf("merge: %w", err)
				}
				res.Stored = tag.RowsAffected()
				return nil
			})
		})
	})
	res.Duplicates = res.Rows - res.Stored
	return res, err
}

// importSource feeds COPY from next, validating each row.
type importSource struct {
	next func() (ImportedEvent, error)
	res  *EventImportResult
	row  []any
	err  error
}

func (src *importSource) Next() bool {
	r, err := src.next()
	if errors.Is(err, errEOF) {
		return false
	}
	if err == nil {
		if verr := validateImported(&r); verr != nil {
			err = fmt.Errorf("line %d: %w", r.Line, verr)
		}
	}
	if err != nil {
		src.err = &callbackError{err}
		return false
	}
	src.res.Rows++
	src.row = []any{int64(r.Line), importHash(r), r.Unit, r.Name, r.Value, micros(r.Time)}
	return true
}

func (src *importSource) Values() ([]any, error) { return src.row, nil }
func (src *importSource) Err() error             { return src.err }

// errEOF is io.EOF, named here to say what ends an import's rows.
var errEOF = io.EOF

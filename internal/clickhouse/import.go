package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

// importBlock is how many staged rows one insert carries.
const importBlock = 100_000

// ImportEvents stores the rows next returns (io.EOF after the last) as
// events of unit attribute tracking.AnyUnit, each as the hash (h) of its
// time and the id the SQL store gives it (store.ImportedEventID):
// importing a file twice stores it once. Rows are staged in a table of the import's own first, and copied
// into the events in one INSERT … SELECT once the last is read and valid:
// an error from next, or an invalid row, leaves the events as they were.
// ramp's memory does not grow with the rows; ClickHouse's grows with the
// file's (it groups identical rows), not with the events stored.
func (s *Store) ImportEvents(ctx context.Context, next func() (store.ImportedEvent, error)) (store.EventImportResult, error) {
	var res store.EventImportResult
	var b [8]byte
	_, _ = rand.Read(b[:])
	staging := s.db + ".import_" + hex.EncodeToString(b[:])
	if err := s.conn.Exec(ctx, `CREATE TABLE `+staging+` (line UInt64, key String, unit String, name String, value Float64, at Int64) ENGINE = Log`); err != nil {
		return res, fmt.Errorf("import events into ClickHouse: staging table: %w", err)
	}
	defer func() { _ = s.conn.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+staging) }()

	var (
		lines       []uint64
		keys, units []string
		names       []string
		values      []float64
		ats         []int64
		stagingCols = "INSERT INTO " + staging + " (line, key, unit, name, value, at)"
	)
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		batch, err := s.conn.PrepareBatch(ctx, stagingCols)
		if err != nil {
			return err
		}
		for i, col := range []any{lines, keys, units, names, values, ats} {
			if err := batch.Column(i).Append(col); err != nil {
				_ = batch.Abort()
				return err
			}
		}
		if err := batch.Send(); err != nil {
			return err
		}
		lines, keys, units, names, values, ats = lines[:0], keys[:0], units[:0], names[:0], values[:0], ats[:0]
		return nil
	}
	for {
		r, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return store.EventImportResult{}, err
		}
		e := tracking.Event{ID: "x", Name: r.Name, Value: r.Value, Time: r.Time, Units: map[string]string{tracking.AnyUnit: r.Unit}}
		if err := store.ValidateEvent(&e); err != nil {
			return store.EventImportResult{}, fmt.Errorf("line %d: %w", r.Line, err)
		}
		id := store.ImportedEventID(r, 1) // csv:HASH:1
		res.Rows++
		lines = append(lines, uint64(r.Line))
		keys = append(keys, strings.TrimSuffix(strings.TrimPrefix(id, "csv:"), ":1"))
		units = append(units, r.Unit)
		names = append(names, r.Name)
		values = append(values, r.Value)
		ats = append(ats, r.Time.UnixMicro())
		if len(lines) == importBlock {
			if err := flush(); err != nil {
				return store.EventImportResult{}, fmt.Errorf("import events into ClickHouse: stage rows: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return store.EventImportResult{}, fmt.Errorf("import events into ClickHouse: stage rows: %w", err)
	}
	// Identical rows share a key (a hash of the row); their ordinals count
	// them from 1. An event is stored as the hash of its time and id (the
	// column h), not as its id.
	rows := `SELECT name, unit, at, value, cityHash64(at, concat('csv:', key, ':', toString(ord))) AS h FROM (
			SELECT key, any(name) AS name, any(unit) AS unit, any(at) AS at, any(value) AS value, groupArray(line) AS lines
			FROM ` + staging + ` GROUP BY key
		) ARRAY JOIN arrayEnumerate(lines) AS ord`
	// The rows stored already: the set compared against holds the stored
	// events that match a staged row's name, unit and time, not every
	// event ever imported.
	var dup uint64
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM (`+rows+`) WHERE (name, unit, at, h) IN (
			SELECT name, unit, at, h FROM `+s.db+`.events
			WHERE attr = '*' AND (name, unit, at) IN (SELECT name, unit, at FROM `+staging+`))`).Scan(&dup); err != nil {
		return store.EventImportResult{}, fmt.Errorf("import events into ClickHouse: find rows stored already: %w", err)
	}
	d := strconv.FormatInt(dayMicros, 10)
	if err := s.conn.Exec(ctx, `INSERT INTO `+s.db+`.`+eventColumns+`
		SELECT name, '*', unit, at, toInt32(intDiv(at, `+d+`) - (at % `+d+` < 0)), value, toUInt8(1), h FROM (`+rows+`)`); err != nil {
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return store.EventImportResult{}, fmt.Errorf("import events into ClickHouse: %w", err)
	}
	res.Duplicates = int64(dup)
	res.Stored = res.Rows - res.Duplicates
	return res, nil
}

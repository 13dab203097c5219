package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
)

// CopyResult is what Copy carried from one database to another.
type CopyResult struct {
	// From is the source's revision as read; To the target's after the
	// copy: a new epoch, and a version above the source's.
	From Revision `json:"from"`
	To   Revision `json:"to"`
	// Rows counts the rows copied, by table ("flags", "cohort_members",
	// "audit_log"…).
	Rows map[string]int64 `json:"rows"`
}

// copyTables are the tables Copy carries, in an order that satisfies their
// foreign keys. Tables the source has beyond these (added by a later
// migration) are copied after them, by name; schema_migrations and
// config_state are the target's own (Open made them), and config_state is
// set by Copy itself.
var copyTables = []string{"flags", "cohorts", "cohort_members", "rollouts", "api_keys", "cohort_imports", "audit_log"}

// notCopied are the bookkeeping tables each database keeps for itself:
// import leases (gen.go) included, since only listed member rows are
// copied; and dashboard sessions and one-time login codes (sessions.go),
// which log nobody into the copy.
var notCopied = []string{"schema_migrations", "config_state", "cohort_leases", "sessions", "login_codes"}

// copyQueries read the tables whose rows are not all copied as they are:
// of the member rows, only those listed (gen.go), without the marks of an
// import that has not finished.
var copyQueries = map[string]string{
	"cohort_members": `SELECT m.cohort_key, m.user_id, m.region, m.added_gen, NULL AS removed_gen
		FROM cohort_members m JOIN cohorts c ON c.key = m.cohort_key
		WHERE m.added_gen <= c.gen AND (m.removed_gen IS NULL OR m.removed_gen > c.gen)
		ORDER BY m.cohort_key, m.user_id`,
}

// copyParams bounds the parameters of one multi-row INSERT: under SQLite's
// 32,766 and Postgres' 65,535.
var copyParams = 30_000

// Copy copies everything src holds into dst, which must be empty (freshly
// created by Open): flags, cohorts and their member lists, rollout plans
// with their progress, API keys (as hashes: their secrets keep working),
// the record of imports and the audit log, every row as it is, ids
// included. Both stores must be at the same schema version, as two Stores
// opened by one ramp are.
//
// It reads src in one consistent read transaction and writes dst in one
// write transaction: killed before it returns, dst is left empty. Member
// lists stream from one to the other in batches, so memory stays flat
// whatever their size. dst then gets a new epoch and a configuration
// version above src's, so that providers holding src's configuration take
// dst's (see ramp.Revision), and a "db.copy" audit entry.
//
// A dst that holds anything is refused (ramp.ErrRefused), and nothing is
// written. src is only read: writes made to it after the copy's read
// began are not carried, so stop writers (and the rollout schedule) first.
func Copy(ctx context.Context, src, dst *Store, actor string) (CopyResult, error) {
	res := CopyResult{Rows: map[string]int64{}}
	err := src.read(ctx, "read source database", func(from *gorm.DB) error {
		var err error
		if res.From, err = configRevision(from); err != nil {
			return fmt.Errorf("read source version: %w", err)
		}
		tables, err := copyOrder(from)
		if err != nil {
			return err
		}
		return dst.write(ctx, "copy database", actor, func(w *writeTx) error {
			clear(res.Rows)
			if err := refuseNonEmpty(w.db); err != nil {
				return err
			}
			for _, t := range tables {
				n, err := copyTable(ctx, from, w.db, t)
				if err != nil {
					return fmt.Errorf("copy %s: %w", t, err)
				}
				res.Rows[t] = n
			}
			if w.db.Dialector.Name() == "postgres" {
				if err := resetIdentities(w.db, tables); err != nil {
					return err
				}
			}
			epoch, err := newEpoch()
			if err != nil {
				return err
			}
			// commit bumps the version once more: dst's is then above
			// src's.
			if err := w.db.Exec("UPDATE config_state SET epoch = ?, version = ? WHERE id = 1", epoch, res.From.Version).Error; err != nil {
				return fmt.Errorf("set epoch and version: %w", err)
			}
			res.To = Revision{Epoch: epoch, Version: res.From.Version + 1}
			return w.record("db.copy", "epoch", epoch,
				map[string]any{"epoch": res.From.Epoch, "version": res.From.Version},
				map[string]any{"epoch": epoch, "version": res.To.Version, "rows": res.Rows})
		})
	})
	if err != nil {
		return CopyResult{}, err
	}
	return res, nil
}

// tableNames lists a database's own tables (not temporary ones).
func tableNames(db *gorm.DB) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Dialector.Name() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	var names []string
	if err := db.Raw(q).Scan(&names).Error; err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// copyOrder returns the tables of the source to copy: copyTables first,
// then any others it has.
func copyOrder(db *gorm.DB) ([]string, error) {
	names, err := tableNames(db)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(copyTables)
	for _, n := range names {
		if !slices.Contains(out, n) && !slices.Contains(notCopied, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// refuseNonEmpty returns an error matching ramp.ErrRefused if any table of
// db but its bookkeeping has a row.
func refuseNonEmpty(db *gorm.DB) error {
	names, err := tableNames(db)
	if err != nil {
		return err
	}
	var full []string
	for _, n := range names {
		if slices.Contains(notCopied, n) {
			continue
		}
		var any int
		if err := db.Raw(fmt.Sprintf(`SELECT COUNT(*) FROM (SELECT 1 FROM %s LIMIT 1) AS t`, quoteIdent(n))).Scan(&any).Error; err != nil {
			return fmt.Errorf("check that %s is empty: %w", n, err)
		}
		if any > 0 {
			full = append(full, n)
		}
	}
	if len(full) > 0 {
		return ramp.Errorf(ramp.KindRefused, "the target database is not empty (%s hold rows): a copy goes only into a new, empty database", strings.Join(full, ", "))
	}
	return nil
}

// copyTable streams every row of table (or those copyQueries selects) from
// one database to the other in multi-row INSERTs, in the order of its first
// column (its key), and returns how many it copied.
func copyTable(ctx context.Context, from, to *gorm.DB, table string) (int64, error) {
	q, ok := copyQueries[table]
	if !ok {
		q = fmt.Sprintf("SELECT * FROM %s ORDER BY 1", quoteIdent(table))
	}
	rows, err := from.WithContext(ctx).Raw(q).Rows()
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
	}
	perInsert := max(1, copyParams/len(cols))
	head := fmt.Sprintf("INSERT INTO %s (%s) VALUES ", quoteIdent(table), strings.Join(quoted, ", "))
	postgres := to.Dialector.Name() == "postgres"
	// The statements go to the transaction's connection as they are,
	// without gorm's rewriting of each parameter.
	conn := to.Statement.ConnPool

	var (
		n      int64
		values = make([]any, 0, perInsert*len(cols))
		batch  int
		sqlBuf strings.Builder
	)
	flush := func() error {
		if batch == 0 {
			return nil
		}
		sqlBuf.Reset()
		sqlBuf.WriteString(head)
		p := 0
		for i := range batch {
			if i > 0 {
				sqlBuf.WriteByte(',')
			}
			sqlBuf.WriteByte('(')
			for j := range cols {
				if j > 0 {
					sqlBuf.WriteByte(',')
				}
				p++
				if postgres {
					fmt.Fprintf(&sqlBuf, "$%d", p)
				} else {
					sqlBuf.WriteByte('?')
				}
			}
			sqlBuf.WriteByte(')')
		}
		if _, err := conn.ExecContext(ctx, sqlBuf.String(), values...); err != nil {
			return err
		}
		n += int64(batch)
		values, batch = values[:0], 0
		return nil
	}
	scan := make([]any, len(cols))
	cells := make([]any, len(cols))
	for i := range scan {
		scan[i] = &cells[i]
	}
	for rows.Next() {
		if err := rows.Scan(scan...); err != nil {
			return n, err
		}
		for _, c := range cells {
			if b, ok := c.([]byte); ok {
				c = string(b) // drivers may reuse the bytes; TEXT columns take strings
			}
			values = append(values, c)
		}
		if batch++; batch == perInsert {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// resetIdentities moves the identity sequence of each copied table with an
// id column past its largest id, so that rows added later do not collide
// with copied ones (Postgres; SQLite's AUTOINCREMENT follows explicit ids
// by itself).
func resetIdentities(db *gorm.DB, tables []string) error {
	for _, t := range tables {
		var seq sql.NullString
		err := db.Raw(`SELECT pg_get_serial_sequence(table_name, column_name) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ? AND column_name = 'id'`, t).Row().Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !seq.Valid {
			continue // no id column, or not an identity
		}
		if err != nil {
			return fmt.Errorf("find the ids of %s: %w", t, err)
		}
		q := fmt.Sprintf(`SELECT setval(?, COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM %s`, quoteIdent(t))
		if err := db.Exec(q, seq.String).Error; err != nil {
			return fmt.Errorf("advance the ids of %s: %w", t, err)
		}
	}
	return nil
}

// quoteIdent quotes a table or column name for SQLite and Postgres alike.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp/cohorts"
)

// ImportMode says what an import does with a cohort's member list.
type ImportMode string

// Import modes.
const (
	// ImportReplace makes the file the whole member list: members it
	// lacks are removed, regions are taken from it (an empty one clears
	// a member's region).
	ImportReplace ImportMode = "replace"
	// ImportAdd adds the file's users; listed users keep their region
	// unless the file gives one.
	ImportAdd ImportMode = "add"
	// ImportRemove removes the file's users.
	ImportRemove ImportMode = "remove"
)

// ParseImportMode checks a mode name.
func ParseImportMode(s string) (ImportMode, error) {
	switch m := ImportMode(strings.ToLower(s)); m {
	case ImportReplace, ImportAdd, ImportRemove:
		return m, nil
	}
	return "", fmt.Errorf("unknown import mode %q: want replace, add or remove", s)
}

// importBatch is how many rows one INSERT into the staging table carries:
// at three parameters a row it stays under SQLite's limit of 32766
// parameters a statement (and Postgres' 65535).
const importBatch = 10000

// ImportOptions describe an import.
type ImportOptions struct {
	Mode ImportMode // default ImportReplace
	// DryRun computes the result and writes nothing.
	DryRun bool
	// File names the file imported, for the record ("-" for stdin).
	File string
	// Finish, when set, is called once the source is drained, before
	// anything is committed. It returns the file's SHA-256 (hex) and how
	// many rows were rejected, for the record; an error aborts the import.
	Finish func() (sha256 string, rejected int, err error)
	// Samples is how many of the added and removed ids to return, at most.
	Samples int
	// AllowEmpty lets a replace with no rows empty a cohort that has
	// members; without it such an import fails with ErrEmptyReplace (a file
	// that reads as empty is more often a wrong file than an intent).
	AllowEmpty bool
}

// ErrEmptyReplace is matched by the error of a replace import that read no
// rows for a cohort that has members, without ImportOptions.AllowEmpty.
var ErrEmptyReplace = errors.New("the file has no rows")

// ImportResult is what an import did (or, for a dry run, would do).
type ImportResult struct {
	Created    bool `json:"created"`    // the cohort did not exist and was created
	Rows       int  `json:"rows"`       // rows the source gave
	Duplicates int  `json:"duplicates"` // rows repeating an earlier row's id
	Added      int  `json:"added"`      // users not listed before
	Removed    int  `json:"removed"`    // users listed before and no longer
	Updated    int  `json:"updated"`    // users listed before whose region changed
	Unchanged  int  `json:"unchanged"`  // users of the file whose listing did not change
	Rejected   int  `json:"rejected"`   // as Finish reported
	Members    int  `json:"members"`    // the member count after the import
	// ByRegion counts the file's distinct users per region ("" unknown).
	ByRegion      map[cohorts.Region]int `json:"byRegion"`
	AddedSample   []string               `json:"addedSample,omitempty"`
	RemovedSample []string               `json:"removedSample,omitempty"`
	DryRun        bool                   `json:"dryRun"`
	Version       int64                  `json:"version"` // the cohort's version after the import
}

// ImportRecord is an import as the imports table and the audit log keep it.
type ImportRecord struct {
	Mode       ImportMode `json:"mode"`
	File       string     `json:"file"`
	SHA256     string     `json:"sha256,omitempty" gorm:"column:sha256"`
	Rows       int        `json:"rows"`
	Duplicates int        `json:"duplicates"`
	Rejected   int        `json:"rejected"`
	Added      int        `json:"added"`
	Removed    int        `json:"removed"`
	Updated    int        `json:"updated"`
	Members    int        `json:"members"`
}

type importRow struct {
	ID           int64 `gorm:"primaryKey"`
	At           time.Time
	Actor        string
	CohortKey    string
	ImportRecord `gorm:"embedded"`
}

func (importRow) TableName() string { return "cohort_imports" }

// migrate3 adds the record of imports.
func migrate3(tx *gorm.DB, d *dialect) error {
	return exec(tx,
		fmt.Sprintf(`CREATE TABLE cohort_imports (
			id %[1]s,
			at %[2]s NOT NULL,
			actor TEXT NOT NULL,
			cohort_key TEXT NOT NULL,
			mode TEXT NOT NULL,
			file TEXT NOT NULL,
			sha256 TEXT NOT NULL DEFAULT '',
			rows BIGINT NOT NULL,
			duplicates BIGINT NOT NULL,
			rejected BIGINT NOT NULL,
			added BIGINT NOT NULL,
			removed BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			members BIGINT NOT NULL
		)`, d.serial, d.timestamp),
		`CREATE INDEX cohort_imports_cohort ON cohort_imports (cohort_key, at)`,
	)
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// ImportMembers streams members from next (which returns io.EOF after the
// last) into the cohort's list in one transaction, creating the cohort if
// it does not exist (except to remove members from it: that returns a
// *NotFoundError). Whatever happens before it returns (an error from
// next, a crash, a killed process), the cohort keeps its previous members:
// rows go first to a staging table private to the transaction, and the
// member list changes only by set operations between the two, committed
// at once. Repeated ids count as duplicates; the last region given wins.
//
// Unless it is a dry run, the import is recorded in cohort_imports and in
// the audit log ("cohort.import"), and if the list changed the cohort's
// version is incremented. The source is read once: unlike other writes, an
// import is not retried when the database aborts it for contention. A dry
// run does all of the work, holding the write lock as an import does, and
// rolls it back.
func (s *Store) ImportMembers(ctx context.Context, cohortKey string, opt ImportOptions, next func() (cohorts.Member, error), actor string) (ImportResult, error) {
	if opt.Mode == "" {
		opt.Mode = ImportReplace
	}
	if _, err := ParseImportMode(string(opt.Mode)); err != nil {
		return ImportResult{}, err
	}
	if err := cohorts.ValidateKey(cohortKey); err != nil {
		return ImportResult{}, fmt.Errorf("import members: cohort %w", err)
	}
	if actor == "" {
		return ImportResult{}, fmt.Errorf("import members: actor is required")
	}
	var res ImportResult
	// The transaction runs on a connection held for it, which a dialect
	// that stages rows by other means than SQL statements (Postgres' COPY)
	// needs to reach: its writes must be the transaction's.
	err := s.w.WithContext(ctx).Connection(func(cdb *gorm.DB) error {
		conn, ok := cdb.Statement.ConnPool.(*sql.Conn)
		if !ok {
			return fmt.Errorf("import members: no dedicated connection (have %T)", cdb.Statement.ConnPool)
		}
		return cdb.Transaction(func(db *gorm.DB) error {
			w := &writeTx{db: db, now: s.now(), actor: actor, notify: s.d.notify}
			var err error
			if res, err = w.importMembers(ctx, s.d, conn, cohortKey, opt, next); err != nil {
				return err
			}
			if opt.DryRun {
				return errDryRun
			}
			return w.commit()
		})
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return ImportResult{}, s.wrap("import members", err)
	}
	return res, nil
}

func (w *writeTx) importMembers(ctx context.Context, d *dialect, conn *sql.Conn, key string, opt ImportOptions, next func() (cohorts.Member, error)) (ImportResult, error) {
	res := ImportResult{DryRun: opt.DryRun, ByRegion: map[cohorts.Region]int{}}
	c, err := w.lockCohort(key)
	if errors.Is(err, ErrNotFound) && opt.Mode != ImportRemove {
		row, err := encodeCohort(&cohorts.Cohort{Key: key})
		if err != nil {
			return res, err
		}
		row.Version, row.CreatedAt, row.UpdatedAt, row.UpdatedBy = 1, w.now, w.now, w.actor
		if err := w.db.Create(&row).Error; err != nil {
			return res, fmt.Errorf("create cohort %q: %w", key, err)
		}
		res.Created = true
		c = &lockedCohort{row: row, cohort: cohorts.Cohort{Key: key, Version: 1}}
	} else if err != nil {
		return res, err
	}
	before := c.cohort.MemberCount

	if err := exec(w.db, d.staging...); err != nil {
		return res, fmt.Errorf("create staging table: %w", err)
	}
	distinct, err := w.stage(ctx, d, conn, &stagingRows{next: next, res: &res})
	if err != nil {
		return res, err
	}
	res.Duplicates = res.Rows - distinct
	var sum string
	if opt.Finish != nil {
		if sum, res.Rejected, err = opt.Finish(); err != nil {
			return res, err
		}
	}
	if len(res.ByRegion) == 0 && distinct > 0 {
		var counts []struct {
			Region string
			N      int
		}
		if err := w.db.Raw("SELECT region, COUNT(*) AS n FROM import_staging GROUP BY region").Scan(&counts).Error; err != nil {
			return res, err
		}
		for _, c := range counts {
			res.ByRegion[cohorts.Region(c.Region)] = c.N
		}
	}
	if opt.Samples > 0 && opt.Mode != ImportRemove {
		if err := w.db.Raw(`SELECT s.user_id FROM import_staging s WHERE NOT EXISTS
			(SELECT 1 FROM cohort_members m WHERE m.cohort_key = ? AND m.user_id = s.user_id)
			ORDER BY s.user_id LIMIT ?`, key, opt.Samples).Scan(&res.AddedSample).Error; err != nil {
			return res, err
		}
	}
	if opt.Samples > 0 && opt.Mode != ImportAdd {
		cond := "NOT EXISTS"
		if opt.Mode == ImportRemove {
			cond = "EXISTS"
		}
		if err := w.db.Raw(`SELECT m.user_id FROM cohort_members m WHERE m.cohort_key = ? AND `+cond+`
			(SELECT 1 FROM import_staging s WHERE s.user_id = m.user_id)
			ORDER BY m.user_id LIMIT ?`, key, opt.Samples).Scan(&res.RemovedSample).Error; err != nil {
			return res, err
		}
	}

	// The set operations.
	upsert := func(where string) (int, error) {
		onConflict := `ON CONFLICT (cohort_key, user_id) DO UPDATE SET region = excluded.region WHERE ` + where
		if before == 0 {
			// Nothing to conflict with (the cohort is locked), and a plain
			// INSERT is about twice as fast on Postgres.
			onConflict = ""
		}
		r := w.db.Exec(`INSERT INTO cohort_members (cohort_key, user_id, region)
			SELECT ?, user_id, region FROM import_staging WHERE true ORDER BY user_id `+onConflict, key)
		return int(r.RowsAffected), r.Error
	}
	switch opt.Mode {
	case ImportReplace:
		if distinct == 0 && before > 0 && !opt.AllowEmpty {
			return res, fmt.Errorf("%w: a replace would remove all %d members of cohort %q; check the file (its header, delimiter and line ends), or pass --allow-empty to empty the cohort on purpose",
				ErrEmptyReplace, before, key)
		}
		r := w.db.Exec(`DELETE FROM cohort_members WHERE cohort_key = ? AND NOT EXISTS
			(SELECT 1 FROM import_staging s WHERE s.user_id = cohort_members.user_id)`, key)
		if r.Error != nil {
			return res, fmt.Errorf("remove members: %w", r.Error)
		}
		res.Removed = int(r.RowsAffected)
		kept := before - res.Removed
		res.Added = distinct - kept
		changed, err := upsert("excluded.region <> cohort_members.region")
		if err != nil {
			return res, fmt.Errorf("add members: %w", err)
		}
		res.Updated = changed - res.Added
		res.Unchanged = kept - res.Updated
		res.Members = distinct
	case ImportAdd:
		var added int64
		if err := w.db.Raw(`SELECT COUNT(*) FROM import_staging s WHERE NOT EXISTS
			(SELECT 1 FROM cohort_members m WHERE m.cohort_key = ? AND m.user_id = s.user_id)`, key).Scan(&added).Error; err != nil {
			return res, err
		}
		res.Added = int(added)
		changed, err := upsert("excluded.region <> '' AND excluded.region <> cohort_members.region")
		if err != nil {
			return res, fmt.Errorf("add members: %w", err)
		}
		res.Updated = changed - res.Added
		res.Unchanged = distinct - res.Added - res.Updated
		res.Members = before + res.Added
	case ImportRemove:
		r := w.db.Exec(`DELETE FROM cohort_members WHERE cohort_key = ? AND EXISTS
			(SELECT 1 FROM import_staging s WHERE s.user_id = cohort_members.user_id)`, key)
		if r.Error != nil {
			return res, fmt.Errorf("remove members: %w", r.Error)
		}
		res.Removed = int(r.RowsAffected)
		res.Unchanged = distinct - res.Removed
		res.Members = before - res.Removed
	}
	if err := exec(w.db, "DROP TABLE import_staging"); err != nil {
		return res, err
	}

	res.Version = c.row.Version
	rec := ImportRecord{Mode: opt.Mode, File: opt.File, SHA256: sum, Rows: res.Rows, Duplicates: res.Duplicates,
		Rejected: res.Rejected, Added: res.Added, Removed: res.Removed, Updated: res.Updated, Members: res.Members}
	if opt.DryRun {
		return res, nil
	}
	if err := w.db.Create(&importRow{At: w.now, Actor: w.actor, CohortKey: key, ImportRecord: rec}).Error; err != nil {
		return res, fmt.Errorf("record import: %w", err)
	}
	var beforeAudit any
	if !res.Created {
		beforeAudit = auditCohort(&c.cohort)
	}
	afterCohort := c.cohort
	afterCohort.MemberCount = res.Members
	after := importAudit{cohortAudit: auditCohort(&afterCohort), Import: rec}
	if !res.Created && res.Added+res.Removed+res.Updated > 0 {
		r := w.db.Model(&cohortRow{}).Where("key = ? AND version = ?", key, c.row.Version).
			Updates(map[string]any{"version": c.row.Version + 1, "updated_at": w.now, "updated_by": w.actor})
		if err := w.guard(r, "cohort", key, c.row.Version); err != nil {
			return res, err
		}
		res.Version++
	}
	return res, w.record("cohort.import", "cohort", key, beforeAudit, after)
}

// importAudit is a cohort as the audit log shows it after an import.
type importAudit struct {
	cohortAudit
	Import ImportRecord `json:"import"`
}

// stage streams the rows into import_staging (with the dialect's copy when
// it has one, else in multi-row INSERTs prepared once), indexes it, deletes
// the repeated ids but the last of each, and returns how many distinct ids
// it holds.
func (w *writeTx) stage(ctx context.Context, d *dialect, conn *sql.Conn, rows *stagingRows) (int, error) {
	var err error
	if d.copyStaging != nil {
		err = d.copyStaging(ctx, conn, rows)
	} else {
		err = w.insertStaging(ctx, d, rows)
	}
	if rows.Err() != nil {
		// The source's error, rather than that of the statement it aborted.
		return 0, rows.Err()
	}
	if err != nil {
		return 0, fmt.Errorf("stage members: %w", err)
	}
	if err := exec(w.db, d.stagingIndex...); err != nil {
		return 0, fmt.Errorf("index staged members: %w", err)
	}
	// COUNT(DISTINCT …) would build a temporary B-tree; GROUP BY walks
	// the index.
	var distinct int64
	if err := w.db.Raw("SELECT COUNT(*) FROM (SELECT user_id FROM import_staging GROUP BY user_id) ids").Scan(&distinct).Error; err != nil {
		return 0, err
	}
	if int(distinct) < rows.res.Rows {
		clear(rows.res.ByRegion) // counted again once the repeats are gone
		// Keep the last row of each repeated id.
		err := w.db.Exec(`DELETE FROM import_staging WHERE EXISTS (SELECT 1 FROM import_staging s2
			WHERE s2.user_id = import_staging.user_id AND s2.seq > import_staging.seq)`).Error
		if err != nil {
			return 0, fmt.Errorf("drop repeated ids: %w", err)
		}
	}
	return int(distinct), nil
}

// insertStaging appends the rows to import_staging in multi-row INSERTs
// of importBatch rows, the full one prepared once.
func (w *writeTx) insertStaging(ctx context.Context, d *dialect, rows *stagingRows) error {
	build := func(n int) string {
		var b strings.Builder
		b.WriteString("INSERT INTO import_staging (seq, user_id, region) VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "(%s,%s,%s)", d.param(3*i+1), d.param(3*i+2), d.param(3*i+3))
		}
		return b.String()
	}
	pool := w.db.Statement.ConnPool
	full, err := pool.PrepareContext(ctx, build(importBatch))
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer full.Close()

	args := make([]any, 0, 3*importBatch)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		var err error
		if len(args) == 3*importBatch {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = pool.ExecContext(ctx, build(len(args)/3), args...)
		}
		args = args[:0]
		return err
	}
	for rows.Next() {
		v, _ := rows.Values()
		if args = append(args, v...); len(args) == 3*importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if rows.Err() != nil {
		return rows.Err()
	}
	return flush()
}

// stagingRows reads an import's source for the staging table, one member
// at a time: it validates each, counts rows and regions in res, and gives
// the row's values (seq, user_id, region), seq counting rows from 1. Its
// methods are those of pgx.CopyFromSource. After the source ends or fails,
// Next returns false without calling it again, and Err tells which.
type stagingRows struct {
	next   func() (cohorts.Member, error)
	res    *ImportResult
	values [3]any
	done   bool
	err    error
}

func (r *stagingRows) Next() bool {
	if r.done {
		return false
	}
	m, err := r.next()
	if err == nil {
		r.res.Rows++
		err = r.set(m)
	}
	if err != nil {
		r.done = true
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
		return false
	}
	return true
}

// set validates m, the res.Rows-th row, and makes it the current row.
func (r *stagingRows) set(m cohorts.Member) error {
	n := r.res.Rows
	if err := cohorts.ValidateID(m.ID); err != nil {
		return fmt.Errorf("member %d: %w", n, err)
	}
	region := m.Region
	if region != "" {
		var err error
		if region, err = cohorts.ParseRegion(string(region)); err != nil {
			return fmt.Errorf("member %d (%q): %w", n, m.ID, err)
		}
	}
	r.res.ByRegion[region]++
	r.values = [3]any{int64(n), m.ID, string(region)}
	return nil
}

// Values returns the current row's values, valid until the next call of
// Next.
func (r *stagingRows) Values() ([]any, error) { return r.values[:], nil }

// Err returns the source's error, or the first invalid row's, once Next has
// returned false; nil after the source's io.EOF.
func (r *stagingRows) Err() error { return r.err }

// EachMember calls fn with each of the cohort's listed members in id order,
// reading them from one consistent snapshot as it goes (it does not load
// the list), or returns a *NotFoundError.
func (s *Store) EachMember(ctx context.Context, key string, fn func(cohorts.Member) error) error {
	return s.read(ctx, "read members", func(db *gorm.DB) error {
		if err := cohortExists(db, key); err != nil {
			return err
		}
		rows, err := db.Raw("SELECT user_id, region FROM cohort_members WHERE cohort_key = ? ORDER BY user_id", key).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, region string
			if err := rows.Scan(&id, &region); err != nil {
				return err
			}
			if err := fn(cohorts.Member{ID: id, Region: cohorts.Region(region)}); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Imports returns the cohort's recorded imports, oldest first.
func (s *Store) Imports(ctx context.Context, cohortKey string) ([]ImportRecord, error) {
	var rows []importRow
	err := s.r.WithContext(ctx).Where("cohort_key = ?", cohortKey).Order("id").Find(&rows).Error
	if err != nil {
		return nil, s.wrap("read imports", err)
	}
	out := make([]ImportRecord, len(rows))
	for i, r := range rows {
		out[i] = r.ImportRecord
	}
	return out, nil
}

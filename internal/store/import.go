package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"github.com/ramp-flags/ramp"
	"io"
	"maps"
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

// importBatch is how many rows one INSERT into the staging tables carries
// on SQLite (about 300 KB of JSON for the generator's ids).
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
	// MustExist refuses, with a *NotFoundError, to create the cohort when
	// it does not exist: checked in the transaction that writes, so that a
	// cohort deleted meanwhile is not created again. (A remove never
	// creates one.)
	MustExist bool
}

// ErrEmptyReplace is matched by the error of a replace import that read no
// rows for a cohort that has members, without ImportOptions.AllowEmpty.
var ErrEmptyReplace = &ramp.Error{Kind: ramp.KindInvalid, Msg: "the file has no rows"}

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

// migrateMembersByKey stores member lists in one B-tree keyed by cohort and
// id where the engine allows it (SQLite: WITHOUT ROWID), instead of a table
// and an index: an import's merge, which holds SQLite's write lock, writes
// half as many pages (a new 10M-member list: 5.5 → 3.5 s, measured with the
// sqlite3 shell), and the file is half the size. On a SQLite database with
// large lists, this migration rewrites them once, under the write lock
// (about 3 s for 10M members). Nothing changes on Postgres.
func migrateMembersByKey(tx *gorm.DB, d *dialect) error {
	return exec(tx, d.membersByKey...)
}

// ImportMembers streams members from next (which returns io.EOF after the
// last) into the cohort's list, creating the cohort if it does not exist
// (except to remove members from it: that returns a *NotFoundError).
// Repeated ids count as duplicates; the last region given wins.
//
// It works in three steps, on a database connection of its own:
//
//  1. Staging. The rows go to temporary tables private to that connection,
//     which take no lock on the database's tables: while the source is
//     read (for as long as a slow pipe takes), every other read and write,
//     the kill switch included, goes on as if there were no import.
//  2. Planning. In one read snapshot, the cohort's state is noted (its
//     version and its latest audit entry) and the change is computed: the
//     ids to remove and the rows to insert or update.
//  3. Merging. One write transaction checks that the cohort is as the plan
//     found it and applies the planned change: the write lock is held for
//     as long as the change takes to write, whatever the file's size or
//     speed (docs/BENCHMARKS.md has figures). If the cohort changed since
//     the plan (members added meanwhile, say), the change is computed
//     again inside that transaction against the members as they are then.
//     Either way the import takes effect as if it had run at once at its
//     commit: a replace leaves exactly the file's ids, whatever was added
//     or removed while it was staged.
//
// Whatever happens before the merge commits (an error from next, a crash,
// a killed process), the cohort keeps its previous members. Unless it is a
// dry run, the import is recorded in cohort_imports and in the audit log
// ("cohort.import"), and if the list changed the cohort's version is
// incremented. The source is read once, but since it is staged first, the
// merge, like other writes, is run again when the database aborts it for
// contention. A dry run stages and plans, and never takes the write lock.
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
	if opt.Mode == ImportRemove {
		// Say so before reading the source; the plan checks again.
		if err := s.read(ctx, "import members", func(db *gorm.DB) error { return cohortExists(db, cohortKey) }); err != nil {
			return ImportResult{}, err
		}
	}
	pool, done, err := s.d.importPool()
	if err != nil {
		return ImportResult{}, s.wrap("import members: open a connection", err)
	}
	defer done()
	var res ImportResult
	err = pool.WithContext(ctx).Connection(func(cdb *gorm.DB) error {
		conn, ok := cdb.Statement.ConnPool.(*sql.Conn)
		if !ok {
			return fmt.Errorf("no dedicated connection (have %T)", cdb.Statement.ConnPool)
		}
		// The connection holds the import's temporary tables (on Postgres,
		// the memory they took too): close it rather than return it to the
		// pool.
		defer func() { _ = conn.Raw(func(any) error { return driver.ErrBadConn }) }()
		im := &importer{s: s, db: cdb.Session(&gorm.Session{NewDB: true}), conn: conn, key: cohortKey, opt: opt, actor: actor}
		var err error
		res, err = im.run(ctx, next)
		return err
	})
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Cancelled mid-statement, the driver may report only its closed
		// connection: say what happened.
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err != nil {
		return ImportResult{}, s.wrap("import members", err)
	}
	return res, nil
}

// importer is an import in progress, on its connection.
type importer struct {
	s     *Store
	db    *gorm.DB // on conn, outside any transaction
	conn  *sql.Conn
	key   string
	opt   ImportOptions
	actor string

	distinct int          // the distinct ids staged
	staged   regionCounts // the distinct ids staged, by region

	token string // the import's lease on the cohort (gen.go)
	rows  int    // rows in the next chunk
}

// run stages the rows, plans the merge and, unless it is a dry run, merges.
func (im *importer) run(ctx context.Context, next func() (cohorts.Member, error)) (ImportResult, error) {
	d := im.s.d
	res := ImportResult{DryRun: im.opt.DryRun, ByRegion: map[cohorts.Region]int{}}
	if err := exec(im.db, d.importTables...); err != nil {
		return res, fmt.Errorf("create staging tables: %w", err)
	}
	var err error
	if im.distinct, err = im.stage(ctx, &stagingRows{ctx: ctx, next: next, res: &res}); err != nil {
		return res, err
	}
	res.Duplicates = res.Rows - im.distinct
	var sum string
	if im.opt.Finish != nil {
		if sum, res.Rejected, err = im.opt.Finish(); err != nil {
			return res, err
		}
	}
	if res.Duplicates > 0 {
		// Counted per row as they came; count the ids that stay.
		var counts []struct {
			Region string
			N      int
		}
		if err := im.db.Raw("SELECT region, COUNT(*) AS n FROM import_staging GROUP BY region").Scan(&counts).Error; err != nil {
			return res, fmt.Errorf("count regions: %w", err)
		}
		clear(res.ByRegion)
		for _, c := range counts {
			res.ByRegion[cohorts.Region(c.Region)] = c.N
		}
	}

	im.staged = regionCounts{}
	for r, n := range res.ByRegion {
		im.staged[string(r)] = int64(n)
	}

	var plan importPlan
	if err := im.readTx(func() error {
		var err error
		plan, err = im.plan(im.db, false)
		return err
	}); err != nil {
		return res, err
	}
	if im.opt.DryRun {
		plan.result(im, &res)
		return res, nil
	}

	return im.apply(ctx, plan, sum, res)
}

// maxChunkedAttempts is how many times an import writes its generation in
// chunks before, if the cohort changed each time before it could make the
// generation its list, it does everything in one write transaction.
const maxChunkedAttempts = 4

// apply writes the plan's generation in chunks under the cohort's lease,
// makes it the list in one small transaction, and purges the rows it
// replaced. If the cohort changed since the plan (its version or its audit
// log moved: a member edit, an apply, another import), the generation is
// deleted, the change planned again against the members as they are, and
// written again; after maxChunkedAttempts the import does it all in one
// transaction, under the write lock, as imports did before generations.
func (im *importer) apply(ctx context.Context, plan importPlan, sum string, res ImportResult) (out ImportResult, err error) {
	if im.token, err = newToken(); err != nil {
		return res, err
	}
	dirty, err := im.acquireLease(ctx)
	if err != nil {
		return res, fmt.Errorf("take the lease on cohort %q: %w", im.key, err)
	}
	// clean says whether the cohort holds no row of an unfinished
	// generation, so that the lease can simply be deleted.
	clean := !dirty
	defer func() {
		if rerr := im.releaseLease(ctx, clean); rerr != nil && err != nil {
			err = errors.Join(err, rerr)
		}
	}()
	if dirty {
		if err := im.clean(ctx, nil); err != nil {
			return res, fmt.Errorf("clean up after an unfinished import: %w", err)
		}
		clean = true
	}
	for attempt := 1; ; attempt++ {
		if attempt == maxChunkedAttempts {
			if out, plan, err = im.applyAtOnce(ctx, sum, res); err != nil {
				return res, err
			}
			break
		}
		clean = false
		if err := im.write(ctx, nil, plan); err != nil {
			return res, fmt.Errorf("write the new list: %w", err)
		}
		var changed bool
		if out, changed, err = im.flip(ctx, plan, sum, res); err != nil {
			return res, err
		}
		if !changed {
			break
		}
		if err := im.clean(ctx, nil); err != nil {
			return res, fmt.Errorf("undo the new list: %w", err)
		}
		clean = true
		if err := im.readTx(func() error {
			var err error
			plan, err = im.plan(im.db, false)
			return err
		}); err != nil {
			return res, err
		}
	}
	// The list is the new one: what is left is deleting the rows it
	// replaced. Failing that, the next import of the cohort does it.
	clean = im.purge(ctx, plan) == nil
	return out, nil
}

// applyAtOnce plans, writes and makes the generation the list in one write
// transaction, after cleaning up whatever it finds of unfinished ones.
func (im *importer) applyAtOnce(ctx context.Context, sum string, res ImportResult) (out ImportResult, plan importPlan, err error) {
	err = im.s.retry(ctx, func() error {
		return im.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := im.renewLease(tx); err != nil {
				return err
			}
			if err := im.clean(ctx, tx); err != nil {
				return err
			}
			var err error
			if plan, err = im.plan(tx, true); err != nil {
				return err
			}
			if err := im.write(ctx, tx, plan); err != nil {
				return err
			}
			w := &writeTx{db: tx, now: im.s.now(), actor: im.actor, notify: im.s.d.notify}
			out = res
			if err := im.merge(w, plan, sum, &out); err != nil {
				return err
			}
			return w.commit()
		})
	})
	return out, plan, err
}

// flip makes the written generation the cohort's list, with its counts,
// version and records, in one small write transaction, unless the cohort
// changed since the plan: then it writes nothing and reports it.
func (im *importer) flip(ctx context.Context, p importPlan, sum string, res ImportResult) (out ImportResult, changed bool, err error) {
	err = im.s.retry(ctx, func() error {
		return im.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			changed = false
			if err := im.renewLease(tx); err != nil {
				return err
			}
			cur, _, err := cohortStamp(tx, im.key, true)
			if err != nil {
				return err
			}
			if !cur.same(p.stamp) {
				changed = true
				return nil
			}
			w := &writeTx{db: tx, now: im.s.now(), actor: im.actor, notify: im.s.d.notify}
			out = res
			if err := im.merge(w, p, sum, &out); err != nil {
				return err
			}
			return w.commit()
		})
	})
	return out, changed, err
}

// write writes the plan's generation (the current one plus one): it adds
// the new rows, invisible until the generation is made the list, and marks
// the rows it removes or replaces, still visible until then. With tx nil
// each chunk is a write transaction of its own; otherwise all go in tx.
func (im *importer) write(ctx context.Context, tx *gorm.DB, p importPlan) error {
	gen, key := p.row.Gen, im.key
	next := gen + 1
	insert := func(table, where string) chunkStep {
		return func(tx *gorm.DB, after string, limit int) (string, bool, error) {
			upto, done, err := chunkEnd(tx, "FROM "+table+" WHERE "+where, nil, after, limit)
			if err != nil || upto == after {
				return upto, done, err
			}
			err = tx.Exec(`INSERT INTO cohort_members (cohort_key, user_id, region, added_gen) SELECT ?, user_id, region, ? FROM `+table+`
				WHERE `+where+` AND user_id > ? AND user_id <= ? ORDER BY user_id`, key, next, after, upto).Error
			if err != nil {
				return "", false, fmt.Errorf("add members: %w", err)
			}
			return upto, done, nil
		}
	}
	mark := func(table, where string) chunkStep {
		return func(tx *gorm.DB, after string, limit int) (string, bool, error) {
			upto, done, err := chunkEnd(tx, "FROM "+table+" WHERE "+where, nil, after, limit)
			if err != nil || upto == after {
				return upto, done, err
			}
			err = tx.Exec(`UPDATE cohort_members SET removed_gen = ? WHERE cohort_key = ? AND added_gen <= ? AND removed_gen IS NULL
				AND user_id IN (SELECT user_id FROM `+table+` WHERE `+where+` AND user_id > ? AND user_id <= ?)`,
				next, key, gen, after, upto).Error
			if err != nil {
				return "", false, fmt.Errorf("mark removed members: %w", err)
			}
			return upto, done, nil
		}
	}
	if !p.delta {
		if im.opt.Mode == ImportRemove || p.added == 0 {
			return nil
		}
		return im.inChunks(ctx, tx, "write", insert("import_staging", "true"))
	}
	if p.removed > 0 {
		if err := im.inChunks(ctx, tx, "write", mark("import_removed", "true")); err != nil {
			return err
		}
	}
	if p.updated > 0 {
		if err := im.inChunks(ctx, tx, "write", mark("import_changed", "added = 0")); err != nil {
			return err
		}
	}
	if p.added+p.updated > 0 {
		return im.inChunks(ctx, tx, "write", insert("import_changed", "true"))
	}
	return nil
}

// purge deletes, in chunks, the rows the plan's generation removed or
// replaced, now that it is the list.
func (im *importer) purge(ctx context.Context, p importPlan) error {
	key, gen := im.key, p.row.Gen+1
	del := func(table, where string) chunkStep {
		return func(tx *gorm.DB, after string, limit int) (string, bool, error) {
			upto, done, err := chunkEnd(tx, "FROM "+table+" WHERE "+where, nil, after, limit)
			if err != nil || upto == after {
				return upto, done, err
			}
			err = tx.Exec(`DELETE FROM cohort_members WHERE cohort_key = ? AND removed_gen <= ?
				AND user_id IN (SELECT user_id FROM `+table+` WHERE `+where+` AND user_id > ? AND user_id <= ?)`,
				key, gen, after, upto).Error
			if err != nil {
				return "", false, fmt.Errorf("delete removed members: %w", err)
			}
			return upto, done, nil
		}
	}
	if !p.delta {
		return nil
	}
	if p.removed > 0 {
		if err := im.inChunks(ctx, nil, "purge", del("import_removed", "true")); err != nil {
			return err
		}
	}
	if p.updated > 0 {
		return im.inChunks(ctx, nil, "purge", del("import_changed", "added = 0"))
	}
	return nil
}

// stage streams the rows into import_staging, one row per distinct id (the
// last of each), and returns how many it holds. It takes no lock on the
// database's tables.
func (im *importer) stage(ctx context.Context, rows *stagingRows) (int, error) {
	d := im.s.d
	inFileOrder := true
	var err error
	if d.copyRows != nil {
		err = d.copyRows(ctx, im.conn, rows)
	} else {
		inFileOrder, err = im.stageJSON(ctx, rows)
	}
	if rows.Err() != nil {
		// The source's error, rather than that of the statement it aborted.
		return 0, rows.Err()
	}
	if err != nil {
		return 0, fmt.Errorf("stage members: %w", err)
	}
	if inFileOrder {
		if err := exec(im.db, d.dedupe...); err != nil {
			return 0, fmt.Errorf("drop repeated ids: %w", err)
		}
	}
	var distinct int64
	if err := im.db.Raw("SELECT COUNT(*) FROM import_staging").Scan(&distinct).Error; err != nil {
		return 0, fmt.Errorf("count staged ids: %w", err)
	}
	return int(distinct), nil
}

// stageJSON appends the rows in statements of importBatch rows, each with
// one parameter, a JSON array (jsonBatch, dialect.jsonRows). While the ids
// ascend, as they do in the many files exported sorted, they go to
// import_staging directly: appended at the end of its B-tree, they need no
// sorting afterwards, and a row repeating the previous one's id replaces it
// before it is written. From the first id that does not ascend, rows go to
// import_rows in file order, to be sorted by dialect.dedupe; stageJSON
// reports whether any did.
func (im *importer) stageJSON(ctx context.Context, rows *stagingRows) (inFileOrder bool, err error) {
	table := "import_staging"
	var batch jsonBatch
	flush := func() error {
		if batch.n == 0 {
			return nil
		}
		_, err := im.conn.ExecContext(ctx, fmt.Sprintf(im.s.d.jsonRows, table), batch.end())
		return err
	}
	var last cohorts.Member // held back until the next row's id differs
	have := false
	for rows.Next() {
		id := rows.member.ID
		if len(rows.member.Region) != 0 && len(rows.member.Region) != 2 {
			return inFileOrder, fmt.Errorf("member %q: region %q is not two letters", id, rows.member.Region)
		}
		if have && id == last.ID {
			last.Region = rows.member.Region
			continue
		}
		if have {
			if batch.add(last); batch.n == importBatch {
				if err := flush(); err != nil {
					return inFileOrder, err
				}
			}
			if !inFileOrder && id < last.ID {
				if err := flush(); err != nil {
					return inFileOrder, err
				}
				table, inFileOrder = "import_rows", true
			}
		}
		last, have = rows.member, true
	}
	if rows.Err() != nil {
		return inFileOrder, rows.Err()
	}
	if have {
		batch.add(last)
	}
	return inFileOrder, flush()
}

// jsonBatch builds a JSON array of strings, one a row: the region in two
// characters (two spaces for none), then the id. SQLite takes the strings
// apart with substr, which costs less than a second JSON parse of a [user_id,
// region] pair would.
type jsonBatch struct {
	buf []byte
	n   int
}

func (b *jsonBatch) add(m cohorts.Member) {
	if b.n == 0 {
		b.buf = append(b.buf[:0], '[')
	} else {
		b.buf = append(b.buf, ',')
	}
	region := string(m.Region)
	if region == "" {
		region = "  "
	}
	b.buf = appendJSONString(b.buf, region+m.ID)
	b.n++
}

// end closes the array, returns it and empties the batch.
func (b *jsonBatch) end() string {
	b.buf = append(b.buf, ']')
	b.n = 0
	return string(b.buf)
}

// appendJSONString appends s, valid UTF-8, as a JSON string. Ids hold no
// control characters (cohorts.ValidateID); they are escaped all the same.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// readTx runs fn in a transaction on the import's connection that reads one
// snapshot of the database and writes only temporary tables.
func (im *importer) readTx(fn func() error) error {
	if err := im.db.Exec(im.s.d.beginRead).Error; err != nil {
		return fmt.Errorf("begin the plan: %w", err)
	}
	if err := fn(); err != nil {
		// Best effort: the connection is closed after the import anyway.
		im.db.Exec("ROLLBACK")
		return err
	}
	return im.db.Exec("COMMIT").Error
}

// cohortState is what an import notes of its cohort when it plans, to tell at its
// merge whether the cohort changed meanwhile. Every change to a cohort or
// its members increments its version and appends an audit entry about it;
// the audit entry also tells a cohort deleted and created again (version 1
// again) from the one planned against.
type cohortState struct {
	exists               bool
	version              int64
	createdAt, updatedAt time.Time
	audit                int64 // the id of the latest audit entry about the cohort
}

func (a cohortState) same(b cohortState) bool {
	return a.exists == b.exists && a.version == b.version && a.audit == b.audit &&
		a.createdAt.Equal(b.createdAt) && a.updatedAt.Equal(b.updatedAt)
}

// cohortStamp reads the cohort's row, locking it if lock is set (Postgres;
// SQLite's writer holds the database's write lock), and its stamp.
func cohortStamp(db *gorm.DB, key string, lock bool) (cohortState, cohortRow, error) {
	q := db
	if lock {
		q = forUpdate(db)
	}
	var rows []cohortRow
	if err := q.Where("key = ?", key).Limit(1).Find(&rows).Error; err != nil {
		return cohortState{}, cohortRow{}, fmt.Errorf("read cohort %q: %w", key, err)
	}
	var st cohortState
	var row cohortRow
	if len(rows) > 0 {
		row = rows[0]
		st = cohortState{exists: true, version: row.Version, createdAt: row.CreatedAt, updatedAt: row.UpdatedAt}
	}
	err := db.Raw("SELECT COALESCE(MAX(id), 0) FROM audit_log WHERE kind = 'cohort' AND target = ?", key).Scan(&st.audit).Error
	if err != nil {
		return cohortState{}, cohortRow{}, fmt.Errorf("read the audit log of cohort %q: %w", key, err)
	}
	return st, row, nil
}

// importPlan is the change an import makes to its cohort's members,
// computed against the cohort as stamp describes it.
type importPlan struct {
	stamp  cohortState
	row    cohortRow // when stamp.exists
	before int       // members before the import

	// delta is set when import_changed and import_removed hold the
	// change; otherwise the cohort had no members, and every staged id is
	// added (but by a remove, which changes nothing).
	delta                   bool
	added, removed, updated int
	addedSample             []string
	removedSample           []string

	// counts are the cohort's members by region after the import.
	counts regionCounts
}

// plan computes the import's change in db, a transaction that sees one
// state of the cohort (and, if lock is set, locks its row).
func (im *importer) plan(db *gorm.DB, lock bool) (importPlan, error) {
	var p importPlan
	var err error
	if p.stamp, p.row, err = cohortStamp(db, im.key, lock); err != nil {
		return p, err
	}
	mode, key := im.opt.Mode, im.key
	if !p.stamp.exists && (mode == ImportRemove || im.opt.MustExist) {
		return p, &NotFoundError{Kind: "cohort", Key: key}
	}
	p.before = int(p.row.MemberCount)
	if p.counts, err = decodeRegionCounts(key, p.row.RegionCounts); err != nil {
		return p, err
	}
	if mode == ImportReplace && im.distinct == 0 && p.before > 0 && !im.opt.AllowEmpty {
		return p, fmt.Errorf("%w: a replace would remove all %d members of cohort %q; check the file (its header, delimiter and line ends)",
			ErrEmptyReplace, p.before, key)
	}
	for _, t := range []string{"import_changed", "import_removed"} {
		if err := db.Exec(fmt.Sprintf(im.s.d.clearTable, t)).Error; err != nil {
			return p, err
		}
	}
	samples := im.opt.Samples
	if p.before == 0 {
		if mode == ImportRemove {
			return p, nil
		}
		p.added = im.distinct
		p.counts = maps.Clone(im.staged)
		if samples > 0 {
			err := db.Raw("SELECT user_id FROM import_staging ORDER BY user_id LIMIT ?", samples).Scan(&p.addedSample).Error
			if err != nil {
				return p, fmt.Errorf("sample added ids: %w", err)
			}
		}
		return p, nil
	}

	p.delta = true
	gen := p.row.Gen
	if mode != ImportAdd {
		// A replace removes the members the file lacks; a remove, those
		// it lists.
		q := `INSERT INTO import_removed (user_id, region) SELECT m.user_id, m.region FROM cohort_members m
			WHERE m.cohort_key = ? AND m.added_gen <= ? AND (m.removed_gen IS NULL OR m.removed_gen > ?)
			AND NOT EXISTS (SELECT 1 FROM import_staging s WHERE s.user_id = m.user_id)
			ORDER BY m.user_id`
		if mode == ImportRemove {
			q = `INSERT INTO import_removed (user_id, region) SELECT s.user_id, m.region FROM import_staging s
				JOIN cohort_members m ON m.cohort_key = ? AND m.user_id = s.user_id
				AND m.added_gen <= ? AND (m.removed_gen IS NULL OR m.removed_gen > ?) ORDER BY s.user_id`
		}
		r := db.Exec(q, key, gen, gen)
		if r.Error != nil {
			return p, fmt.Errorf("plan removals: %w", r.Error)
		}
		p.removed = int(r.RowsAffected)
	}
	if mode != ImportRemove {
		// New ids, and listed ids whose region changes: a replace sets the
		// file's region, even empty; an add only a region the file gives.
		changed := "m.region <> s.region"
		if mode == ImportAdd {
			changed = "s.region <> '' AND m.region <> s.region"
		}
		r := db.Exec(`INSERT INTO import_changed (user_id, region, added, old_region)
			SELECT s.user_id, s.region, CASE WHEN m.user_id IS NULL THEN 1 ELSE 0 END, COALESCE(m.region, '') FROM import_staging s
			LEFT JOIN cohort_members m ON m.cohort_key = ? AND m.user_id = s.user_id
				AND m.added_gen <= ? AND (m.removed_gen IS NULL OR m.removed_gen > ?)
			WHERE m.user_id IS NULL OR `+changed+` ORDER BY s.user_id`, key, gen, gen)
		if r.Error != nil {
			return p, fmt.Errorf("plan additions: %w", r.Error)
		}
		if r.RowsAffected > 0 {
			var added int64
			if err := db.Raw("SELECT COUNT(*) FROM import_changed WHERE added = 1").Scan(&added).Error; err != nil {
				return p, err
			}
			p.added = int(added)
		}
		p.updated = int(r.RowsAffected) - p.added
	}
	if err := im.planCounts(db, &p); err != nil {
		return p, err
	}
	if samples > 0 && mode != ImportRemove {
		err := db.Raw("SELECT user_id FROM import_changed WHERE added = 1 ORDER BY user_id LIMIT ?", samples).Scan(&p.addedSample).Error
		if err != nil {
			return p, fmt.Errorf("sample added ids: %w", err)
		}
	}
	if samples > 0 && mode != ImportAdd {
		err := db.Raw("SELECT user_id FROM import_removed ORDER BY user_id LIMIT ?", samples).Scan(&p.removedSample).Error
		if err != nil {
			return p, fmt.Errorf("sample removed ids: %w", err)
		}
	}
	return p, nil
}

// planCounts computes p.counts, the members by region after the change p
// plans, from the counts before and the change: a replace leaves the
// staged ids; an add and a remove move the ids in import_changed and
// import_removed, which note the regions they were listed in (a cost in
// the ids changed, not in the cohort's size).
func (im *importer) planCounts(db *gorm.DB, p *importPlan) error {
	if im.opt.Mode == ImportReplace {
		p.counts = maps.Clone(im.staged)
		return nil
	}
	if p.removed > 0 {
		var rows []regionRow
		if err := db.Raw("SELECT region, COUNT(*) AS n FROM import_removed GROUP BY region").Scan(&rows).Error; err != nil {
			return fmt.Errorf("count removals by region: %w", err)
		}
		p.counts.addRows(rows, -1)
	}
	if p.added+p.updated > 0 {
		var rows []struct {
			Region, OldRegion string
			Added             int
			N                 int64
		}
		err := db.Raw("SELECT region, old_region, added, COUNT(*) AS n FROM import_changed GROUP BY region, old_region, added").Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("count additions by region: %w", err)
		}
		for _, r := range rows {
			p.counts[r.Region] += r.N
			if r.Added == 0 {
				p.counts[r.OldRegion] -= r.N
			}
		}
	}
	return nil
}

// result fills in what the plan does.
func (p *importPlan) result(im *importer, res *ImportResult) {
	res.Created = !p.stamp.exists
	res.Added, res.Removed, res.Updated = p.added, p.removed, p.updated
	res.AddedSample, res.RemovedSample = p.addedSample, p.removedSample
	switch im.opt.Mode {
	case ImportReplace:
		res.Unchanged = im.distinct - p.added - p.updated
		res.Members = im.distinct
	case ImportAdd:
		res.Unchanged = im.distinct - p.added - p.updated
		res.Members = p.before + p.added
	case ImportRemove:
		res.Unchanged = im.distinct - p.removed
		res.Members = p.before - p.removed
	}
	res.Version = p.row.Version
	if res.Created {
		res.Version = 1
	}
}

// merge makes the plan's generation, written beforehand, the cohort's
// list in w, a write transaction in which the cohort is as the plan found
// it: it sets the cohort's generation (creating the cohort if need be),
// counts and version, and records the import.
func (im *importer) merge(w *writeTx, p importPlan, sum string, res *ImportResult) error {
	key := im.key
	p.result(im, res)
	row := p.row
	gen := row.Gen
	if res.Added+res.Removed+res.Updated > 0 {
		gen++
	}
	if res.Created {
		var err error
		if row, err = encodeCohort(&cohorts.Cohort{Key: key}); err != nil {
			return err
		}
		row.Version, row.CreatedAt, row.UpdatedAt, row.UpdatedBy = 1, w.now, w.now, w.actor
		row.MemberCount, row.RegionCounts, row.Gen = int64(res.Members), p.counts.encode(), gen
		if err := w.db.Create(&row).Error; err != nil {
			return fmt.Errorf("create cohort %q: %w", key, err)
		}
	}

	rec := ImportRecord{Mode: im.opt.Mode, File: im.opt.File, SHA256: sum, Rows: res.Rows, Duplicates: res.Duplicates,
		Rejected: res.Rejected, Added: res.Added, Removed: res.Removed, Updated: res.Updated, Members: res.Members}
	if err := w.db.Create(&importRow{At: w.now, Actor: w.actor, CohortKey: key, ImportRecord: rec}).Error; err != nil {
		return fmt.Errorf("record import: %w", err)
	}
	var beforeAudit any
	var cohort cohorts.Cohort
	if !res.Created {
		c, err := decodeCohort(&row)
		if err != nil {
			return err
		}
		c.MemberCount = p.before
		beforeAudit = auditCohort(&c)
		cohort = c
	} else {
		cohort = cohorts.Cohort{Key: key, Version: 1}
	}
	cohort.MemberCount = res.Members
	after := importAudit{cohortAudit: auditCohort(&cohort), Import: rec}
	if !res.Created && res.Added+res.Removed+res.Updated > 0 {
		r := w.db.Model(&cohortRow{}).Where("key = ? AND version = ?", key, row.Version).
			Updates(map[string]any{"version": row.Version + 1, "updated_at": w.now, "updated_by": w.actor,
				"member_count": res.Members, "region_counts": p.counts.encode(), "gen": gen})
		if err := w.guard(r, "cohort", key, row.Version); err != nil {
			return err
		}
		res.Version++
	}
	if res.Created || res.Added+res.Removed+res.Updated > 0 {
		if err := touchMembers(w.db, key); err != nil {
			return err
		}
	}
	return w.record("cohort.import", "cohort", key, beforeAudit, after)
}

// importAudit is a cohort as the audit log shows it after an import.
type importAudit struct {
	cohortAudit
	Import ImportRecord `json:"import"`
}

// stagingRows reads an import's source for staging, one member at a time:
// it validates each, counts rows and regions in res, and gives the row's
// values (seq, user_id, region), seq counting rows from 1. Its methods are
// those of pgx.CopyFromSource. After the source ends or fails, Next returns
// false without calling it again, and Err tells which. It stops within
// ctxCheckRows rows of ctx's end, whatever the driver makes of it (pgx
// cancels a COPY asynchronously: a fast source could finish first).
type stagingRows struct {
	ctx    context.Context
	next   func() (cohorts.Member, error)
	res    *ImportResult
	member cohorts.Member // the current row, region parsed
	values [3]any
	done   bool
	err    error

	// known marks the two-letter codes already parsed as they are, by
	// index (first letter)*26 + second: a file repeats a few regions, and
	// parsing one costs more than this look-up.
	known [26 * 26]bool
}

// canonical reports whether region is an upper-case code already parsed,
// and its index in known, if it has the form of one.
func (r *stagingRows) canonical(region cohorts.Region) (ok bool, i int) {
	if len(region) != 2 || region[0] < 'A' || region[0] > 'Z' || region[1] < 'A' || region[1] > 'Z' {
		return false, -1
	}
	i = int(region[0]-'A')*26 + int(region[1]-'A')
	return r.known[i], i
}

func (r *stagingRows) Next() bool {
	if r.done {
		return false
	}
	var (
		m   cohorts.Member
		err error
	)
	if r.res.Rows%ctxCheckRows == 0 {
		err = r.ctx.Err()
	}
	if err == nil {
		m, err = r.next()
	}
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

// ctxCheckRows is how often stagingRows looks at its context.
const ctxCheckRows = 4096

// set validates m, the res.Rows-th row, and makes it the current row.
func (r *stagingRows) set(m cohorts.Member) error {
	n := r.res.Rows
	if err := cohorts.ValidateID(m.ID); err != nil {
		return fmt.Errorf("member %d: %w", n, err)
	}
	region := m.Region
	if ok, i := r.canonical(region); !ok && region != "" {
		parsed, err := cohorts.ParseRegion(string(region))
		if err != nil {
			return fmt.Errorf("member %d (%q): %w", n, m.ID, err)
		}
		if parsed == region && i >= 0 {
			r.known[i] = true
		}
		region = parsed
	}
	r.res.ByRegion[region]++
	r.member = cohorts.Member{ID: m.ID, Region: region}
	return nil
}

// Values returns the current row's values, valid until the next call of
// Next.
func (r *stagingRows) Values() ([]any, error) {
	r.values = [3]any{int64(r.res.Rows), r.member.ID, string(r.member.Region)}
	return r.values[:], nil
}

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
		gen, err := memberGen(db, key)
		if err != nil {
			return err
		}
		rows, err := db.Raw("SELECT user_id, region FROM cohort_members WHERE cohort_key = ? AND "+visibleMembers+" ORDER BY user_id", key, gen, gen).Rows()
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

package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ramp-flags/ramp"
)

// Member lists are versioned by generation, so that an import of millions
// of rows never holds SQLite's write lock for longer than a short chunk.
//
// Each cohort's row has a generation (cohorts.gen) and each member row the
// generation that added it (added_gen) and the one that removed it
// (removed_gen, NULL while none has). A row is listed, visible, when
//
//	added_gen <= gen AND (removed_gen IS NULL OR removed_gen > gen)
//
// and at most one row of a (cohort, id) is visible at any generation. An
// import at generation g+1 writes its new rows (added_gen g+1: invisible)
// and marks the rows it removes or changes (removed_gen g+1: still visible)
// in short write transactions, then makes them the list in one small
// transaction that sets gen to g+1 with the counts, the version and the
// audit entry. Afterwards it deletes the rows no generation sees any more
// (removed_gen <= gen), again in short transactions.
//
// A per-cohort lease (cohort_leases) keeps two imports of one cohort from
// writing at once, and remembers, for as long as it exists, that the
// cohort may hold rows of an unfinished generation: an import killed or
// cancelled mid-way leaves its lease, and the next one to take it deletes
// rows with added_gen > gen and unmarks removed_gen > gen before it writes.
// Those rows are invisible meanwhile, so readers never see them. Member
// edits (AddMembers, RemoveMembers, apply) change visible rows in place, at
// the current generation, in one transaction.

// visibleMembers is the condition that a row of cohort_members is listed at
// generation gen, the query's next two parameters.
const visibleMembers = "added_gen <= ? AND (removed_gen IS NULL OR removed_gen > ?)"

// memberGen returns the cohort's generation: 0 if it does not exist (no row
// of its key is then visible but those of generation 0, and none exist).
func memberGen(db *gorm.DB, key string) (int64, error) {
	var gens []int64
	if err := db.Raw("SELECT gen FROM cohorts WHERE key = ?", key).Scan(&gens).Error; err != nil {
		return 0, fmt.Errorf("read the generation of cohort %q: %w", key, err)
	}
	if len(gens) == 0 {
		return 0, nil
	}
	return gens[0], nil
}

// migrateGenerations adds generations to member lists (cohorts.gen,
// cohort_members.added_gen and removed_gen, the latter in the primary key
// so that a changed member's old and new rows coexist until the change is
// made visible) and the table of import leases. Existing rows are of
// generation 0. The member table loses its foreign key: an import that
// creates its cohort writes the rows before the cohort's row exists, and
// deleting a cohort deletes its rows itself. On SQLite the member table is
// rewritten once, under the write lock.
func migrateGenerations(tx *gorm.DB, d *dialect) error {
	stmts := append([]string{`ALTER TABLE cohorts ADD COLUMN gen BIGINT NOT NULL DEFAULT 0`}, d.membersByGen...)
	stmts = append(stmts, fmt.Sprintf(`CREATE TABLE cohort_leases (
			cohort_key %[1]s PRIMARY KEY,
			token TEXT NOT NULL,
			host TEXT NOT NULL,
			pid BIGINT NOT NULL,
			heartbeat %[2]s NOT NULL
		)`, d.text, d.timestamp))
	return exec(tx, stmts...)
}

// leaseRow is an import's claim on a cohort's member list. An empty token
// is a lease given up by an import that failed: nobody holds it, and the
// cohort may hold rows of an unfinished generation.
type leaseRow struct {
	CohortKey string `gorm:"primaryKey"`
	Token     string
	Host      string
	PID       int64 `gorm:"column:pid"`
	Heartbeat time.Time
}

func (leaseRow) TableName() string { return "cohort_leases" }

// leaseExpiry is how long a lease lives without a heartbeat when its holder
// cannot be checked (it runs on another host). Every chunk renews it.
const leaseExpiry = 2 * time.Minute

// leasePoll is how often an import waiting for another's lease looks again.
const leasePoll = 100 * time.Millisecond

// errLeaseHeld is returned by tryLease when a live import holds the lease.
var errLeaseHeld = errors.New("another import of the cohort is running")

// errLeaseLost is matched by the error of an import whose lease was taken
// over (its heartbeat had expired): it stops writing.
var errLeaseLost = &ramp.Error{Kind: ramp.KindConflict, Msg: "the import's lease on the cohort was taken over by another import"}

// hostName is this host's name, to tell whether a lease's holder is a
// process here (whose liveness can be checked).
var hostName, _ = os.Hostname()

// newToken returns a random lease token.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("draw a lease token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// stale reports whether a lease's holder is gone: it gave it up, or its
// process on this host is dead, or its heartbeat expired.
func (l *leaseRow) stale(now time.Time) bool {
	switch {
	case l.Token == "":
		return true
	case l.Host == hostName && l.PID != int64(os.Getpid()) && !processAlive(int(l.PID)):
		return true
	}
	return now.Sub(l.Heartbeat) > leaseExpiry
}

// acquireLease takes the cohort's lease for the import, waiting while a
// live import holds it, and reports whether the cohort may hold rows of an
// unfinished generation (the lease was left by an import that did not
// finish).
func (im *importer) acquireLease(ctx context.Context) (dirty bool, err error) {
	for {
		dirty, err = im.tryLease(ctx)
		if !errors.Is(err, errLeaseHeld) {
			return dirty, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(leasePoll):
		}
	}
}

// tryLease takes the cohort's lease if nobody holds it, in one short write
// transaction, or returns errLeaseHeld.
func (im *importer) tryLease(ctx context.Context) (dirty bool, err error) {
	err = im.s.retry(ctx, func() error {
		return im.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			now := im.s.now()
			mine := leaseRow{CohortKey: im.key, Token: im.token, Host: hostName, PID: int64(os.Getpid()), Heartbeat: now}
			r := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&mine)
			if r.Error != nil {
				return fmt.Errorf("take the lease: %w", r.Error)
			}
			if r.RowsAffected == 1 {
				dirty = false
				return nil
			}
			var held []leaseRow
			if err := forUpdate(tx).Where("cohort_key = ?", im.key).Limit(1).Find(&held).Error; err != nil {
				return fmt.Errorf("read the lease: %w", err)
			}
			if len(held) == 1 && !held[0].stale(now) {
				return errLeaseHeld
			}
			// Taken over (or deleted meanwhile: then written again).
			dirty = len(held) == 1
			if err := tx.Save(&mine).Error; err != nil {
				return fmt.Errorf("take over the lease: %w", err)
			}
			return nil
		})
	})
	return dirty, err
}

// renewLease checks, in tx, that the import still holds its lease and
// renews its heartbeat. Every chunk runs it first.
func (im *importer) renewLease(tx *gorm.DB) error {
	r := tx.Model(&leaseRow{}).Where("cohort_key = ? AND token = ?", im.key, im.token).Update("heartbeat", im.s.now())
	if r.Error != nil {
		return fmt.Errorf("renew the lease: %w", r.Error)
	}
	if r.RowsAffected != 1 {
		return errLeaseLost
	}
	return nil
}

// releaseLease ends the import's lease: deleted when the cohort holds no
// row of an unfinished generation (clean), otherwise given up, so that the
// next import cleans up first. It runs on the Store's writer, with a
// context of its own: the import's may be cancelled, and its connection
// closed.
func (im *importer) releaseLease(ctx context.Context, clean bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), busyTimeout)
	defer cancel()
	q := im.s.w.WithContext(ctx).Model(&leaseRow{}).Where("cohort_key = ? AND token = ?", im.key, im.token)
	var err error
	if clean {
		err = q.Delete(&leaseRow{}).Error
	} else {
		err = q.Update("token", "").Error
	}
	if err != nil {
		return fmt.Errorf("release the lease on cohort %q: %w", im.key, err)
	}
	return nil
}

// Chunks.

// Chunk sizes: an import writes its generation in write transactions of
// about chunkTarget each. Each phase (and each pass over a table) starts
// with chunkRows rows, since rows cost very different times in each (new
// rows are appended in id order; removals are marked at random places in
// the list, and on a list of millions the first of those read a page each),
// and adapts the count to the time each chunk takes, at most doubling it,
// within [chunkMin, chunkMax].
var (
	chunkRows   = 5_000
	chunkMin    = 5_000
	chunkMax    = 1_000_000
	chunkTarget = 150 * time.Millisecond
)

// chunkHook, when set (by tests), is called after each chunk commits, with
// the phase ("clean", "write", "purge") and the chunk's number in it from
// 1, on the import's goroutine: the import waits for it to return.
var chunkHook func(phase string, n int)

// chunkStep does one chunk's work in tx, for the ids after after (up to
// about limit rows), and returns the last id it covered and whether it has
// covered them all.
type chunkStep func(tx *gorm.DB, after string, limit int) (last string, done bool, err error)

// inChunks runs step over all ids, each chunk in a write transaction of its
// own that first renews the lease, pausing between chunks (on SQLite) so
// that writers waiting for the lock get it. With tx set, it runs every
// chunk in that transaction instead, without pauses.
func (im *importer) inChunks(ctx context.Context, tx *gorm.DB, phase string, step chunkStep) error {
	after := ""
	im.rows = chunkRows
	for n := 1; ; n++ {
		var last string
		var done bool
		if tx != nil {
			var err error
			if last, done, err = step(tx, after, chunkMax); err != nil {
				return err
			}
		} else {
			start := time.Now()
			err := im.s.retry(ctx, func() error {
				return im.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
					if err := im.renewLease(tx); err != nil {
						return err
					}
					var err error
					last, done, err = step(tx, after, im.rows)
					return err
				})
			})
			if err != nil {
				return fmt.Errorf("%s chunk %d: %w", phase, n, err)
			}
			im.adapt(time.Since(start))
			if chunkHook != nil {
				chunkHook(phase, n)
			}
		}
		after = last
		if done {
			return nil
		}
		if tx == nil && im.s.d.chunkPause > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(im.s.d.chunkPause):
			}
		}
	}
}

// adapt sets the next chunk's row count from the time the last one took.
func (im *importer) adapt(took time.Duration) {
	if took <= 0 {
		took = time.Millisecond
	}
	next := int(float64(im.rows) * float64(chunkTarget) / float64(took))
	// Change gradually: a chunk delayed by a waiting writer says little.
	next = max(im.rows/2, min(next, im.rows*2))
	im.rows = max(chunkMin, min(next, chunkMax))
}

// chunkEnd returns the largest of the next limit user ids after after in
// table (a query's FROM and WHERE, the user ids in column user_id, with
// args), and whether there are no more.
func chunkEnd(tx *gorm.DB, from string, args []any, after string, limit int) (upto string, done bool, err error) {
	var end struct {
		Last *string
		N    int
	}
	q := fmt.Sprintf("SELECT MAX(user_id) AS last, COUNT(*) AS n FROM (SELECT user_id %s AND user_id > ? ORDER BY user_id LIMIT ?) t", from)
	if err := tx.Raw(q, append(args, after, limit)...).Scan(&end).Error; err != nil {
		return "", false, err
	}
	if end.Last == nil {
		return after, true, nil
	}
	return *end.Last, end.N < limit, nil
}

// cleanStep deletes the cohort's rows that no generation up to its current
// one sees (added by an unfinished generation, or removed by a finished
// one) and unmarks the removals of unfinished generations, for a range of
// ids: the recovery after an import that did not finish.
func (im *importer) cleanStep(tx *gorm.DB, after string, limit int) (string, bool, error) {
	gen, err := memberGen(tx, im.key)
	if err != nil {
		return "", false, err
	}
	upto, done, err := chunkEnd(tx, "FROM cohort_members WHERE cohort_key = ?", []any{im.key}, after, limit)
	if err != nil || upto == after {
		return upto, done, err
	}
	r := tx.Exec(`DELETE FROM cohort_members WHERE cohort_key = ? AND user_id > ? AND user_id <= ?
		AND (added_gen > ? OR removed_gen <= ?)`, im.key, after, upto, gen, gen)
	if r.Error != nil {
		return "", false, fmt.Errorf("delete rows of unfinished generations: %w", r.Error)
	}
	r = tx.Exec(`UPDATE cohort_members SET removed_gen = NULL WHERE cohort_key = ? AND user_id > ? AND user_id <= ?
		AND removed_gen > ?`, im.key, after, upto, gen)
	if r.Error != nil {
		return "", false, fmt.Errorf("unmark removals of unfinished generations: %w", r.Error)
	}
	return upto, done, nil
}

// clean runs cleanStep over the whole cohort.
func (im *importer) clean(ctx context.Context, tx *gorm.DB) error {
	return im.inChunks(ctx, tx, "clean", im.cleanStep)
}

// processAlive reports whether a process of this host with the pid runs
// (or may: when it cannot tell, it says yes, and the lease expires).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return signalZero(p)
}

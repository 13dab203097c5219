package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// This file holds everything that depends on the database engine: how a DSN
// selects and opens one, the column types migrations use, the options of
// read transactions, and how lock contention shows in errors. Supporting
// Postgres means adding a dialect here (gorm.io/driver/postgres; one pool for
// reads and writes; TIMESTAMPTZ, identity columns, TEXT COLLATE "C" so keys
// sort bytewise as in SQLite; read transactions REPEATABLE READ; SQLSTATE
// 40001 and 55P03 as busy; an advisory lock around migrations).

// dialect describes one database engine.
type dialect struct {
	// Column types for migrations.
	text      string // keys and user ids; must sort bytewise
	timestamp string // a point in time
	serial    string // an auto-incrementing integer primary key

	// readTx are the options of the transactions reads run in; they must
	// give a consistent snapshot.
	readTx *sql.TxOptions

	// busy reports whether err means another connection held a lock for
	// longer than the busy timeout.
	busy func(err error) bool
}

// busyTimeout is how long SQLite waits for another connection's lock
// before giving up with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Connection parameters understood by github.com/mattn/go-sqlite3. Writers
// take the write lock at BEGIN (_txlock=immediate): a deferred transaction
// that reads and then writes cannot wait for the lock and would fail with
// "database is locked" at once. Readers use deferred transactions, which in
// WAL mode read a snapshot and never block a writer. (WAL mode is set by
// enableWAL, not by a parameter.)
var (
	sqliteWriter = fmt.Sprintf("_foreign_keys=on&_busy_timeout=%d&_txlock=immediate", busyTimeout.Milliseconds())
	sqliteReader = fmt.Sprintf("_foreign_keys=on&_busy_timeout=%d&_query_only=on", busyTimeout.Milliseconds())
)

var sqliteDialect = dialect{
	text:      "TEXT",
	timestamp: "TIMESTAMP",
	serial:    "INTEGER PRIMARY KEY AUTOINCREMENT",
	readTx:    &sql.TxOptions{ReadOnly: true},
	busy: func(err error) bool {
		var e sqlite3.Error
		return errors.As(err, &e) && (e.Code == sqlite3.ErrBusy || e.Code == sqlite3.ErrLocked)
	},
}

// connect opens the database dsn names and returns a pool for writes and one
// for reads.
func connect(ctx context.Context, dsn string) (w, r *gorm.DB, d *dialect, err error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, nil, nil, errors.New("postgres databases are not supported yet; use a SQLite file")
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" {
		return nil, nil, nil, errors.New("empty database path")
	}
	// Parameters already in the DSN come first and so take precedence.
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	// One writer connection per Store: writes from one process queue in
	// database/sql, honouring contexts, and only contend with other
	// processes through SQLite's busy timeout.
	d = &sqliteDialect
	if w, err = openSQLite(path+sep+sqliteWriter, 1); err != nil {
		return nil, nil, nil, err
	}
	if err := enableWAL(ctx, w); err != nil {
		closeDB(w)
		return nil, nil, nil, d.translate(err)
	}
	if r, err = openSQLite(path+sep+sqliteReader, 4); err != nil {
		closeDB(w)
		return nil, nil, nil, err
	}
	return w, r, d, nil
}

// enableWAL puts the database in WAL mode, which then persists in the file.
// Switching needs an exclusive lock that SQLite tries once, without the busy
// timeout, so the first Opens of a new database by several processes at once
// retry it.
func enableWAL(ctx context.Context, db *gorm.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := db.WithContext(ctx).Raw("PRAGMA journal_mode = WAL").Scan(&mode).Error
		switch {
		case err == nil && !strings.EqualFold(mode, "wal"):
			return fmt.Errorf("cannot use WAL mode (journal mode is %s)", mode)
		case err == nil:
			return nil
		case !sqliteDialect.busy(err) || time.Now().After(deadline):
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func openSQLite(dsn string, conns int) (*gorm.DB, error) {
	db, err := gorm.Open(sqlite.Open(dsn), gormConfig())
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetMaxIdleConns(conns)
	return db, nil
}

// translate turns lock contention into ErrBusy.
func (d *dialect) translate(err error) error {
	if d.busy(err) {
		return ErrBusy
	}
	return err
}

func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true, // the store makes its own transactions
	}
}

func closeDB(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

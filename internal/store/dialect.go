package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// This file holds everything that depends on the database engine: how a DSN
// selects and opens one, the column types migrations use, how migrations
// take turns, the options of read transactions, what a write transaction
// does after bumping the configuration version, how changes are announced,
// and how lock contention shows in errors.
//
// SQLite: one writer connection per Store and a pool of read-only
// connections, WAL mode, BEGIN IMMEDIATE for writes (see below).
//
// Postgres (gorm.io/driver/postgres over pgx): one pool for reads and writes;
// TIMESTAMPTZ, identity columns, TEXT COLLATE "C" so keys sort bytewise as in
// SQLite and Go; reads in REPEATABLE READ READ ONLY transactions; writes in
// READ COMMITTED transactions that lock the rows they change (SELECT … FOR
// UPDATE) and are run again when the server aborts them to break a deadlock
// or a serialization failure; lock_timeout as the busy timeout; an advisory
// lock around each migration; NOTIFY after each write, for Store.Listen.

// dialect describes one database engine.
type dialect struct {
	// Column types for migrations.
	text      string // keys and user ids; must sort bytewise
	timestamp string // a point in time
	serial    string // an auto-incrementing integer primary key

	// readTx are the options of the transactions reads run in; they must
	// give a consistent snapshot.
	readTx *sql.TxOptions

	// lockMigrations, when set, runs first in every migration transaction
	// and makes concurrent Opens of one database take turns. SQLite needs
	// none: the transaction begins IMMEDIATE, holding the write lock.
	lockMigrations func(tx *gorm.DB) error

	// notify, when set, runs in every write transaction that bumped the
	// configuration version, after the bump, with the new version.
	notify func(tx *gorm.DB, version int64) error

	// listen implements Store.Listen; nil where the database cannot
	// announce changes.
	listen func(ctx context.Context, onChange func(version int64)) error

	// busy reports whether err means another connection held a lock for
	// longer than the busy timeout, or the database gave up on a
	// transaction because of another one (deadlock, serialization failure).
	busy func(err error) bool

	// retry reports whether a write transaction that failed with err may
	// simply be run again: the database aborted it to resolve contention,
	// not because of anything it did. nil when none may.
	retry func(err error) bool

	// membersByKey rebuilds cohort_members keyed by (cohort_key, user_id)
	// with the region stored in the key's B-tree, where the engine has the
	// choice (SQLite's WITHOUT ROWID); none on Postgres.
	membersByKey []string

	// membersByGen gives cohort_members the generation columns (gen.go),
	// with added_gen in its primary key, and drops its foreign key.
	membersByGen []string

	// chunkPause is how long an import waits between the write
	// transactions of its chunks, so that a writer waiting for the lock
	// gets it: SQLite's busy handler retries every 100 ms once it has
	// waited a while, and a lock free for less than that can be missed.
	// None on Postgres, whose writers queue on row locks.
	chunkPause time.Duration

	// hasMigrations counts the tables named schema_migrations where the
	// migrations create their tables: 0 for a database ramp never opened.
	hasMigrations string

	// importPool returns the pool an import takes its connection from and
	// what to call when it is done with it. The connection holds the
	// import's temporary tables; it is closed afterwards, never returned to
	// a pool.
	importPool func() (db *gorm.DB, done func(), err error)

	// importTables create an import's temporary tables (import.go says
	// what each holds), private to its connection:
	//   import_rows (seq, user_id, region): rows in file order;
	//   import_staging (user_id PRIMARY KEY, region): the distinct ids, the
	//     last row of each;
	//   import_changed (user_id PRIMARY KEY, region, added, old_region):
	//     the rows the merge inserts or updates, added 1 for a new member,
	//     old_region the region it was listed in ("" for a new one);
	//   import_removed (user_id PRIMARY KEY, region): the members it
	//     removes, with the region they were listed in.
	importTables []string

	// clearTable empties a temporary table (%s).
	clearTable string

	// copyRows, when set, appends rows to import_rows on conn by faster
	// means than jsonRows: Postgres' COPY.
	copyRows func(ctx context.Context, conn *sql.Conn, rows pgx.CopyFromSource) error

	// jsonRows appends a JSON array of [user_id, region] pairs, its one
	// parameter, to the table %s, in array order.
	jsonRows string

	// dedupe fills import_staging from import_rows, the last row of each
	// id winning (import_staging may already hold ids from earlier in the
	// file).
	dedupe []string

	// beginRead begins the transaction an import plans its merge in: it
	// reads one snapshot and may write temporary tables.
	beginRead string

	// joinIDs is the aggregate joining a query's user_id column with
	// newlines.
	joinIDs string
}

// isPostgres reports whether dsn names a Postgres database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// connect opens the database dsn names and returns a pool for writes and one
// for reads, which may be the same. Unless create is set, a database that
// does not exist or lacks ramp's tables is an error matching ErrNoDatabase,
// and nothing is created.
func connect(ctx context.Context, dsn string, create bool) (w, r *gorm.DB, d *dialect, err error) {
	if isPostgres(dsn) {
		db, d, err := connectPostgres(ctx, dsn, create)
		return db, db, d, err
	}
	return connectSQLite(ctx, dsn, create)
}

// redactDSN returns dsn with any password replaced, for messages.
func redactDSN(dsn string) string {
	if !isPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…" // unparsable: show nothing that could be a password
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// busyTimeout is how long a statement waits for another connection's lock
// before giving up with ErrBusy: SQLite's busy timeout, Postgres'
// lock_timeout.
const busyTimeout = 10 * time.Second

// SQLite.

// Connection parameters understood by github.com/mattn/go-sqlite3. Writers
// take the write lock at BEGIN (_txlock=immediate): a deferred transaction
// that reads and then writes cannot wait for the lock and would fail with
// "database is locked" at once. Readers use deferred transactions, which in
// WAL mode read a snapshot and never block a writer. (WAL mode is set by
// enableWAL, not by a parameter.)
//
// An import's connection writes with foreign keys unchecked: it only adds
// members to the cohort whose row it has locked (or created) in the same
// transaction, and checking that parent for each of millions of rows cost a
// tenth of the merge.
var (
	sqliteWriter   = fmt.Sprintf("_foreign_keys=on&_busy_timeout=%d&_txlock=immediate", busyTimeout.Milliseconds())
	sqliteImporter = fmt.Sprintf("_foreign_keys=off&_busy_timeout=%d&_txlock=immediate", busyTimeout.Milliseconds())
	sqliteReader   = fmt.Sprintf("_foreign_keys=on&_busy_timeout=%d&_query_only=on", busyTimeout.Milliseconds())
)

var sqliteDialect = dialect{
	text:          "TEXT",
	timestamp:     "TIMESTAMP",
	serial:        "INTEGER PRIMARY KEY AUTOINCREMENT",
	readTx:        &sql.TxOptions{ReadOnly: true},
	hasMigrations: `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`,
	// A rowid table and its primary-key index were two B-trees to write for
	// each member; no table refers to cohort_members, so dropping it
	// deletes nothing row by row.
	membersByKey: []string{
		`CREATE TABLE cohort_members_by_key (
			cohort_key TEXT NOT NULL REFERENCES cohorts (key) ON DELETE CASCADE,
			user_id TEXT NOT NULL,
			region TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (cohort_key, user_id)
		) WITHOUT ROWID`,
		`INSERT INTO cohort_members_by_key (cohort_key, user_id, region)
			SELECT cohort_key, user_id, region FROM cohort_members ORDER BY cohort_key, user_id`,
		`DROP TABLE cohort_members`,
		`ALTER TABLE cohort_members_by_key RENAME TO cohort_members`,
	},
	membersByGen: []string{
		`CREATE TABLE cohort_members_gen (
			cohort_key TEXT NOT NULL,
			user_id TEXT NOT NULL,
			region TEXT NOT NULL DEFAULT '',
			added_gen INTEGER NOT NULL DEFAULT 0,
			removed_gen INTEGER,
			PRIMARY KEY (cohort_key, user_id, added_gen)
		) WITHOUT ROWID`,
		`INSERT INTO cohort_members_gen (cohort_key, user_id, region)
			SELECT cohort_key, user_id, region FROM cohort_members ORDER BY cohort_key, user_id`,
		`DROP TABLE cohort_members`,
		`ALTER TABLE cohort_members_gen RENAME TO cohort_members`,
	},
	chunkPause: 110 * time.Millisecond,
	// TEMP tables live in the connection's temporary database: their pages
	// never reach the main file or its WAL, and writing them takes no lock
	// on the main database. import_staging and the delta tables are
	// WITHOUT ROWID tables keyed by user_id: one B-tree each, filled in key
	// order. import_rows gets the rows of a file that is not sorted, in
	// file order (seq is the rowid), and is sorted once at the end:
	// inserting millions of ids at random places in a B-tree is several
	// times slower than sorting them.
	importTables: []string{
		`DROP TABLE IF EXISTS temp.import_rows`,
		`DROP TABLE IF EXISTS temp.import_staging`,
		`DROP TABLE IF EXISTS temp.import_changed`,
		`DROP TABLE IF EXISTS temp.import_removed`,
		`CREATE TEMP TABLE import_rows (seq INTEGER PRIMARY KEY, user_id TEXT NOT NULL, region TEXT NOT NULL)`,
		`CREATE TEMP TABLE import_staging (user_id TEXT PRIMARY KEY, region TEXT NOT NULL) WITHOUT ROWID`,
		`CREATE TEMP TABLE import_changed (user_id TEXT PRIMARY KEY, region TEXT NOT NULL, added INTEGER NOT NULL, old_region TEXT NOT NULL) WITHOUT ROWID`,
		`CREATE TEMP TABLE import_removed (user_id TEXT PRIMARY KEY, region TEXT NOT NULL) WITHOUT ROWID`,
	},
	clearTable: "DELETE FROM %s",
	// One parameter for 10,000 rows: binding 30,000 parameters through
	// the driver cost several times what SQLite takes to parse the JSON.
	jsonRows: "INSERT INTO %s (user_id, region) SELECT substr(value, 3), rtrim(substr(value, 1, 2)) FROM json_each(?)",
	// Sorted by id, then file order: the repeats of an id arrive one after
	// the other, and each replaces the row the previous one left.
	dedupe: []string{
		`INSERT INTO import_staging (user_id, region) SELECT user_id, region FROM import_rows WHERE true
			ORDER BY user_id, seq ON CONFLICT (user_id) DO UPDATE SET region = excluded.region`,
		`DELETE FROM import_rows`,
	},
	// Deferred: the snapshot begins with the first read of the database.
	beginRead: "BEGIN",
	joinIDs:   "group_concat(user_id, char(10))",
	busy: func(err error) bool {
		var e sqlite3.Error
		return errors.As(err, &e) && (e.Code == sqlite3.ErrBusy || e.Code == sqlite3.ErrLocked)
	},
}

// connectSQLite opens the SQLite database dsn names ("PATH" or
// "sqlite:PATH") and returns a pool for writes and one for reads.
//
// Unless create is set, the file must exist and hold ramp's tables, and
// nothing is written before that is known: the connections open the file
// as a URI with mode=rw, with which SQLite never creates it, even if it is
// deleted in between. A new file is created 0600 before SQLite opens it;
// SQLite gives the -wal and -shm files the main file's permissions.
func connectSQLite(ctx context.Context, dsn string, create bool) (w, r *gorm.DB, d *dialect, err error) {
	name, params, _ := strings.Cut(strings.TrimPrefix(dsn, "sqlite:"), "?")
	if name == "" {
		return nil, nil, nil, errors.New("empty database path")
	}
	// A plain path, not a URI or SQLite's in-memory database, which go to
	// the driver as they are.
	file := !strings.HasPrefix(name, "file:") && name != ":memory:"
	switch {
	case create && file:
		if err := createPrivate(name); err != nil {
			return nil, nil, nil, err
		}
	case !create && file:
		if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("%w: the file does not exist", ErrNoDatabase)
		}
		name = sqliteURI(name)
		params = joinParams("mode=rw", params)
	case !create && strings.HasPrefix(name, "file:") && !strings.Contains(params, "mode="):
		params = joinParams("mode=rw", params)
	}
	// Parameters already in the DSN come first and so take precedence.
	dsnWith := func(defaults string) string { return name + "?" + joinParams(params, defaults) }

	d = new(dialect)
	*d = sqliteDialect
	if r, err = openSQLite(dsnWith(sqliteReader), 4); err != nil {
		return nil, nil, nil, noSuchFile(err, create)
	}
	if !create {
		// Before anything writes to the file (WAL mode would).
		var tables int
		if err := r.WithContext(ctx).Raw(d.hasMigrations).Scan(&tables).Error; err != nil {
			closeDB(r)
			return nil, nil, nil, d.translate(noSuchFile(err, create))
		}
		if tables == 0 {
			closeDB(r)
			return nil, nil, nil, fmt.Errorf("%w: the file has no ramp tables", ErrNoDatabase)
		}
	}
	// One writer connection per Store: writes from one process queue in
	// database/sql, honouring contexts, and only contend with other
	// processes through SQLite's busy timeout.
	if w, err = openSQLite(dsnWith(sqliteWriter), 1); err != nil {
		closeDB(r)
		return nil, nil, nil, noSuchFile(err, create)
	}
	if err := enableWAL(ctx, w); err != nil {
		closeDB(w)
		closeDB(r)
		return nil, nil, nil, d.translate(err)
	}
	// An import stages its rows on a connection of its own, so that it
	// holds neither the Store's writer connection nor the write lock while
	// it reads its source; that connection takes the write lock only for
	// the merge (BEGIN IMMEDIATE, as the writer's).
	importDSN := dsnWith(sqliteImporter)
	d.importPool = func() (*gorm.DB, func(), error) {
		db, err := openSQLite(importDSN, 1)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { closeDB(db) }, nil
	}
	return w, r, d, nil
}

// createPrivate creates an empty file at path, readable and writable by
// its owner only, unless something exists there. SQLite takes an empty
// file for a new database.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create the database file: %w", err)
	}
	return f.Close()
}

// sqliteURI turns a file path into an SQLite URI ("file:…"), which takes
// parameters such as mode=rw.
func sqliteURI(path string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	if strings.HasPrefix(esc, "/") {
		return "file://" + esc // an empty authority, then the absolute path
	}
	return "file:" + esc
}

// joinParams joins two query strings, either of which may be empty.
func joinParams(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "&" + b
}

// noSuchFile reports a failure to open a file that does not exist (deleted
// after the check) as ErrNoDatabase when the caller did not ask to create it.
func noSuchFile(err error, create bool) error {
	var e sqlite3.Error
	if !create && errors.As(err, &e) && e.Code == sqlite3.ErrCantOpen {
		return fmt.Errorf("%w: the file cannot be opened (%v)", ErrNoDatabase, err)
	}
	return err
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

// Postgres.

// SQLSTATE codes the store acts on.
const (
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgLockNotAvailable     = "55P03" // lock_timeout expired, or NOWAIT
)

// notifyChannel is the channel write transactions NOTIFY and Listen
// LISTENs on; the payload is the new configuration version.
const notifyChannel = "ramp_config"

// migrationLock is the key of the transaction-scoped advisory lock each
// migration takes: "rampmigr" in ASCII.
const migrationLock = 0x72616d706d696772

// postgresTempBuffers is the temp_buffers setting of a Postgres Store's
// sessions: a 1M-row import's staging table and its index fit in 128MB, and
// then its set operations run 3 to 8 times faster than when they read the
// table through the default 8MB.
const postgresTempBuffers = "128MB"

// Pool sizes of a Postgres Store. Several replicas share one server, whose
// max_connections defaults to 100, so each keeps few connections; Listen
// uses one more, outside the pool.
const (
	postgresConns     = 8
	postgresIdleConns = 2
)

var postgresDialect = dialect{
	text:      `TEXT COLLATE "C"`,
	timestamp: "TIMESTAMPTZ",
	serial:    "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
	// A read-only REPEATABLE READ transaction sees one snapshot, taken at
	// its first statement, and can never fail to serialize.
	readTx:        &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	hasMigrations: `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'`,
	membersByGen: []string{
		`ALTER TABLE cohort_members ADD COLUMN added_gen BIGINT NOT NULL DEFAULT 0, ADD COLUMN removed_gen BIGINT`,
		`ALTER TABLE cohort_members DROP CONSTRAINT IF EXISTS cohort_members_cohort_key_fkey`,
		`ALTER TABLE cohort_members DROP CONSTRAINT cohort_members_pkey, ADD PRIMARY KEY (cohort_key, user_id, added_gen)`,
	},
	importTables: []string{
		`DROP TABLE IF EXISTS pg_temp.import_rows, pg_temp.import_staging, pg_temp.import_changed, pg_temp.import_removed`,
		`CREATE TEMP TABLE import_rows (seq BIGINT NOT NULL, user_id TEXT COLLATE "C" NOT NULL, region TEXT NOT NULL)`,
		`CREATE TEMP TABLE import_staging (user_id TEXT COLLATE "C" PRIMARY KEY, region TEXT NOT NULL)`,
		`CREATE TEMP TABLE import_changed (user_id TEXT COLLATE "C" PRIMARY KEY, region TEXT NOT NULL, added INTEGER NOT NULL, old_region TEXT NOT NULL)`,
		`CREATE TEMP TABLE import_removed (user_id TEXT COLLATE "C" PRIMARY KEY, region TEXT NOT NULL)`,
	},
	clearTable: "TRUNCATE %s",
	copyRows:   copyRowsPostgres,
	// One sort: each id's last row (the highest seq) comes first.
	dedupe: []string{
		`INSERT INTO import_staging (user_id, region) SELECT DISTINCT ON (user_id) user_id, region FROM import_rows
			ORDER BY user_id, seq DESC`,
		`TRUNCATE import_rows`,
		`ANALYZE import_staging`,
	},
	beginRead: "BEGIN ISOLATION LEVEL REPEATABLE READ",
	joinIDs:   "string_agg(user_id, chr(10))",
	lockMigrations: func(tx *gorm.DB) error {
		return tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(migrationLock)).Error
	},
	notify: func(tx *gorm.DB, version int64) error {
		// NOTIFY takes no parameters; the payload is a number.
		return tx.Exec(fmt.Sprintf("NOTIFY %s, '%d'", notifyChannel, version)).Error
	},
	busy: func(err error) bool {
		return pgCode(err, pgSerializationFailure, pgDeadlockDetected, pgLockNotAvailable)
	},
	retry: func(err error) bool {
		return pgCode(err, pgSerializationFailure, pgDeadlockDetected)
	},
}

// pgCode reports whether err is a Postgres error with one of the codes.
func pgCode(err error, codes ...string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && slices.Contains(codes, e.Code)
}

// connectPostgres opens the Postgres database dsn names, a URL whose query
// parameters go to pgx and, when pgx does not know them, to the server as
// settings (search_path=…, lock_timeout=…), and returns its pool. Unless
// create is set, a schema without ramp's tables is an error matching
// ErrNoDatabase.
func connectPostgres(ctx context.Context, dsn string, create bool) (*gorm.DB, *dialect, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, err
	}
	// Settings in the DSN take precedence.
	for k, v := range map[string]string{
		"lock_timeout":     strconv.FormatInt(busyTimeout.Milliseconds(), 10),
		"application_name": "ramp",
		// The most a session keeps of its temporary tables in memory (the
		// default is 8MB); only imports make one, their staging table, and
		// it can be set only before a session's first use of one. A
		// session allocates the buffers as it needs them.
		"temp_buffers": postgresTempBuffers,
	} {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	sqlDB := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(scanTimesInUTC))
	sqlDB.SetMaxOpenConns(postgresConns)
	sqlDB.SetMaxIdleConns(postgresIdleConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	conf := gormConfig()
	conf.DisableAutomaticPing = true // done above, with ctx
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), conf)
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	d := postgresDialect
	d.listen = func(ctx context.Context, onChange func(int64)) error {
		return listenPostgres(ctx, cfg, onChange)
	}
	// An import runs on a connection of the pool, outside the write
	// transaction until its merge; the connection is then closed, which
	// drops its temporary tables and frees their buffers.
	d.importPool = func() (*gorm.DB, func(), error) { return db, func() {}, nil }
	if !create {
		var found struct {
			Schema string
			Tables int
		}
		err := db.WithContext(ctx).Raw(`SELECT COALESCE(current_schema(), '') AS schema, (` + d.hasMigrations + `) AS tables`).Scan(&found).Error
		if err == nil && found.Tables == 0 {
			err = fmt.Errorf("%w: schema %q has no ramp tables", ErrNoDatabase, found.Schema)
		}
		if err != nil {
			sqlDB.Close()
			return nil, nil, err
		}
	}
	return db, &d, nil
}

// scanTimesInUTC makes a connection return TIMESTAMPTZ values in UTC, as
// SQLite does, rather than in the process's local time zone.
func scanTimesInUTC(_ context.Context, conn *pgx.Conn) error {
	conn.TypeMap().RegisterType(&pgtype.Type{
		Name: "timestamptz", OID: pgtype.TimestamptzOID,
		Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
	})
	return nil
}

// listenPostgres implements Store.Listen on a connection of its own: LISTEN
// holds the session, so it cannot come from the pool.
func listenPostgres(ctx context.Context, cfg *pgx.ConnConfig, onChange func(int64)) error {
	cfg = cfg.Copy()
	cfg.RuntimeParams["application_name"] += " listen"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer func() {
		// ctx may be done: give the goodbye its own short deadline.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()

	last := int64(-1)
	report := func() error {
		var v int64
		if err := conn.QueryRow(ctx, versionQuery).Scan(&v); err != nil {
			return err
		}
		if v != last {
			last = v
			onChange(v)
		}
		return nil
	}
	// LISTEN before the first read, so that no change falls in between.
	_, err = conn.Exec(ctx, "LISTEN "+notifyChannel)
	if err == nil {
		err = report()
	}
	for err == nil {
		var n *pgconn.Notification
		if n, err = conn.WaitForNotification(ctx); err != nil {
			break
		}
		// The payload is a hint: a version already reported needs no read.
		// Another version, even from another schema sharing the database,
		// is checked against this one's.
		if v, perr := strconv.ParseInt(n.Payload, 10, 64); perr == nil && v <= last {
			continue
		}
		err = report()
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Both engines.

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

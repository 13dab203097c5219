package clickhouse

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ramp-flags/ramp"
)

// Store is an events store on one ClickHouse database. It is safe for
// concurrent use; Close it when done.
type Store struct {
	conn driver.Conn
	db   string // the database, quoted
	name string // the database, as named

	// Now is the clock retention counts back from; it defaults to
	// time.Now.
	Now func() time.Time

	exposures *blockWriter
	events    *blockWriter

	stats        maintained    // the statistics compaction refreshes
	refreshEvery time.Duration // Options.RefreshEvery
	liveUnits    uint64        // Options.LiveUnits

	closeOnce sync.Once
}

// Options tune a Store's writes; the zero value is the defaults.
type Options struct {
	// BlockRows is how many rows a shared insert block holds before it is
	// sent without waiting for Linger; 0 means DefaultBlockRows.
	BlockRows int
	// MinInterval is the least time between the starts of two inserts
	// into a table (each makes a part that ClickHouse merges later); 0
	// means DefaultMinInterval.
	MinInterval time.Duration
	// RefreshEvery is the least time between two refreshes of a
	// maintained statistic whose data changed (see Compact); 0 means
	// DefaultRefreshEvery.
	RefreshEvery time.Duration
	// LiveUnits is the fewest units a refreshed statistic must have
	// counted for ArmStats and ExposureCounts to read it although
	// exposures or events were stored since (see Compact); smaller ones
	// are computed again from the raw rows. 0 means DefaultLiveUnits.
	LiveUnits int
}

// Defaults of Options.
const (
	DefaultBlockRows   = 200_000
	DefaultMinInterval = 50 * time.Millisecond
)

// IsDSN reports whether dsn names a ClickHouse database (a clickhouse://
// URL).
func IsDSN(dsn string) bool { return strings.HasPrefix(dsn, "clickhouse://") }

// validDatabase is what a database name may be: an identifier, so that it
// needs no escaping in a statement.
var validDatabase = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Open connects to the ClickHouse database dsn names,
// clickhouse://[user[:password]@]host:port/database[?option=value…] (the
// driver's native-protocol options: dial_timeout, compress…), creates the
// database and the tables if they are missing, and returns the Store. The
// database defaults to "ramp".
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	o, name, fromDSN, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if opt.RefreshEvery <= 0 {
		opt.RefreshEvery = fromDSN.RefreshEvery
	}
	if opt.LiveUnits <= 0 {
		opt.LiveUnits = fromDSN.LiveUnits
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = 16
	}
	conn, err := ch.Open(o)
	if err != nil {
		return nil, fmt.Errorf("events database %s: %w", redact(dsn), err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("events database %s: %w", redact(dsn), err)
	}
	s := &Store{conn: conn, db: "`" + name + "`", name: name, Now: time.Now}
	if err := s.migrate(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("events database %s: %w", redact(dsn), err)
	}
	if opt.BlockRows <= 0 {
		opt.BlockRows = DefaultBlockRows
	}
	if opt.MinInterval <= 0 {
		opt.MinInterval = DefaultMinInterval
	}
	s.refreshEvery = opt.RefreshEvery
	if s.refreshEvery <= 0 {
		s.refreshEvery = DefaultRefreshEvery
	}
	s.liveUnits = uint64(opt.LiveUnits)
	if opt.LiveUnits <= 0 {
		s.liveUnits = DefaultLiveUnits
	}
	s.exposures = newBlockWriter(s, exposureColumns, opt)
	s.events = newBlockWriter(s, eventColumns, opt)
	return s, nil
}

// parseDSN reads an events DSN (see Open): the driver's options, with no
// database (it may not exist yet: the Store connects to the server's
// default one and names its own in every statement), the database's name,
// and the Store's own options the URL sets (refresh_every, a duration, and
// live_units, a number: Options.RefreshEvery and LiveUnits), which are
// taken out before the rest goes to the driver. Its errors match
// ramp.ErrInvalid and never show the password.
func parseDSN(dsn string) (*ch.Options, string, Options, error) {
	var opt Options
	fail := func(format string, args ...any) (*ch.Options, string, Options, error) {
		return nil, "", opt, ramp.Errorf(ramp.KindInvalid, format, args...)
	}
	if !IsDSN(dsn) {
		return fail("events database %q: want clickhouse://host:port/database", redact(dsn))
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return fail("events database %q: not a URL", redact(dsn))
	}
	q := u.Query()
	if v, ok := q["refresh_every"]; ok {
		d, err := time.ParseDuration(v[0])
		if err != nil || d <= 0 {
			return fail("events database %s: refresh_every=%q: want a positive duration such as 10m", redact(dsn), v[0])
		}
		opt.RefreshEvery = d
		q.Del("refresh_every")
	}
	if v, ok := q["live_units"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n <= 0 {
			return fail("events database %s: live_units=%q: want a positive number of units", redact(dsn), v[0])
		}
		opt.LiveUnits = n
		q.Del("live_units")
	}
	u.RawQuery = q.Encode()
	o, err := ch.ParseDSN(u.String())
	if err != nil {
		return fail("events database %s: %v", redact(dsn), strings.ReplaceAll(err.Error(), u.String(), redact(dsn)))
	}
	name := "ramp"
	if p := strings.Trim(u.Path, "/"); p != "" {
		name = p
	}
	if !validDatabase.MatchString(name) {
		return fail("events database %s: database name %q: want letters, digits and underscores", redact(dsn), name)
	}
	o.Auth.Database = ""
	return o, name, opt, nil
}

// redact hides a DSN's password.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Database returns the name of the database the Store uses.
func (s *Store) Database() string { return s.name }

// Close waits for the writes in flight and closes the connections.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.exposures.close()
		s.events.close()
		err = s.conn.Close()
	})
	return err
}

// Buckets is how many unit buckets the tables are ordered by (see the
// package comment): the most ranges a query is split into.
const Buckets = 1024

// migrate creates the database and the tables if they are missing.
func (s *Store) migrate(ctx context.Context) error {
	for _, q := range []string{
		`CREATE DATABASE IF NOT EXISTS ` + s.db,
		`CREATE TABLE IF NOT EXISTS ` + s.db + `.exposures (
			experiment String,
			phase UInt32,
			unit_attr String,
			unit String,
			arm String,
			flag String,
			at Int64,
			rev UInt64,
			bucket UInt16 MATERIALIZED cityHash64(unit) % 1024
		) ENGINE = ReplacingMergeTree(rev)
		ORDER BY (experiment, phase, bucket, unit_attr, unit, arm)`,
		`CREATE TABLE IF NOT EXISTS ` + s.db + `.events (
			name String,
			attr String,
			unit String,
			at Int64,
			day Int32,
			value Float64,
			first UInt8,
			h UInt64,
			bucket UInt16 MATERIALIZED cityHash64(unit) % 1024
		) ENGINE = ReplacingMergeTree
		PARTITION BY intDiv(day, 7)
		ORDER BY (name, bucket, h, attr)
		SETTINGS vertical_merge_algorithm_min_columns_to_activate = 1`,
	} {
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("create the tables: %w", err)
		}
	}
	return s.migrateRefresh(ctx)
}

// Drop deletes the Store's database and everything in it (tests and
// benchmarks use a database of their own).
func (s *Store) Drop(ctx context.Context) error {
	if err := s.conn.Exec(ctx, `DROP DATABASE IF EXISTS `+s.db); err != nil {
		return fmt.Errorf("drop database %s: %w", s.name, err)
	}
	return nil
}

package store

import (
	"context"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
)

// State returns the whole configuration, every cohort with its members
// loaded and every object with its version, together with the configuration
// version it is at.
func (s *Store) State(ctx context.Context) (flags.State, int64, error) {
	var st flags.State
	var version int64
	err := s.read(ctx, "read state", func(db *gorm.DB) error {
		var err error
		if version, err = configVersion(db); err != nil {
			return err
		}
		if st.Cohorts, err = loadCohorts(db); err != nil {
			return err
		}
		var members []memberRow
		err = db.Raw(`SELECT m.cohort_key, m.user_id, m.region FROM cohort_members m JOIN cohorts c ON c.key = m.cohort_key
			WHERE m.added_gen <= c.gen AND (m.removed_gen IS NULL OR m.removed_gen > c.gen)
			ORDER BY m.cohort_key, m.user_id`).Scan(&members).Error
		if err != nil {
			return err
		}
		index := cohortIndex(st.Cohorts)
		for _, m := range members {
			c := &st.Cohorts[index[m.CohortKey]]
			c.Members = append(c.Members, cohorts.Member{ID: m.UserID, Region: cohorts.Region(m.Region)})
		}
		for i := range st.Cohorts {
			st.Cohorts[i].MemberCount = len(st.Cohorts[i].Members)
		}
		st.Flags, err = loadFlags(db)
		return err
	})
	if err != nil {
		return flags.State{}, 0, err
	}
	return st, version, nil
}

// Version returns the configuration version: a counter that every write
// changing anything increments. It is made to be polled: one read of one
// row by its primary key (config_state has one row; on SQLite the key is
// the rowid), outside any transaction.
func (s *Store) Version(ctx context.Context) (int64, error) {
	v, err := configVersion(s.r.WithContext(ctx))
	return v, s.wrap("read config version", err)
}

// versionQuery reads the configuration version.
const versionQuery = "SELECT version FROM config_state WHERE id = 1"

func configVersion(db *gorm.DB) (int64, error) {
	var v int64
	err := db.Raw(versionQuery).Scan(&v).Error
	return v, err
}

// Listen calls onChange with the configuration version when it starts
// listening and again each time a write changes it, until ctx is done. It
// returns nil when ctx is done and an error when it cannot listen any more
// (its connection failed); it does not reconnect. onChange runs on Listen's
// goroutine, one call at a time, each version once; a slow onChange delays
// the next.
//
// On Postgres every write transaction that changes anything ends with
// NOTIFY ramp_config, '<version>', and Listen LISTENs on its own connection,
// outside the Store's pool, so replicas learn of a change as soon as it
// commits and an idle database costs nothing. The payload is a hint:
// Listen re-reads the version (one row, on its connection) for any it has
// not reported, so that deployments sharing a database through different
// schemas do not wake each other with wrong versions. LISTEN needs a session
// of its own: it does not work through a pooler in transaction mode
// (PgBouncer's default).
//
// Notifications sent while Listen is not connected are lost, so servers
// should treat Listen as a fast path: reload on onChange, keep polling
// Version at a slower pace, and poll only when Listen returns an error —
// always on SQLite, which has no notifications: there Listen returns
// ErrListenUnsupported at once, and Version, a single-row read on a local
// file, is cheap enough to poll every 200 ms.
func (s *Store) Listen(ctx context.Context, onChange func(version int64)) error {
	if s.d.listen == nil {
		return ErrListenUnsupported
	}
	return s.wrap("listen for changes", s.d.listen(ctx, onChange))
}

// Flags returns every flag, in key order.
func (s *Store) Flags(ctx context.Context) ([]flags.Flag, error) {
	fs, err := loadFlags(s.r.WithContext(ctx))
	return fs, s.wrap("read flags", err)
}

func loadFlags(db *gorm.DB) ([]flags.Flag, error) {
	var rows []flagRow
	if err := db.Order("key").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]flags.Flag, len(rows))
	for i := range rows {
		f, err := decodeFlag(&rows[i])
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// Flag returns the flag with the given key, or a *NotFoundError.
func (s *Store) Flag(ctx context.Context, key string) (flags.Flag, error) {
	row, err := findFlag(s.r.WithContext(ctx), key)
	if err != nil {
		return flags.Flag{}, s.wrap("read flag", err)
	}
	f, err := decodeFlag(row)
	return f, s.wrap("read flag", err)
}

// findFlag returns the flag's row, or a *NotFoundError.
func findFlag(db *gorm.DB, key string) (*flagRow, error) {
	var rows []flagRow
	if err := db.Where("key = ?", key).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &NotFoundError{Kind: "flag", Key: key}
	}
	return &rows[0], nil
}

// Cohorts returns every cohort in key order, with MemberCount set and
// Members not loaded.
func (s *Store) Cohorts(ctx context.Context) ([]cohorts.Cohort, error) {
	var out []cohorts.Cohort
	err := s.read(ctx, "read cohorts", func(db *gorm.DB) error {
		var err error
		out, err = loadCohortsCounted(db)
		return err
	})
	return out, err
}

// loadCohortsCounted loads every cohort in key order with MemberCount set.
func loadCohortsCounted(db *gorm.DB) ([]cohorts.Cohort, error) {
	out, err := loadCohorts(db)
	if err != nil {
		return nil, err
	}
	return out, countMembers(db, out)
}

// countMembers sets the MemberCount of cohorts, which are in key order,
// from the counts their rows keep (one read of the cohorts table, whatever
// the size of the lists).
func countMembers(db *gorm.DB, cs []cohorts.Cohort) error {
	var counts []struct {
		Key         string
		MemberCount int
	}
	if err := db.Model(&cohortRow{}).Select("key, member_count").Find(&counts).Error; err != nil {
		return err
	}
	index := cohortIndex(cs)
	for _, c := range counts {
		if i, ok := index[c.Key]; ok {
			cs[i].MemberCount = c.MemberCount
		}
	}
	return nil
}

// cohortIndex maps cohort keys to their positions in cs.
func cohortIndex(cs []cohorts.Cohort) map[string]int {
	m := make(map[string]int, len(cs))
	for i, c := range cs {
		m[c.Key] = i
	}
	return m
}

func loadCohorts(db *gorm.DB) ([]cohorts.Cohort, error) {
	var rows []cohortRow
	if err := db.Order("key").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]cohorts.Cohort, len(rows))
	for i := range rows {
		c, err := decodeCohort(&rows[i])
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// Cohort returns the cohort with the given key, with MemberCount set and
// Members not loaded, or a *NotFoundError.
func (s *Store) Cohort(ctx context.Context, key string) (cohorts.Cohort, error) {
	var c cohorts.Cohort
	err := s.read(ctx, "read cohort", func(db *gorm.DB) error {
		var err error
		c, err = findCohort(db, key)
		return err
	})
	return c, err
}

// findCohort returns the cohort with MemberCount set, or a *NotFoundError.
func findCohort(db *gorm.DB, key string) (cohorts.Cohort, error) {
	var rows []cohortRow
	if err := db.Where("key = ?", key).Limit(1).Find(&rows).Error; err != nil {
		return cohorts.Cohort{}, err
	}
	if len(rows) == 0 {
		return cohorts.Cohort{}, &NotFoundError{Kind: "cohort", Key: key}
	}
	c, err := decodeCohort(&rows[0])
	if err != nil {
		return cohorts.Cohort{}, err
	}
	c.MemberCount = int(rows[0].MemberCount)
	return c, nil
}

// Members returns the cohort's listed members sorted by id, or a
// *NotFoundError.
func (s *Store) Members(ctx context.Context, key string) ([]cohorts.Member, error) {
	var out []cohorts.Member
	err := s.read(ctx, "read members", func(db *gorm.DB) error {
		if err := cohortExists(db, key); err != nil {
			return err
		}
		gen, err := memberGen(db, key)
		if err != nil {
			return err
		}
		var rows []memberRow
		if err := db.Where("cohort_key = ? AND "+visibleMembers, key, gen, gen).Order("user_id").Find(&rows).Error; err != nil {
			return err
		}
		out = make([]cohorts.Member, len(rows))
		for i, r := range rows {
			out[i] = cohorts.Member{ID: r.UserID, Region: cohorts.Region(r.Region)}
		}
		return nil
	})
	return out, err
}

// MemberRegionCounts returns how many of the cohort's members each region
// has; members without a known region count under "". It reads the counts
// the cohort's row keeps, whatever the list's size, and returns a
// *NotFoundError for an unknown cohort.
func (s *Store) MemberRegionCounts(ctx context.Context, key string) (map[cohorts.Region]int, error) {
	var out map[cohorts.Region]int
	err := s.read(ctx, "count members by region", func(db *gorm.DB) error {
		var rows []cohortRow
		if err := db.Select("key, region_counts").Where("key = ?", key).Limit(1).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return &NotFoundError{Kind: "cohort", Key: key}
		}
		rc, err := decodeRegionCounts(key, rows[0].RegionCounts)
		out = rc.regions()
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func cohortExists(db *gorm.DB, key string) error {
	var n int64
	if err := db.Model(&cohortRow{}).Where("key = ?", key).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return &NotFoundError{Kind: "cohort", Key: key}
	}
	return nil
}

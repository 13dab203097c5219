package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
)

// Configuration returns the configuration as evaluation needs it, at the
// revision it is at: cohorts, flags and rollout plans as stored (compose
// them with ramp.Compose), each cohort's listed members as a hashed set in
// State.MemberSets (Members is nil, MemberCount is set). The sets are built
// as the rows stream, so a cohort of 10 million members costs its set (12
// bytes a member) and, while it is built, 8 bytes a member more; its ids are
// never all in memory. flags.Compile and wire.Marshal take such a state as
// it is. SetVersions has each cohort's members version (cohortsets.go);
// ConfigurationReusing skips the lists a caller holds already.
func (s *Store) Configuration(ctx context.Context) (ramp.Config, error) {
	return s.readConfig(ctx, func(db *gorm.DB, c *ramp.Config) error {
		return memberSets(db, s.d, c, nil) // cohortsets.go
	})
}

// Catalogue returns the configuration as edits and validation need it, at
// the revision it is at: cohorts with their MemberCount but no member ids,
// flags and rollout plans as stored. Its cost does not depend on the size
// of member lists: what `rollout add-stage`, `apply` of a file without
// member lists and every other edit read.
func (s *Store) Catalogue(ctx context.Context) (ramp.Config, error) {
	return s.readConfig(ctx, func(db *gorm.DB, c *ramp.Config) error { return countMembers(db, c.State.Cohorts) })
}

// readConfig reads, in one read transaction, the revision, the cohorts
// (without members), the flags and the rollout plans, then lets lists add
// what the caller needs of the member lists.
func (s *Store) readConfig(ctx context.Context, lists func(db *gorm.DB, c *ramp.Config) error) (ramp.Config, error) {
	var c ramp.Config
	err := s.read(ctx, "read configuration", func(db *gorm.DB) error {
		var err error
		if c, err = loadConfig(db); err != nil {
			return err
		}
		return lists(db, &c)
	})
	if err != nil {
		return ramp.Config{}, err
	}
	return c, nil
}

// loadConfig reads the revision, the cohorts (without members), the flags,
// the rollout plans, the layers and experiments, and the metrics.
func loadConfig(db *gorm.DB) (ramp.Config, error) {
	var c ramp.Config
	var err error
	if c.Revision, err = configRevision(db); err != nil {
		return c, err
	}
	if c.State.Cohorts, err = loadCohorts(db); err != nil {
		return c, err
	}
	if c.State.Flags, err = loadFlags(db); err != nil {
		return c, err
	}
	c.Rollouts, err = loadRollouts(db)
	err = withExperiments(db, &c, err)     // layers and experiments: experiments.go
	err = withMetrics(db, &c.Metrics, err) // metrics.go
	return c, err
}

// hashChunk is how many ids one query of memberHashes returns, joined in
// one string: a row per id through database/sql costs about 1 µs, ten
// times what SQLite takes to read it.
const hashChunk = 8192

// memberHashes appends the HashID of each of the cohort's members to
// hashes, reading them in chunks of ids joined by newlines (which ids
// cannot contain), in id order from an index range scan, the cohort's
// listed rows only (gen.go).
func memberHashes(db *gorm.DB, d *dialect, key string, hashes []uint64) ([]uint64, error) {
	gen, err := memberGen(db, key)
	if err != nil {
		return hashes, err
	}
	q := fmt.Sprintf(`SELECT %s, MAX(user_id), COUNT(*) FROM (SELECT user_id FROM cohort_members
		WHERE cohort_key = ? AND user_id > ? AND %s ORDER BY user_id LIMIT %d) chunk`, d.joinIDs, visibleMembers, hashChunk)
	after := ""
	for {
		var ids, last sql.NullString
		var n int
		if err := db.Raw(q, key, after, gen, gen).Row().Scan(&ids, &last, &n); err != nil {
			return hashes, err
		}
		rest := ids.String
		for len(rest) > 0 {
			id := rest
			if i := strings.IndexByte(rest, '\n'); i >= 0 {
				id, rest = rest[:i], rest[i+1:]
			} else {
				rest = ""
			}
			hashes = append(hashes, cohorts.HashID(id))
		}
		if n < hashChunk {
			return hashes, nil
		}
		after = last.String
	}
}

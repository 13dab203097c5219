package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
)

// MemberFunc streams a cohort's listed members in id order (byte order) to
// fn, stopping at fn's first error and returning it.
type MemberFunc func(cohort string, fn func(cohorts.Member) error) error

// Export reads the whole configuration in one consistent read transaction
// for a writer that streams it: fn gets the catalogue (cohorts with their
// MemberCount and no member ids, flags, rollout plans with their progress,
// the revision) and a MemberFunc that reads any cohort's members, valid
// until fn returns, from the same snapshot. Members are read in chunks of
// a few thousand, so memory does not grow with the lists: `ramp export`
// of a 10-million-member cohort holds one chunk at a time.
func (s *Store) Export(ctx context.Context, fn func(cfg *ramp.Config, members MemberFunc) error) error {
	return s.read(ctx, "export", func(db *gorm.DB) error {
		cfg, err := catalogue(db)
		if err != nil {
			return err
		}
		return fn(&cfg, func(key string, each func(cohorts.Member) error) error {
			return eachMember(db, key, each)
		})
	})
}

// catalogue reads the configuration without member ids.
func catalogue(db *gorm.DB) (ramp.Config, error) {
	c, err := loadConfig(db)
	if err != nil {
		return c, err
	}
	return c, countMembers(db, c.State.Cohorts)
}

// eachMember calls fn with each of the cohort's members in id order. Like
// memberHashes, it reads hashChunk members a query, joined into one string
// (ids and regions contain no tab or newline), which is several times
// faster than a row per member through database/sql.
func eachMember(db *gorm.DB, key string, fn func(cohorts.Member) error) error {
	join := "group_concat(user_id || char(9) || region, char(10))"
	if db.Dialector.Name() == "postgres" {
		join = "string_agg(user_id || chr(9) || region, chr(10))"
	}
	gen, err := memberGen(db, key)
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`SELECT %s, MAX(user_id), COUNT(*) FROM (SELECT user_id, region FROM cohort_members
		WHERE cohort_key = ? AND user_id > ? AND %s ORDER BY user_id LIMIT %d) chunk`, join, visibleMembers, hashChunk)
	after := ""
	var chunk []cohorts.Member
	for {
		var rows, last sql.NullString
		var n int
		if err := db.Raw(q, key, after, gen, gen).Row().Scan(&rows, &last, &n); err != nil {
			return err
		}
		chunk = chunk[:0]
		for line := range strings.SplitSeq(rows.String, "\n") {
			if line == "" {
				continue
			}
			id, region, _ := strings.Cut(line, "\t")
			chunk = append(chunk, cohorts.Member{ID: id, Region: cohorts.Region(region)})
		}
		// The aggregate's order is the subquery's in practice, but no
		// engine promises it: sort each chunk, a range of ids.
		slices.SortFunc(chunk, func(a, b cohorts.Member) int { return strings.Compare(a.ID, b.ID) })
		for _, m := range chunk {
			if err := fn(m); err != nil {
				return err
			}
		}
		if n < hashChunk {
			return nil
		}
		after = last.String
	}
}

package store

import (
	"context"
	"slices"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
)

// lookupChunk is how many ids one query of listings looks up: well under
// SQLite's 32,766 parameters, and short enough for Postgres' planner.
const lookupChunk = 500

// ConfigurationFor returns the configuration as evaluation needs it for
// the users ids names, and only them: like Configuration, except that each
// cohort's MemberSets holds just those of ids that the cohort lists. A
// snapshot compiled from it decides those users exactly as one compiled
// from Configuration would (cohort lists are matched on the targeting key),
// and the read costs nothing per member of the lists: what `ramp eval`
// and `--explain` of one context read. MemberCount is not set.
func (s *Store) ConfigurationFor(ctx context.Context, ids []string) (ramp.Config, error) {
	return s.readConfig(ctx, func(db *gorm.DB, c *ramp.Config) error {
		c.State.MemberSets = map[string]*cohorts.Set{}
		for _, co := range c.State.Cohorts {
			found, err := listings(db, co.Key, ids)
			if err != nil {
				return err
			}
			if len(found) == 0 {
				continue
			}
			listed := make([]string, len(found))
			for i, m := range found {
				listed[i] = m.UserID
			}
			c.State.MemberSets[co.Key] = cohorts.NewSet(listed)
		}
		return nil
	})
}

// listings returns the cohort's member rows of the given ids. It reads by
// the primary key (cohort, id), in chunks, whatever the size of the list,
// and returns listed rows only (gen.go).
func listings(db *gorm.DB, cohort string, ids []string) ([]memberRow, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	gen, err := memberGen(db, cohort)
	if err != nil {
		return nil, err
	}
	var out []memberRow
	for chunk := range slices.Chunk(ids, lookupChunk) {
		var rows []memberRow
		if err := db.Where("cohort_key = ? AND user_id IN ? AND "+visibleMembers, cohort, chunk, gen, gen).Find(&rows).Error; err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// Listed returns the region of each of ids that the cohort lists, by id
// (an empty region for a member listed without one); ids it does not list
// are absent. It reads by the ids, whatever the size of the list.
func (t *ApplyTx) Listed(cohort string, ids []string) (map[string]cohorts.Region, error) {
	rows, err := listings(t.db, cohort, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]cohorts.Region, len(rows))
	for _, r := range rows {
		out[r.UserID] = cohorts.Region(r.Region)
	}
	return out, nil
}

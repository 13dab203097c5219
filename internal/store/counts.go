package store

import (
	"encoding/json"
	"fmt"
	"maps"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp/cohorts"
)

// Each cohort's row keeps its member count (member_count) and how many
// members each region has (region_counts, a JSON object, "" for members
// without a region), so that reading them costs the same whatever the
// list's size. Every write of a member list updates both in its
// transaction: imports and member edits from the change they make, apply
// by counting the list it wrote.

// regionCounts is a member count per region ("" for no region).
type regionCounts map[string]int64

// decodeRegionCounts parses a cohort row's region_counts.
func decodeRegionCounts(key, s string) (regionCounts, error) {
	out := regionCounts{}
	if s == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("stored cohort %q: region counts: %w", key, err)
	}
	return out, nil
}

// encode returns the counts as region_counts stores them, without regions
// that have no members.
func (rc regionCounts) encode() string {
	maps.DeleteFunc(rc, func(_ string, n int64) bool { return n == 0 })
	b, err := json.Marshal(map[string]int64(rc)) // sorted keys: the same counts, the same text
	if err != nil {
		panic(err) // a map of strings to integers always encodes
	}
	return string(b)
}

// regions returns the counts keyed by region.
func (rc regionCounts) regions() map[cohorts.Region]int {
	out := make(map[cohorts.Region]int, len(rc))
	for r, n := range rc {
		if n != 0 {
			out[cohorts.Region(r)] = int(n)
		}
	}
	return out
}

// addRows adds the counts of rows (region, n), as a GROUP BY region
// returns them, multiplied by sign.
func (rc regionCounts) addRows(rows []regionRow, sign int64) {
	for _, r := range rows {
		rc[r.Region] += sign * r.N
	}
}

// regionRow is a row of a count of members grouped by region.
type regionRow struct {
	Region string
	N      int64
}

// countRegions counts the cohort's members by region: a scan of its list,
// for writes that replace the list wholesale (apply) and for checks.
func countRegions(db *gorm.DB, key string) (total int64, rc regionCounts, err error) {
	gen, err := memberGen(db, key)
	if err != nil {
		return 0, nil, err
	}
	var rows []regionRow
	err = db.Raw("SELECT region, COUNT(*) AS n FROM cohort_members WHERE cohort_key = ? AND "+visibleMembers+" GROUP BY region", key, gen, gen).Scan(&rows).Error
	if err != nil {
		return 0, nil, fmt.Errorf("count members of cohort %q: %w", key, err)
	}
	rc = regionCounts{}
	rc.addRows(rows, 1)
	for _, r := range rows {
		total += r.N
	}
	return total, rc, nil
}

// setCounts stores the cohort's member count and region counts.
func setCounts(db *gorm.DB, key string, total int64, rc regionCounts) error {
	err := db.Model(&cohortRow{}).Where("key = ?", key).
		Updates(map[string]any{"member_count": total, "region_counts": rc.encode()}).Error
	if err != nil {
		return fmt.Errorf("store member counts of cohort %q: %w", key, err)
	}
	return nil
}

// recount counts the cohort's members and stores the counts.
func recount(db *gorm.DB, key string) (int64, error) {
	total, rc, err := countRegions(db, key)
	if err != nil {
		return 0, err
	}
	return total, setCounts(db, key, total, rc)
}

// migrateMemberCounts adds the member counts to cohorts' rows and fills
// them with one scan of the member lists (grouped by cohort and region).
func migrateMemberCounts(tx *gorm.DB, _ *dialect) error {
	err := exec(tx,
		`ALTER TABLE cohorts ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE cohorts ADD COLUMN region_counts TEXT NOT NULL DEFAULT '{}'`,
	)
	if err != nil {
		return err
	}
	var rows []struct {
		CohortKey string
		Region    string
		N         int64
	}
	if err := tx.Raw("SELECT cohort_key, region, COUNT(*) AS n FROM cohort_members GROUP BY cohort_key, region").Scan(&rows).Error; err != nil {
		return fmt.Errorf("count members: %w", err)
	}
	totals := map[string]int64{}
	counts := map[string]regionCounts{}
	for _, r := range rows {
		if counts[r.CohortKey] == nil {
			counts[r.CohortKey] = regionCounts{}
		}
		counts[r.CohortKey][r.Region] += r.N
		totals[r.CohortKey] += r.N
	}
	for key, rc := range counts {
		if err := setCounts(tx, key, totals[key], rc); err != nil {
			return err
		}
	}
	return nil
}

package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
)

// Member sets are versioned on their own. Each cohort's row has a
// members_version: the configuration version of the write that last
// changed its listed members (an import's flip, member edits, an apply
// that writes the list, the creation of a cohort with members). Every
// such write sets it to the configuration version it commits (the version
// before the write plus one: commit bumps it at the end), so a version
// is never given to two different lists of one key, even when a cohort
// is deleted and created again; a cohort created without members keeps
// 0, the empty list's. Edits that leave the list alone (a description,
// conditions, flags) leave it alone too, so a reader that holds a
// cohort's set at that version need not read the list again.

// nextMembersVersion is the value a write transaction gives a cohort
// whose listed members it changes.
const nextMembersVersion = "(SELECT version FROM config_state WHERE id = 1) + 1"

// touchMembers records that the write changed the cohort's listed members.
func touchMembers(db *gorm.DB, key string) error {
	if err := db.Exec("UPDATE cohorts SET members_version = "+nextMembersVersion+" WHERE key = ?", key).Error; err != nil {
		return fmt.Errorf("version the members of cohort %q: %w", key, err)
	}
	return nil
}

// migrateMembersVersion adds cohorts.members_version; every existing list
// gets the current configuration version.
func migrateMembersVersion(tx *gorm.DB, _ *dialect) error {
	if tx.Migrator().HasColumn("cohorts", "members_version") {
		// A database taken back to an earlier schema by a test keeps it.
		return tx.Exec(`UPDATE cohorts SET members_version = (SELECT version FROM config_state WHERE id = 1) WHERE member_count > 0`).Error
	}
	return exec(tx,
		`ALTER TABLE cohorts ADD COLUMN members_version BIGINT NOT NULL DEFAULT 0`,
		`UPDATE cohorts SET members_version = (SELECT version FROM config_state WHERE id = 1) WHERE member_count > 0`,
	)
}

// ConfigurationReusing is Configuration for a reader that keeps the sets it
// built: for each cohort, reuse is asked for the set of the cohort at its
// members version (Config.SetVersions); the list is read and hashed only
// when reuse returns nil. A server that reloads after a change to a flag
// thus reads no member list at all, whatever their sizes. reuse runs
// inside the read transaction and must not call the store.
func (s *Store) ConfigurationReusing(ctx context.Context, reuse func(cohort string, version int64) *cohorts.Set) (ramp.Config, error) {
	return s.readConfig(ctx, func(db *gorm.DB, c *ramp.Config) error {
		return memberSets(db, s.d, c, reuse)
	})
}

// memberSets fills c's MemberSets and SetVersions, taking sets from reuse
// (when not nil) and reading the others.
func memberSets(db *gorm.DB, d *dialect, c *ramp.Config, reuse func(string, int64) *cohorts.Set) error {
	st := &c.State
	st.MemberSets = make(map[string]*cohorts.Set, len(st.Cohorts))
	var rows []struct {
		Key            string
		MembersVersion int64
	}
	if err := db.Model(&cohortRow{}).Select("key, members_version").Find(&rows).Error; err != nil {
		return fmt.Errorf("read member versions: %w", err)
	}
	c.SetVersions = make(map[string]int64, len(rows))
	for _, r := range rows {
		c.SetVersions[r.Key] = r.MembersVersion
	}
	var hashes []uint64
	for i := range st.Cohorts {
		key := st.Cohorts[i].Key
		if reuse != nil {
			if set := reuse(key, c.SetVersions[key]); set != nil {
				st.MemberSets[key] = set
				st.Cohorts[i].MemberCount = set.Len()
				continue
			}
		}
		var err error
		if hashes, err = memberHashes(db, d, key, hashes[:0]); err != nil {
			return err
		}
		if len(hashes) > 0 {
			st.MemberSets[key] = cohorts.NewSetFromHashes(hashes)
			st.Cohorts[i].MemberCount = st.MemberSets[key].Len()
		}
	}
	return nil
}

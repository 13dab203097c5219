package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// EvaluationState returns the configuration as evaluation needs it, with
// the revision (epoch and configuration version) it is at: like State, except that each flag's
// rollout plan is applied (the rules of its live stage follow the flag's
// own, see rollout.Apply) and each cohort's listed members come as a hashed
// set in MemberSets (Members is nil, MemberCount is set). The sets are built as the rows stream, so a
// cohort of 10 million members costs its set (12 bytes a member) and, while
// it is built, 8 bytes a member more; its ids are never all in memory.
// flags.Compile and wire.Marshal take such a state as it is.
func (s *Store) EvaluationState(ctx context.Context) (flags.State, Revision, error) {
	var st flags.State
	var rev Revision
	err := s.read(ctx, "read state", func(db *gorm.DB) error {
		var err error
		if rev, err = configRevision(db); err != nil {
			return err
		}
		if st.Cohorts, err = loadCohorts(db); err != nil {
			return err
		}
		st.MemberSets = make(map[string]*cohorts.Set, len(st.Cohorts))
		var hashes []uint64
		for i := range st.Cohorts {
			key := st.Cohorts[i].Key
			if hashes, err = memberHashes(db, s.d, key, hashes[:0]); err != nil {
				return err
			}
			if len(hashes) > 0 {
				st.MemberSets[key] = cohorts.NewSetFromHashes(hashes)
				st.Cohorts[i].MemberCount = st.MemberSets[key].Len()
			}
		}
		if st.Flags, err = loadFlags(db); err != nil {
			return err
		}
		rs, err := loadRollouts(db)
		if err != nil {
			return err
		}
		st = rollout.Apply(st, rs)
		return nil
	})
	if err != nil {
		return flags.State{}, Revision{}, err
	}
	return st, rev, nil
}

// hashChunk is how many ids one query of memberHashes returns, joined in
// one string: a row per id through database/sql costs about 1 µs, ten
// times what SQLite takes to read it.
const hashChunk = 8192

// memberHashes appends the HashID of each of the cohort's members to
// hashes, reading them in chunks of ids joined by newlines (which ids
// cannot contain), in id order from an index range scan.
func memberHashes(db *gorm.DB, d *dialect, key string, hashes []uint64) ([]uint64, error) {
	q := fmt.Sprintf(`SELECT %s, MAX(user_id), COUNT(*) FROM (SELECT user_id FROM cohort_members
		WHERE cohort_key = ? AND user_id > ? ORDER BY user_id LIMIT %d) chunk`, d.joinIDs, hashChunk)
	after := ""
	for {
		var ids, last sql.NullString
		var n int
		if err := db.Raw(q, key, after).Row().Scan(&ids, &last, &n); err != nil {
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

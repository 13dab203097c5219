package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/store"
)

// TestMembersVersionFollowsLists: after random writes of every kind, a
// cohort's members version names one list only (two reads at the same
// version see the same members), edits that leave a list alone leave its
// version alone, and ConfigurationReusing with the sets held by version
// gives the configuration Configuration reads.
func TestMembersVersionFollowsLists(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { testMembersVersion(t, seed) })
	}
}

func testMembersVersion(t *testing.T, seed uint64) {
	ctx := context.Background()
	s := openTestStore(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	keys := []string{"alpha", "beta"}
	randMembers := func(max int) []cohorts.Member {
		ms := make([]cohorts.Member, rng.IntN(max+1))
		for i := range ms {
			ms[i] = mr(fmt.Sprintf("u%02d", rng.IntN(30)), []cohorts.Region{"", "US", "FR"}[rng.IntN(3)])
		}
		return ms
	}
	type held struct {
		id  string // wire.SetID
		set *cohorts.Set
	}
	seen := map[string]held{} // "<key>@<version>" → the list read at it
	var last ramp.Config
	modes := []store.ImportMode{store.ImportReplace, store.ImportAdd, store.ImportRemove}
	for step := range 80 {
		key := keys[rng.IntN(len(keys))]
		var what string
		listUntouched := false
		switch op := rng.IntN(9); op {
		case 0, 1:
			opt := store.ImportOptions{Mode: modes[rng.IntN(len(modes))], DryRun: rng.IntN(4) == 0, AllowEmpty: true}
			ms := randMembers(12)
			what = fmt.Sprintf("import %s %s dry=%v %v", key, opt.Mode, opt.DryRun, ms)
			if _, err := s.ImportMembers(ctx, key, opt, source(ms...), "alice"); err != nil &&
				!(opt.Mode == store.ImportRemove && errors.Is(err, ramp.ErrNotFound)) {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
		case 2:
			what = fmt.Sprintf("add %s", key)
			if _, err := s.AddMemberList(ctx, key, randMembers(8), true, "alice"); err != nil {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
		case 3:
			var ids []string
			for _, m := range randMembers(8) {
				ids = append(ids, m.ID)
			}
			what = fmt.Sprintf("remove %s %v", key, ids)
			if _, err := s.RemoveMemberList(ctx, key, ids, "alice"); err != nil && !errors.Is(err, ramp.ErrNotFound) {
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
		case 4, 5:
			what = fmt.Sprintf("apply %s replace=%v", key, op == 4)
			applyList(t, s, key, randMembers(10), op == 4)
		case 6:
			what = "delete " + key
			cur, _ := mustState(t, s)
			cur.Cohorts = slices.DeleteFunc(cur.Cohorts, func(c cohorts.Cohort) bool { return c.Key == key })
			applyState(t, s, cur, true, "alice")
		case 7:
			// A description and a flag change: the lists stay as they are.
			what = "describe " + key + " and add a flag"
			cur, _ := mustState(t, s)
			i := slices.IndexFunc(cur.Cohorts, func(c cohorts.Cohort) bool { return c.Key == key })
			if i < 0 {
				continue
			}
			cur.Cohorts[i].Description = fmt.Sprint("step ", step)
			cur.Flags = append(cur.Flags, boolFlag(fmt.Sprint("f", step)))
			applyState(t, s, cur, false, "alice")
			listUntouched = true
		case 8:
			what = "copy"
			dst := openTestStore(t)
			if _, err := store.Copy(ctx, s, dst, "alice"); err != nil {
				t.Fatalf("step %d: copy: %v", step, err)
			}
			s = dst
			listUntouched = true
		}
		cfg, err := s.Configuration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cfg.State.Cohorts {
			v, ok := cfg.SetVersions[c.Key]
			if !ok {
				t.Fatalf("step %d: %s: cohort %s has no members version", step, what, c.Key)
			}
			got := held{wire.SetID(cfg.State.MemberSets[c.Key]), cfg.State.MemberSets[c.Key]}
			at := fmt.Sprintf("%s@%d", c.Key, v)
			if prev, ok := seen[at]; ok && prev.id != got.id {
				t.Fatalf("step %d: %s: cohort %s at members version %d listed %s, now %s", step, what, c.Key, v, prev.id, got.id)
			}
			seen[at] = got
			if listUntouched && last.SetVersions != nil {
				if was, ok := last.SetVersions[c.Key]; ok && was != v {
					t.Errorf("step %d: %s: members version of %s moved from %d to %d", step, what, c.Key, was, v)
				}
			}
		}
		// Reusing the sets held by version reads the same configuration.
		read := 0
		reused, err := s.ConfigurationReusing(ctx, func(key string, v int64) *cohorts.Set {
			h, ok := seen[fmt.Sprintf("%s@%d", key, v)]
			if !ok {
				read++
			}
			return h.set // nil for an empty list: read again, at no cost
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cfg.State.Cohorts {
			if a, b := wire.SetID(cfg.State.MemberSets[c.Key]), wire.SetID(reused.State.MemberSets[c.Key]); a != b {
				t.Fatalf("step %d: %s: cohort %s: read %s, reused %s", step, what, c.Key, a, b)
			}
		}
		if read > 0 {
			t.Fatalf("step %d: %s: %d lists read though every set was held", step, what, read)
		}
		last = cfg
	}
}

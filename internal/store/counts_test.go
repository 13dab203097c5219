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
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

// checkCounts checks that every read of the cohorts' member counts and
// region counts (kept on the cohorts' rows) agrees with their member lists
// as they are listed; a cohort that does not exist is skipped.
func checkCounts(t *testing.T, s *store.Store, keys ...string) {
	t.Helper()
	ctx := context.Background()
	all, err := s.Cohorts(ctx)
	if err != nil {
		t.Fatalf("Cohorts: %v", err)
	}
	cat, err := s.Catalogue(ctx)
	if err != nil {
		t.Fatalf("Catalogue: %v", err)
	}
	for _, key := range keys {
		ms, err := s.Members(ctx, key)
		if errors.Is(err, ramp.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("Members(%q): %v", key, err)
		}
		want := map[cohorts.Region]int{}
		for _, m := range ms {
			want[m.Region]++
		}
		c, err := s.Cohort(ctx, key)
		if err != nil {
			t.Fatalf("Cohort(%q): %v", key, err)
		}
		if c.MemberCount != len(ms) {
			t.Errorf("Cohort(%q).MemberCount = %d, want %d (listed)", key, c.MemberCount, len(ms))
		}
		got, err := s.MemberRegionCounts(ctx, key)
		if err != nil {
			t.Fatalf("MemberRegionCounts(%q): %v", key, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("MemberRegionCounts(%q) (-listed +got):\n%s", key, d)
		}
		for _, list := range [][]cohorts.Cohort{all, cat.State.Cohorts} {
			i := slices.IndexFunc(list, func(c cohorts.Cohort) bool { return c.Key == key })
			if i < 0 {
				t.Errorf("cohort %q missing from a list of cohorts", key)
			} else if list[i].MemberCount != len(ms) {
				t.Errorf("cohort %q listed with MemberCount %d, want %d", key, list[i].MemberCount, len(ms))
			}
		}
	}
}

// TestMemberCountsFollowWrites runs seeded random sequences of every kind
// of write of member lists (imports in the three modes, dry runs
// included; member edits; applies that replace and that add to a list;
// deletions and re-creations; a copy into a new database) and checks after
// each that the stored counts are those of the lists.
func TestMemberCountsFollowWrites(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			testMemberCounts(t, seed)
		})
	}
}

func testMemberCounts(t *testing.T, seed uint64) {
	ctx := context.Background()
	s := openTestStore(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	keys := []string{"alpha", "beta"}
	regions := []cohorts.Region{"", "US", "FR", "DE"}
	randMembers := func(max int) []cohorts.Member {
		ms := make([]cohorts.Member, rng.IntN(max+1))
		for i := range ms {
			// 30 ids for up to 12 rows: repeats, and regions that change.
			ms[i] = mr(fmt.Sprintf("u%02d", rng.IntN(30)), regions[rng.IntN(len(regions))])
		}
		return ms
	}
	modes := []store.ImportMode{store.ImportReplace, store.ImportAdd, store.ImportRemove}
	for step := range 80 {
		key := keys[rng.IntN(len(keys))]
		var what string
		switch op := rng.IntN(8); op {
		case 0, 1:
			opt := store.ImportOptions{Mode: modes[rng.IntN(len(modes))], DryRun: rng.IntN(4) == 0, AllowEmpty: true}
			ms := randMembers(12)
			what = fmt.Sprintf("import %s %s dry=%v %v", key, opt.Mode, opt.DryRun, ms)
			res, err := s.ImportMembers(ctx, key, opt, source(ms...), "alice")
			if err != nil {
				if opt.Mode == store.ImportRemove && errors.Is(err, ramp.ErrNotFound) {
					break
				}
				t.Fatalf("step %d: %s: %v", step, what, err)
			}
			if !opt.DryRun {
				if c, err := s.Cohort(ctx, key); err != nil || c.MemberCount != res.Members {
					t.Errorf("step %d: %s: result's Members %d, cohort's %d (%v)", step, what, res.Members, c.MemberCount, err)
				}
			}
		case 2:
			ms := randMembers(8)
			what = fmt.Sprintf("add %s %v", key, ms)
			if _, err := s.AddMemberList(ctx, key, ms, true, "alice"); err != nil {
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
			// apply: the file's list replaces the stored one, or (as for a
			// cohort imports own) is added to it.
			replace := op == 4
			what = fmt.Sprintf("apply %s replace=%v", key, replace)
			applyList(t, s, key, randMembers(10), replace)
		case 6:
			what = "delete " + key
			cur, _, err := s.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cur.Cohorts = slices.DeleteFunc(cur.Cohorts, func(c cohorts.Cohort) bool { return c.Key == key })
			applyState(t, s, cur, true, "alice")
		case 7:
			what = "copy"
			dst := openTestStore(t)
			if _, err := store.Copy(ctx, s, dst, "alice"); err != nil {
				t.Fatalf("step %d: copy: %v", step, err)
			}
			checkCounts(t, dst, keys...)
			if t.Failed() {
				t.Fatalf("step %d: after the copy", step)
			}
			s = dst // go on in the copy
		}
		checkCounts(t, s, keys...)
		if t.Failed() {
			t.Fatalf("step %d: %s", step, what)
		}
	}
}

// applyList applies the stored state with the cohort's list (created if
// need be) set to ms: replacing the stored list, or added to it as apply
// does for lists that imports own.
func applyList(t *testing.T, s *store.Store, key string, ms []cohorts.Member, replace bool) {
	t.Helper()
	ctx := context.Background()
	if ms == nil {
		ms = []cohorts.Member{}
	}
	cur, _, err := s.State(ctx)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	err = s.ApplyFunc(ctx, "alice", false, func(*store.ApplyTx) (*store.Changes, error) {
		desired := cur
		desired.Cohorts = slices.Clone(cur.Cohorts)
		i := slices.IndexFunc(desired.Cohorts, func(c cohorts.Cohort) bool { return c.Key == key })
		if i < 0 {
			desired.Cohorts = append(desired.Cohorts, cohort(key))
			i = len(desired.Cohorts) - 1
		}
		desired.Cohorts[i].Members = ms
		set := flags.Diff(&cur, &desired, false)
		ch := &store.Changes{Desired: &desired, Set: set}
		if !replace {
			ch.Members = map[string]store.ListEdit{}
			for _, c := range set.Changes {
				if c.Key == key && c.Members != nil {
					ch.Members[key] = store.ListEdit{Delta: *c.Members}
				}
			}
		}
		return ch, nil
	})
	if err != nil {
		t.Fatalf("apply %s: %v", key, err)
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// copySource fills s with one of everything Copy carries: flags, a cohort
// of n members (imported, so that cohort_imports has a row), a rollout
// plan advanced to its second stage, two keys (one revoked), and the
// audit entries all of that made.
func copySource(t *testing.T, s *store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	clock(s)
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("employees")}, Flags: []flags.Flag{boolFlag("interop"), boolFlag("other")}}, false, "alice")
	i := 0
	next := func() (cohorts.Member, error) {
		if i == n {
			return cohorts.Member{}, io.EOF
		}
		i++
		return cohorts.Member{ID: fmt.Sprintf("emp-%d", i), Region: "US"}, nil
	}
	if _, err := s.ImportMembers(ctx, "employees", store.ImportOptions{File: "emp.csv"}, next, "alice"); err != nil {
		t.Fatal(err)
	}
	applyPlans(t, s, []rollout.Plan{usPlan("interop")}, false)
	r, err := s.MoveRollout(ctx, advance("interop", "dogfood", "alice", 1), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MoveRollout(ctx, advance("interop", "us-1", "bob", r.Version), "bob"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"checkout", "old"} {
		if _, _, err := s.CreateKey(ctx, name, store.RoleSDK, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RevokeKey(ctx, "old", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := applyMetrics(t, s, "alice", createAll(storeMetrics())); err != nil {
		t.Fatal(err)
	}
}

// TestCopy copies a database into a new one and finds everything there:
// the configuration with rollout progress and metrics, keys (whose
// secrets still work), imports and the audit log, under a new epoch at a version above
// the source's; a second copy into it is refused.
func TestCopy(t *testing.T) {
	t.Run("sqlite to sqlite", func(t *testing.T) {
		testCopy(t, filepath.Join(t.TempDir(), "from.db"), filepath.Join(t.TempDir(), "to.db"))
	})
	t.Run("sqlite to postgres", func(t *testing.T) {
		testCopy(t, filepath.Join(t.TempDir(), "from.db"), postgresDSN(t))
	})
	t.Run("postgres to sqlite", func(t *testing.T) {
		testCopy(t, postgresDSN(t), filepath.Join(t.TempDir(), "to.db"))
	})
}

func testCopy(t *testing.T, fromDSN, toDSN string) {
	ctx := context.Background()
	defer store.SetCopyParams(300)() // 100 members an INSERT: several batches
	const n = 1234
	src, dst := openDSN(t, fromDSN), openDSN(t, toDSN)
	copySource(t, src, n)
	secret, _, err := src.CreateKey(ctx, "ops", store.RoleAdmin, "alice")
	if err != nil {
		t.Fatal(err)
	}
	clock(dst)

	res, err := store.Copy(ctx, src, dst, "carol")
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if got := res.Rows["cohort_members"]; got != n {
		t.Errorf("copied %d members, want %d", got, n)
	}

	// The configuration, with the rollout's progress.
	want, err := src.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.State, got.State, equateEmpty, cmpopts.IgnoreUnexported(cohorts.Set{})); d != "" {
		t.Errorf("state differs (-source +copy):\n%s", d)
	}
	if d := cmp.Diff(want.Rollouts, got.Rollouts, equateEmpty); d != "" {
		t.Errorf("rollouts differ (-source +copy):\n%s", d)
	}
	if d := cmp.Diff(want.Metrics, got.Metrics, equateEmpty); d != "" || len(got.Metrics) != len(storeMetrics()) {
		t.Errorf("metrics differ (-source +copy):\n%s", d)
	}
	if r, _ := got.Rollout("interop"); r == nil || r.Progress.Stage != "us-1" {
		t.Errorf("copied rollout = %+v, want at stage us-1", r)
	}
	wantMembers, _ := src.Members(ctx, "employees")
	gotMembers, _ := dst.Members(ctx, "employees")
	if d := cmp.Diff(wantMembers, gotMembers); d != "" {
		t.Errorf("members differ (-source +copy):\n%s", d)
	}

	// The revision: a new epoch, a version above the source's.
	if res.From != want.Revision {
		t.Errorf("From = %v, want %v", res.From, want.Revision)
	}
	if got.Revision != res.To || got.Revision.Epoch == want.Revision.Epoch || got.Revision.Version <= want.Revision.Version {
		t.Errorf("copy's revision %v (reported %v), source's %v: want a new epoch and a higher version", got.Revision, res.To, want.Revision)
	}

	// Keys, the record of imports, the audit log (plus the copy's entry).
	for _, read := range []func(*store.Store) (any, error){
		func(s *store.Store) (any, error) { return s.Keys(ctx) },
		func(s *store.Store) (any, error) { return s.ActiveKeys(ctx) },
		func(s *store.Store) (any, error) { return s.Imports(ctx, "employees") },
		func(s *store.Store) (any, error) { return s.Metrics(ctx) },
	} {
		w, err1 := read(src)
		g, err2 := read(dst)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if d := cmp.Diff(w, g); d != "" {
			t.Errorf("differ (-source +copy):\n%s", d)
		}
	}
	wantLog, gotLog := mustAudit(t, src, store.AuditFilter{}), mustAudit(t, dst, store.AuditFilter{})
	if len(gotLog) != len(wantLog)+1 {
		t.Fatalf("copy's audit log has %d entries, want the source's %d and the copy's", len(gotLog), len(wantLog))
	}
	if d := cmp.Diff(wantLog, gotLog[:len(wantLog)]); d != "" {
		t.Errorf("audit log differs (-source +copy):\n%s", d)
	}
	if last := gotLog[len(gotLog)-1]; last.Action != "db.copy" || last.Actor != "carol" || last.ID <= wantLog[len(wantLog)-1].ID {
		t.Errorf("last entry = %+v, want db.copy by carol after the copied ones", last)
	}

	// The copy takes writes: new ids follow the copied ones.
	if _, _, err := dst.CreateKey(ctx, "new", store.RoleSDK, "carol"); err != nil {
		t.Errorf("CreateKey after the copy: %v", err)
	}
	if hashes, _ := dst.ActiveKeys(ctx); !hasHash(hashes, store.HashSecret(secret)) {
		t.Errorf("the source's admin key is not active in the copy")
	}

	// A second copy is refused and changes nothing.
	before, _ := dst.Revision(ctx)
	_, err = store.Copy(ctx, src, dst, "carol")
	if !errors.Is(err, ramp.ErrRefused) {
		t.Errorf("copy into a database that is not empty: %v, want ErrRefused", err)
	}
	if after, _ := dst.Revision(ctx); after != before {
		t.Errorf("a refused copy changed the revision: %v → %v", before, after)
	}
}

func hasHash(keys []store.KeyHash, h [32]byte) bool {
	for _, k := range keys {
		if k.Hash == h {
			return true
		}
	}
	return false
}

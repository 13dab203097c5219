package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

// waitFor is how long a test waits for an event it needs, however loaded
// the machine: it tells happening from not happening, never how fast.
const waitFor = 30 * time.Second

// genMembers returns n members "prefix-00000"… with regions taken in turn
// from regions.
func genMembers(prefix string, n int, regions ...cohorts.Region) []cohorts.Member {
	ms := make([]cohorts.Member, n)
	for i := range ms {
		ms[i] = mr(fmt.Sprintf("%s-%05d", prefix, i), regions[i%len(regions)])
	}
	return ms
}

// asListed returns members as listed returns them, sorted by id.
func asListed(ms []cohorts.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID + "/" + string(m.Region)
	}
	slices.Sort(out)
	return out
}

// rawRows counts the rows of the cohort in cohort_members, of every
// generation.
func rawRows(t *testing.T, s *store.Store, key string) int {
	t.Helper()
	var n int
	if err := store.QueryRow(s, fmt.Sprintf("SELECT COUNT(*) FROM cohort_members WHERE cohort_key = '%s'", key), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// events is a log of what happened, in order, from several goroutines.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// TestKillSwitchBetweenChunks: an import that has written part of its new
// list (it waits at a chunk boundary, in its hook) holds no lock: the kill
// switch and reads in another Store go through while it is still running,
// and they see the old list. The events are checked in order, not timed.
func TestKillSwitchBetweenChunks(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	other := openDSN(t, dsn) // another process
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("risky")}}, false, "setup")
	old := genMembers("old", 3000, "US", "FR")
	mustImport(t, s, "big", store.ImportOptions{}, old...)

	var log events
	atBoundary, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	defer store.SetChunks(500, func(phase string, n int) {
		if phase == "write" && n == 2 {
			once.Do(func() {
				log.add("import at a chunk boundary")
				close(atBoundary)
				<-resume
			})
		}
	})()
	file := append(genMembers("new", 2000, "DE"), old[:1000]...)
	done := make(chan error, 1)
	go func() {
		_, err := s.ImportMembers(ctx, "big", store.ImportOptions{}, source(file...), "importer")
		log.add("import returned")
		done <- err
	}()
	select {
	case <-atBoundary:
	case err := <-done:
		t.Fatalf("the import ended (%v) before its second chunk", err)
	case <-time.After(waitFor):
		t.Fatal("the import did not reach its second chunk")
	}

	f, err := other.SetEnabled(ctx, "risky", false, "oncall")
	if err != nil || f.Enabled {
		t.Fatalf("kill switch while the import is between chunks: enabled %v, %v", f.Enabled, err)
	}
	log.add("kill switch")
	if _, err := other.Flags(ctx); err != nil {
		t.Fatalf("Flags while the import is between chunks: %v", err)
	}
	if d := diff(asListed(old), listed(t, other, "big")); d != "" {
		t.Errorf("members while the import is between chunks (-want +got):\n%s", d)
	}
	log.add("reads")
	close(resume)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ImportMembers: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the import did not finish")
	}
	want := []string{"import at a chunk boundary", "kill switch", "reads", "import returned"}
	if d := diff(want, log.list()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if d := diff(asListed(file), listed(t, s, "big")); d != "" {
		t.Errorf("members after the import (-want +got):\n%s", d)
	}
	if got := rawRows(t, s, "big"); got != len(file) {
		t.Errorf("%d rows in cohort_members after the import, want %d (the replaced ones purged)", got, len(file))
	}
	checkCounts(t, s, "big")
}

// TestNoHalfAppliedList: at every chunk boundary of an import (writing the
// new list, then purging the old rows), every reader sees exactly the list
// before the import or exactly the list after it: Members, Configuration's
// hashed sets, Export, State, ConfigurationFor and the counts.
func TestNoHalfAppliedList(t *testing.T) {
	ctx := context.Background()
	base := append(genMembers("keep", 700, "US"), genMembers("move", 600, "FR")...)
	base = append(base, genMembers("drop", 500, "")...)
	for _, tc := range []struct {
		name string
		mode store.ImportMode
		file []cohorts.Member
	}{
		{"replace", store.ImportReplace, append(append(genMembers("keep", 700, "US"), genMembers("move", 600, "JP")...), genMembers("add", 800, "DE")...)},
		{"add", store.ImportAdd, append(genMembers("move", 600, "JP"), genMembers("add", 800, "DE")...)},
		{"remove", store.ImportRemove, append(genMembers("drop", 500, ""), genMembers("absent", 50, "")...)},
		{"new cohort", store.ImportReplace, genMembers("add", 1200, "DE")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			key := "beta"
			var before []string
			if tc.name != "new cohort" {
				mustImport(t, s, key, store.ImportOptions{}, base...)
				before = listed(t, s, key)
			}
			// What the list is after: the same import, elsewhere.
			ref := openTestStore(t)
			if before != nil {
				mustImport(t, ref, key, store.ImportOptions{}, base...)
			}
			mustImport(t, ref, key, store.ImportOptions{Mode: tc.mode}, tc.file...)
			after := listed(t, ref, key)

			var seen []string
			check := func(phase string, n int) {
				want := before
				if phase == "purge" {
					want = after
				}
				got := snapshotReads(t, s, key)
				for what, list := range got {
					if d := diff(want, list); d != "" {
						t.Errorf("%s chunk %d: %s (-want +got):\n%s", phase, n, what, d)
					}
				}
				seen = append(seen, phase)
			}
			restore := store.SetChunks(200, check)
			_, err := s.ImportMembers(ctx, key, store.ImportOptions{Mode: tc.mode}, source(tc.file...), "alice")
			restore()
			if err != nil {
				t.Fatalf("ImportMembers: %v", err)
			}
			if !slices.Contains(seen, "write") {
				t.Errorf("phases seen %v: no chunk written", seen)
			}
			if d := diff(after, listed(t, s, key)); d != "" {
				t.Errorf("members after (-want +got):\n%s", d)
			}
			if got := rawRows(t, s, key); got != len(after) {
				t.Errorf("%d rows of the cohort, want %d", got, len(after))
			}
			checkCounts(t, s, key)
		})
	}
}

// snapshotReads reads the cohort's list through every reader, as "id/REGION"
// strings sorted (hashed sets as the ids of the list they match).
func snapshotReads(t *testing.T, s *store.Store, key string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	var members []cohorts.Member
	if c, err := s.Cohort(ctx, key); err == nil {
		out["Members"] = listed(t, s, key)
		members = make([]cohorts.Member, 0, c.MemberCount)
		for _, l := range out["Members"] {
			id, region, _ := cutLast(l)
			members = append(members, mr(id, cohorts.Region(region)))
		}
		counts, err := s.MemberRegionCounts(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range counts {
			n += v
		}
		if n != c.MemberCount || n != len(members) {
			t.Errorf("counts: %d by region, %d members, %d listed", n, c.MemberCount, len(members))
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	st, _ := mustState(t, s)
	if c, ok := st.Cohort(key); ok {
		out["State"] = asListed(c.Members)
	}
	var exported []cohorts.Member
	err := s.Export(ctx, func(cfg *ramp.Config, each store.MemberFunc) error {
		for _, c := range cfg.State.Cohorts {
			if c.Key == key {
				return each(key, func(m cohorts.Member) error { exported = append(exported, m); return nil })
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out["Members"] != nil {
		out["Export"] = asListed(exported)
	}
	// The hashed set: its size, and that each listed id is in it.
	cfg, err := s.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if set := cfg.State.MemberSets[key]; set != nil || len(members) > 0 {
		var in []string
		for _, m := range members {
			if set != nil && set.Contains(m.ID) {
				in = append(in, m.ID+"/"+string(m.Region))
			}
		}
		if set == nil || set.Len() != len(members) {
			in = append(in, fmt.Sprintf("(set of %d)", setLen(set)))
		}
		out["Configuration"] = in
	}
	return out
}

// cutLast splits "id/REGION" at its last slash.
func cutLast(s string) (id, region string, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func setLen(s *cohorts.Set) int {
	if s == nil {
		return 0
	}
	return s.Len()
}

// TestImportCancelledBetweenChunks: an import cancelled after it has
// written part of its new list leaves the old list, its counts and the
// configuration version as they were; the next import cleans up the rows
// it left and takes effect alone.
func TestImportCancelledBetweenChunks(t *testing.T) {
	for _, phase := range []string{"write", "purge"} {
		t.Run(phase, func(t *testing.T) {
			s := openTestStore(t)
			old := genMembers("old", 1500, "US")
			mustImport(t, s, "beta", store.ImportOptions{}, old...)
			v := mustVersion(t, s)
			file := append(genMembers("new", 1500, "FR"), old[:500]...)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			restore := store.SetChunks(300, func(p string, n int) {
				if p == phase && n == 2 {
					cancel()
				}
			})
			_, err := s.ImportMembers(ctx, "beta", store.ImportOptions{}, source(file...), "alice")
			restore()
			want := old
			switch phase {
			case "write":
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("ImportMembers cancelled while writing: %v, want context.Canceled", err)
				}
				if got := mustVersion(t, s); got != v {
					t.Errorf("config version %d → %d", v, got)
				}
			case "purge":
				// The new list was made the list: the import succeeded.
				if err != nil {
					t.Fatalf("ImportMembers cancelled while purging: %v", err)
				}
				want = file
			}
			if d := diff(asListed(want), listed(t, s, "beta")); d != "" {
				t.Errorf("members after the cancel (-want +got):\n%s", d)
			}
			checkCounts(t, s, "beta")

			next := genMembers("next", 700, "DE")
			mustImport(t, s, "beta", store.ImportOptions{}, next...)
			if d := diff(asListed(next), listed(t, s, "beta")); d != "" {
				t.Errorf("members after the next import (-want +got):\n%s", d)
			}
			if got := rawRows(t, s, "beta"); got != len(next) {
				t.Errorf("%d rows of the cohort after the next import, want %d: the cancelled one's not cleaned up", got, len(next))
			}
			checkCounts(t, s, "beta")
		})
	}
}

// TestImportEditedBetweenChunks: members are edited (by another Store)
// while an import writes its new list. The import notices at the end, when
// it would make its list visible, and plans and writes again: it takes
// effect as if it ran at once after the edits, and no edit is lost.
func TestImportEditedBetweenChunks(t *testing.T) {
	ctx := context.Background()
	base := genMembers("m", 1000, "US")
	for _, tc := range []struct {
		name string
		mode store.ImportMode
		file []cohorts.Member
		edit func(ctx context.Context, other *store.Store) error
		want []cohorts.Member
	}{
		{"replace after an add", store.ImportReplace, genMembers("f", 900, "FR"),
			func(ctx context.Context, o *store.Store) error {
				_, err := o.AddMembers(ctx, "beta", []cohorts.Member{mr("late", "JP")}, "bob")
				return err
			},
			genMembers("f", 900, "FR")},
		{"add after a remove", store.ImportAdd, genMembers("f", 900, "FR"),
			func(ctx context.Context, o *store.Store) error {
				_, err := o.RemoveMembers(ctx, "beta", []string{"m-00000", "m-00001"}, "bob")
				return err
			},
			append(slices.Clone(base[2:]), genMembers("f", 900, "FR")...)},
		{"remove after a region change", store.ImportRemove, base[:600],
			func(ctx context.Context, o *store.Store) error {
				_, err := o.AddMembers(ctx, "beta", []cohorts.Member{mr("m-00999", "BR")}, "bob")
				return err
			},
			append(slices.Clone(base[600:999]), mr("m-00999", "BR"))},
		{"replace after an apply", store.ImportReplace, genMembers("f", 900, "FR"),
			func(ctx context.Context, o *store.Store) error {
				desired := flags.State{Cohorts: []cohorts.Cohort{cohort("beta", members("x", "y")...)}}
				cur, _, err := o.State(ctx)
				if err != nil {
					return err
				}
				return o.Apply(ctx, &desired, flags.Diff(&cur, &desired, false), "bob")
			},
			genMembers("f", 900, "FR")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := emptyDSN(t)
			s, other := openDSN(t, dsn), openDSN(t, dsn)
			mustImport(t, s, "beta", store.ImportOptions{}, base...)
			edited := false
			var editErr error
			restore := store.SetChunks(250, func(phase string, n int) {
				if phase == "write" && !edited {
					edited = true
					editErr = tc.edit(ctx, other)
				}
			})
			res, err := s.ImportMembers(ctx, "beta", store.ImportOptions{Mode: tc.mode}, source(tc.file...), "alice")
			restore()
			if editErr != nil {
				t.Fatalf("edit between chunks: %v", editErr)
			}
			if err != nil {
				t.Fatalf("ImportMembers: %v", err)
			}
			if d := diff(asListed(tc.want), listed(t, s, "beta")); d != "" {
				t.Errorf("members (-want +got):\n%s", d)
			}
			if res.Members != len(tc.want) {
				t.Errorf("result: %d members, want %d", res.Members, len(tc.want))
			}
			if got := rawRows(t, s, "beta"); got != len(tc.want) {
				t.Errorf("%d rows of the cohort, want %d", got, len(tc.want))
			}
			checkCounts(t, s, "beta")
		})
	}
}

// TestConcurrentChunkedImports: two Stores import into one cohort at once,
// in many chunks each. They take turns (a lease on the cohort): both are
// recorded, and the list is exactly one of the two files.
func TestConcurrentChunkedImports(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	mustImport(t, a, "beta", store.ImportOptions{}, genMembers("old", 1000, "US")...)
	files := map[string][]cohorts.Member{"a": genMembers("a", 2000, "FR"), "b": genMembers("b", 2000, "DE")}
	var log events
	defer store.SetChunks(200, func(phase string, n int) { log.add(phase) })()
	errs := make(chan error, 2)
	var start sync.WaitGroup
	start.Add(2)
	for name, s := range map[string]*store.Store{"a": a, "b": b} {
		go func() {
			next := source(files[name]...)
			first := true
			_, err := s.ImportMembers(ctx, "beta", store.ImportOptions{}, func() (cohorts.Member, error) {
				if first {
					first = false
					start.Done()
					start.Wait() // both stage at once
				}
				return next()
			}, name)
			errs <- err
		}()
	}
	for range 2 {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("ImportMembers: %v", err)
			}
		case <-time.After(waitFor):
			t.Fatal("the imports did not finish")
		}
	}
	got := listed(t, a, "beta")
	if d1, d2 := diff(asListed(files["a"]), got), diff(asListed(files["b"]), got); d1 != "" && d2 != "" {
		t.Errorf("members are neither file: %d, from %q to %q", len(got), got[0], got[len(got)-1])
	}
	if got := rawRows(t, a, "beta"); got != 2000 {
		t.Errorf("%d rows of the cohort, want 2000", got)
	}
	if imports, err := a.Imports(ctx, "beta"); err != nil || len(imports) != 3 {
		t.Errorf("Imports: %d records, %v; want 3", len(imports), err)
	}
	checkCounts(t, a, "beta")
}

// TestCopyDuringImport: `ramp db copy` of a database whose import is
// between chunks copies the list as it is listed, and no row of the
// unfinished one.
func TestCopyDuringImport(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	old := genMembers("old", 1000, "US")
	mustImport(t, s, "beta", store.ImportOptions{}, old...)
	dst := openDSN(t, emptyDSN(t))
	var copyErr error
	copied := false
	restore := store.SetChunks(300, func(phase string, n int) {
		if phase == "write" && n == 3 && !copied {
			copied = true
			_, copyErr = store.Copy(ctx, openDSN(t, dsn), dst, "alice")
		}
	})
	mustImport(t, s, "beta", store.ImportOptions{}, append(genMembers("new", 1000, "FR"), old[:100]...)...)
	restore()
	if !copied || copyErr != nil {
		t.Fatalf("copy between chunks: ran %v, %v", copied, copyErr)
	}
	if d := diff(asListed(old), listed(t, dst, "beta")); d != "" {
		t.Errorf("copied members (-want +got):\n%s", d)
	}
	if got := rawRows(t, dst, "beta"); got != len(old) {
		t.Errorf("%d rows copied, want %d", got, len(old))
	}
	checkCounts(t, dst, "beta")
	// The copy takes imports of its own.
	mustImport(t, dst, "beta", store.ImportOptions{Mode: store.ImportAdd}, mr("z", "DE"))
	checkCounts(t, dst, "beta")
}

// TestMigrateGenerations upgrades a database from before generations: its
// lists stay listed, and imports, edits and deletions work on them.
func TestMigrateGenerations(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	mustImport(t, s, "beta", store.ImportOptions{}, genMembers("m", 500, "US", "")...)
	mustImport(t, s, "gamma", store.ImportOptions{}, mr("g", "FR"))
	undoGenerations(t, s, dsn)

	up := openDSN(t, dsn)
	if got, err := store.AppliedMigrations(up); err != nil || len(got) != store.SchemaVersions {
		t.Fatalf("applied migrations %v, %v; want %d", got, err, store.SchemaVersions)
	}
	if d := diff(asListed(genMembers("m", 500, "US", "")), listed(t, up, "beta")); d != "" {
		t.Errorf("members after the upgrade (-want +got):\n%s", d)
	}
	checkCounts(t, up, "beta", "gamma")
	defer store.SetChunks(100, nil)()
	mustImport(t, up, "beta", store.ImportOptions{}, genMembers("m", 250, "FR")...)
	if d := diff(asListed(genMembers("m", 250, "FR")), listed(t, up, "beta")); d != "" {
		t.Errorf("members after an import (-want +got):\n%s", d)
	}
	if _, err := up.AddMembers(ctx, "beta", []cohorts.Member{mr("x", "")}, "bob"); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, up, "beta")
	applyState(t, up, flags.State{Cohorts: []cohorts.Cohort{cohort("beta")}}, true, "alice")
	if got := rawRows(t, up, "gamma"); got != 0 {
		t.Errorf("%d rows of the deleted cohort left", got)
	}
}

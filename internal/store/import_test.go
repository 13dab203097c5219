package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/internal/store"
)

// source returns an import source over members.
func source(ms ...cohorts.Member) func() (cohorts.Member, error) {
	i := 0
	return func() (cohorts.Member, error) {
		if i == len(ms) {
			return cohorts.Member{}, io.EOF
		}
		i++
		return ms[i-1], nil
	}
}

// listed returns the cohort's members as "id/REGION" strings.
func listed(t *testing.T, s *store.Store, key string) []string {
	t.Helper()
	ms, err := s.Members(context.Background(), key)
	if err != nil {
		t.Fatalf("Members(%q): %v", key, err)
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID + "/" + string(m.Region)
	}
	return out
}

func mr(id string, r cohorts.Region) cohorts.Member { return cohorts.Member{ID: id, Region: r} }

func mustImport(t *testing.T, s *store.Store, key string, opt store.ImportOptions, ms ...cohorts.Member) store.ImportResult {
	t.Helper()
	res, err := s.ImportMembers(context.Background(), key, opt, source(ms...), "alice")
	if err != nil {
		t.Fatalf("ImportMembers(%q, %s): %v", key, opt.Mode, err)
	}
	return res
}

func TestImportModes(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()

	res := mustImport(t, s, "beta", store.ImportOptions{File: "a.csv", Finish: func() (string, int, error) { return "abc", 2, nil }},
		mr("u1", "US"), mr("u2", "FR"), mr("u3", ""), mr("u1", "US"))
	want := store.ImportResult{Created: true, Rows: 4, Duplicates: 1, Added: 3, Rejected: 2, Members: 3, Version: 1,
		ByRegion: map[cohorts.Region]int{"US": 1, "FR": 1, "": 1}}
	if d := diff(want, res); d != "" {
		t.Errorf("first import (-want +got):\n%s", d)
	}
	if d := diff([]string{"u1/US", "u2/FR", "u3/"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}

	// Replace: u1 kept, u2 changes region, u3 goes, u4 comes.
	res = mustImport(t, s, "beta", store.ImportOptions{Samples: 10}, mr("u1", "US"), mr("u2", "DE"), mr("u4", "JP"))
	want = store.ImportResult{Rows: 3, Added: 1, Removed: 1, Updated: 1, Unchanged: 1, Members: 3, Version: 2,
		ByRegion:    map[cohorts.Region]int{"US": 1, "DE": 1, "JP": 1},
		AddedSample: []string{"u4"}, RemovedSample: []string{"u3"}}
	if d := diff(want, res); d != "" {
		t.Errorf("replace (-want +got):\n%s", d)
	}
	if d := diff([]string{"u1/US", "u2/DE", "u4/JP"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members after replace (-want +got):\n%s", d)
	}

	// Add: a region-less row keeps the listed region.
	res = mustImport(t, s, "beta", store.ImportOptions{Mode: store.ImportAdd}, mr("u1", ""), mr("u5", "BR"))
	if res.Added != 1 || res.Unchanged != 1 || res.Members != 4 || res.Removed != 0 {
		t.Errorf("add: %+v", res)
	}
	if d := diff([]string{"u1/US", "u2/DE", "u4/JP", "u5/BR"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members after add (-want +got):\n%s", d)
	}

	// Remove.
	res = mustImport(t, s, "beta", store.ImportOptions{Mode: store.ImportRemove}, mr("u1", ""), mr("nobody", ""))
	if res.Removed != 1 || res.Unchanged != 1 || res.Members != 3 {
		t.Errorf("remove: %+v", res)
	}

	// The same replace twice changes nothing the second time.
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u2", "DE"))
	v := mustVersion(t, s)
	c, _ := s.Cohort(ctx, "beta")
	res = mustImport(t, s, "beta", store.ImportOptions{}, mr("u2", "DE"))
	if res.Unchanged != 1 || res.Added+res.Removed+res.Updated != 0 {
		t.Errorf("repeated replace: %+v", res)
	}
	if c2, _ := s.Cohort(ctx, "beta"); c2.Version != c.Version {
		t.Errorf("cohort version %d → %d after an import that changed nothing", c.Version, c2.Version)
	}
	if got := mustVersion(t, s); got != v+1 {
		t.Errorf("config version %d → %d; an import is recorded in the audit log", v, got)
	}

	imports, err := s.Imports(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) != 6 || imports[0].SHA256 != "abc" || imports[0].File != "a.csv" || imports[0].Rejected != 2 || imports[1].Mode != store.ImportReplace {
		t.Errorf("imports = %+v", imports)
	}
	audit := mustAudit(t, s, store.AuditFilter{Target: "beta"})
	if len(audit) != 6 || audit[0].Action != "cohort.import" || audit[0].Before != nil || !strings.Contains(string(audit[0].After), `"sha256":"abc"`) {
		t.Errorf("audit = %+v", audit)
	}
}

// TestImportEmptyReplace: a replace that reads no rows (usually the wrong
// file) does not empty a cohort unless asked to; an empty cohort or a new
// one takes it.
func TestImportEmptyReplace(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"), mr("u2", ""))
	v := mustVersion(t, s)
	_, err := s.ImportMembers(ctx, "beta", store.ImportOptions{}, source(), "alice")
	if !errors.Is(err, store.ErrEmptyReplace) || !strings.Contains(err.Error(), `remove all 2 members of cohort "beta"`) {
		t.Fatalf("empty replace: %v", err)
	}
	if d := diff([]string{"u1/US", "u2/"}, listed(t, s, "beta")); d != "" || mustVersion(t, s) != v {
		t.Errorf("the refused import wrote: members (-want +got):\n%s", d)
	}
	if res := mustImport(t, s, "beta", store.ImportOptions{AllowEmpty: true}); res.Removed != 2 || res.Members != 0 {
		t.Errorf("with AllowEmpty: %+v", res)
	}
	mustImport(t, s, "beta", store.ImportOptions{}) // already empty
	mustImport(t, s, "fresh", store.ImportOptions{})
}

func TestImportDryRunWritesNothing(t *testing.T) {
	s := openTestStore(t)
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"))
	v := mustVersion(t, s)
	res := mustImport(t, s, "beta", store.ImportOptions{DryRun: true, Samples: 5}, mr("u2", "US"))
	if !res.DryRun || res.Added != 1 || res.Removed != 1 || res.Members != 1 {
		t.Errorf("dry run: %+v", res)
	}
	if d := diff([]string{"u1/US"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	if got := mustVersion(t, s); got != v {
		t.Errorf("config version %d → %d after a dry run", v, got)
	}
	res = mustImport(t, s, "new", store.ImportOptions{DryRun: true}, mr("u2", "US"))
	if !res.Created {
		t.Errorf("dry run of a new cohort: Created = false")
	}
	if _, err := s.Cohort(context.Background(), "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dry run created the cohort: %v", err)
	}
}

func TestImportFailureKeepsMembers(t *testing.T) {
	s := openTestStore(t)
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"), mr("u2", "FR"))
	boom := errors.New("boom")
	n := 0
	failing := func() (cohorts.Member, error) {
		if n++; n > 25000 {
			return cohorts.Member{}, boom
		}
		return mr(fmt.Sprintf("x%d", n), ""), nil
	}
	if _, err := s.ImportMembers(context.Background(), "beta", store.ImportOptions{}, failing, "alice"); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if d := diff([]string{"u1/US", "u2/FR"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	for _, bad := range []cohorts.Member{mr("", ""), mr("u", "XX")} {
		if _, err := s.ImportMembers(context.Background(), "beta", store.ImportOptions{}, source(mr("ok", ""), bad), "alice"); err == nil {
			t.Errorf("import of %+v: no error", bad)
		}
	}
	if _, err := s.ImportMembers(context.Background(), "ghosts", store.ImportOptions{Mode: store.ImportRemove}, source(mr("u1", "")), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("remove from an unknown cohort: %v, want ErrNotFound", err)
	}
	if _, err := s.ImportMembers(context.Background(), "beta", store.ImportOptions{Mode: "merge"}, source(), "alice"); err == nil {
		t.Error("unknown mode accepted")
	}
	// A finished import after a failed one works on the same connection.
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u3", ""))
	if d := diff([]string{"u3/"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
}

// TestImportPostgresCopyAborted checks, on Postgres, that an import whose
// COPY into the staging table fails midway, after hundreds of thousands of
// rows went to the server, leaves the previous members, versions and
// import records, and that the COPY runs inside the import's transaction.
func TestImportPostgresCopyAborted(t *testing.T) {
	dsn, app := withAppName(t, postgresDSN(t))
	s := openDSN(t, dsn)
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"), mr("u2", "FR"))
	v := mustVersion(t, s)

	ctx := context.Background()
	watcher, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(ctx)
	boom := errors.New("boom")
	const failAt = 200_000
	for _, tc := range []struct {
		name string
		// at is called with the number of the row asked for and a cancel
		// function for the import's context; it returns the row or an
		// error.
		at      func(n int, cancel func()) (cohorts.Member, error)
		wantErr func(error) bool
	}{
		{"invalid row", func(n int, _ func()) (cohorts.Member, error) {
			if n == failAt {
				return mr(fmt.Sprintf("x%d", n), "XX"), nil
			}
			return mr(fmt.Sprintf("x%d", n), "DE"), nil
		}, func(err error) bool { return strings.Contains(err.Error(), fmt.Sprintf("member %d", failAt)) }},
		{"source error", func(n int, _ func()) (cohorts.Member, error) {
			if n == failAt {
				return cohorts.Member{}, boom
			}
			return mr(fmt.Sprintf("x%d", n), ""), nil
		}, func(err error) bool { return errors.Is(err, boom) }},
		{"context cancelled", func(n int, cancel func()) (cohorts.Member, error) {
			if n == failAt {
				cancel()
			}
			if n > 3*failAt {
				return cohorts.Member{}, io.EOF
			}
			return mr(fmt.Sprintf("x%d", n), ""), nil
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			n := 0
			var during string
			var duringErr error
			next := func() (cohorts.Member, error) {
				n++
				if n == failAt/2 {
					// What the import's connection is doing, seen from
					// another.
					duringErr = watcher.QueryRow(ctx, `SELECT state || ' ' || split_part(query, ' ', 1) || ' ' ||
						(xact_start < query_start)::text FROM pg_stat_activity
						WHERE application_name = $1 AND query ILIKE 'copy%'`, app).Scan(&during)
				}
				return tc.at(n, cancel)
			}
			_, err := s.ImportMembers(ctx, "beta", store.ImportOptions{}, next, "alice")
			if err == nil || !tc.wantErr(err) {
				t.Fatalf("ImportMembers: err = %v", err)
			}
			if duringErr != nil || during != "active copy true" {
				t.Errorf("the import's connection midway: %q, %v; want an active COPY begun after its transaction", during, duringErr)
			}
			if d := diff([]string{"u1/US", "u2/FR"}, listed(t, s, "beta")); d != "" {
				t.Errorf("members (-want +got):\n%s", d)
			}
			if got := mustVersion(t, s); got != v {
				t.Errorf("config version %d → %d", v, got)
			}
			if imports, err := s.Imports(context.Background(), "beta"); err != nil || len(imports) != 1 {
				t.Errorf("Imports = %d records, %v; want 1", len(imports), err)
			}
		})
	}
	// The pool's connections take the next import.
	res := mustImport(t, s, "beta", store.ImportOptions{}, mr("u2", "FR"), mr("u3", ""), mr("u3", "JP"))
	if res.Added != 1 || res.Removed != 1 || res.Unchanged != 1 || res.Duplicates != 1 || res.Members != 2 {
		t.Errorf("import after the failures: %+v", res)
	}
	if d := diff([]string{"u2/FR", "u3/JP"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
}

func TestImportLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := openTestStore(t)
	const n = 50_000
	gen := func(from, to int) func() (cohorts.Member, error) {
		i := from
		return func() (cohorts.Member, error) {
			if i == to {
				return cohorts.Member{}, io.EOF
			}
			i++
			return mr(fmt.Sprintf("user-%07d", i), "US"), nil
		}
	}
	ctx := context.Background()
	if _, err := s.ImportMembers(ctx, "big", store.ImportOptions{}, gen(0, n), "alice"); err != nil {
		t.Fatal(err)
	}
	res, err := s.ImportMembers(ctx, "big", store.ImportOptions{}, gen(n/2, n+n/2), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != n/2 || res.Removed != n/2 || res.Unchanged != n/2 || res.Members != n {
		t.Errorf("replace half: %+v", res)
	}
	var got []string
	err = s.EachMember(ctx, "big", func(m cohorts.Member) error {
		if len(got) < 2 {
			got = append(got, m.ID)
		}
		return nil
	})
	if err != nil || !slices.Equal(got, []string{"user-0025001", "user-0025002"}) {
		t.Errorf("EachMember: %v, %v", got, err)
	}
	if err := s.EachMember(ctx, "nope", func(cohorts.Member) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EachMember of an unknown cohort: %v", err)
	}
}

const killEnv = "RAMP_TEST_IMPORT_KILL_DSN"

// TestImportKilledHelper is the child process of TestImportKilled: it
// replaces the cohort's members with an endless stream and says "staged"
// once 30,000 rows are in the staging table, then waits to be killed.
func TestImportKilledHelper(t *testing.T) {
	dsn := os.Getenv(killEnv)
	if dsn == "" {
		return
	}
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	next := func() (cohorts.Member, error) {
		n++
		if n == 30_001 {
			fmt.Println("staged")
			time.Sleep(time.Hour)
		}
		return mr(fmt.Sprintf("new-%d", n), "FR"), nil
	}
	_, err = s.ImportMembers(ctx, "beta", store.ImportOptions{}, next, "child")
	t.Fatalf("import returned: %v", err)
}

func TestImportKilled(t *testing.T) {
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"), mr("u2", "FR"))
	v := mustVersion(t, s)

	cmd := exec.Command(os.Args[0], "-test.run=^TestImportKilledHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+dsn)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	staged := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "staged" {
				staged <- true
				return
			}
		}
		staged <- false
	}()
	select {
	case ok := <-staged:
		if !ok {
			cmd.Wait()
			t.Fatalf("helper ended before staging:\n%s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("helper did not stage in 60 s")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// A fresh Store (recovery of the SQLite journal happens on open).
	s2 := openDSN(t, dsn)
	if d := diff([]string{"u1/US", "u2/FR"}, listed(t, s2, "beta")); d != "" {
		t.Errorf("members after the kill (-want +got):\n%s", d)
	}
	if got := mustVersion(t, s2); got != v {
		t.Errorf("config version %d → %d", v, got)
	}
	// And the database takes the next import.
	mustImport(t, s2, "beta", store.ImportOptions{}, mr("u3", ""))
	if d := diff([]string{"u3/"}, listed(t, s2, "beta")); d != "" {
		t.Errorf("members after the next import (-want +got):\n%s", d)
	}
}

// BenchmarkImportReplace replaces a 100,000-member list with another that
// shares half of it. docs/BENCHMARKS.md has the figures for 1 and 10
// million rows through the CLI.
func BenchmarkImportReplace(b *testing.B) {
	s, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "ramp.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100_000
	gen := func(from int) func() (cohorts.Member, error) {
		i := from
		return func() (cohorts.Member, error) {
			if i == from+n {
				return cohorts.Member{}, io.EOF
			}
			i++
			return mr(fmt.Sprintf("user-%09d", i*7919%1_000_003), "US"), nil
		}
	}
	ctx := context.Background()
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		round++
		if _, err := s.ImportMembers(ctx, "big", store.ImportOptions{}, gen(round%2*n/2), "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

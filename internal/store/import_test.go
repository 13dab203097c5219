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
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/flags"
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
// import records, and that while the COPY runs the import's connection
// holds no lock on the cohorts, their members or the configuration
// version.
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
					duringErr = watcher.QueryRow(ctx, `SELECT a.state || ' ' || split_part(a.query, ' ', 1) || ' ' ||
						(SELECT COUNT(*) FROM pg_locks l WHERE l.pid = a.pid AND l.relation IN
							('cohorts'::regclass, 'cohort_members'::regclass, 'config_state'::regclass))::text
						FROM pg_stat_activity a WHERE a.application_name = $1 AND a.query ILIKE 'copy%'`, app).Scan(&during)
				}
				return tc.at(n, cancel)
			}
			_, err := s.ImportMembers(ctx, "beta", store.ImportOptions{}, next, "alice")
			if err == nil || !tc.wantErr(err) {
				t.Fatalf("ImportMembers: err = %v", err)
			}
			// A cancelled import stops reading its source within a few
			// thousand rows, whatever the driver does with the COPY.
			if n > failAt+10_000 {
				t.Errorf("the import read %d rows, %d after it failed", n, n-failAt)
			}
			if duringErr != nil || during != "active copy 0" {
				t.Errorf("the import's connection midway: %q, %v; want an active COPY holding no lock on the store's tables", during, duringErr)
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

const (
	killEnv   = "RAMP_TEST_IMPORT_KILL_DSN"
	killAtEnv = "RAMP_TEST_IMPORT_KILL_AT"
)

// TestImportKilledHelper is the child process of TestImportKilled: it
// replaces the cohort's members and says "ready" at the point
// $RAMP_TEST_IMPORT_KILL_AT names, then waits to be killed: "staging"
// (30,000 rows of an endless stream staged), or "write" or "purge" (the
// second chunk of writing a 30,000-row import committed, or the first of
// purging the rows it replaced).
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
	at := os.Getenv(killAtEnv)
	n := 0
	next := func() (cohorts.Member, error) {
		n++
		switch {
		case n == 30_001 && at == "staging":
			fmt.Println("ready")
			time.Sleep(time.Hour)
		case n > 30_000:
			return cohorts.Member{}, io.EOF
		}
		return mr(fmt.Sprintf("new-%d", n), "FR"), nil
	}
	store.SetChunks(5000, func(phase string, n int) {
		// The purge of the two members replaced takes one chunk.
		if phase == at && (n == 2 || phase == "purge") {
			fmt.Println("ready")
			time.Sleep(time.Hour)
		}
	})
	_, err = s.ImportMembers(ctx, "beta", store.ImportOptions{}, next, "child")
	t.Fatalf("import returned: %v", err)
}

// TestImportKilled kills (SIGKILL) a process in the middle of an import:
// while it stages, while it writes the new list in chunks, and while it
// purges the old one after making the new one the list. The cohort keeps
// its list (the old one, or the new one once made the list), and the next
// import cleans up what the killed one left and takes effect alone.
func TestImportKilled(t *testing.T) {
	for _, tc := range []struct {
		at      string
		changed bool // the killed import's list was made the list
	}{{"staging", false}, {"write", false}, {"purge", true}} {
		t.Run(tc.at, func(t *testing.T) {
			dsn := emptyDSN(t)
			s := openDSN(t, dsn)
			mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"), mr("u2", "FR"))
			v := mustVersion(t, s)

			cmd := exec.Command(os.Args[0], "-test.run=^TestImportKilledHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), killEnv+"="+dsn, killAtEnv+"="+tc.at)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ready := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if sc.Text() == "ready" {
						ready <- true
						return
					}
				}
				ready <- false
			}()
			select {
			case ok := <-ready:
				if !ok {
					cmd.Wait()
					t.Fatalf("helper ended before it was ready:\n%s", stderr.String())
				}
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatal("helper not ready in 60 s")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			// A fresh Store (recovery of the SQLite journal happens on open).
			s2 := openDSN(t, dsn)
			got := listed(t, s2, "beta")
			switch {
			case tc.changed:
				if len(got) != 30_000 || got[0] != "new-1/FR" {
					t.Errorf("members after the kill: %d, first %q; want the 30,000 new ones", len(got), got[0])
				}
				if got := mustVersion(t, s2); got != v+1 {
					t.Errorf("config version %d → %d, want one change", v, got)
				}
			default:
				if d := diff([]string{"u1/US", "u2/FR"}, got); d != "" {
					t.Errorf("members after the kill (-want +got):\n%s", d)
				}
				if got := mustVersion(t, s2); got != v {
					t.Errorf("config version %d → %d", v, got)
				}
			}
			checkCounts(t, s2, "beta")
			// And the database takes the next import, which cleans up.
			mustImport(t, s2, "beta", store.ImportOptions{}, mr("u3", ""))
			if d := diff([]string{"u3/"}, listed(t, s2, "beta")); d != "" {
				t.Errorf("members after the next import (-want +got):\n%s", d)
			}
			if n := rawRows(t, s2, "beta"); n != 1 {
				t.Errorf("%d rows of the cohort after the next import, want 1", n)
			}
			checkCounts(t, s2, "beta")
		})
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

// within runs fn with a context that expires after d and fails the test if
// fn fails or has not returned by then (a second more, for a driver slow to
// notice the deadline). The deadline is generous: it tells an operation
// that proceeds from one that waits for an import, not fast from slow.
func within(t *testing.T, d time.Duration, what string, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s while an import reads its file: %v", what, err)
		}
	case <-time.After(d + time.Second):
		t.Errorf("%s while an import reads its file: no answer in %v", what, d)
	}
}

// TestKillSwitchDuringImport: while an import reads a slow source (a pipe
// fed by the test), the kill switch, reads, and opening the database in
// another Store all proceed: the import holds no lock until its merge.
func TestKillSwitchDuringImport(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("risky"), boolFlag("other")}}, false, "setup")
	mustImport(t, s, "big", store.ImportOptions{}, mr("old", "US"))

	pr, pw := io.Pipe()
	type outcome struct {
		res store.ImportResult
		err error
	}
	imported := make(chan outcome, 1)
	go func() {
		rd, err := csvfile.NewReader(pr, csvfile.Options{})
		if err != nil {
			pr.CloseWithError(err)
			imported <- outcome{err: err}
			return
		}
		next := func() (cohorts.Member, error) {
			row, err := rd.Next()
			return row.Member, err
		}
		res, err := s.ImportMembers(ctx, "big", store.ImportOptions{}, next, "importer")
		pr.CloseWithError(errors.New("import returned"))
		imported <- outcome{res, err}
	}()
	const rows = 25_000 // more than two statements' worth
	feed := func(from, to int) {
		t.Helper()
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "user-%06d,FR\n", i)
		}
		if _, err := io.WriteString(pw, b.String()); err != nil {
			t.Fatalf("feed the import: %v", err)
		}
	}
	if _, err := io.WriteString(pw, "user_id,region\n"); err != nil {
		t.Fatal(err)
	}
	feed(0, rows)
	// The import has read those rows and waits for more.

	// Anything that waited for the stalled import's lock would fail with
	// ErrBusy after the busy timeout, long before this.
	const deadline = 30 * time.Second
	within(t, deadline, "SetEnabled (the kill switch)", func(ctx context.Context) error {
		f, err := s.SetEnabled(ctx, "risky", false, "oncall")
		if err == nil && f.Enabled {
			err = errors.New("still enabled")
		}
		return err
	})
	within(t, deadline, "Flags", func(ctx context.Context) error {
		_, err := s.Flags(ctx)
		return err
	})
	within(t, deadline, "Cohort", func(ctx context.Context) error {
		c, err := s.Cohort(ctx, "big")
		if err == nil && c.MemberCount != 1 {
			err = fmt.Errorf("%d members listed before the import's merge, want 1", c.MemberCount)
		}
		return err
	})
	// Another process: it opens the database, reads, and flips a switch.
	within(t, deadline, "Open, Flags and SetEnabled in another Store", func(ctx context.Context) error {
		other, err := store.OpenExisting(ctx, dsn)
		if err != nil {
			return err
		}
		defer other.Close()
		if _, err := other.Flags(ctx); err != nil {
			return err
		}
		_, err = other.SetEnabled(ctx, "other", false, "oncall")
		return err
	})

	feed(rows, rows+10)
	pw.Close()
	var out outcome
	select {
	case out = <-imported:
	case <-time.After(60 * time.Second):
		t.Fatal("the import did not finish in 60 s after its source ended")
	}
	if out.err != nil {
		t.Fatalf("ImportMembers: %v", out.err)
	}
	if out.res.Added != rows+10 || out.res.Removed != 1 || out.res.Members != rows+10 {
		t.Errorf("import: %+v", out.res)
	}
	for _, key := range []string{"risky", "other"} {
		if f, err := s.Flag(ctx, key); err != nil || f.Enabled {
			t.Errorf("flag %s after the import: enabled %v, %v; want disabled", key, f.Enabled, err)
		}
	}
	var actions []string
	for _, e := range mustAudit(t, s, store.AuditFilter{}) {
		if e.Actor != "setup" {
			actions = append(actions, e.Action+" "+e.Target)
		}
	}
	want := []string{"cohort.import big", "flag.disable risky", "flag.disable other", "cohort.import big"}
	if d := diff(want, actions); d != "" {
		t.Errorf("audit log (-want +got):\n%s", d)
	}
}

// TestImportCohortChangedDuringStaging: the members change while an import
// stages its file (another Store adds and removes some). The import takes
// effect as if it ran entirely at its merge: a replace leaves exactly the
// file's ids, an add or a remove applies to the members as they are then,
// and the counts describe that.
func TestImportCohortChangedDuringStaging(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		mode  store.ImportMode
		file  []cohorts.Member
		want  []string
		check func(store.ImportResult) bool
	}{
		{"replace", store.ImportReplace, []cohorts.Member{mr("u1", "US"), mr("u4", "DE")},
			[]string{"u1/US", "u4/DE"},
			func(r store.ImportResult) bool {
				// u2 (removed meanwhile) is not counted, late (added
				// meanwhile) and u3 are removed.
				return r.Added == 1 && r.Removed == 2 && r.Unchanged == 1 && r.Members == 2
			}},
		{"add", store.ImportAdd, []cohorts.Member{mr("u1", "BR"), mr("u4", "DE"), mr("late", "")},
			[]string{"late/JP", "u1/BR", "u3/", "u4/DE"},
			func(r store.ImportResult) bool {
				return r.Added == 1 && r.Updated == 1 && r.Unchanged == 1 && r.Members == 4
			}},
		{"remove", store.ImportRemove, []cohorts.Member{mr("u2", ""), mr("late", "")},
			[]string{"u1/US", "u3/"},
			func(r store.ImportResult) bool { return r.Removed == 1 && r.Unchanged == 1 && r.Members == 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := emptyDSN(t)
			s := openDSN(t, dsn)
			other := openDSN(t, dsn) // another process
			mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"), mr("u2", "FR"), mr("u3", ""))
			c, err := s.Cohort(ctx, "beta")
			if err != nil {
				t.Fatal(err)
			}

			// The file's rows, with 20,000 filler rows first (removed again
			// by a remove that follows) so that the change happens after
			// some rows are staged.
			const filler = 20_000
			i := 0
			next := func() (cohorts.Member, error) {
				i++
				switch {
				case i == filler:
					within(t, 5*time.Second, "AddMembers", func(ctx context.Context) error {
						_, err := other.AddMembers(ctx, "beta", []cohorts.Member{mr("late", "JP")}, "bob")
						return err
					})
					within(t, 5*time.Second, "RemoveMembers", func(ctx context.Context) error {
						_, err := other.RemoveMembers(ctx, "beta", []string{"u2"}, "bob")
						return err
					})
				case i > filler+len(tc.file):
					return cohorts.Member{}, io.EOF
				}
				if i > filler {
					return tc.file[i-filler-1], nil
				}
				return mr(fmt.Sprintf("filler-%05d", i), ""), nil
			}
			res, err := s.ImportMembers(ctx, "beta", store.ImportOptions{Mode: tc.mode}, next, "alice")
			if err != nil {
				t.Fatalf("ImportMembers: %v", err)
			}
			if tc.mode == store.ImportRemove {
				res.Unchanged -= filler // the filler ids were not members
			} else {
				// The filler ids were added too.
				res.Added -= filler
				res.Members -= filler
				if _, err := s.RemoveMembers(ctx, "beta", fillerIDs(filler), "alice"); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.check(res) {
				t.Errorf("result: %+v", res)
			}
			if d := diff(tc.want, listed(t, s, "beta")); d != "" {
				t.Errorf("members (-want +got):\n%s", d)
			}
			if got, _ := s.Cohort(ctx, "beta"); got.Version < c.Version+3 {
				t.Errorf("cohort version %d → %d; want 3 more changes (add, remove, import)", c.Version, got.Version)
			}
			checkCounts(t, s, "beta") // planned again at the merge
		})
	}
}

func fillerIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("filler-%05d", i+1)
	}
	return ids
}

// TestImportCohortCreatedDuringStaging: an import that would create its
// cohort finds it created meanwhile: it replaces the list it finds.
func TestImportCohortCreatedDuringStaging(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	other := openDSN(t, dsn)
	i := 0
	next := func() (cohorts.Member, error) {
		i++
		switch i {
		case 1:
			within(t, 5*time.Second, "Apply", func(ctx context.Context) error {
				desired := flags.State{Cohorts: []cohorts.Cohort{cohort("fresh", members("y")...)}}
				return other.Apply(ctx, &desired, flags.Diff(&flags.State{}, &desired, false), "bob")
			})
			return mr("a", "US"), nil
		case 2:
			return mr("y", ""), nil
		}
		return cohorts.Member{}, io.EOF
	}
	res, err := s.ImportMembers(ctx, "fresh", store.ImportOptions{Samples: 5}, next, "alice")
	if err != nil {
		t.Fatalf("ImportMembers: %v", err)
	}
	want := store.ImportResult{Rows: 2, Added: 1, Unchanged: 1, Members: 2, Version: 2, AddedSample: []string{"a"},
		ByRegion: map[cohorts.Region]int{"US": 1, "": 1}}
	if d := diff(want, res); d != "" {
		t.Errorf("result (-want +got):\n%s", d)
	}
	if d := diff([]string{"a/US", "y/"}, listed(t, s, "fresh")); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	if c, err := s.Cohort(ctx, "fresh"); err != nil || c.Version != 2 {
		t.Errorf("cohort: version %d, %v; want 2 (created by apply, changed by the import)", c.Version, err)
	}
	checkCounts(t, s, "fresh")
}

// TestImportOrders imports the same rows, repeats included, in several
// orders: sorted (staged straight into the id-ordered table), shuffled
// (staged in file order, sorted at the end) and sorted for a while and then
// not, with later rows repeating ids of the sorted part. The last row of
// each id wins.
func TestImportOrders(t *testing.T) {
	base := []cohorts.Member{mr("a", "US"), mr("b", "FR"), mr("c", ""), mr("d", "DE"), mr("e", "JP")}
	for _, tc := range []struct {
		name string
		rows []cohorts.Member
		want []string
	}{
		{"sorted", base, []string{"a/US", "b/FR", "c/", "d/DE", "e/JP"}},
		{"sorted with repeats", []cohorts.Member{mr("a", "US"), mr("a", "FR"), mr("b", ""), mr("c", "DE"), mr("c", "JP"), mr("c", "")},
			[]string{"a/FR", "b/", "c/"}},
		{"descending", []cohorts.Member{mr("e", "JP"), mr("d", "DE"), mr("c", ""), mr("b", "FR"), mr("a", "US")},
			[]string{"a/US", "b/FR", "c/", "d/DE", "e/JP"}},
		{"sorted, then earlier ids again", []cohorts.Member{mr("a", "US"), mr("b", "FR"), mr("c", ""), mr("b", "DE"), mr("a", ""), mr("b", "JP"), mr("f", "BR")},
			[]string{"a/", "b/JP", "c/", "f/BR"}},
		{"shuffled with repeats", []cohorts.Member{mr("c", "US"), mr("a", "FR"), mr("c", "DE"), mr("b", ""), mr("a", "JP"), mr("c", "IT")},
			[]string{"a/JP", "b/", "c/IT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			// Into a new cohort, then over a list that differs.
			mustImport(t, s, "other", store.ImportOptions{}, tc.rows...)
			mustImport(t, s, "beta", store.ImportOptions{}, mr("a", "US"), mr("z", "GB"))
			for _, key := range []string{"other", "beta"} {
				res := mustImport(t, s, key, store.ImportOptions{}, tc.rows...)
				if d := diff(tc.want, listed(t, s, key)); d != "" {
					t.Errorf("%s: members (-want +got):\n%s", key, d)
				}
				if res.Rows != len(tc.rows) || res.Duplicates != len(tc.rows)-len(tc.want) || res.Members != len(tc.want) {
					t.Errorf("%s: %+v", key, res)
				}
				n := 0
				for _, c := range res.ByRegion {
					n += c
				}
				if n != len(tc.want) {
					t.Errorf("%s: ByRegion %v counts %d ids, want %d", key, res.ByRegion, n, len(tc.want))
				}
			}
		})
	}
}

// TestImportManyRepeats: 100,000 copies of one id, apart (one in two rows)
// and together, import as one member with the last region. (The copies
// once cost quadratic time: 100,000 took more than two minutes.)
func TestImportManyRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 100_000
	regions := []cohorts.Region{"US", "FR", "DE"}
	for _, tc := range []struct {
		name string
		row  func(i int) cohorts.Member
		want int // members
	}{
		{"apart", func(i int) cohorts.Member {
			if i%2 == 0 {
				return mr("dup", regions[i/2%3])
			}
			return mr(fmt.Sprintf("u%07d", n-i), "")
		}, n/2 + 1},
		{"together", func(i int) cohorts.Member { return mr("dup", regions[i%3]) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			i := 0
			next := func() (cohorts.Member, error) {
				if i == n {
					return cohorts.Member{}, io.EOF
				}
				i++
				return tc.row(i - 1), nil
			}
			res, err := s.ImportMembers(context.Background(), "beta", store.ImportOptions{}, next, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if res.Members != tc.want || res.Duplicates != n-tc.want {
				t.Errorf("result: %d members, %d duplicates; want %d, %d", res.Members, res.Duplicates, tc.want, n-tc.want)
			}
			want := tc.row(n - 1)
			if tc.name == "apart" {
				want = tc.row(n - 2)
			}
			err = s.EachMember(context.Background(), "beta", func(m cohorts.Member) error {
				if m.ID == "dup" && m.Region != want.Region {
					return fmt.Errorf("dup's region %q, want the last row's, %q", m.Region, want.Region)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
}

// TestImportIDsAsGiven: ids with quotes, backslashes, commas, spaces and
// non-ASCII letters are stored exactly, in both staging paths (ascending
// ids, and ids in no order).
func TestImportIDsAsGiven(t *testing.T) {
	ids := []string{` lead`, `a"b`, `a\b`, `a\"b`, `x,y`, `trail `, `é`, `日本`, `\u0041`, `{"json":1}`}
	slices.Sort(ids)
	for _, tc := range []struct {
		name string
		rows func() []cohorts.Member
	}{
		{"ascending", func() []cohorts.Member {
			var ms []cohorts.Member
			for _, id := range ids {
				ms = append(ms, mr(id, "FR"))
			}
			return ms
		}},
		{"descending", func() []cohorts.Member {
			var ms []cohorts.Member
			for _, id := range slices.Backward(ids) {
				ms = append(ms, mr(id, "FR"))
			}
			return ms
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			mustImport(t, s, "beta", store.ImportOptions{}, tc.rows()...)
			var got []string
			for _, m := range listed(t, s, "beta") {
				got = append(got, strings.TrimSuffix(m, "/FR"))
			}
			if d := diff(ids, got); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
		})
	}
}

// TestImportWaitsOnlyToMerge: while another connection holds SQLite's write
// lock, an import stages and plans (a dry run, as `ramp cohorts diff`
// makes, finishes), and only its merge waits for the lock, failing with
// ErrBusy after the busy timeout and leaving the cohort as it was.
func TestImportWaitsOnlyToMerge(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ramp.db")
	s := openDSN(t, path+"?_busy_timeout=200")
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"))

	release := holdWriteLock(t, path)

	res, err := s.ImportMembers(ctx, "beta", store.ImportOptions{DryRun: true, Samples: 5}, source(mr("u2", "FR")), "alice")
	if err != nil {
		t.Fatalf("dry run while another connection writes: %v", err)
	}
	if res.Added != 1 || res.Removed != 1 || !slices.Equal(res.AddedSample, []string{"u2"}) {
		t.Errorf("dry run: %+v", res)
	}
	if _, err := s.ImportMembers(ctx, "beta", store.ImportOptions{}, source(mr("u2", "FR")), "alice"); !errors.Is(err, store.ErrBusy) {
		t.Errorf("import while another connection writes: %v, want ErrBusy", err)
	}
	release()
	if d := diff([]string{"u1/US"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
}

// TestImportRegions: regions are read as cohorts.ParseRegion reads them,
// whatever their case and spacing, and an unknown one fails the import.
func TestImportRegions(t *testing.T) {
	s := openTestStore(t)
	mustImport(t, s, "beta", store.ImportOptions{}, mr("a", "us"), mr("b", " fr "), mr("c", "US"), mr("d", ""), mr("e", "Fr"), mr("f", "us"))
	if d := diff([]string{"a/US", "b/FR", "c/US", "d/", "e/FR", "f/US"}, listed(t, s, "beta")); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	for _, bad := range []cohorts.Region{"XX", "usa", "U"} {
		if _, err := s.ImportMembers(context.Background(), "beta", store.ImportOptions{}, source(mr("a", "US"), mr("b", bad)), "alice"); err == nil || !strings.Contains(err.Error(), "member 2") {
			t.Errorf("region %q: err = %v, want an error about member 2", bad, err)
		}
	}
}

// TestConcurrentImports: two Stores (two processes) replace one cohort's
// list at once. Both imports are recorded, and the list is exactly one of
// the two files, never a mixture: the second merge plans again against the
// first one's result.
func TestConcurrentImports(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	mustImport(t, a, "beta", store.ImportOptions{}, mr("old", "US"))
	file := func(prefix string) []cohorts.Member {
		var ms []cohorts.Member
		for i := range 30_000 {
			ms = append(ms, mr(fmt.Sprintf("%s-%05d", prefix, i), "FR"))
		}
		return ms
	}
	files := map[string][]cohorts.Member{"a": file("a"), "b": file("b")}
	// Each source waits for the other to have started, so that both stage
	// at once.
	started := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	errs := make(chan error, 2)
	for name, s := range map[string]*store.Store{"a": a, "b": b} {
		other := "b"
		if name == "b" {
			other = "a"
		}
		go func() {
			next := source(files[name]...)
			first := true
			_, err := s.ImportMembers(ctx, "beta", store.ImportOptions{}, func() (cohorts.Member, error) {
				if first {
					first = false
					close(started[name])
					<-started[other]
				}
				return next()
			}, name)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("ImportMembers: %v", err)
		}
	}
	got := listed(t, a, "beta")
	if len(got) != 30_000 || (got[0] != "a-00000/FR" && got[0] != "b-00000/FR") || got[0][0] != got[len(got)-1][0] {
		t.Errorf("members: %d, from %q to %q; want exactly one file's 30,000", len(got), got[0], got[len(got)-1])
	}
	if imports, err := a.Imports(ctx, "beta"); err != nil || len(imports) != 3 {
		t.Errorf("Imports: %d records, %v; want 3", len(imports), err)
	}
	checkCounts(t, a, "beta")
}

package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

// Tests of change detection and of Postgres behaviour. TestListen… (but
// TestListenUnsupported, on SQLite) and TestPostgres… need
// $RAMP_TEST_DSN=postgres://… (see postgresDSN); TestVersionIsOneRowByKey
// runs on the suite's engine.

func TestVersionIsOneRowByKey(t *testing.T) {
	s := openTestStore(t)
	plan, err := store.ExplainVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	switch {
	case strings.Contains(text, "USING INTEGER PRIMARY KEY"): // SQLite: the rowid
	case strings.Contains(text, "Index Scan using config_state_pkey"): // Postgres
	case strings.Contains(text, "Seq Scan on config_state") && strings.Contains(text, " rows=1 "):
		// Once it knows the table has one row, Postgres reads its page
		// rather than the index's and then the table's.
	default:
		t.Errorf("Version's query plan is not a one-row read by primary key:\n%s", text)
	}
}

func TestListenUnsupported(t *testing.T) {
	s := openDSN(t, filepath.Join(t.TempDir(), "ramp.db"))
	err := s.Listen(context.Background(), func(int64) { t.Error("onChange called") })
	if !errors.Is(err, store.ErrListenUnsupported) {
		t.Errorf("Listen on SQLite: error = %v, want ErrListenUnsupported", err)
	}
}

// listen runs s.Listen until the test ends and returns the versions it
// reports, and a channel that receives Listen's result.
func listen(t *testing.T, s *store.Store) (<-chan int64, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan int64, 100)
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		done <- s.Listen(ctx, func(v int64) { seen <- v })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(patience):
			t.Errorf("Listen did not return within %s of its context's end", patience)
		}
	})
	return seen, done
}

// expectVersion waits for Listen to report want, which usually takes well
// under a second.
func expectVersion(t *testing.T, seen <-chan int64, what string, want int64) {
	t.Helper()
	expectVersionWithin(t, time.Second, seen, what, want)
}

// patience is how long a test waits for something that must happen before
// it fails: far longer than anything takes on an idle machine, because a
// loaded one running the race detector can hold a goroutine back for
// seconds.
const patience = 30 * time.Second

// expectVersionWithin waits for Listen's next report and checks it is want.
// d is how long that usually takes: a longer wait is logged, and the test
// fails only if nothing comes within patience (or d, if longer).
func expectVersionWithin(t *testing.T, d time.Duration, seen <-chan int64, what string, want int64) {
	t.Helper()
	start := time.Now()
	limit := max(d, patience)
	select {
	case v := <-seen:
		if v != want {
			t.Fatalf("%s: Listen reported version %d, want %d", what, v, want)
		}
		if took := time.Since(start); took > d {
			t.Logf("slow: %s reported after %s (usually within %s)", what, took.Round(time.Millisecond), d)
		}
	case <-time.After(limit):
		t.Fatalf("%s: Listen reported nothing within %v, want version %d", what, limit, want)
	}
}

// withAppName returns dsn with a new application_name, which names the
// connections of Stores opened with it in pg_stat_activity.
func withAppName(t *testing.T, dsn string) (string, string) {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	app := fmt.Sprintf("ramp-test-%x", b)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String(), app
}

func TestListen(t *testing.T) {
	ctx := context.Background()
	dsn := postgresDSN(t)
	// Replicas: one listens, another writes.
	listener, writer := openDSN(t, dsn), openDSN(t, dsn)
	// Another deployment in another schema of the same database: its
	// notifications reach our listener too, which must not take them for
	// ours.
	other := openDSN(t, postgresDSN(t))

	seen, done := listen(t, listener)
	expectVersionWithin(t, 5*time.Second, seen, "start", 0) // includes connecting

	applyState(t, writer, flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")
	expectVersion(t, seen, "apply", 1)

	for i := range 3 {
		applyState(t, other, flags.State{Flags: []flags.Flag{boolFlag(fmt.Sprint("x", i))}}, false, "mallory")
	}
	if _, err := writer.SetEnabled(ctx, "a", true, "alice"); err != nil { // already enabled: no change
		t.Fatal(err)
	}
	select {
	case v := <-seen:
		t.Fatalf("Listen reported version %d after writes to another schema and a write changing nothing", v)
	case <-time.After(300 * time.Millisecond):
	}

	for want := int64(2); want <= 4; want++ {
		if _, err := writer.SetEnabled(ctx, "a", want%2 == 1, "alice"); err != nil {
			t.Fatal(err)
		}
		expectVersion(t, seen, "set enabled", want)
	}
	select {
	case err := <-done:
		t.Fatalf("Listen returned %v while its context was live", err)
	default:
	}
}

func TestListenConnectionLost(t *testing.T) {
	dsn := postgresDSN(t)
	named, app := withAppName(t, dsn)
	s := openDSN(t, named)

	seen, done := listen(t, s)
	expectVersionWithin(t, 5*time.Second, seen, "start", 0) // includes connecting
	admin(t, dsn, fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '%s listen'", app))
	select {
	case err := <-done:
		if err == nil {
			t.Error("Listen returned nil after losing its connection, want an error")
		}
		t.Logf("Listen: %v", err)
	case <-time.After(patience):
		t.Fatalf("Listen still running %s after its connection was terminated", patience)
	}
}

// checkWriteError fails the test for errors a write must never return:
// anything but ErrConflict or ErrBusy, and above all the driver's own.
func checkWriteError(t *testing.T, what string, err error) {
	t.Helper()
	var pe *pgconn.PgError
	switch {
	case err == nil:
	case errors.As(err, &pe) || strings.Contains(err.Error(), "SQLSTATE"):
		t.Errorf("%s: driver error surfaced: %v", what, err)
	case !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrBusy):
		t.Errorf("%s: unexpected error %v", what, err)
	}
}

func TestPostgresWritersSurfaceNoDriverErrors(t *testing.T) {
	// Two Stores, as two replicas, change the flags a and b at once, one
	// locking a then b, the other b then a: Postgres breaks the deadlocks
	// this makes by aborting one transaction. Callers must only ever see
	// success, ErrConflict or ErrBusy, and no update may be lost.
	const rounds = 30
	ctx := context.Background()
	dsn := postgresDSN(t)
	s1, s2 := openDSN(t, dsn), openDSN(t, dsn)
	applyState(t, s1, flags.State{Cohorts: []cohorts.Cohort{cohort("c")}, Flags: []flags.Flag{boolFlag("a"), boolFlag("b")}}, false, "setup")
	setupVersion := mustVersion(t, s1)

	type result struct{ applies, conflicts, busy, adds int }
	work := func(s *store.Store, name string, reverse bool) (r result) {
		for i := range rounds {
			current, _, err := s.State(ctx)
			if err != nil {
				t.Errorf("%s: State: %v", name, err)
				return r
			}
			desired := flags.State{Flags: slices.Clone(current.Flags)}
			for _, key := range []string{"a", "b"} {
				f, _ := desired.Flag(key)
				f.Description = fmt.Sprintf("%s round %d", name, i)
			}
			plan := flags.Diff(&current, &desired, false)
			if reverse {
				slices.Reverse(plan.Changes)
			}
			err = s.Apply(ctx, &desired, plan, name)
			checkWriteError(t, name+": Apply", err)
			switch {
			case err == nil:
				r.applies++
			case errors.Is(err, store.ErrConflict):
				r.conflicts++
			case errors.Is(err, store.ErrBusy):
				r.busy++
			}
			added, err := s.AddMembers(ctx, "c", members(fmt.Sprintf("%s-%d", name, i)), name)
			checkWriteError(t, name+": AddMembers", err)
			r.adds += added
		}
		return r
	}
	var r1, r2 result
	var wg sync.WaitGroup
	wg.Go(func() { r1 = work(s1, "one", false) })
	wg.Go(func() { r2 = work(s2, "two", true) })
	wg.Wait()
	t.Logf("one: %+v; two: %+v", r1, r2)

	applies, writes := r1.applies+r2.applies, r1.applies+r2.applies+r1.adds+r2.adds
	if applies == 0 {
		t.Error("no Apply succeeded")
	}
	if got, want := mustVersion(t, s1), setupVersion+int64(writes); got != want {
		t.Errorf("config version = %d, want %d (setup %d + %d writes)", got, want, setupVersion, writes)
	}
	for _, key := range []string{"a", "b"} {
		if got, want := len(mustAudit(t, s1, store.AuditFilter{Kind: "flag", Target: key})), 1+applies; got != want {
			t.Errorf("flag %s has %d audit entries, want %d (creation + successful Applies)", key, got, want)
		}
		f, err := s1.Flag(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != int64(1+applies) {
			t.Errorf("flag %s at version %d, want %d", key, f.Version, 1+applies)
		}
	}
	a, _ := s1.Flag(ctx, "a")
	b, _ := s1.Flag(ctx, "b")
	if a.Description != b.Description {
		t.Errorf("flags a and b were last written by different Applies: %q and %q", a.Description, b.Description)
	}
}

func TestPostgresDeadlockIsRetried(t *testing.T) {
	// Two replicas apply the same change to flags a and b, one locking a
	// then b, the other b then a. Both wait behind a third transaction that
	// holds both rows; when it ends, each takes its first row and waits for
	// the other's: a deadlock, which Postgres breaks by aborting one. The
	// store runs that one again, and it finds the flags changed: one Apply
	// succeeds, the other fails with ErrConflict, and no driver error shows.
	ctx := context.Background()
	dsn := postgresDSN(t)
	named, app := withAppName(t, dsn)
	s1, s2 := openDSN(t, named), openDSN(t, named)
	applyState(t, s1, flags.State{Flags: []flags.Flag{boolFlag("a"), boolFlag("b")}}, false, "setup")

	current, _ := mustState(t, s1)
	desired := flags.State{Flags: slices.Clone(current.Flags)}
	for i := range desired.Flags {
		desired.Flags[i].Description = "changed"
	}
	plan := flags.Diff(&current, &desired, false)
	reversed := flags.ChangeSet{Changes: slices.Clone(plan.Changes)}
	slices.Reverse(reversed.Changes)
	if len(plan.Changes) != 2 {
		t.Fatalf("plan = %v, want updates of a and b", planSummary(plan))
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM flags FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s1.Apply(ctx, &desired, plan, "one") })
	wg.Go(func() { errs[1] = s2.Apply(ctx, &desired, reversed, "two") })
	for deadline := time.Now().Add(patience); ; {
		var waiting int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", app).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Applies wait for the locked rows after %s, want 2", waiting, patience)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	for i, err := range errs {
		checkWriteError(t, fmt.Sprint("Apply ", i+1), err)
	}
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflicts++
		}
	}
	if ok != 1 || conflicts != 1 {
		t.Errorf("Apply errors = %v, want one success and one ErrConflict", errs)
	}
	if got, want := mustVersion(t, s1), int64(2); got != want {
		t.Errorf("config version = %d, want %d", got, want)
	}
}

func TestPostgresBusyIsReported(t *testing.T) {
	ctx := context.Background()
	dsn := postgresDSN(t)
	s := openDSN(t, dsn+"&lock_timeout=100")
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")

	// Another replica's transaction holds the lock on the version row.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "UPDATE config_state SET version = version"); err != nil {
		t.Fatal(err)
	}

	if _, _, err := s.State(ctx); err != nil {
		t.Errorf("State() while another connection writes: %v", err)
	}
	_, err = s.SetEnabled(ctx, "a", false, "alice")
	if !errors.Is(err, store.ErrBusy) {
		t.Fatalf("SetEnabled while another connection holds the lock: error = %v, want ErrBusy", err)
	}
	if strings.Contains(err.Error(), "lock timeout") || strings.Contains(err.Error(), "SQLSTATE") {
		t.Errorf("error %q shows the driver's message", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetEnabled(ctx, "a", false, "alice"); err != nil {
		t.Errorf("SetEnabled once the lock is released: %v", err)
	}
}

func TestOpenRedactsPassword(t *testing.T) {
	// Nothing listens on port 1: Open fails, and must not print the password.
	_, err := store.Open(context.Background(), "postgres://ramp:s3cret@127.0.0.1:1/ramp?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open error shows the password: %v", err)
	}
}

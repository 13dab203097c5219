package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

// rounds is how many rounds of writes each concurrent worker makes.
const rounds = 20

// setupShared creates what concurrent workers fight over: the flag and the
// cohort "shared". It returns the config version it leaves.
func setupShared(t *testing.T, s *store.Store) int64 {
	t.Helper()
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("shared")}, Flags: []flags.Flag{boolFlag("shared")}}, false, "setup")
	return mustVersion(t, s)
}

// tally counts a worker's successful writes.
type tally struct {
	writes  int // writes that changed something, each bumping the config version
	applies int // successful Applies, each updating flag "shared"
}

// hammer makes rounds of writes as worker name: an Apply editing the flag
// "shared" and the worker's own flag (refused when another worker changed
// "shared" since it was read), AddMembers to the cohort "shared", and
// SetEnabled toggling the worker's own flag. Every write must succeed or, for
// Apply, fail with ErrConflict; hammer returns the first other error.
func hammer(ctx context.Context, s *store.Store, name string) (tally, error) {
	var n tally
	own := "own-" + name
	for i := range rounds {
		current, _, err := s.State(ctx)
		if err != nil {
			return n, fmt.Errorf("State: %w", err)
		}
		desired := flags.State{Flags: slices.Clone(current.Flags)}
		shared, _ := desired.Flag("shared")
		shared.Description = fmt.Sprintf("%s, round %d", name, i)
		if f, ok := desired.Flag(own); ok {
			f.Description = shared.Description
		} else {
			desired.Flags = append(desired.Flags, boolFlag(own))
		}
		switch err := s.Apply(ctx, &desired, flags.Diff(&current, &desired, false), name); {
		case err == nil:
			n.writes++
			n.applies++
		case !errors.Is(err, store.ErrConflict):
			return n, fmt.Errorf("Apply: %w", err)
		}

		if _, err := s.AddMembers(ctx, "shared", members(fmt.Sprintf("%s-%d", name, i)), name); err != nil {
			return n, fmt.Errorf("AddMembers: %w", err)
		}
		n.writes++

		f, err := s.Flag(ctx, own)
		if errors.Is(err, store.ErrNotFound) {
			continue // every Apply so far conflicted
		} else if err != nil {
			return n, fmt.Errorf("Flag: %w", err)
		}
		if _, err := s.SetEnabled(ctx, own, !f.Enabled, name); err != nil {
			return n, fmt.Errorf("SetEnabled: %w", err)
		}
		n.writes++
	}
	return n, nil
}

// checkTally checks the database against the workers' tallies.
func checkTally(t *testing.T, s *store.Store, setupVersion int64, workers int, tallies ...tally) {
	t.Helper()
	var sum tally
	for _, n := range tallies {
		sum.writes += n.writes
		sum.applies += n.applies
	}
	t.Logf("%d workers: %d writes, %d of %d Applies succeeded", workers, sum.writes, sum.applies, workers*rounds)
	if sum.applies == 0 {
		t.Errorf("no Apply succeeded")
	}
	if got, want := mustVersion(t, s), setupVersion+int64(sum.writes); got != want {
		t.Errorf("config version = %d, want %d (setup %d + %d writes)", got, want, setupVersion, sum.writes)
	}
	if got, want := len(mustAudit(t, s, store.AuditFilter{Kind: "flag", Target: "shared"})), 1+sum.applies; got != want {
		t.Errorf("flag shared has %d audit entries, want %d (creation + successful Applies)", got, want)
	}
	c, err := s.Cohort(context.Background(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	if want := workers * rounds; c.MemberCount != want {
		t.Errorf("cohort shared has %d members, want %d", c.MemberCount, want)
	}
}

func TestConcurrentOpen(t *testing.T) {
	// Replicas starting at once all migrate a new database. On SQLite,
	// creating it switches it to WAL mode, which takes a lock without
	// waiting for others: Open must retry. On Postgres, two transactions
	// creating one table both fail but one: migrations must take turns.
	for range 20 {
		dsn := testDSN(t)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				s, err := store.Open(context.Background(), dsn)
				if err != nil {
					t.Errorf("Open: %v", err)
					return
				}
				s.Close()
			})
		}
		wg.Wait()
	}
}

func TestConcurrentStores(t *testing.T) {
	const workers = 8
	ctx := context.Background()
	dsn := emptyDSN(t)
	setupVersion := setupShared(t, openDSN(t, dsn))

	stores := make([]*store.Store, workers)
	for i := range stores {
		stores[i] = openDSN(t, dsn)
	}
	tallies := make([]tally, workers)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			var err error
			if tallies[i], err = hammer(ctx, s, fmt.Sprintf("w%d", i)); err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	checkTally(t, stores[0], setupVersion, workers, tallies...)
}

// helperEnv names the variable that makes TestHelperProcess write to the
// database it names.
const helperEnv = "RAMP_STORE_HELPER_DSN"

// TestHelperProcess is the second process of TestConcurrentProcesses. It
// prints "ready" once it has opened the store and "tally WRITES APPLIES" when
// it is done.
func TestHelperProcess(t *testing.T) {
	dsn := os.Getenv(helperEnv)
	if dsn == "" {
		return
	}
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fmt.Println("ready")
	n, err := hammer(ctx, s, "child")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("tally %d %d\n", n.writes, n.applies)
}

func TestConcurrentProcesses(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s := openDSN(t, dsn)
	setupVersion := setupShared(t, s)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dsn)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var output []string
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
			output = append(output, sc.Text())
		}
	}()
	select {
	case <-ready:
	case <-scanned:
		cmd.Wait()
		t.Fatalf("helper process ended before it was ready:\n%s\n%s", strings.Join(output, "\n"), stderr.String())
	}

	parent, err := hammer(ctx, s, "parent")
	if err != nil {
		t.Errorf("parent: %v", err)
	}
	<-scanned
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v\n%s\n%s", err, strings.Join(output, "\n"), stderr.String())
	}
	var child tally
	for _, line := range output {
		if _, err := fmt.Sscanf(line, "tally %d %d", &child.writes, &child.applies); err == nil {
			break
		}
	}
	if child.writes == 0 {
		t.Fatalf("helper process reported no writes:\n%s", strings.Join(output, "\n"))
	}
	checkTally(t, s, setupVersion, 2, parent, child)
}

func TestBusyIsReported(t *testing.T) {
	// SQLite, whatever $RAMP_TEST_DSN says; TestPostgresBusyIsReported is
	// the same for Postgres.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ramp.db")
	s := openDSN(t, path+"?_busy_timeout=100")
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")

	// Another process holds the write lock.
	holdWriteLock(t, path)

	if _, err := s.Flags(ctx); err != nil {
		t.Errorf("Flags() while another connection writes: %v", err)
	}
	_, err := s.SetEnabled(ctx, "a", false, "alice")
	if !errors.Is(err, store.ErrBusy) {
		t.Fatalf("SetEnabled while another connection writes: error = %v, want ErrBusy", err)
	}
	if strings.Contains(err.Error(), "locked") {
		t.Errorf("error %q shows the driver's message", err)
	}
}

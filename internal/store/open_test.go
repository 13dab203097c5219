package store_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

// TestOpenExisting: OpenExisting opens a ramp database and refuses, with
// ErrNoDatabase and the path in its message, a missing file, an empty one
// and another program's database, leaving each as it was.
func TestOpenExisting(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	dir := t.TempDir()
	ramp := filepath.Join(dir, "ramp.db")
	s := openDSN(t, ramp)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite3", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE notes (body TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, tc := range []struct {
		name, dsn, path string
		ok              bool
	}{
		{"ramp database", ramp, ramp, true},
		{"ramp database, sqlite: prefix", "sqlite:" + ramp, ramp, true},
		{"ramp database, with parameters", ramp + "?_busy_timeout=500", ramp, true},
		{"missing file", filepath.Join(dir, "typo.db"), filepath.Join(dir, "typo.db"), false},
		{"missing directory", filepath.Join(dir, "nodir", "ramp.db"), filepath.Join(dir, "nodir", "ramp.db"), false},
		{"empty file", empty, empty, false},
		{"another program's database", foreign, foreign, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshotFiles(t, dir)
			s, err := store.OpenExisting(ctx, tc.dsn)
			if tc.ok {
				if err != nil {
					t.Fatalf("OpenExisting: %v", err)
				}
				defer s.Close()
				if _, err := s.Flag(ctx, "a"); err != nil {
					t.Errorf("Flag: %v", err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("OpenExisting succeeded")
			}
			if !errors.Is(err, store.ErrNoDatabase) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q: want ErrNoDatabase naming %s", err, tc.path)
			}
			if d := diff(before, snapshotFiles(t, dir)); d != "" {
				t.Errorf("files in the directory changed (-before +after):\n%s", d)
			}
		})
	}
}

// snapshotFiles returns the names and sizes of the files in dir.
func snapshotFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		out[strings.TrimPrefix(path, dir)] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenExistingPostgres: an empty schema is no ramp database.
func TestOpenExistingPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	ctx := context.Background()
	s, err := store.OpenExisting(ctx, dsn)
	if err == nil {
		s.Close()
		t.Fatal("OpenExisting of an empty schema succeeded")
	}
	if !errors.Is(err, store.ErrNoDatabase) || !strings.Contains(err.Error(), "has no ramp tables") {
		t.Errorf("error %q: want ErrNoDatabase saying the schema has no ramp tables", err)
	}
	if strings.Contains(err.Error(), "ramp_test:") && !strings.Contains(err.Error(), "xxxxx") {
		t.Errorf("error %q may show the password", err)
	}
	openDSN(t, dsn).Close()
	s = openExisting(t, dsn)
	if _, err := s.Flags(ctx); err != nil {
		t.Errorf("Flags: %v", err)
	}
}

func openExisting(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.OpenExisting(context.Background(), dsn)
	if err != nil {
		t.Fatalf("OpenExisting(%q): %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestOpenCreatesPrivateFiles: the SQLite file Open creates, and its -wal
// and -shm files, are readable by their owner only; an existing file keeps
// the mode it has.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	sqliteOnly(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ramp.db")
	s := openDSN(t, path)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", filepath.Base(name), got)
		}
	}

	shared := filepath.Join(dir, "shared.db")
	if err := os.WriteFile(shared, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o640); err != nil { // whatever the umask
		t.Fatal(err)
	}
	openDSN(t, shared)
	if info, err := os.Stat(shared); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("an existing file's mode changed: %v, %v", info.Mode(), err)
	}
}

// TestOpenDoesNotWaitForWriter: opening an up-to-date database reads its
// schema version and takes no lock, so it succeeds while another
// connection holds the write lock (a long import's merge, say), and so do
// reads; a write waits for the lock and reports ErrBusy after the busy
// timeout.
func TestOpenDoesNotWaitForWriter(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ramp.db")
	applyState(t, openDSN(t, path), flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")

	holdWriteLock(t, path)

	for _, open := range []struct {
		name string
		fn   func(context.Context, string) (*store.Store, error)
	}{{"Open", store.Open}, {"OpenExisting", store.OpenExisting}} {
		t.Run(open.name, func(t *testing.T) {
			s, err := open.fn(ctx, path+"?_busy_timeout=200")
			if err != nil {
				t.Fatalf("%s while another connection writes: %v", open.name, err)
			}
			defer s.Close()
			if _, err := s.Flags(ctx); err != nil {
				t.Errorf("Flags: %v", err)
			}
			if _, err := s.SetEnabled(ctx, "a", false, "alice"); !errors.Is(err, store.ErrBusy) {
				t.Errorf("SetEnabled: %v, want ErrBusy", err)
			}
		})
	}
}

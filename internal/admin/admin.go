// Package admin is ramp's control plane: one method per use case (apply a
// configuration, move a rollout, edit a plan, import a cohort, create a
// key, read the audit log, estimate a move…), each checking its refusals
// inside the write's transaction. The CLI calls it today; the admin API and
// the web dashboard call the same methods, so that a rule exists once.
//
// Methods take the acting person from the context (WithActor) and return
// errors that match one of ramp's kinds (ramp.ErrInvalid, ramp.ErrNotFound,
// ramp.ErrConflict, ramp.ErrRefused…) with errors.Is: the front-ends map the
// kind to an exit code or an HTTP status and may add a hint of their own
// ("pass --allow-empty"); messages here never name a command-line flag.
//
// admin imports the store and the pure domain packages; front-ends import
// admin and never the store.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

// Service is the control plane over one database. It is safe for
// concurrent use.
type Service struct {
	st atomic.Pointer[store.Store]
	ev Events // exposures and events, when not in the database (events.go)
	// Now returns the current time; tests replace it. It defaults to the
	// store's clock.
	Now func() time.Time
	// Safety tunes the automatic safety the schedule's pass runs
	// (safety*.go); set it before the Service is used.
	Safety SafetyOptions
	// guardLast is when this Service last judged each live guarded
	// stage (safety_halt.go).
	guardMu   sync.Mutex
	guardLast map[string]time.Time

	// For a SQLite file opened by Open: its DSN, and the file as it was
	// when opened, so that Revision notices a file replaced or deleted
	// under a long-running process (see follow).
	dsn    string
	path   string
	opened os.FileInfo
	log    *slog.Logger
	mu     sync.Mutex // serializes reopening
}

// Options says how Open opens a database.
type Options struct {
	// Create makes Open create the database when it does not exist. Reads
	// never need it: a command that only reads or edits existing objects
	// opens without it and gets an error matching ErrNoDatabase (and
	// ramp.ErrNotFound), rather than an empty database made by mistake.
	Create bool
	// Log, when set, hears of a SQLite file replaced or deleted under the
	// Service (see Revision).
	Log *slog.Logger
}

// ErrNoDatabase is matched by the error of Open without Create, and of
// Revision, when there is no ramp database where the DSN points.
var ErrNoDatabase = store.ErrNoDatabase

// Open opens the database dsn names (a SQLite path or a postgres:// URL,
// see store.Open).
func Open(ctx context.Context, dsn string, opt Options) (*Service, error) {
	open := store.OpenExisting
	if opt.Create {
		open = store.Open
	}
	st, err := open(ctx, dsn)
	if err != nil {
		if errors.Is(err, store.ErrNoDatabase) {
			return nil, &ramp.Error{Kind: ramp.KindNotFound, Msg: err.Error(), Err: err}
		}
		return nil, err
	}
	s := New(st)
	s.dsn, s.log = dsn, opt.Log
	if path, ok := store.SQLitePath(dsn); ok {
		if fi, err := os.Stat(path); err == nil {
			s.path, s.opened = path, fi
		}
	}
	return s, nil
}

// New returns the control plane over an open store.
func New(st *store.Store) *Service {
	s := &Service{}
	s.st.Store(st)
	s.Now = func() time.Time { return s.db().Now() }
	return s
}

// db returns the store in use: the one opened, or the one Revision
// reopened after the file was replaced.
func (s *Service) db() *store.Store { return s.st.Load() }

// Close closes the database.
func (s *Service) Close() error { return errors.Join(s.closeEvents(), s.db().Close()) }

type actorKey struct{}

// WithActor returns a context that names who acts: recorded in the audit
// log with every change, and the one whose requests approvals must come
// from someone else.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor returns who acts in ctx, or "unknown".
func Actor(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "unknown"
}

// Revision returns the database's epoch and configuration version: what
// `ramp serve` polls. For a SQLite file it first checks that the path still
// names the file it opened: a file renamed over it or copied in its place
// (a restore) is opened and used from then on, and a path with no file
// fails with ErrNoDatabase until one is there again, so that the server
// turns unready rather than serve a deleted database while the CLI writes
// elsewhere.
func (s *Service) Revision(ctx context.Context) (ramp.Revision, error) {
	if err := s.follow(ctx); err != nil {
		return ramp.Revision{}, err
	}
	return s.db().Revision(ctx)
}

// follow reopens the database when the file at the path is no longer the
// one open (see Revision). The store it replaces is closed a little later,
// so that reads in flight on it finish.
func (s *Service) follow(ctx context.Context) error {
	if s.path == "" {
		return nil
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return &ramp.Error{Kind: ramp.KindNotFound, Err: store.ErrNoDatabase,
			Msg: fmt.Sprintf("the database file %s is gone (deleted or moved away): %v", s.path, err)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if os.SameFile(fi, s.opened) {
		return nil
	}
	st, err := store.OpenExisting(ctx, s.dsn)
	if err != nil {
		return fmt.Errorf("reopen the database file %s, replaced since it was opened: %w", s.path, err)
	}
	old := s.st.Swap(st)
	s.opened = fi
	if s.log != nil {
		s.log.Warn("the database file was replaced; reopened it", "path", s.path)
	}
	time.AfterFunc(retireAfter, func() { old.Close() })
	return nil
}

// retireAfter is how long a replaced store stays open for the reads in
// flight on it.
const retireAfter = 30 * time.Second

// Configuration returns the configuration as stored, with member lists as
// hashed sets: what the data plane compiles (ramp serve's source).
func (s *Service) Configuration(ctx context.Context) (ramp.Config, error) {
	return s.db().Configuration(ctx)
}

// Snapshot compiles the configuration as services see it: composed
// (ramp.Compose) and compiled at its version. eval, simulate and estimates
// decide with it.
func (s *Service) Snapshot(ctx context.Context) (*flags.Snapshot, error) {
	cfg, err := s.db().Configuration(ctx)
	if err != nil {
		return nil, err
	}
	return compile(&cfg)
}

// compile composes and compiles a configuration read from the store.
func compile(cfg *ramp.Config) (*flags.Snapshot, error) {
	snap, err := flags.Compile(ramp.Compose(cfg), cfg.Revision.Version)
	if err != nil {
		// What is stored was validated when written: failing now is a bug
		// or a database edited by hand, not the caller's input.
		return nil, &ramp.Error{Kind: ramp.KindInternal, Msg: fmt.Sprintf("stored configuration does not compile: %v", err), Err: err}
	}
	return snap, nil
}

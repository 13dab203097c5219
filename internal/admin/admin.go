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
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

// Service is the control plane over one database. It is safe for
// concurrent use.
type Service struct {
	store *store.Store
	// Now returns the current time; tests replace it. It defaults to the
	// store's clock.
	Now func() time.Time
}

// Options says how Open opens a database.
type Options struct {
	// Create makes Open create the database when it does not exist. Reads
	// never need it: a command that only reads or edits existing objects
	// opens without it and gets an error matching ramp.ErrNotFound, rather
	// than an empty database made by mistake.
	Create bool
}

// Open opens the database dsn names (a SQLite path or a postgres:// URL,
// see store.Open).
func Open(ctx context.Context, dsn string, opt Options) (*Service, error) {
	s, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return New(s), nil
}

// New returns the control plane over an open store.
func New(s *store.Store) *Service {
	return &Service{store: s, Now: func() time.Time { return s.Now() }}
}

// Close closes the database.
func (s *Service) Close() error { return s.store.Close() }

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

// Revision returns the database's epoch and configuration version.
func (s *Service) Revision(ctx context.Context) (ramp.Revision, error) {
	return s.store.Revision(ctx)
}

// Configuration returns the configuration as stored, with member lists as
// hashed sets: what the data plane compiles (ramp serve's source).
func (s *Service) Configuration(ctx context.Context) (ramp.Config, error) {
	return s.store.Configuration(ctx)
}

// Snapshot compiles the configuration as services see it: composed
// (ramp.Compose) and compiled at its version. eval, simulate and estimates
// decide with it.
func (s *Service) Snapshot(ctx context.Context) (*flags.Snapshot, error) {
	cfg, err := s.store.Configuration(ctx)
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

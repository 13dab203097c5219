package admin

import (
	"context"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/store"
)

// RenewEpoch gives the database a new epoch and bumps its configuration
// version, so that servers reload and providers take its configuration
// whatever version they hold: for a database restored from a backup, which
// carries its original's epoch at a lower version than providers may hold.
// It returns the new revision and records "epoch.renew" in the audit log.
func (s *Service) RenewEpoch(ctx context.Context) (ramp.Revision, error) {
	return s.db().RenewEpoch(ctx, Actor(ctx))
}

// CopyResult is what CopyTo carried (see store.CopyResult).
type CopyResult = store.CopyResult

// CopyTo copies everything this database holds into dst, which must be
// empty (a new database): flags, cohorts and their member lists, rollout
// plans with their progress, API keys (their secrets keep working), the
// record of imports and the audit log. It is one transaction on dst:
// interrupted, dst stays empty. dst then has a new epoch and a
// configuration version above this one's, so that providers that hold
// this database's configuration take dst's once servers point at it, and
// its audit log ends with a "db.copy" entry by the actor. A dst that holds
// anything is refused (ramp.ErrRefused). This database is only read:
// changes made to it during or after the copy are not carried.
func (s *Service) CopyTo(ctx context.Context, dst *Service) (CopyResult, error) {
	return store.Copy(ctx, s.db(), dst.db(), Actor(ctx))
}

// Listen calls onChange with the new configuration version each time a
// write commits, for as long as ctx lives, where the database announces
// changes (Postgres' LISTEN/NOTIFY); elsewhere it returns an error matching
// ramp.ErrListenUnsupported at once, and servers poll Revision. ramp serve
// uses it as its configuration source's optional side.
func (s *Service) Listen(ctx context.Context, onChange func(version int64)) error {
	return s.db().Listen(ctx, onChange)
}

// RunSchedule runs the rollout schedule until ctx ends: every interval it
// starts the stages that are due (and asks for approval where a stage
// needs it), logging what it did to log and counting it in m (which may be
// nil). Several servers may run it on one database: each stage is started

// RedactDSN returns a database's DSN as a message may show it, without
// its password (see store.RedactDSN). Front-ends name databases only
// through it.
func RedactDSN(dsn string) string { return store.RedactDSN(dsn) }

package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
)

// Revision names one configuration: see ramp.Revision.
type Revision = ramp.Revision

// Revision returns the database's epoch and its configuration version, read
// together in one row: what servers poll to know when to reload (see
// Version).
func (s *Store) Revision(ctx context.Context) (Revision, error) {
	rev, err := configRevision(s.r.WithContext(ctx))
	return rev, s.wrap("read config version", err)
}

// revisionQuery reads the configuration's revision.
const revisionQuery = "SELECT epoch, version FROM config_state WHERE id = 1"

func configRevision(db *gorm.DB) (Revision, error) {
	var rev Revision
	err := db.Raw(revisionQuery).Row().Scan(&rev.Epoch, &rev.Version)
	return rev, err
}

// RenewEpoch gives the database a new epoch and bumps its configuration
// version, so that servers reload and providers take its configuration
// whatever version they hold. Run it on a database restored from a backup:
// the copy carries the epoch of the database it was taken from, at a lower
// version than providers may already hold. It returns the new revision.
func (s *Store) RenewEpoch(ctx context.Context, actor string) (Revision, error) {
	var rev Revision
	err := s.write(ctx, "renew epoch", actor, func(w *writeTx) error {
		before, err := configRevision(w.db)
		if err != nil {
			return err
		}
		epoch, err := newEpoch()
		if err != nil {
			return err
		}
		if err := w.db.Exec("UPDATE config_state SET epoch = ? WHERE id = 1", epoch).Error; err != nil {
			return fmt.Errorf("set epoch: %w", err)
		}
		if err := w.record("epoch.renew", "epoch", epoch, map[string]any{"epoch": before.Epoch, "version": before.Version}, map[string]any{"epoch": epoch}); err != nil {
			return err
		}
		rev.Epoch = epoch
		return nil
	})
	if err != nil {
		return Revision{}, err
	}
	// The version the write bumped to.
	return s.Revision(ctx)
}

// newEpoch draws an epoch: 64 random bits in hex, enough that two databases
// never share one by chance.
func newEpoch() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("draw an epoch: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// migrateEpoch gives the database its epoch: a column of config_state, set
// once here, so that a database created by this migration and one upgraded
// by it each get their own.
func migrateEpoch(tx *gorm.DB, d *dialect) error {
	epoch, err := newEpoch()
	if err != nil {
		return err
	}
	if err := exec(tx, `ALTER TABLE config_state ADD COLUMN epoch TEXT NOT NULL DEFAULT ''`); err != nil {
		return err
	}
	return tx.Exec("UPDATE config_state SET epoch = ? WHERE id = 1", epoch).Error
}

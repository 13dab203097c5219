package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// rolloutRow is a flag's rollout plan and its progress. Stages and progress
// are JSON; a plan goes with its flag (ON DELETE CASCADE).
type rolloutRow struct {
	Key       string `gorm:"primaryKey"` // the flag's key
	Variant   string
	Stages    string // JSON []storedStage: percentages in basis points
	Progress  string // JSON rollout.Progress
	Version   int64
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
	UpdatedBy string
}

func (rolloutRow) TableName() string { return "rollouts" }

// migrateRollouts creates the rollouts table.
func migrateRollouts(tx *gorm.DB, d *dialect) error {
	return exec(tx, fmt.Sprintf(`CREATE TABLE rollouts (
		key %[1]s PRIMARY KEY REFERENCES flags (key) ON DELETE CASCADE,
		variant TEXT NOT NULL,
		stages TEXT NOT NULL,
		progress TEXT NOT NULL,
		version BIGINT NOT NULL,
		created_at %[2]s NOT NULL,
		updated_at %[2]s NOT NULL,
		updated_by TEXT NOT NULL
	)`, d.text, d.timestamp))
}

// storedStage is a stage as the rollouts table stores it: rollout.Stage's
// fields with Go's default JSON encoding, so percentages stay in basis
// points (flags.Percent's JSON) as every row written so far has them,
// whereas rollout.Stage writes percent units for people and scripts
// (rollout/json.go). A defined type has none of Stage's methods; Duration
// and time fields keep theirs.
type storedStage rollout.Stage

func encodeRollout(r *rollout.Rollout) (rolloutRow, error) {
	stored := make([]storedStage, len(r.Stages))
	for i := range r.Stages {
		stored[i] = storedStage(r.Stages[i])
	}
	stages, err := json.Marshal(stored)
	if err != nil {
		return rolloutRow{}, fmt.Errorf("encode rollout %q: %w", r.Flag, err)
	}
	progress, err := json.Marshal(r.Progress)
	if err != nil {
		return rolloutRow{}, fmt.Errorf("encode rollout %q: %w", r.Flag, err)
	}
	return rolloutRow{Key: r.Flag, Variant: r.Variant, Stages: string(stages), Progress: string(progress),
		Version: r.Version, UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy}, nil
}

func decodeRollout(row *rolloutRow) (rollout.Rollout, error) {
	r := rollout.Rollout{Plan: rollout.Plan{Flag: row.Key, Variant: row.Variant},
		Version: row.Version, UpdatedBy: row.UpdatedBy, UpdatedAt: row.UpdatedAt.UTC()}
	var stored []storedStage
	if err := json.Unmarshal([]byte(row.Stages), &stored); err != nil {
		return r, fmt.Errorf("decode rollout %q stages: %w", row.Key, err)
	}
	r.Stages = make([]rollout.Stage, len(stored))
	for i := range stored {
		r.Stages[i] = rollout.Stage(stored[i])
	}
	if err := json.Unmarshal([]byte(row.Progress), &r.Progress); err != nil {
		return r, fmt.Errorf("decode rollout %q progress: %w", row.Key, err)
	}
	return r, nil
}

// Rollouts returns every rollout plan with its progress, by flag key.
func (s *Store) Rollouts(ctx context.Context) ([]rollout.Rollout, error) {
	var out []rollout.Rollout
	err := s.read(ctx, "read rollouts", func(db *gorm.DB) error {
		var err error
		out, err = loadRollouts(db)
		return err
	})
	return out, err
}

func loadRollouts(db *gorm.DB) ([]rollout.Rollout, error) {
	var rows []rolloutRow
	if err := db.Order("key").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]rollout.Rollout, len(rows))
	for i := range rows {
		var err error
		if out[i], err = decodeRollout(&rows[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Rollout returns one flag's rollout plan, or a *NotFoundError of kind
// "rollout".
func (s *Store) Rollout(ctx context.Context, flag string) (rollout.Rollout, error) {
	var out rollout.Rollout
	err := s.read(ctx, "read rollout", func(db *gorm.DB) error {
		row, err := findRollout(db, flag)
		if err != nil {
			return err
		}
		out, err = decodeRollout(row)
		return err
	})
	return out, err
}

func findRollout(db *gorm.DB, flag string) (*rolloutRow, error) {
	var rows []rolloutRow
	if err := db.Where("key = ?", flag).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &NotFoundError{Kind: "rollout", Key: flag}
	}
	return &rows[0], nil
}

// applyRollout carries out one plan change of an apply. A plan's progress
// survives an update; the live stage must still be in the new plan.
func (w *writeTx) applyRollout(c rollout.Change) error {
	old, err := findRollout(forUpdate(w.db), c.Flag)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	var (
		before any
		prev   rollout.Progress
	)
	cur := stamp{}
	if old != nil {
		r, err := decodeRollout(old)
		if err != nil {
			return err
		}
		before, prev = r, r.Progress
		cur = stamp{exists: true, version: old.Version, by: old.UpdatedBy, at: old.UpdatedAt}
	}
	if err := checkChange("rollout", flags.Change{Key: c.Flag, Action: c.Action, BaseVersion: c.BaseVersion}, cur); err != nil {
		return err
	}
	action := "apply." + string(c.Action)
	if c.Action == flags.Delete {
		if err := w.removeVersioned("rollout", c.Flag, c.BaseVersion, &rolloutRow{}); err != nil {
			return err
		}
		return w.record(action, "rollout", c.Flag, before, nil)
	}
	next := rollout.Rollout{Plan: c.Plan, Version: c.BaseVersion + 1, UpdatedAt: w.now, UpdatedBy: w.actor}
	if before != nil {
		next.Progress = prev
		if next.Progress.Stage != "" && next.StageIndex(next.Progress.Stage) < 0 {
			return ramp.Errorf(ramp.KindInvalid, "rollout %s: the live stage %s is not in the new plan: keep it, or roll back to a stage the new plan keeps first",
				c.Flag, next.Progress.Stage)
		}
		// A change to the plan cancels a request awaiting approval: what
		// was asked for is no longer what would be approved, so nobody may
		// approve it unseen. Whoever asked asks again.
		next.Progress.Pending = nil
	}
	row, err := encodeRollout(&next)
	if err != nil {
		return err
	}
	if c.Action == flags.Create {
		row.Version, row.CreatedAt = 1, w.now
		next.Version = 1
	}
	if err := w.putVersioned("rollout", c.Flag, c.Action == flags.Create, c.BaseVersion, &rolloutRow{}, &row); err != nil {
		return err
	}
	return w.record(action, "rollout", c.Flag, before, next)
}

// Move describes a change to a rollout's progress for MoveRollout.
type Move struct {
	// Flag is the rollout's flag; Action the audit action, such as
	// "rollout.advance".
	Flag, Action string
	// BaseVersion is the rollout version the caller decided from; if the
	// rollout has changed since, MoveRollout refuses with a
	// *ConflictError saying what it is now. 0 skips the check.
	BaseVersion int64
	// Apply computes the new progress from the rollout and its flag as
	// stored now. Returning ErrNoChange writes nothing.
	Apply func(r *rollout.Rollout, f *flags.Flag, now time.Time) (rollout.Progress, error)
	// ActionOf, when set, names the audit action from the rollout as
	// stored before the move, in place of Action: "rollout.advance.forced"
	// for an advance that overrides a pause.
	ActionOf func(r *rollout.Rollout) string
}

// ErrNoChange, returned by a Move's Apply, makes MoveRollout write nothing
// and return it.
var ErrNoChange = errors.New("nothing to change")

// MoveRollout changes a rollout's progress in one write transaction: it
// reads and locks the rollout, checks its version, lets m.Apply compute the
// new progress, writes it with the version incremented (only if the version
// is still the one read, so two servers never both move it) and records
// m.Action in the audit log with the rollout before and after. It returns
// the rollout as stored, or m.Apply's error as it is.
func (s *Store) MoveRollout(ctx context.Context, m Move, actor string) (rollout.Rollout, error) {
	var (
		out     rollout.Rollout
		refused error // Apply's, returned as it is
	)
	err := s.write(ctx, m.Action, actor, func(w *writeTx) error {
		row, err := findRollout(forUpdate(w.db), m.Flag)
		if err != nil {
			return err
		}
		r, err := decodeRollout(row)
		if err != nil {
			return err
		}
		if m.BaseVersion != 0 && r.Version != m.BaseVersion {
			return &ConflictError{Kind: "rollout", Key: m.Flag, Expected: m.BaseVersion, Actual: r.Version,
				UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt, Now: describeProgress(&r)}
		}
		frow, err := findFlag(w.db, m.Flag)
		if err != nil {
			return err
		}
		f, err := decodeFlag(frow)
		if err != nil {
			return err
		}
		progress, err := m.Apply(&r, &f, w.now)
		if err != nil {
			refused = err
			return err
		}
		next := r
		next.Progress, next.Version, next.UpdatedAt, next.UpdatedBy = progress, r.Version+1, w.now, w.actor
		enc, err := encodeRollout(&next)
		if err != nil {
			return err
		}
		res := w.db.Model(&rolloutRow{}).Where("key = ? AND version = ?", m.Flag, r.Version).
			Updates(map[string]any{"progress": enc.Progress, "version": next.Version, "updated_at": w.now, "updated_by": w.actor})
		if err := w.guard(res, "rollout", m.Flag, r.Version); err != nil {
			return err
		}
		out = next
		action := m.Action
		if m.ActionOf != nil {
			action = m.ActionOf(&r)
		}
		return w.record(action, "rollout", m.Flag, r, next)
	})
	if refused != nil && errors.Is(err, refused) {
		return rollout.Rollout{}, refused
	}
	if err != nil {
		return rollout.Rollout{}, err
	}
	return out, nil
}

// describeProgress says where a rollout stands, for conflict messages.
func describeProgress(r *rollout.Rollout) string {
	p := r.Progress
	s := "not started"
	if p.Stage != "" {
		s = "at stage " + p.Stage
		if p.By != "" {
			s += fmt.Sprintf(", started by %s at %s", p.By, p.Since.UTC().Format(time.RFC3339))
		}
	}
	if p.Paused {
		s += ", paused"
		if p.PausedBy != "" {
			s += " by " + p.PausedBy
		}
		if p.PauseReason != "" {
			s += " (" + p.PauseReason + ")"
		}
	}
	if p.Pending != nil {
		s += fmt.Sprintf(", stage %s awaiting approval asked by %s", p.Pending.Stage, p.Pending.By)
	}
	return s
}

// PlanEdit describes a change to one flag's rollout plan for EditRollout.
type PlanEdit struct {
	// Flag is the plan's flag.
	Flag string
	// BaseVersion is the rollout version the caller decided from (for
	// instance the one it showed when asking for confirmation); if the
	// plan has changed since, EditRollout refuses with a *ConflictError. 0
	// skips the check.
	BaseVersion int64
	// Edit computes the new plan from the plan as stored now (nil when the
	// flag has none) and the configuration as the transaction sees it:
	// flags, and cohorts without their members (MemberCount is not set), so
	// that its cost does not depend on member lists. It validates what it
	// returns. A nil plan deletes the stored one; returning ErrNoChange
	// writes nothing.
	Edit func(cur *rollout.Rollout, st *flags.State) (*rollout.Plan, error)
}

// EditRollout changes one flag's rollout plan in one write transaction: it
// reads and locks the plan, checks its version, reads the flags and cohorts
// (without members), lets e.Edit compute the new plan and writes it as
// ApplyWithRollouts would (recorded as "apply.create", "apply.update" or
// "apply.delete" of kind "rollout"; an updated plan keeps its progress and
// its live stage must stay in it). It returns the change written, or
// ErrNoChange when the plan is unchanged.
func (s *Store) EditRollout(ctx context.Context, e PlanEdit, actor string) (rollout.Change, error) {
	var (
		out     rollout.Change
		refused error // Edit's, returned as it is
	)
	err := s.write(ctx, "edit rollout", actor, func(w *writeTx) error {
		var cur []rollout.Rollout
		row, err := findRollout(forUpdate(w.db), e.Flag)
		switch {
		case err == nil:
			r, err := decodeRollout(row)
			if err != nil {
				return err
			}
			if e.BaseVersion != 0 && r.Version != e.BaseVersion {
				return &ConflictError{Kind: "rollout", Key: e.Flag, Expected: e.BaseVersion, Actual: r.Version,
					UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt, Now: describeProgress(&r)}
			}
			cur = []rollout.Rollout{r}
		case !errors.Is(err, ErrNotFound):
			return err
		case e.BaseVersion != 0:
			return &ConflictError{Kind: "rollout", Key: e.Flag, Expected: e.BaseVersion}
		}
		var st flags.State
		if st.Flags, err = loadFlags(w.db); err != nil {
			return err
		}
		if st.Cohorts, err = loadCohorts(w.db); err != nil {
			return err
		}
		var r *rollout.Rollout
		if cur != nil {
			r = &cur[0]
		}
		plan, err := e.Edit(r, &st)
		if err != nil {
			refused = err
			return err
		}
		var changes []rollout.Change
		if plan == nil {
			if r == nil {
				return ErrNoChange
			}
			changes = []rollout.Change{{Flag: e.Flag, Action: flags.Delete, BaseVersion: r.Version}}
		} else {
			changes, _ = rollout.Diff(cur, []rollout.Plan{*plan}, false)
		}
		if len(changes) == 0 {
			return ErrNoChange
		}
		out = changes[0]
		return w.applyRollout(out)
	})
	if refused != nil && errors.Is(err, refused) {
		return rollout.Change{}, refused
	}
	if err != nil {
		return rollout.Change{}, err
	}
	return out, nil
}

// RolloutsAndFlags returns every rollout plan and every flag, in key order,
// in one read: what rollout status reads, whatever the size of member
// lists.
func (s *Store) RolloutsAndFlags(ctx context.Context) ([]rollout.Rollout, []flags.Flag, error) {
	var (
		rs []rollout.Rollout
		fs []flags.Flag
	)
	err := s.read(ctx, "read rollouts", func(db *gorm.DB) error {
		var err error
		if rs, err = loadRollouts(db); err != nil {
			return err
		}
		fs, err = loadFlags(db)
		return err
	})
	return rs, fs, err
}

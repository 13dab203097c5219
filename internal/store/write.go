package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// memberBatch is how many members one INSERT or DELETE statement handles.
const memberBatch = 1000

// Apply executes a change set computed by flags.Diff from the stored state
// to desired: it creates, updates and deletes the cohorts and flags the
// set's changes name, with their content taken from desired (which the
// caller has validated). A desired cohort whose Members is nil keeps its
// stored members; a non-nil Members, even empty, replaces them.
//
// Creations require the object not to exist and updates and deletions
// require its stored version to equal the change's BaseVersion. If any
// change conflicts, Apply writes nothing and returns a *ConflictError. Every
// object written has its version incremented and gets an audit entry with
// action "apply.create", "apply.update" or "apply.delete".
func (s *Store) Apply(ctx context.Context, desired *flags.State, set flags.ChangeSet, actor string) error {
	return s.ApplyWithRollouts(ctx, desired, set, nil, actor)
}

// ApplyWithRollouts is Apply with changes to rollout plans (from
// rollout.Diff) in the same transaction: plan deletions first, then the
// cohorts and flags, then plan creations and updates, so that a file may
// create a flag and its plan together. An updated plan keeps its progress;
// its live stage must still be in it. Plan changes are recorded as
// "apply.create", "apply.update" and "apply.delete" of kind "rollout".
func (s *Store) ApplyWithRollouts(ctx context.Context, desired *flags.State, set flags.ChangeSet, rollouts []rollout.Change, actor string) error {
	return s.write(ctx, "apply", actor, func(w *writeTx) error {
		return w.applyChanges(&Changes{Desired: desired, Set: set, Rollouts: rollouts})
	})
}

// Changes is what an apply writes (see ApplyFunc).
type Changes struct {
	// Desired holds the content of the cohorts and flags Set creates or
	// updates.
	Desired *flags.State
	Set     flags.ChangeSet
	// Rollouts are the changes to rollout plans.
	Rollouts []rollout.Change
	// Progress is the progress to give, by flag, plans that Rollouts
	// create (a configuration moved from another database); it is
	// recorded as "apply.progress". Plans that exist keep theirs.
	Progress map[string]rollout.Progress
	// Members says how to write the member list of each cohort whose list
	// a change of Set creates or changes, from the desired cohort's
	// Members. A changed cohort with a non-nil Members and no entry here
	// has its list replaced.
	Members map[string]ListEdit
	// Experiments are the changes to layers and experiments, written
	// last (experiments.go).
	Experiments *ExperimentChanges
	// Metrics are the changes to metrics (metrics.go), written before
	// the experiments. On their own they do not bump the configuration
	// version: evaluation does not read metrics.
	Metrics []MetricChange
}

// MaxAuditIDs is how many of the ids an apply adds to or removes from a
// cohort's list its audit entry names; the counts are always there.
const MaxAuditIDs = 100

// ListEdit says how an apply writes one cohort's member list.
type ListEdit struct {
	// Replace deletes the stored list before writing the desired one;
	// otherwise the desired members are added to the list (a listed
	// member's region is updated when one is given), and nothing is
	// removed.
	Replace bool
	// Delta counts what the edit does; AddedIDs and RemovedIDs name the
	// first MaxAuditIDs ids added and removed, for the audit entry.
	Delta                flags.MemberDelta
	AddedIDs, RemovedIDs []string
}

// ApplyTx is what an apply reads inside its transaction (see ApplyFunc).
type ApplyTx struct {
	db *gorm.DB
}

// Catalogue returns the configuration as the transaction sees it, without
// member ids (see Store.Catalogue).
func (t *ApplyTx) Catalogue() (ramp.Config, error) { return catalogue(t.db) }

// Imported returns the cohorts that CSV imports have written to (recorded
// in cohort_imports): their lists are the imports' and an apply only adds
// to them unless the file says otherwise.
func (t *ApplyTx) Imported() (map[string]bool, error) {
	var keys []string
	if err := t.db.Model(&importRow{}).Distinct("cohort_key").Pluck("cohort_key", &keys).Error; err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

// EachMember calls fn with each of the cohort's listed members in id
// order, streaming them (see Store.Export).
func (t *ApplyTx) EachMember(cohort string, fn func(cohorts.Member) error) error {
	return eachMember(t.db, cohort, fn)
}

// ApplyFunc runs an apply in one transaction: plan reads what it needs
// through the ApplyTx (the catalogue, the imported cohorts, the member
// lists it compares), resolves, validates and diffs, and returns the
// changes, which ApplyFunc then writes in the same transaction, so that
// every check plan makes holds when the changes are written. With dryRun,
// plan runs in a read transaction and nothing is written. plan may run
// more than once (a transaction the database aborted is run again): it
// must derive everything from the ApplyTx. A nil Changes writes nothing.
func (s *Store) ApplyFunc(ctx context.Context, actor string, dryRun bool, plan func(tx *ApplyTx) (*Changes, error)) error {
	if dryRun {
		return s.read(ctx, "apply", func(db *gorm.DB) error {
			_, err := plan(&ApplyTx{db: db})
			return err
		})
	}
	return s.write(ctx, "apply", actor, func(w *writeTx) error {
		ch, err := plan(&ApplyTx{db: w.db})
		if err != nil || ch == nil {
			return err
		}
		return w.applyChanges(ch)
	})
}

// applyChanges writes an apply's changes: plan deletions first, then the
// cohorts and flags, then plan creations and updates.
func (w *writeTx) applyChanges(ch *Changes) error {
	desired := ch.Desired
	if desired == nil {
		desired = &flags.State{}
	}
	for _, c := range ch.Rollouts {
		if c.Action == flags.Delete {
			if err := w.applyRollout(c); err != nil {
				return err
			}
		}
	}
	for _, c := range ch.Set.Changes {
		var err error
		switch c.Kind {
		case flags.KindFlag:
			err = w.applyFlag(desired, c)
		case flags.KindCohort:
			edit, ok := ch.Members[c.Key]
			err = w.applyCohort(desired, c, edit, ok)
		default:
			err = fmt.Errorf("change to %q: unknown kind %q", c.Key, c.Kind)
		}
		if err != nil {
			return err
		}
	}
	for _, c := range ch.Rollouts {
		if c.Action == flags.Delete {
			continue
		}
		if err := w.applyRollout(c); err != nil {
			return err
		}
		if prog, ok := ch.Progress[c.Flag]; ok && c.Action == flags.Create {
			if err := w.setCreatedProgress(c.Flag, prog); err != nil {
				return err
			}
		}
	}
	if err := w.applyMetrics(ch.Metrics); err != nil {
		return err
	}
	return w.applyExperiments(ch.Experiments)
}

// setCreatedProgress gives a plan the apply has just created the progress
// its file carries, and records "apply.progress".
func (w *writeTx) setCreatedProgress(flag string, prog rollout.Progress) error {
	row, err := findRollout(w.db, flag)
	if err != nil {
		return err
	}
	before, err := decodeRollout(row)
	if err != nil {
		return err
	}
	after := before
	after.Progress = prog
	enc, err := encodeRollout(&after)
	if err != nil {
		return err
	}
	res := w.db.Model(&rolloutRow{}).Where("key = ? AND version = ?", flag, row.Version).Update("progress", enc.Progress)
	if err := w.guard(res, "rollout", flag, row.Version); err != nil {
		return err
	}
	return w.record("apply.progress", "rollout", flag, before, after)
}

func (w *writeTx) applyFlag(desired *flags.State, c flags.Change) error {
	old, err := lockFlag(w.db, c.Key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	var before any
	cur := stamp{}
	if old != nil {
		cur = stamp{exists: true, version: old.Version, by: old.UpdatedBy, at: old.UpdatedAt}
		f, err := decodeFlag(old)
		if err != nil {
			return err
		}
		before = f
	}
	if err := checkChange("flag", c, cur); err != nil {
		return err
	}
	action := "apply." + string(c.Action)
	if c.Action == flags.Delete {
		if err := w.removeVersioned("flag", c.Key, c.BaseVersion, &flagRow{}); err != nil {
			return err
		}
		return w.record(action, "flag", c.Key, before, nil)
	}

	f, ok := desired.Flag(c.Key)
	if !ok {
		return fmt.Errorf("change set changes flag %q, which the desired state lacks", c.Key)
	}
	row, err := encodeFlag(f)
	if err != nil {
		return err
	}
	row.Version, row.UpdatedAt, row.UpdatedBy = c.BaseVersion+1, w.now, w.actor
	if c.Action == flags.Create {
		row.Version, row.CreatedAt = 1, w.now
	}
	if err := w.putVersioned("flag", c.Key, c.Action == flags.Create, c.BaseVersion, &flagRow{}, &row); err != nil {
		return err
	}
	after, err := decodeFlag(&row)
	if err != nil {
		return err
	}
	return w.record(action, "flag", c.Key, before, after)
}

// cohortApplyAudit is a cohort in the audit entry of an apply that edits
// its member list: what came and went, by count and the first ids.
type cohortApplyAudit struct {
	cohortAudit
	Members *memberAudit `json:"members,omitempty"`
}

type memberAudit struct {
	Replaced   bool     `json:"replaced"` // the list was replaced; otherwise added to
	Added      int      `json:"added"`
	Removed    int      `json:"removed"`
	Updated    int      `json:"updated"`
	AddedIDs   []string `json:"addedIds,omitempty"`   // the first MaxAuditIDs
	RemovedIDs []string `json:"removedIds,omitempty"` // the first MaxAuditIDs
}

// applyCohort carries out one cohort change of an apply. With hasEdit, edit
// says how to write the desired member list; without, a non-nil desired
// list replaces the stored one.
func (w *writeTx) applyCohort(desired *flags.State, c flags.Change, edit ListEdit, hasEdit bool) error {
	old, err := w.lockCohort(c.Key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	var before any
	cur := stamp{}
	if old != nil {
		cur = stamp{exists: true, version: old.row.Version, by: old.row.UpdatedBy, at: old.row.UpdatedAt}
		before = auditCohort(&old.cohort)
	}
	if err := checkChange("cohort", c, cur); err != nil {
		return err
	}
	action := "apply." + string(c.Action)
	if c.Action == flags.Delete {
		if err := w.removeVersioned("cohort", c.Key, c.BaseVersion, &cohortRow{}); err != nil {
			return err
		}
		// Its member rows, of every generation, go with it.
		if err := w.db.Where("cohort_key = ?", c.Key).Delete(&memberRow{}).Error; err != nil {
			return fmt.Errorf("delete members of cohort %q: %w", c.Key, err)
		}
		return w.record(action, "cohort", c.Key, before, nil)
	}

	d, ok := desired.Cohort(c.Key)
	if !ok {
		return fmt.Errorf("change set changes cohort %q, which the desired state lacks", c.Key)
	}
	row, err := encodeCohort(d)
	if err != nil {
		return err
	}
	if !hasEdit {
		edit = ListEdit{Replace: true}
	}
	write := d.Members != nil && (c.Action == flags.Create || !hasEdit || edit.Delta.Changed())
	var members []memberRow
	if write {
		if members, err = memberRows(d.Key, d.Members); err != nil {
			return ramp.Errorf(ramp.KindInvalid, "cohort %q: %w", d.Key, err)
		}
	}
	row.Version, row.UpdatedAt, row.UpdatedBy = c.BaseVersion+1, w.now, w.actor
	if c.Action == flags.Create {
		row.Version, row.CreatedAt = 1, w.now
	}
	if old != nil {
		// Kept as they are unless the list is written below.
		row.MemberCount, row.RegionCounts, row.Gen = old.row.MemberCount, old.row.RegionCounts, old.row.Gen
	}
	if err := w.putVersioned("cohort", c.Key, c.Action == flags.Create, c.BaseVersion, &cohortRow{}, &row); err != nil {
		return err
	}
	if write && c.Action != flags.Create && edit.Replace {
		// Rows of every generation: those of an import that has not
		// finished too (it sees the cohort changed, and plans again).
		if err := w.db.Where("cohort_key = ?", c.Key).Delete(&memberRow{}).Error; err != nil {
			return fmt.Errorf("replace members of cohort %q: %w", c.Key, err)
		}
	}
	if write {
		if err := w.upsertMembers(c.Key, row.Gen, members); err != nil {
			return fmt.Errorf("write members of cohort %q: %w", c.Key, err)
		}
		// The list may have been added to rather than replaced: count it.
		if row.MemberCount, err = recount(w.db, c.Key); err != nil {
			return err
		}
		// A list written again as it was (an apply of a whole file
		// whose change is to other fields) keeps its members version.
		if c.Action == flags.Create || hasEdit || len(c.Fields) == 0 || slices.Contains(c.Fields, "members") {
			if err := touchMembers(w.db, c.Key); err != nil {
				return err
			}
		}
	}
	after, err := decodeCohort(&row)
	if err != nil {
		return err
	}
	after.MemberCount = int(row.MemberCount)
	out := cohortApplyAudit{cohortAudit: auditCohort(&after)}
	if write {
		// Without an edit (callers that diffed full lists) only a
		// creation's counts are known here.
		out.Members = &memberAudit{Replaced: edit.Replace && c.Action != flags.Create, Added: edit.Delta.Added,
			Removed: edit.Delta.Removed, Updated: edit.Delta.Updated, AddedIDs: edit.AddedIDs, RemovedIDs: edit.RemovedIDs}
		if c.Action == flags.Create {
			out.Members.Added, out.Members.AddedIDs = after.MemberCount, nil
			for _, m := range members[:min(len(members), MaxAuditIDs)] {
				out.Members.AddedIDs = append(out.Members.AddedIDs, m.UserID)
			}
		}
	}
	return w.record(action, "cohort", c.Key, before, out)
}

// removeVersioned deletes the object of a kind ("flag", "cohort",
// "rollout") whose key is key, if it is at version base; otherwise a
// *ConflictError.
func (w *writeTx) removeVersioned(kind, key string, base int64, model any) error {
	res := w.db.Where("key = ? AND version = ?", key, base).Delete(model)
	return w.guard(res, kind, key, base)
}

// putVersioned writes row, a pointer to a row of model's table: with
// create, a new object that must not exist yet; otherwise the next version
// of one stored at version base (every column but the key and created_at).
// A conflict is a *ConflictError.
func (w *writeTx) putVersioned(kind, key string, create bool, base int64, model, row any) error {
	if create {
		res := w.db.Clauses(clause.OnConflict{DoNothing: true}).Create(row)
		return w.guard(res, kind, key, 0)
	}
	res := w.db.Model(model).Where("key = ? AND version = ?", key, base).Select("*").Omit("key", "created_at").Updates(row)
	return w.guard(res, kind, key, base)
}

// stamp describes the stored object a change applies to.
type stamp struct {
	exists  bool
	version int64
	by      string
	at      time.Time
}

// checkChange checks a change against the stored object.
func checkChange(kind string, c flags.Change, cur stamp) error {
	conflict := &ConflictError{Kind: kind, Key: c.Key, Expected: c.BaseVersion,
		Actual: cur.version, UpdatedBy: cur.by, UpdatedAt: cur.at}
	switch c.Action {
	case flags.Create:
		if cur.exists {
			conflict.Expected = 0
			return conflict
		}
	case flags.Update, flags.Delete:
		if !cur.exists || cur.version != c.BaseVersion {
			return conflict
		}
	default:
		return fmt.Errorf("change to %s %q: unknown action %q", kind, c.Key, c.Action)
	}
	return nil
}

// guard checks that a write conditioned on an object's version (or, with
// expected 0, on its absence) wrote one row. The row locks taken before
// make this hold; the condition is a second line of defence.
func (w *writeTx) guard(res *gorm.DB, kind, key string, expected int64) error {
	if res.Error != nil {
		return fmt.Errorf("write %s %q: %w", kind, key, res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	table := map[string]string{"flag": "flags", "cohort": "cohorts", "rollout": "rollouts"}[kind]
	var cur []struct {
		Version   int64
		UpdatedBy string
		UpdatedAt time.Time
	}
	if err := w.db.Table(table).Select("version, updated_by, updated_at").Where("key = ?", key).Find(&cur).Error; err != nil {
		return fmt.Errorf("write %s %q: %w", kind, key, err)
	}
	ce := &ConflictError{Kind: kind, Key: key, Expected: expected}
	if len(cur) > 0 {
		ce.Actual, ce.UpdatedBy, ce.UpdatedAt = cur[0].Version, cur[0].UpdatedBy, cur[0].UpdatedAt
	}
	return ce
}

// forUpdate makes a query lock the rows it reads until the transaction ends
// where the database has row locks; SQLite's writer already holds the
// database's write lock.
func forUpdate(db *gorm.DB) *gorm.DB {
	return db.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
}

// lockFlag reads and locks the flag's row, or returns a *NotFoundError.
func lockFlag(db *gorm.DB, key string) (*flagRow, error) {
	return findFlag(forUpdate(db), key)
}

// lockedCohort is a cohort read and locked for a write.
type lockedCohort struct {
	row    cohortRow
	cohort cohorts.Cohort // with MemberCount
}

// lockCohort reads and locks the cohort's row, or returns a *NotFoundError.
func (w *writeTx) lockCohort(key string) (*lockedCohort, error) {
	var rows []cohortRow
	if err := forUpdate(w.db).Where("key = ?", key).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &NotFoundError{Kind: "cohort", Key: key}
	}
	c, err := decodeCohort(&rows[0])
	if err != nil {
		return nil, err
	}
	c.MemberCount = int(rows[0].MemberCount)
	return &lockedCohort{row: rows[0], cohort: c}, nil
}

// upsertMembers writes members (rows of one cohort, each id once) into the
// cohort's list at generation gen, in batches: an id not listed gets a row
// of that generation; a listed one keeps its row, whose region changes to
// the one given, if any. Rows other generations see are left alone.
func (w *writeTx) upsertMembers(key string, gen int64, rows []memberRow) error {
	for batch := range slices.Chunk(rows, memberBatch) {
		ids := make([]string, len(batch))
		for i, r := range batch {
			ids[i] = r.UserID
		}
		var listed []memberRow
		if err := w.db.Where("cohort_key = ? AND user_id IN ? AND "+visibleMembers, key, ids, gen, gen).Find(&listed).Error; err != nil {
			return err
		}
		region := make(map[string]string, len(listed))
		for _, l := range listed {
			region[l.UserID] = l.Region
		}
		var fresh []memberRow
		moved := map[string][]string{} // new region → ids
		for _, r := range batch {
			was, ok := region[r.UserID]
			switch {
			case !ok:
				r.CohortKey, r.AddedGen, r.RemovedGen = key, gen, nil
				fresh = append(fresh, r)
			case r.Region != "" && r.Region != was:
				moved[r.Region] = append(moved[r.Region], r.UserID)
			}
		}
		if len(fresh) > 0 {
			if err := w.db.Create(&fresh).Error; err != nil {
				return err
			}
		}
		for to, ids := range moved {
			err := w.db.Model(&memberRow{}).Where("cohort_key = ? AND user_id IN ? AND "+visibleMembers, key, ids, gen, gen).
				Update("region", to).Error
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// SetEnabled sets the flag's kill switch and returns the flag as stored. If
// the flag is already in that state it changes nothing: the version stays,
// and no audit entry ("flag.enable" or "flag.disable") is written. It
// returns a *NotFoundError for an unknown flag.
func (s *Store) SetEnabled(ctx context.Context, key string, enabled bool, actor string) (flags.Flag, error) {
	var out flags.Flag
	err := s.write(ctx, "set enabled", actor, func(w *writeTx) error {
		row, err := lockFlag(w.db, key)
		if err != nil {
			return err
		}
		before, err := decodeFlag(row)
		if err != nil {
			return err
		}
		out = before
		if before.Enabled == enabled {
			return nil
		}
		res := w.db.Model(&flagRow{}).Where("key = ? AND version = ?", key, row.Version).
			Updates(map[string]any{"enabled": enabled, "version": row.Version + 1, "updated_at": w.now, "updated_by": w.actor})
		if err := w.guard(res, "flag", key, row.Version); err != nil {
			return err
		}
		out.Enabled = enabled
		out.Version++
		action := "flag.disable"
		if enabled {
			action = "flag.enable"
		}
		return w.record(action, "flag", key, before, out)
	})
	if err != nil {
		return flags.Flag{}, err
	}
	return out, nil
}

// DeleteFlag deletes a flag, whatever its version, recording "flag.delete"
// in the audit log. It returns a *NotFoundError for an unknown flag.
func (s *Store) DeleteFlag(ctx context.Context, key, actor string) error {
	return s.write(ctx, "delete flag", actor, func(w *writeTx) error {
		row, err := lockFlag(w.db, key)
		if err != nil {
			return err
		}
		before, err := decodeFlag(row)
		if err != nil {
			return err
		}
		res := w.db.Where("key = ? AND version = ?", key, row.Version).Delete(&flagRow{})
		if err := w.guard(res, "flag", key, row.Version); err != nil {
			return err
		}
		return w.record("flag.delete", "flag", key, before, nil)
	})
}

// AddMembers adds members to a cohort's list and returns how many were not
// listed before: AddMemberList without creating the cohort, for callers
// that need only that count. It returns a *NotFoundError for an unknown
// cohort.
func (s *Store) AddMembers(ctx context.Context, cohortKey string, members []cohorts.Member, actor string) (added int, err error) {
	res, err := s.AddMemberList(ctx, cohortKey, members, false, actor)
	return res.Added, err
}

// auditIDs is how many ids an audit entry of a member edit lists, of each
// kind of change; the counts are always whole.
const auditIDs = 100

// MemberEdit is what an edit of a cohort's member list did.
type MemberEdit struct {
	// Created says the cohort did not exist and was created.
	Created bool `json:"created,omitempty"`
	// Added counts the ids not listed before; AddedIDs lists the first
	// of them (at most 100), in the order given.
	Added    int      `json:"added"`
	AddedIDs []string `json:"addedIds,omitempty"`
	// RegionChanged counts the listed ids whose region the edit changed;
	// RegionChanges lists the first of them (at most 100).
	RegionChanged int            `json:"regionChanged"`
	RegionChanges []RegionChange `json:"regionChanges,omitempty"`
	// Removed counts the ids removed; RemovedIDs lists the first of them
	// (at most 100), in id order.
	Removed    int      `json:"removed"`
	RemovedIDs []string `json:"removedIds,omitempty"`
	// Unchanged counts the ids given whose listing the edit left as it
	// was (listed with that region, or, for a removal, not listed).
	Unchanged int `json:"unchanged"`
	// Members is the cohort's member count afterwards, and Version its
	// version.
	Members int   `json:"members"`
	Version int64 `json:"version"`
}

// RegionChange is a listed member whose home region an edit changed.
type RegionChange struct {
	ID   string         `json:"id"`
	From cohorts.Region `json:"from"` // "" for none
	To   cohorts.Region `json:"to"`
}

// memberEditAudit is a cohort as the audit log shows it after a member
// edit: the cohort, and which ids the edit added, moved or removed.
type memberEditAudit struct {
	cohortAudit
	Edit MemberEdit `json:"members"`
}

// AddMemberList adds members to a cohort's list. A member already listed
// keeps its region unless one is given, which replaces it: the result
// counts added ids, region changes and unchanged ids apart, and lists the
// first ids of each change. With create, an unknown cohort is created
// (without conditions); without, it returns a *NotFoundError. Ids must
// pass cohorts.ValidateID and regions cohorts.ParseRegion. If anything
// changed, the cohort's version is incremented and "cohort.add-members"
// recorded with the ids added and the regions changed (the first 100 of
// each, and their counts).
func (s *Store) AddMemberList(ctx context.Context, cohortKey string, members []cohorts.Member, create bool, actor string) (MemberEdit, error) {
	rows, err := memberRows(cohortKey, members)
	if err != nil {
		return MemberEdit{}, fmt.Errorf("add members to cohort %q: %w", cohortKey, err)
	}
	var res MemberEdit
	err = s.write(ctx, "add members", actor, func(w *writeTx) error {
		res = MemberEdit{}
		c, err := w.lockCohort(cohortKey)
		if errors.Is(err, ErrNotFound) && create {
			if err := cohorts.ValidateKey(cohortKey); err != nil {
				return fmt.Errorf("cohort %w", err)
			}
			row, err := encodeCohort(&cohorts.Cohort{Key: cohortKey})
			if err != nil {
				return err
			}
			row.Version, row.CreatedAt, row.UpdatedAt, row.UpdatedBy = 1, w.now, w.now, w.actor
			if err := w.db.Create(&row).Error; err != nil {
				return fmt.Errorf("create cohort %q: %w", cohortKey, err)
			}
			res.Created = true
			c = &lockedCohort{row: row, cohort: cohorts.Cohort{Key: cohortKey, Version: 1}}
		} else if err != nil {
			return err
		}
		counts, err := decodeRegionCounts(cohortKey, c.row.RegionCounts)
		if err != nil {
			return err
		}
		// Classify each id against its listing, a batch at a time: the
		// cost is the ids given, whatever the cohort's size.
		for batch := range slices.Chunk(rows, memberBatch) {
			ids := make([]string, len(batch))
			for i, r := range batch {
				ids[i] = r.UserID
			}
			var listed []memberRow
			if err := w.db.Where("cohort_key = ? AND user_id IN ? AND "+visibleMembers, cohortKey, ids, c.row.Gen, c.row.Gen).Find(&listed).Error; err != nil {
				return err
			}
			region := make(map[string]string, len(listed))
			for _, l := range listed {
				region[l.UserID] = l.Region
			}
			for _, r := range batch {
				was, ok := region[r.UserID]
				switch {
				case !ok:
					res.Added++
					counts[r.Region]++
					if len(res.AddedIDs) < auditIDs {
						res.AddedIDs = append(res.AddedIDs, r.UserID)
					}
				case r.Region != "" && r.Region != was:
					res.RegionChanged++
					counts[r.Region]++
					counts[was]--
					if len(res.RegionChanges) < auditIDs {
						res.RegionChanges = append(res.RegionChanges, RegionChange{ID: r.UserID, From: cohorts.Region(was), To: cohorts.Region(r.Region)})
					}
				default:
					res.Unchanged++
				}
			}
		}
		res.Members, res.Version = c.cohort.MemberCount+res.Added, c.row.Version
		if res.Added+res.RegionChanged == 0 && !res.Created {
			return nil
		}
		if err := w.upsertMembers(cohortKey, c.row.Gen, rows); err != nil {
			return err
		}
		if err := setCounts(w.db, cohortKey, int64(res.Members), counts); err != nil {
			return err
		}
		if err := touchMembers(w.db, cohortKey); err != nil {
			return err
		}
		var before any
		if !res.Created {
			if err := w.bumpCohort(c); err != nil {
				return err
			}
			res.Version++
			before = auditCohort(&c.cohort)
		}
		after := c.cohort
		after.MemberCount = res.Members
		return w.record("cohort.add-members", "cohort", cohortKey, before, memberEditAudit{cohortAudit: auditCohort(&after), Edit: res})
	})
	if err != nil {
		return MemberEdit{}, err
	}
	return res, nil
}

// bumpCohort increments a locked cohort's version, refusing if it changed
// since it was read.
func (w *writeTx) bumpCohort(c *lockedCohort) error {
	res := w.db.Model(&cohortRow{}).Where("key = ? AND version = ?", c.row.Key, c.row.Version).
		Updates(map[string]any{"version": c.row.Version + 1, "updated_at": w.now, "updated_by": w.actor})
	return w.guard(res, "cohort", c.row.Key, c.row.Version)
}

// RemoveMembers removes users from a cohort's list and returns how many
// were listed: RemoveMemberList for callers that need only that count. It
// returns a *NotFoundError for an unknown cohort.
func (s *Store) RemoveMembers(ctx context.Context, cohortKey string, ids []string, actor string) (removed int, err error) {
	res, err := s.RemoveMemberList(ctx, cohortKey, ids, actor)
	return res.Removed, err
}

// RemoveMemberList removes users from a cohort's list; ids not listed
// count as unchanged. If any were listed, the cohort's version is
// incremented and "cohort.remove-members" recorded with the ids removed
// (the first 100 in id order, and their count). It returns a
// *NotFoundError for an unknown cohort.
func (s *Store) RemoveMemberList(ctx context.Context, cohortKey string, ids []string, actor string) (MemberEdit, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var res MemberEdit
	err := s.write(ctx, "remove members", actor, func(w *writeTx) error {
		res = MemberEdit{}
		c, err := w.lockCohort(cohortKey)
		if err != nil {
			return err
		}
		counts, err := decodeRegionCounts(cohortKey, c.row.RegionCounts)
		if err != nil {
			return err
		}
		for batch := range slices.Chunk(ids, memberBatch) {
			var rows []memberRow
			if err := w.db.Where("cohort_key = ? AND user_id IN ? AND "+visibleMembers, cohortKey, batch, c.row.Gen, c.row.Gen).
				Order("user_id").Find(&rows).Error; err != nil {
				return err
			}
			if len(rows) == 0 {
				continue
			}
			listed := make([]string, len(rows))
			for i, r := range rows {
				listed[i] = r.UserID
				counts[r.Region]--
			}
			err := w.db.Where("cohort_key = ? AND user_id IN ? AND "+visibleMembers, cohortKey, listed, c.row.Gen, c.row.Gen).Delete(&memberRow{}).Error
			if err != nil {
				return err
			}
			res.Removed += len(listed)
			res.RemovedIDs = append(res.RemovedIDs, listed[:min(len(listed), auditIDs-len(res.RemovedIDs))]...)
		}
		res.Unchanged = len(ids) - res.Removed
		res.Members, res.Version = c.cohort.MemberCount-res.Removed, c.row.Version
		if res.Removed == 0 {
			return nil
		}
		if err := w.bumpCohort(c); err != nil {
			return err
		}
		if err := setCounts(w.db, cohortKey, int64(res.Members), counts); err != nil {
			return err
		}
		if err := touchMembers(w.db, cohortKey); err != nil {
			return err
		}
		res.Version++
		after := c.cohort
		after.MemberCount = res.Members
		return w.record("cohort.remove-members", "cohort", cohortKey, auditCohort(&c.cohort), memberEditAudit{cohortAudit: auditCohort(&after), Edit: res})
	})
	if err != nil {
		return MemberEdit{}, err
	}
	return res, nil
}

package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// ApplyRequest is a configuration file to apply.
type ApplyRequest struct {
	// Doc is the parsed file (config.Parse, or config.ParsePartial, whose
	// structural problems are then reported together with validation's).
	Doc *config.Document
	// DryRun computes the change set and writes nothing.
	DryRun bool
	// Prune deletes the cohorts, flags, rollout plans, layers,
	// experiments and metrics the file does not declare.
	Prune bool
}

// ApplyResult is what an apply changed, or for a dry run would change.
type ApplyResult struct {
	File    string `json:"file"`
	DryRun  bool   `json:"dryRun"`
	Applied bool   `json:"applied"`
	// Changes are the cohorts and flags created, updated or deleted; a
	// cohort whose member list changes says how (Change.Members).
	Changes []flags.Change `json:"changes"`
	// Rollouts are the rollout plans created, updated or deleted.
	Rollouts []rollout.Change `json:"rollouts"`
	// Summary counts the changes by action ("create", "update",
	// "delete") and the declared objects already as declared
	// ("unchanged").
	Summary map[string]int `json:"summary"`
	// Progress lists the plans for which the file gives a progress
	// (an export's): given to a plan the apply creates, or left aside
	// because the plan exists with another progress.
	Progress []ProgressNote `json:"progress,omitempty"`
	// Imported lists the cohorts whose lists imports set and that keep
	// members the file does not list.
	Imported []ImportedList `json:"imported,omitempty"`
	// Experiments are the layers and experiments created, updated or
	// deleted, ExperimentNotes the statuses left as stored
	// (apply_experiments.go).
	Experiments     []ExperimentChange `json:"experiments,omitempty"`
	ExperimentNotes []ExperimentNote   `json:"experimentNotes,omitempty"`
	// Metrics are the metrics created, updated or deleted
	// (apply_metrics.go).
	Metrics []MetricChange `json:"metrics,omitempty"`
}

// Changed reports whether the apply changes anything: a cohort, a flag, a
// rollout plan, a layer, an experiment or a metric.
func (r *ApplyResult) Changed() bool {
	return len(r.Changes) > 0 || len(r.Rollouts) > 0 || len(r.Experiments) > 0 || len(r.Metrics) > 0
}

// The actions of a ProgressNote.
const (
	// ProgressSet: the plan is created with the file's progress.
	ProgressSet = "set"
	// ProgressKept: the plan exists and keeps its progress, which
	// differs from the file's; apply never moves a plan.
	ProgressKept = "kept"
)

// ProgressNote is a plan's progress as a file gives it.
type ProgressNote struct {
	Flag   string           `json:"flag"`
	Action string           `json:"action"` // ProgressSet or ProgressKept
	File   rollout.Progress `json:"file"`
	// Stored is the plan's progress as stored, for ProgressKept.
	Stored *rollout.Progress `json:"stored,omitempty"`
}

// ImportedList is a cohort whose list imports set: apply adds the file's
// members to it but removes none, unless the file says replaceMembers.
type ImportedList struct {
	Cohort string `json:"cohort"`
	// Kept counts the members listed and kept that the file does not
	// list.
	Kept int `json:"kept"`
}

// LiveStageError refuses an apply that changes a rollout plan so that its
// live stage is no longer in it: the users the stage serves would be left
// without one. It matches ramp.ErrInvalid.
type LiveStageError struct {
	Flag, Stage string
}

func (e *LiveStageError) Error() string {
	return fmt.Sprintf("rollout %s: the live stage %s is not in the new plan: keep it, or first roll back to a stage the new plan keeps", e.Flag, e.Stage)
}

// Is makes the error match ramp.ErrInvalid.
func (e *LiveStageError) Is(target error) bool { return target == ramp.ErrInvalid }

// Apply applies a configuration file in one transaction: it reads the
// stored configuration without member ids (member lists only of the
// cohorts whose members the file lists, streamed), resolves what the file
// leaves out, validates the state the database would hold, diffs, and
// writes the changes, or with DryRun returns them and writes nothing.
//
// Member lists: a file that lists a cohort's members replaces the stored
// list, unless imports set that list (ramp cohorts import): then the
// file's members are added and none is removed, unless the file says
// replaceMembers: true for that cohort. Rollout progress in the file (from
// an export) is given to the plans the apply creates; an existing plan's
// progress is never moved.
//
// Problems in the file are a *config.Error; a plan change dropping a live
// stage a *LiveStageError; both match ramp.ErrInvalid. An object changed
// by someone else meanwhile makes the transaction run again, from a fresh
// read.
func (s *Service) Apply(ctx context.Context, req ApplyRequest) (*ApplyResult, error) {
	if req.Doc == nil {
		return nil, ramp.Errorf(ramp.KindInvalid, "no configuration to apply")
	}
	var res *ApplyResult
	err := s.db().ApplyFunc(ctx, Actor(ctx), req.DryRun, func(tx *store.ApplyTx) (*store.Changes, error) {
		var ch *store.Changes
		var err error
		if res, ch, err = plan(tx, &req); err == nil {
			ch, err = withMetrics(tx, &req, res, ch) // apply_metrics.go
		}
		if err == nil {
			ch, err = s.withExperiments(ctx, tx, &req, res, ch)
		}
		return ch, err
	})
	if err != nil {
		return nil, err
	}
	res.Applied = !req.DryRun && res.Changed()
	return res, nil
}

// plan computes an apply's result and changes inside its transaction.
func plan(tx *store.ApplyTx, req *ApplyRequest) (*ApplyResult, *store.Changes, error) {
	doc := req.Doc
	cat, err := tx.Catalogue()
	if err != nil {
		return nil, nil, err
	}
	current := &cat.State
	desired := doc.Resolve(current)
	if err := doc.ValidateAgainst(validationState(current, &desired, req.Prune), &cat, req.Prune); err != nil {
		return nil, nil, err
	}
	imported, err := tx.Imported()
	if err != nil {
		return nil, nil, err
	}
	res := &ApplyResult{File: doc.File(), DryRun: req.DryRun}
	edits := map[string]store.ListEdit{}
	deltas := map[string]flags.MemberDelta{}
	for i := range desired.Cohorts {
		c := &desired.Cohorts[i]
		if c.Members == nil {
			continue
		}
		stored, ok := current.Cohort(c.Key)
		if !ok {
			edits[c.Key] = store.ListEdit{Replace: true}
			continue
		}
		replace := !imported[c.Key] || doc.ReplacesMembers(c.Key)
		edit, err := compareMembers(tx, stored, c.Members, replace)
		if err != nil {
			return nil, nil, err
		}
		edits[c.Key], deltas[c.Key] = edit, edit.Delta
		if edit.Delta.Kept > 0 {
			res.Imported = append(res.Imported, ImportedList{Cohort: c.Key, Kept: edit.Delta.Kept})
		}
	}
	set := flags.DiffMembers(current, &desired, req.Prune, deltas)
	rchanges, runchanged := rollout.Diff(cat.Rollouts, doc.Rollouts(), req.Prune)
	for _, c := range rchanges {
		if r, ok := cat.Rollout(c.Flag); ok && c.Action == flags.Update && r.Progress.Stage != "" && c.Plan.StageIndex(r.Progress.Stage) < 0 {
			return nil, nil, &LiveStageError{Flag: c.Flag, Stage: r.Progress.Stage}
		}
	}
	progress := map[string]rollout.Progress{}
	for _, p := range doc.Rollouts() {
		fileProg, ok := doc.Progress(p.Flag)
		if !ok {
			continue
		}
		if r, exists := cat.Rollout(p.Flag); exists {
			if !sameProgress(&r.Progress, &fileProg) {
				stored := r.Progress
				res.Progress = append(res.Progress, ProgressNote{Flag: p.Flag, Action: ProgressKept, File: fileProg, Stored: &stored})
			}
			continue
		}
		progress[p.Flag] = fileProg
		res.Progress = append(res.Progress, ProgressNote{Flag: p.Flag, Action: ProgressSet, File: fileProg})
	}
	slices.SortFunc(res.Progress, func(a, b ProgressNote) int { return strings.Compare(a.Flag, b.Flag) })

	res.Changes, res.Rollouts = set.Changes, rchanges
	if res.Changes == nil {
		res.Changes = []flags.Change{}
	}
	if res.Rollouts == nil {
		res.Rollouts = []rollout.Change{}
	}
	res.Summary = map[string]int{
		"create": set.Count(flags.Create), "update": set.Count(flags.Update), "delete": set.Count(flags.Delete),
		"unchanged": set.Unchanged + runchanged,
	}
	for _, c := range rchanges {
		res.Summary[string(c.Action)]++
	}
	if !res.Changed() {
		return res, nil, nil
	}
	return res, &store.Changes{Desired: &desired, Set: set, Rollouts: rchanges, Progress: progress, Members: edits}, nil
}

// compareMembers compares a cohort's stored list, streamed, with the
// file's: replace makes the file's list the whole list; otherwise its
// members are added and the stored ones it lacks are kept.
func compareMembers(tx *store.ApplyTx, stored *cohorts.Cohort, list []cohorts.Member, replace bool) (store.ListEdit, error) {
	// The file's members as the store writes them: regions in upper case,
	// a repeated id taking the last region given.
	file := make(map[string]cohorts.Region, len(list))
	for _, m := range list {
		r := cohorts.Region(strings.ToUpper(string(m.Region)))
		if prev, dup := file[m.ID]; dup && r == "" {
			r = prev
		}
		file[m.ID] = r
	}
	edit := store.ListEdit{Replace: replace}
	d := &edit.Delta
	seen := make(map[string]bool, len(file))
	if !replace {
		// Adding to a list (one imports own) never removes: only the
		// file's ids need looking up, however long the stored list.
		ids := make([]string, 0, len(file))
		for id := range file {
			ids = append(ids, id)
		}
		listed, err := tx.Listed(stored.Key, ids)
		if err != nil {
			return edit, err
		}
		d.Before = stored.MemberCount
		d.Kept = stored.MemberCount - len(listed)
		for id, region := range listed {
			seen[id] = true
			if r := file[id]; r != region && r != "" {
				d.Updated++
			}
		}
		return addedFromFile(edit, list, seen), nil
	}
	err := tx.EachMember(stored.Key, func(m cohorts.Member) error {
		d.Before++
		r, listed := file[m.ID]
		switch {
		case !listed && replace:
			d.Removed++
			if len(edit.RemovedIDs) < store.MaxAuditIDs {
				edit.RemovedIDs = append(edit.RemovedIDs, m.ID)
			}
		case !listed:
			d.Kept++
		default:
			seen[m.ID] = true
			if r != m.Region && (replace || r != "") {
				d.Updated++
			}
		}
		return nil
	})
	if err != nil {
		return edit, err
	}
	return addedFromFile(edit, list, seen), nil
}

// addedFromFile counts the file's ids that the stored list does not hold
// (those not seen), names the first of them for the audit entry, and sets
// the count after the edit.
func addedFromFile(edit store.ListEdit, list []cohorts.Member, seen map[string]bool) store.ListEdit {
	d := &edit.Delta
	for _, m := range list {
		if !seen[m.ID] {
			seen[m.ID] = true
			d.Added++
			if len(edit.AddedIDs) < store.MaxAuditIDs {
				edit.AddedIDs = append(edit.AddedIDs, m.ID)
			}
		}
	}
	d.After = d.Before + d.Added - d.Removed
	return edit
}

// sameProgress compares two progresses as they are stored (JSON).
func sameProgress(a, b *rollout.Progress) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}

// validationState is what the database will hold after the apply, for
// validation: the file's objects at their positions in the file (so that
// problems map to its lines), then, without prune, the stored cohorts and
// flags the file does not declare, which its flags and plans may still name.
func validationState(current, desired *flags.State, prune bool) *flags.State {
	st := &flags.State{Cohorts: slices.Clone(desired.Cohorts), Flags: slices.Clip(desired.Flags)}
	if prune {
		return st
	}
	declaredFlags := map[string]bool{}
	for _, f := range desired.Flags {
		declaredFlags[f.Key] = true
	}
	for _, f := range current.Flags {
		if !declaredFlags[f.Key] {
			st.Flags = append(st.Flags, f)
		}
	}
	declared := map[string]bool{}
	for _, c := range desired.Cohorts {
		declared[c.Key] = true
	}
	for _, c := range current.Cohorts {
		if !declared[c.Key] {
			st.Cohorts = append(st.Cohorts, cohorts.Cohort{Key: c.Key})
		}
	}
	return st
}

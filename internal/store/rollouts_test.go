package store_test

import (
	"context"
	"errors"
	"github.com/ramp-flags/ramp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

func usPlan(flag string) rollout.Plan {
	return rollout.Plan{Flag: flag, Variant: "on", Stages: []rollout.Stage{
		{Name: "dogfood", Cohorts: []string{"employees"}, Percent: 10000},
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
		{Name: "us-10", Regions: []string{"US"}, Percent: 1000, After: rollout.Duration(48 * time.Hour)},
	}}
}

// applyPlans stores desired plans next to the stored flags, as ramp apply
// does.
func applyPlans(t *testing.T, s *store.Store, plans []rollout.Plan, prune bool) []rollout.Change {
	t.Helper()
	ctx := context.Background()
	cur, err := s.Rollouts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, _ := rollout.Diff(cur, plans, prune)
	if err := s.ApplyWithRollouts(ctx, nil, flags.ChangeSet{}, changes, "alice"); err != nil {
		t.Fatalf("apply plans: %v", err)
	}
	return changes
}

func advance(flag, to, actor string, base int64) store.Move {
	return store.Move{Flag: flag, Action: "rollout.advance", BaseVersion: base,
		Apply: func(r *rollout.Rollout, f *flags.Flag, now time.Time) (rollout.Progress, error) {
			p, _, err := r.Advance(r.StageIndex(to), actor, now)
			return p, err
		}}
}

func TestRolloutLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	clock(s)
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("employees", members("emp-1")...)}, Flags: []flags.Flag{boolFlag("interop")}}, false, "alice")

	// Create: not started, no rules for evaluation.
	if ch := applyPlans(t, s, []rollout.Plan{usPlan("interop")}, false); len(ch) != 1 || ch[0].Action != flags.Create {
		t.Fatalf("changes = %+v", ch)
	}
	r, err := s.Rollout(ctx, "interop")
	if err != nil || r.Version != 1 || r.Live() != -1 {
		t.Fatalf("Rollout = %+v, %v", r, err)
	}
	cfg, err := s.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := ramp.Compose(&cfg)
	if f, _ := st.Flag("interop"); len(f.Rules) != 0 {
		t.Errorf("rules before the first stage: %+v", f.Rules)
	}

	// Advance twice; evaluation gets the cumulative audience.
	if r, err = s.MoveRollout(ctx, advance("interop", "dogfood", "alice", 1), "alice"); err != nil {
		t.Fatal(err)
	}
	if r, err = s.MoveRollout(ctx, advance("interop", "us-1", "bob", r.Version), "bob"); err != nil {
		t.Fatal(err)
	}
	if r.Progress.Stage != "us-1" || r.Version != 3 || r.UpdatedBy != "bob" {
		t.Errorf("after advancing: %+v", r)
	}
	if cfg, err = s.Configuration(ctx); err != nil {
		t.Fatal(err)
	}
	st = ramp.Compose(&cfg)
	f, _ := st.Flag("interop")
	var names []string
	for _, rule := range f.Rules {
		names = append(names, rule.Name)
	}
	if strings.Join(names, "|") != "rollout:dogfood cohort employees|rollout:us-1 region US" {
		t.Errorf("evaluation rules = %q", names)
	}
	if _, err := flags.Compile(st, 1); err != nil {
		t.Errorf("evaluation state does not compile: %v", err)
	}
	// The stored state (for export and apply) has no generated rules.
	plain, _ := mustState(t, s)
	if f, _ := plain.Flag("interop"); len(f.Rules) != 0 {
		t.Errorf("State has generated rules: %+v", f.Rules)
	}

	// A move computed from an old version is refused, naming what changed.
	_, err = s.MoveRollout(ctx, advance("interop", "us-10", "carol", 2), "carol")
	var ce *store.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "it is now at stage us-1, started by bob") {
		t.Errorf("stale move: %v", err)
	}

	// Updating the plan keeps progress; dropping the live stage is refused.
	p := usPlan("interop")
	p.Stages[2].Percent = 2000
	if ch := applyPlans(t, s, []rollout.Plan{p}, false); len(ch) != 1 || strings.Join(ch[0].Fields, ",") != "stages.us-10" {
		t.Errorf("changes = %+v", ch)
	}
	if r, _ := s.Rollout(ctx, "interop"); r.Progress.Stage != "us-1" || r.Stages[2].Percent != 2000 {
		t.Errorf("after update: %+v", r)
	}
	p.Stages = p.Stages[:1]
	cur, _ := s.Rollouts(ctx)
	changes, _ := rollout.Diff(cur, []rollout.Plan{p}, false)
	if err := s.ApplyWithRollouts(ctx, nil, flags.ChangeSet{}, changes, "alice"); err == nil || !strings.Contains(err.Error(), "the live stage us-1 is not in the new plan") {
		t.Errorf("dropping the live stage: %v", err)
	}

	// Every change is audited under kind rollout.
	var actions []string
	for _, e := range mustAudit(t, s, store.AuditFilter{Kind: "rollout", Target: "interop"}) {
		actions = append(actions, e.Actor+" "+e.Action)
	}
	if want := "alice apply.create|alice rollout.advance|bob rollout.advance|alice apply.update"; strings.Join(actions, "|") != want {
		t.Errorf("audit = %q\nwant %q", actions, want)
	}

	// Deleting the flag deletes its plan.
	if err := s.DeleteFlag(ctx, "interop", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollout(ctx, "interop"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("plan after its flag was deleted: %v", err)
	}
}

func TestRolloutPrune(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("employees")}, Flags: []flags.Flag{boolFlag("a"), boolFlag("b")}}, false, "alice")
	applyPlans(t, s, []rollout.Plan{usPlan("a"), usPlan("b")}, false)
	if ch := applyPlans(t, s, []rollout.Plan{usPlan("a")}, false); len(ch) != 0 {
		t.Errorf("without prune: %+v", ch)
	}
	ch := applyPlans(t, s, []rollout.Plan{usPlan("a")}, true)
	if len(ch) != 1 || ch[0].Action != flags.Delete || ch[0].Flag != "b" {
		t.Errorf("with prune: %+v", ch)
	}
	rs, _ := s.Rollouts(ctx)
	if len(rs) != 1 || rs[0].Flag != "a" {
		t.Errorf("rollouts = %+v", rs)
	}
}

// TestStoredPlansKeepBasisPoints: the rollouts table keeps percentages in
// basis points, as rows written before issue #10 have them, while the audit
// log records plans in percent units (issue #10 item 5: the audit showed
// "percent: 5000 → 4000").
func TestStoredPlansKeepBasisPoints(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	clock(s)
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("employees", members("emp-1")...)}, Flags: []flags.Flag{boolFlag("interop")}}, false, "alice")
	// A row as an earlier ramp wrote it: us-1 at 1%, us-10 at 12.5%.
	old := `[{"name":"dogfood","cohorts":["employees"],"percent":10000},{"name":"us-1","regions":["US"],"percent":100},` +
		`{"name":"us-10","regions":["US"],"percent":1250,"after":"48h0m0s"}]`
	if err := store.Exec(s, `INSERT INTO rollouts (key, variant, stages, progress, version, created_at, updated_at, updated_by)
		VALUES ('interop', 'on', ?, '{"stage":"us-1","paused":true}', 1, ?, ?, 'alice')`, old, time.Now().UTC(), time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	r, err := s.Rollout(ctx, "interop")
	if err != nil {
		t.Fatal(err)
	}
	var got []flags.Percent
	for _, st := range r.Stages {
		got = append(got, st.Percent)
	}
	if want := []flags.Percent{10000, 100, 1250}; !slices.Equal(got, want) {
		t.Errorf("percentages read from an old row: got %v, want %v", got, want)
	}
	if r.Stages[2].After != rollout.Duration(48*time.Hour) || !r.Progress.Paused || r.Progress.PausedBy != "" {
		t.Errorf("old row: after %v, progress %+v", r.Stages[2].After, r.Progress)
	}

	// Written back (an edit), the row keeps basis points and the audit
	// entry says percent.
	p := r.Plan
	p.Stages = slices.Clone(p.Stages)
	p.Stages[2].Percent = 2000
	applyPlans(t, s, []rollout.Plan{p}, false)
	r, err = s.Rollout(ctx, "interop")
	if err != nil || r.Stages[2].Percent != 2000 {
		t.Fatalf("after the edit: %v, %v", r.Stages, err)
	}
	entries := mustAudit(t, s, store.AuditFilter{Kind: "rollout"})
	last := entries[len(entries)-1]
	for _, want := range []string{`"percent":12.5`, `"percent":1}`} {
		if !strings.Contains(string(last.Before), want) {
			t.Errorf("audit before lacks %s:\n%s", want, last.Before)
		}
	}
	if !strings.Contains(string(last.After), `"percent":20`) {
		t.Errorf("audit after lacks \"percent\":20:\n%s", last.After)
	}
}

// TestEditRollout: plan edits check the plan's version and the live stage
// inside the transaction, and an unchanged plan writes nothing.
func TestEditRollout(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	clock(s)
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("employees", members("emp-1")...)}, Flags: []flags.Flag{boolFlag("interop")}}, false, "alice")
	create := store.PlanEdit{Flag: "interop", Edit: func(cur *rollout.Rollout, st *flags.State) (*rollout.Plan, error) {
		if cur != nil {
			t.Errorf("a plan before the first edit: %+v", cur)
		}
		if len(st.Cohorts) != 1 || st.Cohorts[0].Members != nil || len(st.Flags) != 1 {
			t.Errorf("the edit's configuration: %+v", st)
		}
		p := usPlan("interop")
		return &p, nil
	}}
	if ch, err := s.EditRollout(ctx, create, "alice"); err != nil || ch.Action != flags.Create {
		t.Fatalf("create: %+v, %v", ch, err)
	}
	if _, err := s.EditRollout(ctx, store.PlanEdit{Flag: "interop", Edit: func(cur *rollout.Rollout, _ *flags.State) (*rollout.Plan, error) {
		return &cur.Plan, nil
	}}, "alice"); !errors.Is(err, store.ErrNoChange) {
		t.Errorf("unchanged plan: %v, want ErrNoChange", err)
	}
	if _, err := s.EditRollout(ctx, store.PlanEdit{Flag: "interop", BaseVersion: 7, Edit: func(cur *rollout.Rollout, _ *flags.State) (*rollout.Plan, error) {
		return nil, nil
	}}, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale version: %v, want a conflict", err)
	}
	if _, err := s.MoveRollout(ctx, advance("interop", "us-1", "alice", 0), "alice"); err != nil {
		t.Fatal(err)
	}
	_, err := s.EditRollout(ctx, store.PlanEdit{Flag: "interop", Edit: func(cur *rollout.Rollout, _ *flags.State) (*rollout.Plan, error) {
		p := cur.Plan
		p.Stages = slices.Delete(slices.Clone(p.Stages), 1, 2)
		return &p, nil
	}}, "alice")
	if ramp.KindOf(err) != ramp.KindInvalid || !strings.Contains(err.Error(), "the live stage us-1 is not in the new plan") {
		t.Errorf("removing the live stage: %v (kind %v)", err, ramp.KindOf(err))
	}
	if ch, err := s.EditRollout(ctx, store.PlanEdit{Flag: "interop", BaseVersion: 2, Edit: func(*rollout.Rollout, *flags.State) (*rollout.Plan, error) {
		return nil, nil
	}}, "alice"); err != nil || ch.Action != flags.Delete {
		t.Errorf("delete: %+v, %v", ch, err)
	}
	if _, err := s.Rollout(ctx, "interop"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

package store_test

import (
	"context"
	"errors"
	"github.com/ramp-flags/ramp"
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

package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
	"github.com/ramp-flags/ramp/rollout"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const interop = "messenger-ig-interop"

// interopPlan is the scenario's plan, shortened.
func interopPlan() rollout.Plan {
	return rollout.Plan{Flag: interop, Variant: "on", Stages: []rollout.Stage{
		{Name: "dogfood", Cohorts: []string{"employees"}, Percent: flags.Hundred},
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
		{Name: "us-10", Regions: []string{"US"}, Percent: 1000, After: rollout.Duration(48 * time.Hour)},
		{Name: "us-50", Regions: []string{"US"}, Percent: 5000, Approval: true},
		{Name: "us-40", Regions: []string{"US"}, Percent: 4000, Decrease: true},
	}}
}

// setup returns the control plane over a new database holding the
// employees cohort, the interop flag and its plan (not started), with a
// clock fixed at t0, and the store beneath it.
func setup(t testing.TB) (*admin.Service, *store.Store) {
	a, s, _ := setupDSN(t)
	return a, s
}

func setupDSN(t testing.TB) (*admin.Service, *store.Store, string) {
	t.Helper()
	ctx := context.Background()
	a, s, dsn := openDSN(t)
	s.Now = func() time.Time { return t0 }
	desired := flags.State{
		Cohorts: []cohorts.Cohort{{Key: "employees", Members: []cohorts.Member{{ID: "emp-1", Region: "US"}, {ID: "emp-2", Region: "FR"}}}},
		Flags: []flags.Flag{{Key: interop, Type: flags.Boolean, Enabled: true, DefaultVariant: "off", Bucketing: 1,
			Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}}},
	}
	cur, _, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, _ := rollout.Diff(nil, []rollout.Plan{interopPlan()}, false)
	if err := s.ApplyWithRollouts(ctx, &desired, flags.Diff(&cur, &desired, false), changes, "setup"); err != nil {
		t.Fatal(err)
	}
	return a, s, dsn
}

func as(actor string) context.Context { return admin.WithActor(context.Background(), actor) }

func mustMove(t *testing.T) func(admin.MoveResult, error) admin.MoveResult {
	return func(res admin.MoveResult, err error) admin.MoveResult {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
}

// TestPausedPlanIsHeld: issue #10 item 6, a paused plan still advanced.
// Paused means held: advance and approve refuse, naming who paused it,
// when and why, until resume or an explicit force that the audit log
// records; a rollback's pause carries its reason too.
func TestPausedPlanIsHeld(t *testing.T) {
	tests := []struct {
		name string
		// prepare runs on a plan at stage us-1.
		prepare func(t *testing.T, a *admin.Service, s *store.Store)
		move    func(a *admin.Service) (admin.MoveResult, error)
		// wantErr is part of the refusal ("" for none); wantAction the
		// audit action of a move that was written.
		wantErr    string
		wantAction string
	}{
		{"pause with a reason", func(t *testing.T, a *admin.Service, _ *store.Store) {
			mustMove(t)(a.Pause(as("alice"), admin.PauseRequest{Flag: interop, Reason: "crash rate up"}))
		}, func(a *admin.Service) (admin.MoveResult, error) {
			return a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop})
		}, "rollout messenger-ig-interop is paused by alice at 2026-11-02T09:00:00Z: crash rate up", ""},
		{"dry run of a paused plan", func(t *testing.T, a *admin.Service, _ *store.Store) {
			mustMove(t)(a.Pause(as("alice"), admin.PauseRequest{Flag: interop}))
		}, func(a *admin.Service) (admin.MoveResult, error) {
			return a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop, DryRun: true})
		}, "is paused by alice", ""},
		{"rollback pauses with its reason", func(t *testing.T, a *admin.Service, _ *store.Store) {
			mustMove(t)(a.Rollback(as("alice"), admin.RollbackRequest{Flag: interop, Confirmed: true}))
		}, func(a *admin.Service) (admin.MoveResult, error) {
			return a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop})
		}, "paused by alice at 2026-11-02T09:00:00Z: rolled back from stage us-1 by alice", ""},
		{"approve while paused", func(t *testing.T, a *admin.Service, _ *store.Store) {
			mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-50"}))
			mustMove(t)(a.Pause(as("alice"), admin.PauseRequest{Flag: interop, Reason: "wait"}))
		}, func(a *admin.Service) (admin.MoveResult, error) {
			return a.Approve(as("bob"), admin.ApproveRequest{Flag: interop, Stage: "us-50"})
		}, "is paused by alice at 2026-11-02T09:00:00Z: wait", ""},
		{"forced", func(t *testing.T, a *admin.Service, _ *store.Store) {
			mustMove(t)(a.Pause(as("alice"), admin.PauseRequest{Flag: interop, Reason: "crash rate up"}))
		}, func(a *admin.Service) (admin.MoveResult, error) {
			return a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop, Force: true})
		}, "", "rollout.advance.forced"},
		{"resumed", func(t *testing.T, a *admin.Service, _ *store.Store) {
			mustMove(t)(a.Pause(as("alice"), admin.PauseRequest{Flag: interop}))
			mustMove(t)(a.Resume(as("alice"), interop))
		}, func(a *admin.Service) (admin.MoveResult, error) {
			return a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop})
		}, "", "rollout.advance"},
		{"the kill switch is not forced", func(t *testing.T, _ *admin.Service, s *store.Store) {
			if _, err := s.SetEnabled(context.Background(), interop, false, "alice"); err != nil {
				t.Fatal(err)
			}
		}, func(a *admin.Service) (admin.MoveResult, error) {
			return a.Advance(as("bob"), admin.AdvanceRequest{Flag: interop, Force: true})
		}, "flag messenger-ig-interop is disabled (kill switch): enable it first (that restores stage us-1)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s := setup(t)
			ctx := context.Background()
			mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-1"}))
			tt.prepare(t, a, s)
			before, err := s.Rollout(ctx, interop)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tt.move(a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ramp.KindOf(err) != ramp.KindRefused {
					t.Fatalf("got %v (kind %v), want a refusal saying %q", err, ramp.KindOf(err), tt.wantErr)
				}
				if after, _ := s.Rollout(ctx, interop); after.Version != before.Version {
					t.Errorf("the refused move wrote: version %d → %d", before.Version, after.Version)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			entries, err := s.Audit(ctx, store.AuditFilter{Target: interop, Action: "rollout."})
			if err != nil {
				t.Fatal(err)
			}
			if got := entries[len(entries)-1].Action; got != tt.wantAction {
				t.Errorf("audit action %q, want %q", got, tt.wantAction)
			}
			if tt.wantAction == "rollout.advance.forced" && (!res.Forced || !res.Status.Paused || res.Status.Pause.Reason != "crash rate up") {
				t.Errorf("forced advance: %+v, status %+v; want forced and still paused with its reason", res, res.Status)
			}
		})
	}
}

// TestStatusInPercent: issue #10 item 5, `rollout status -o json` gave
// "percent": 100 for 1% and the audit log "percent: 5000 → 4000". The
// status, moves' results and the audit log say percent; history still
// reads audit entries written in basis points.
func TestStatusInPercent(t *testing.T) {
	a, s, dsn := setupDSN(t)
	ctx := context.Background()
	mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-1"}))
	st, err := a.RolloutStatus(ctx, interop)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Audience []struct {
			Target  rollout.Target
			Percent float64
		}
		NextChanges []struct{ From, To float64 }
		Plan        []struct{ Percent float64 }
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Audience) != 2 || got.Audience[0].Percent != 100 || got.Audience[1].Percent != 1 {
		t.Errorf("audience %+v, want employees at 100 and US at 1", got.Audience)
	}
	if len(got.NextChanges) != 1 || got.NextChanges[0].From != 1 || got.NextChanges[0].To != 10 {
		t.Errorf("next changes %+v, want 1 → 10", got.NextChanges)
	}
	if len(got.Plan) != 5 || got.Plan[3].Percent != 50 || got.Plan[4].Percent != 40 {
		t.Errorf("plan %+v", got.Plan)
	}
	entries, err := s.Audit(ctx, store.AuditFilter{Target: interop, Action: "rollout.advance"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %v, %v", entries, err)
	}
	if after := string(entries[0].After); !strings.Contains(after, `"percent":50}`) || strings.Contains(after, `5000`) {
		t.Errorf("the audit log records the plan in basis points:\n%s", after)
	}

	// An entry as an earlier ramp wrote it, in basis points.
	old := `{"flag":"messenger-ig-interop","variant":"on","stages":[{"name":"dogfood","percent":10000},{"name":"us-1","percent":100}],` +
		`"progress":{"stage":"us-1","paused":true},"version":9}`
	if testdb.IsPostgres(dsn) {
		t.Skip("writes an old audit entry through SQLite")
	}
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO audit_log (at, actor, action, kind, target, before, after) VALUES (?, 'carol', 'rollout.pause', 'rollout', ?, ?, ?)`,
		t0, interop, old, old).Error; err != nil {
		t.Fatal(err)
	}
	if sql, err := db.DB(); err == nil {
		sql.Close()
	}
	events, err := a.RolloutHistory(ctx, interop)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range events {
		lines = append(lines, e.Actor+" "+e.Event+": "+e.Detail)
	}
	want := []string{"setup plan created: 5 stages", "alice advanced: not started → us-1", "carol paused: held at us-1"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("history:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestMovesConfirmed: a move that takes the variant away is refused until
// confirmed, and a confirmation given for one version of the plan does not
// apply to another.
func TestMovesConfirmed(t *testing.T) {
	a, s := setup(t)
	ctx := context.Background()
	mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-10"}))
	_, err := a.Rollback(as("alice"), admin.RollbackRequest{Flag: interop})
	var c *admin.ConfirmError
	if !errors.As(err, &c) || !errors.Is(err, ramp.ErrRefused) || c.Move.To != "us-1" || !strings.Contains(c.Question, "Roll messenger-ig-interop back from us-10 to us-1?") {
		t.Fatalf("unconfirmed rollback: %v", err)
	}
	// Someone moves the plan between the question and the answer.
	mustMove(t)(a.Pause(as("bob"), admin.PauseRequest{Flag: interop, BaseVersion: c.Move.Version}))
	// A pause or an approval decided on the older version is refused too.
	if _, err := a.Pause(as("carol"), admin.PauseRequest{Flag: interop, Reason: "seen on the old plan", BaseVersion: c.Move.Version}); !errors.Is(err, ramp.ErrConflict) {
		t.Errorf("pause on an older version: %v, want a conflict", err)
	}
	if _, err := a.Approve(as("carol"), admin.ApproveRequest{Flag: interop, Stage: "us-50", Force: true, BaseVersion: c.Move.Version}); !errors.Is(err, ramp.ErrConflict) {
		t.Errorf("approval on an older version: %v, want a conflict", err)
	}
	if _, err := a.Rollback(as("alice"), admin.RollbackRequest{Flag: interop, Confirmed: true, BaseVersion: c.Move.Version}); !errors.Is(err, ramp.ErrConflict) {
		t.Errorf("rollback confirmed on an older version: %v, want a conflict", err)
	}
	res := mustMove(t)(a.Rollback(as("alice"), admin.RollbackRequest{Flag: interop, To: "none", Reason: "bad build", Confirmed: true}))
	if res.To != "none" || res.Status.Stage != "" || res.Status.Pause == nil || res.Status.Pause.Reason != "bad build" {
		t.Errorf("rollback: %+v, status %+v", res, res.Status)
	}
	if r, _ := s.Rollout(ctx, interop); r.Progress.PausedBy != "alice" {
		t.Errorf("the rollback's pause is by %q, want alice", r.Progress.PausedBy)
	}
	// A stage marked decrease asks too.
	mustMove(t)(a.Resume(as("alice"), interop))
	mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-10"}))
	if _, err := a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-40"}); !errors.As(err, &c) || !c.Move.TakesAway {
		t.Errorf("advance to a decreasing stage: %v, want a ConfirmError", err)
	}
}

// TestAdvanceRefused: refusals and their kinds.
func TestAdvanceRefused(t *testing.T) {
	a, _ := setup(t)
	tests := []struct {
		name string
		req  admin.AdvanceRequest
		kind ramp.Kind
		msg  string
	}{
		{"unknown stage", admin.AdvanceRequest{Flag: interop, To: "us-11"}, ramp.KindNotFound, `rollout messenger-ig-interop has no stage "us-11" (stages: dogfood, us-1, us-10, us-50, us-40)`},
		{"no plan", admin.AdvanceRequest{Flag: "nope"}, ramp.KindNotFound, `flag "nope" not found`},
		{"stale version", admin.AdvanceRequest{Flag: interop, BaseVersion: 7}, ramp.KindConflict, "changed meanwhile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Advance(as("alice"), tt.req)
			if ramp.KindOf(err) != tt.kind || err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v (kind %v), want kind %v saying %q", err, ramp.KindOf(err), tt.kind, tt.msg)
			}
		})
	}
}

// TestPlanEdits: plan edits are validated inside the write, as apply
// validates plans.
func TestPlanEdits(t *testing.T) {
	a, _ := setup(t)
	ctx := as("alice")
	tests := []struct {
		name string
		edit func() (admin.PlanEditResult, error)
		kind ramp.Kind
		msg  string
	}{
		{"unknown cohort", func() (admin.PlanEditResult, error) {
			return a.AddStage(ctx, admin.AddStageRequest{Flag: interop, Stage: rollout.Stage{Name: "staff", Cohorts: []string{"staff"}, Percent: 100}})
		}, ramp.KindInvalid, `unknown cohort "staff"`},
		{"lowers a target", func() (admin.PlanEditResult, error) {
			return a.AddStage(ctx, admin.AddStageRequest{Flag: interop, Stage: rollout.Stage{Name: "us-5", Regions: []string{"US"}, Percent: 500}})
		}, ramp.KindInvalid, "stage us-5 lowers region US from 40% to 5%"},
		{"stage taken", func() (admin.PlanEditResult, error) {
			return a.AddStage(ctx, admin.AddStageRequest{Flag: interop, Stage: rollout.Stage{Name: "us-1", Percent: 100}})
		}, ramp.KindConflict, "already has a stage us-1"},
		{"no plan and no variant", func() (admin.PlanEditResult, error) {
			return a.AddStage(ctx, admin.AddStageRequest{Flag: "nope", Stage: rollout.Stage{Name: "s", Percent: 100}})
		}, ramp.KindNotFound, `flag "nope" not found`},
		{"edit an unknown stage", func() (admin.PlanEditResult, error) {
			return a.EditStage(ctx, admin.EditStageRequest{Flag: interop, Stage: "eu", Fields: []string{admin.FieldPercent}})
		}, ramp.KindNotFound, `has no stage "eu"`},
		{"edit a field", func() (admin.PlanEditResult, error) {
			return a.EditStage(ctx, admin.EditStageRequest{Flag: interop, Stage: "us-10", Set: rollout.Stage{Percent: 1250, Halt: true}, Fields: []string{admin.FieldPercent}})
		}, 0, ""},
		{"nothing to change", func() (admin.PlanEditResult, error) {
			return a.EditStage(ctx, admin.EditStageRequest{Flag: interop, Stage: "us-10", Set: rollout.Stage{Percent: 1250}, Fields: []string{admin.FieldPercent}})
		}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.edit()
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if ramp.KindOf(err) != tt.kind || err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v (kind %v), want kind %v saying %q", err, ramp.KindOf(err), tt.kind, tt.msg)
			}
		})
	}
	r, err := a.RolloutGet(context.Background(), interop)
	if err != nil || r.Stages[2].Percent != 1250 || r.Stages[2].Halt {
		t.Errorf("after edit-stage: %+v, %v; want us-10 at 12.5%% and halt unchanged", r.Stages[2], err)
	}
	mustMove(t)(a.Advance(ctx, admin.AdvanceRequest{Flag: interop}))
	if _, err := a.RemoveStage(ctx, admin.RemoveStageRequest{Flag: interop, Stage: "dogfood"}); ramp.KindOf(err) != ramp.KindInvalid || !strings.Contains(err.Error(), "the live stage dogfood is not in the new plan") {
		t.Errorf("removing the live stage: %v", err)
	}
	if res, err := a.RemoveStage(ctx, admin.RemoveStageRequest{Flag: interop, Stage: "us-40"}); err != nil || res.Action != "updated" || len(res.Stages) != 4 {
		t.Errorf("remove-stage: %+v, %v", res, err)
	}
	if _, err := a.DeleteRollout(ctx, interop, 1); !errors.Is(err, ramp.ErrConflict) {
		t.Errorf("delete from an old version: %v", err)
	}
	if _, err := a.DeleteRollout(ctx, interop, 0); err != nil {
		t.Fatal(err)
	}
	var np *admin.NoPlanError
	if _, err := a.AddStage(ctx, admin.AddStageRequest{Flag: interop, Stage: rollout.Stage{Name: "s", Percent: 100}}); !errors.As(err, &np) {
		t.Errorf("add-stage without a plan or a variant: %v, want a *NoPlanError", err)
	}
	if res, err := a.AddStage(ctx, admin.AddStageRequest{Flag: interop, Variant: "on", Stage: rollout.Stage{Name: "s", Percent: 100}}); err != nil || res.Action != "created" {
		t.Errorf("add-stage creating the plan: %+v, %v", res, err)
	}
}

// TestEstimateAndExplain: a dry run counts the listed users who gain, and
// --explain names the stage that admitted a user from the decision's
// origin.
func TestEstimateAndExplain(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	dry := mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, DryRun: true}))
	if dry.Outcome != "dry-run" || dry.Known == nil || *dry.Known != (admin.KnownEstimate{Listed: 2, Gain: 2}) {
		t.Errorf("dry run: %+v, known %+v", dry, dry.Known)
	}
	if st, _ := a.RolloutStatus(ctx, interop); st.Stage != "" {
		t.Fatalf("the dry run wrote: %+v", st)
	}
	mustMove(t)(a.Advance(as("alice"), admin.AdvanceRequest{Flag: interop, To: "us-1"}))
	est, err := a.Estimate(ctx, admin.EstimateRequest{Flag: interop, To: "none"})
	if err != nil || est != (admin.KnownEstimate{Listed: 2, Lose: 2}) {
		t.Errorf("estimate of going back to none: %+v, %v", est, err)
	}
	snap, err := a.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evalCtx := map[string]any{"targetingKey": "emp-2", "region": "FR"}
	d := snap.Evaluate(interop, evalCtx)
	ex, err := a.ExplainRollout(ctx, interop, evalCtx, &d)
	if err != nil || ex == nil || ex.Stage != "us-1" || ex.AdmittedBy != "dogfood" || ex.Since != "dogfood" {
		t.Errorf("explain: %+v, %v", ex, err)
	}
}

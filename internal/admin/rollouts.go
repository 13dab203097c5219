package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// The rollout use cases: reading a plan's status and history, moving it
// (advance, approve, pause, resume, roll back, the schedule's pass) and
// estimating a move. Plan edits are in rollout_edits.go, the history in
// rollout_history.go, estimates and explanations in rollout_explain.go.
//
// Every refusal of a move is checked inside MoveRollout's transaction, on
// the plan and flag as stored at that moment: a person's advance and the
// schedule's refuse a killed flag by the same rule (rollout.MayAdvance and
// rollout.Next), whichever front-end asks.

// RolloutStatus is where a plan stands: what `ramp rollout status` prints
// and the admin API returns. Percentages are in percent units in JSON (1
// for 1%).
type RolloutStatus struct {
	Flag    string `json:"flag"`
	Variant string `json:"variant"`
	// Stage is the live stage ("" before the first), Position its number
	// (1-based, 0 before the first) of Stages.
	Stage      string    `json:"stage"`
	Position   int       `json:"position"`
	Stages     int       `json:"stages"`
	Since      time.Time `json:"since,omitzero"`
	By         string    `json:"by,omitempty"`
	ApprovedBy string    `json:"approvedBy,omitempty"`
	// Paused holds the plan; Pause says who paused it, when and why.
	Paused  bool             `json:"paused"`
	Pause   *Pause           `json:"pause,omitempty"`
	Killed  bool             `json:"killed"`
	Pending *rollout.Request `json:"awaitingApproval,omitempty"`
	// Audience is who has the variant at the live stage: each target with
	// its percentage, the stage that set it and the stage since which it
	// has had a share.
	Audience []rollout.Grant `json:"audience"`
	// Next is the next stage and when the schedule may start it, or what
	// holds it; NextSteps how each target changes with it.
	Next      rollout.Next    `json:"next"`
	NextSteps []rollout.Step  `json:"nextChanges,omitempty"`
	Plan      []rollout.Stage `json:"plan"`
	// Guard is the live guarded stage's comparison (safety_guard.go); nil
	// when the live stage is not guarded. Halted is the controller's last
	// halt of the plan for a guardrail regression.
	Guard     *GuardStatus  `json:"guard,omitempty"`
	Halted    *rollout.Halt `json:"halted,omitempty"`
	Version   int64         `json:"version"`
	UpdatedBy string        `json:"updatedBy,omitempty"`
	UpdatedAt time.Time     `json:"updatedAt,omitzero"`
	Default   string        `json:"defaultVariant"`
}

// Pause says who paused a plan, when and why.
type Pause struct {
	By     string    `json:"by,omitempty"`
	At     time.Time `json:"at,omitzero"`
	Reason string    `json:"reason,omitempty"`
}

// StatusOf builds the status of plan r of flag f. It is pure: front-ends
// that already hold both (a flag's page showing its plan) use it directly.
func StatusOf(r *rollout.Rollout, f *flags.Flag) RolloutStatus {
	live := r.Live()
	st := RolloutStatus{Flag: r.Flag, Variant: r.Variant, Stage: r.Progress.Stage, Position: live + 1, Stages: len(r.Stages),
		Since: r.Progress.Since, By: r.Progress.By, ApprovedBy: r.Progress.ApprovedBy, Paused: r.Progress.Paused,
		Killed: !f.Enabled, Pending: r.Progress.Pending, Audience: r.Audience(live), Next: r.Next(!f.Enabled),
		Plan: r.Stages, Version: r.Version, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt, Default: f.DefaultVariant,
		Halted: r.Progress.Halted}
	if p := r.Progress; p.Paused && (p.PausedBy != "" || p.PauseReason != "") {
		st.Pause = &Pause{By: p.PausedBy, At: p.PausedAt, Reason: p.PauseReason}
	}
	if st.Audience == nil {
		st.Audience = []rollout.Grant{}
	}
	if st.Plan == nil {
		st.Plan = []rollout.Stage{}
	}
	if st.Next.Stage >= 0 {
		st.NextSteps = r.Changes(live, st.Next.Stage)
	}
	return st
}

// RolloutStatus returns the status of a flag's plan. Without a plan the
// error matches ramp.ErrNotFound and says whether the flag exists.
func (s *Service) RolloutStatus(ctx context.Context, flag string) (RolloutStatus, error) {
	r, f, err := s.readRollout(ctx, flag)
	if err != nil {
		return RolloutStatus{}, err
	}
	st := StatusOf(&r, &f)
	return st, s.guardStatus(ctx, &r, &st)
}

// RolloutStatuses returns the status of every plan, by flag key. Its cost
// does not depend on member lists.
func (s *Service) RolloutStatuses(ctx context.Context) ([]RolloutStatus, error) {
	rs, fs, err := s.db().RolloutsAndFlags(ctx)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]*flags.Flag, len(fs))
	for i := range fs {
		byKey[fs[i].Key] = &fs[i]
	}
	out := make([]RolloutStatus, 0, len(rs))
	for i := range rs {
		if f := byKey[rs[i].Flag]; f != nil {
			st := StatusOf(&rs[i], f)
			if err := s.guardStatus(ctx, &rs[i], &st); err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// RolloutGet returns a flag's plan with its progress and version, as
// stored.
func (s *Service) RolloutGet(ctx context.Context, flag string) (rollout.Rollout, error) {
	r, _, err := s.readRollout(ctx, flag)
	return r, err
}

// readRollout reads a flag's plan and the flag.
func (s *Service) readRollout(ctx context.Context, flag string) (rollout.Rollout, flags.Flag, error) {
	r, err := s.db().Rollout(ctx, flag)
	if err != nil {
		return r, flags.Flag{}, s.noPlan(ctx, flag, err)
	}
	f, err := s.db().Flag(ctx, flag)
	return r, f, err
}

// noPlan turns "rollout not found" into an error that says whether the
// flag exists at all.
func (s *Service) noPlan(ctx context.Context, flag string, err error) error {
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, ferr := s.db().Flag(ctx, flag); ferr != nil {
		return ferr
	}
	return &NoPlanError{Flag: flag}
}

// NoPlanError is returned for a flag that exists but has no rollout plan.
// It matches ramp.ErrNotFound.
type NoPlanError struct{ Flag string }

func (e *NoPlanError) Error() string {
	return fmt.Sprintf("rollout plan for flag %q not found", e.Flag)
}

// Is makes NoPlanError match ramp.ErrNotFound.
func (e *NoPlanError) Is(target error) bool { return target == ramp.ErrNotFound }

// StageError is a stage name a plan lacks (or, with Exists, already has).
// It matches ramp.ErrNotFound, or ramp.ErrConflict with Exists.
type StageError struct {
	Flag, Stage string
	// Stages are the plan's stage names; None says that "none" (before the
	// first stage) was accepted too.
	Stages []string
	None   bool
	Exists bool
}

func (e *StageError) Error() string {
	if e.Exists {
		return fmt.Sprintf("rollout %s already has a stage %s", e.Flag, e.Stage)
	}
	none := ""
	if e.None {
		none = ", or none"
	}
	return fmt.Sprintf("rollout %s has no stage %q (stages: %s%s)", e.Flag, e.Stage, strings.Join(e.Stages, ", "), none)
}

// Is makes StageError match its kind.
func (e *StageError) Is(target error) bool {
	if e.Exists {
		return target == ramp.ErrConflict
	}
	return target == ramp.ErrNotFound
}

// ConfirmError refuses a move that takes the rollout variant away from
// some users (a rollback, a stage that decreases or replaces) when the
// request does not say it is confirmed. Move says what would happen; a
// front-end that asks its user can repeat the request with Confirmed set
// and BaseVersion set to Move.Version, so that what is confirmed is what
// gets written. It matches ramp.ErrRefused.
type ConfirmError struct {
	Move MoveResult
	// Question asks it in words.
	Question string
}

func (e *ConfirmError) Error() string { return e.Question + " (not confirmed: nothing was changed)" }

// Is makes ConfirmError match ramp.ErrRefused.
func (e *ConfirmError) Is(target error) bool { return target == ramp.ErrRefused }

// MoveResult is what a move did, or with DryRun would do. Percentages are
// in percent units in JSON.
type MoveResult struct {
	Flag   string `json:"flag"`
	Action string `json:"action"`
	DryRun bool   `json:"dryRun"`
	// From and To are the live stage before and after ("not started", or
	// "none" for a rollback before the first stage).
	From string `json:"from"`
	To   string `json:"to"`
	// Outcome is "started", "requested" (the stage awaits approval),
	// "rolled back", "paused", "resumed" or "dry-run".
	Outcome string `json:"outcome"`
	// Forced is set when a person moved a paused plan forward, overriding
	// the pause (recorded in the audit log as "rollout.advance.forced").
	Forced bool `json:"forced,omitempty"`
	// TakesAway is set when the move takes the variant away from some
	// users.
	TakesAway bool           `json:"takesAway,omitempty"`
	Changes   []rollout.Step `json:"changes"`
	// Known estimates, for dry runs, the users listed in cohorts who gain
	// or lose the variant.
	Known *KnownEstimate `json:"knownUsers,omitempty"`
	// Status is the plan's status after a move that was written.
	Status *RolloutStatus `json:"status,omitempty"`
	// Version is the plan's version the move was computed from (before
	// it), to confirm a refused move with.
	Version int64 `json:"-"`
}

// KnownEstimate counts the users listed in cohorts (with their listed
// regions) who gain or lose the rollout variant with a move.
type KnownEstimate struct {
	Listed int `json:"listed"`
	Gain   int `json:"gain"`
	Lose   int `json:"lose"`
}

// AdvanceRequest asks to start a later stage of a plan.
type AdvanceRequest struct {
	Flag string
	// To names the stage to start; "" is the one after the live stage.
	To string
	// DryRun computes the move and its estimate and writes nothing.
	DryRun bool
	// Force moves a paused plan (which stays paused); the audit log
	// records the move as "rollout.advance.forced". It does not override
	// the kill switch.
	Force bool
	// Confirmed accepts a move that takes the variant away from some
	// users (a stage marked decrease or replace); without it such a move
	// is refused with a *ConfirmError.
	Confirmed bool
	// BaseVersion, when not 0, is the plan version the caller decided
	// from: a plan changed since is refused as a conflict.
	BaseVersion int64
}

// stageWord names the live stage for people: "not started" before the
// first.
func stageWord(r *rollout.Rollout) string {
	if r.Progress.Stage == "" {
		return "not started"
	}
	return r.Progress.Stage
}

// resolveStage finds a stage named by a request; "" gives def, "none"
// (when none is allowed) -1.
func resolveStage(r *rollout.Rollout, name string, def int, none bool) (int, error) {
	switch {
	case name == "":
		return def, nil
	case name == "none" && none:
		return -1, nil
	}
	if i := r.StageIndex(name); i >= 0 {
		return i, nil
	}
	return 0, &StageError{Flag: r.Flag, Stage: name, Stages: r.StageNames(), None: none}
}

// advance computes an advance on the plan and flag as they are: the rule
// shared by dry runs (on a read) and moves (inside the transaction). g are
// the plan's exposure counts, read before, for a guarded stage's minimum
// sample (safety_guard.go).
func advance(r *rollout.Rollout, f *flags.Flag, req *AdvanceRequest, actor string, now time.Time, g guardCounts) (rollout.Progress, MoveResult, error) {
	live := r.Live()
	to, err := resolveStage(r, req.To, live+1, false)
	if err != nil {
		return r.Progress, MoveResult{}, err
	}
	if to >= len(r.Stages) && live == len(r.Stages)-1 {
		return r.Progress, MoveResult{}, &ramp.Error{Kind: ramp.KindRefused, Msg: fmt.Sprintf("rollout %s is at its last stage, %s", r.Flag, r.Progress.Stage), Err: rollout.ErrMove}
	}
	if err := r.MayAdvance(!f.Enabled, req.Force); err != nil {
		return r.Progress, MoveResult{}, err
	}
	held, err := mayLeave(r, g, req.Force)
	if err != nil {
		return r.Progress, MoveResult{}, err
	}
	p, outcome, err := r.Advance(to, actor, now)
	if err != nil {
		return r.Progress, MoveResult{}, err
	}
	res := MoveResult{Flag: r.Flag, Action: "advance", From: stageWord(r), To: r.Stages[to].Name, Outcome: string(outcome),
		Forced: r.Progress.Paused || held, Changes: r.Changes(live, to), Version: r.Version}
	for i := live + 1; i <= to; i++ {
		res.TakesAway = res.TakesAway || r.Stages[i].TakesAway()
	}
	if res.TakesAway && !req.Confirmed && !req.DryRun {
		return r.Progress, res, &ConfirmError{Move: res,
			Question: fmt.Sprintf("Stage %s takes %s away from some users. Advance?", r.Stages[to].Name, r.Variant)}
	}
	return p, res, nil
}

// Advance starts the next stage of a flag's plan, or the one req.To names,
// whatever its schedule says. A stage that needs approval (or one the move
// skips) is requested instead (Outcome "requested"). It is refused while
// the flag is killed, while the plan is paused (unless req.Force), and for
// a stage that takes the variant away from users unless req.Confirmed.
// With req.DryRun it writes nothing and estimates the listed users who gain
// or lose the variant.
func (s *Service) Advance(ctx context.Context, req AdvanceRequest) (MoveResult, error) {
	actor := Actor(ctx)
	r, f, err := s.readRollout(ctx, req.Flag)
	if err != nil {
		return MoveResult{}, err
	}
	g, err := s.readGuardCounts(ctx, &r)
	if err != nil {
		return MoveResult{}, err
	}
	if req.DryRun {
		_, res, err := advance(&r, &f, &req, actor, s.Now(), g)
		if err != nil {
			return res, err
		}
		return s.dryRun(ctx, &r, &f, res, r.StageIndex(res.To))
	}
	var res MoveResult
	action := "rollout.advance"
	moved, err := s.db().MoveRollout(ctx, store.Move{Flag: req.Flag, Action: action, BaseVersion: req.BaseVersion,
		Apply: func(cur *rollout.Rollout, f *flags.Flag, now time.Time) (rollout.Progress, error) {
			p, r, err := advance(cur, f, &req, actor, now, g)
			res = r
			return p, err
		}, ActionOf: func(cur *rollout.Rollout) string {
			if cur.Progress.Paused || cur.MayLeave(g.sample(cur)) != nil {
				return "rollout.advance.forced"
			}
			return action
		}}, actor)
	if err != nil {
		return res, err
	}
	return s.written(ctx, res, &moved)
}

// planExists returns the error a move on a flag without a plan gets.
func (s *Service) planExists(ctx context.Context, flag string) error {
	_, err := s.db().Rollout(ctx, flag)
	if err != nil {
		return s.noPlan(ctx, flag, err)
	}
	return nil
}

// written completes the result of a move that was written with the
// plan's status after it.
func (s *Service) written(ctx context.Context, res MoveResult, moved *rollout.Rollout) (MoveResult, error) {
	f, err := s.db().Flag(ctx, moved.Flag)
	if err != nil {
		return res, err
	}
	st := StatusOf(moved, &f)
	res.Status = &st
	if res.Changes == nil {
		res.Changes = []rollout.Step{}
	}
	return res, nil
}

// dryRun completes a move computed on a read with its estimate.
func (s *Service) dryRun(ctx context.Context, r *rollout.Rollout, f *flags.Flag, res MoveResult, to int) (MoveResult, error) {
	est, err := s.estimate(ctx, r, f, r.Live(), to)
	if err != nil {
		return res, err
	}
	res.DryRun, res.Outcome, res.Known = true, "dry-run", est
	if res.Changes == nil {
		res.Changes = []rollout.Step{}
	}
	return res, nil
}

// ApproveRequest approves the stage awaiting approval.
type ApproveRequest struct {
	Flag, Stage string
	// Force approves while the plan is paused (it stays paused).
	Force bool
	// BaseVersion, when not 0, is the plan version the approver saw: a
	// plan changed since is refused with a *ConflictError, in the write's
	// transaction.
	BaseVersion int64
}

// Approve approves the stage awaiting approval on the actor's behalf and
// starts it. The approver must not be who asked; a killed flag, or a
// paused plan without req.Force, is refused.
func (s *Service) Approve(ctx context.Context, req ApproveRequest) (MoveResult, error) {
	actor := Actor(ctx)
	r, _, err := s.readRollout(ctx, req.Flag)
	if err != nil {
		return MoveResult{}, err
	}
	g, err := s.readGuardCounts(ctx, &r)
	if err != nil {
		return MoveResult{}, err
	}
	var res MoveResult
	moved, err := s.db().MoveRollout(ctx, store.Move{Flag: req.Flag, Action: "rollout.approve", BaseVersion: req.BaseVersion,
		Apply: func(cur *rollout.Rollout, f *flags.Flag, now time.Time) (rollout.Progress, error) {
			if cur.StageIndex(req.Stage) < 0 {
				return cur.Progress, &StageError{Flag: cur.Flag, Stage: req.Stage, Stages: cur.StageNames()}
			}
			if err := cur.MayAdvance(!f.Enabled, req.Force); err != nil {
				return cur.Progress, err
			}
			held, err := mayLeave(cur, g, req.Force)
			if err != nil {
				return cur.Progress, err
			}
			p, err := cur.Approve(req.Stage, actor, now)
			res = MoveResult{Flag: cur.Flag, Action: "approve", From: stageWord(cur), To: req.Stage, Outcome: string(rollout.Started),
				Forced: cur.Progress.Paused || held, Changes: cur.Changes(cur.Live(), cur.StageIndex(req.Stage)), Version: cur.Version}
			return p, err
		}, ActionOf: func(cur *rollout.Rollout) string {
			if cur.Progress.Paused || cur.MayLeave(g.sample(cur)) != nil {
				return "rollout.approve.forced"
			}
			return "rollout.approve"
		}}, actor)
	if err != nil {
		return res, err
	}
	return s.written(ctx, res, &moved)
}

// PauseRequest holds a plan.
type PauseRequest struct {
	Flag string
	// Reason says why, for whoever wants to move the plan next.
	Reason string
	// BaseVersion, when not 0, is the plan version the caller saw: a plan
	// changed since is refused with a *ConflictError, in the write's
	// transaction.
	BaseVersion int64
}

// Pause holds a flag's plan: the schedule stops, and people cannot
// advance it or approve a stage until it is resumed (unless they force
// the move). Who paused it, when and why are kept with the plan and shown
// by its status and by every refused advance.
func (s *Service) Pause(ctx context.Context, req PauseRequest) (MoveResult, error) {
	actor := Actor(ctx)
	return s.simpleMove(ctx, req.Flag, "rollout.pause", "paused", req.BaseVersion, func(cur *rollout.Rollout, now time.Time) (rollout.Progress, error) {
		return cur.Pause(actor, now, strings.TrimSpace(req.Reason))
	})
}

// Resume releases a paused plan: people may advance it again and the
// schedule continues from the live stage.
func (s *Service) Resume(ctx context.Context, flag string) (MoveResult, error) {
	return s.ResumeAt(ctx, flag, 0)
}

// ResumeAt is Resume decided at the plan's version base (0: whatever it
// is): if the plan moved since (paused again for another reason, halted
// by a guardrail), the resume is refused with a ConflictError instead of
// releasing what its caller did not see.
func (s *Service) ResumeAt(ctx context.Context, flag string, base int64) (MoveResult, error) {
	return s.simpleMove(ctx, flag, "rollout.resume", "resumed", base, func(cur *rollout.Rollout, _ time.Time) (rollout.Progress, error) {
		return cur.Resume()
	})
}

func (s *Service) simpleMove(ctx context.Context, flag, action, outcome string, base int64, move func(*rollout.Rollout, time.Time) (rollout.Progress, error)) (MoveResult, error) {
	if err := s.planExists(ctx, flag); err != nil {
		return MoveResult{}, err
	}
	var res MoveResult
	moved, err := s.db().MoveRollout(ctx, store.Move{Flag: flag, Action: action, BaseVersion: base,
		Apply: func(cur *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
			w := stageWord(cur)
			res = MoveResult{Flag: flag, Action: strings.TrimPrefix(action, "rollout."), From: w, To: w, Outcome: outcome, Version: cur.Version}
			return move(cur, now)
		}}, Actor(ctx))
	if err != nil {
		return res, err
	}
	return s.written(ctx, res, &moved)
}

// RollbackRequest asks to go back to an earlier stage.
type RollbackRequest struct {
	Flag string
	// To names the stage to go back to: "" the one before the live stage,
	// "none" before the first stage.
	To string
	// Reason says why, kept with the pause the rollback makes; by default
	// "rolled back from stage X by Y".
	Reason string
	// DryRun computes the move and its estimate and writes nothing.
	DryRun bool
	// Confirmed accepts that the rollback takes the variant away from
	// users; without it the rollback is refused with a *ConfirmError.
	Confirmed bool
	// BaseVersion, when not 0, is the plan version the caller decided
	// from.
	BaseVersion int64
}

// rollback computes a rollback on the plan as it is.
func rollback(r *rollout.Rollout, req *RollbackRequest, actor string, now time.Time) (rollout.Progress, MoveResult, error) {
	live := r.Live()
	to, err := resolveStage(r, req.To, live-1, true)
	if err != nil {
		return r.Progress, MoveResult{}, err
	}
	p, err := r.Rollback(to, actor, now, strings.TrimSpace(req.Reason))
	if err != nil {
		return r.Progress, MoveResult{}, err
	}
	name := "none"
	if to >= 0 {
		name = r.Stages[to].Name
	}
	res := MoveResult{Flag: r.Flag, Action: "rollback", From: stageWord(r), To: name, Outcome: "rolled back",
		TakesAway: true, Changes: r.Changes(live, to), Version: r.Version}
	if !req.Confirmed && !req.DryRun {
		return r.Progress, res, &ConfirmError{Move: res,
			Question: fmt.Sprintf("Roll %s back from %s to %s? Users outside that stage lose %q.", r.Flag, stageWord(r), name, r.Variant)}
	}
	return p, res, nil
}

// Rollback goes back to an earlier stage (req.To) and pauses the plan, the
// pause carrying req.Reason. The users that stage had keep the variant;
// everyone else it gave the variant to loses it, so the request must be
// confirmed. With req.DryRun it writes nothing and estimates the listed
// users who lose the variant.
func (s *Service) Rollback(ctx context.Context, req RollbackRequest) (MoveResult, error) {
	actor := Actor(ctx)
	if req.DryRun {
		r, f, err := s.readRollout(ctx, req.Flag)
		if err != nil {
			return MoveResult{}, err
		}
		_, res, err := rollback(&r, &req, actor, s.Now())
		if err != nil {
			return res, err
		}
		to := -1
		if res.To != "none" {
			to = r.StageIndex(res.To)
		}
		return s.dryRun(ctx, &r, &f, res, to)
	}
	if err := s.planExists(ctx, req.Flag); err != nil {
		return MoveResult{}, err
	}
	var res MoveResult
	moved, err := s.db().MoveRollout(ctx, store.Move{Flag: req.Flag, Action: "rollout.rollback", BaseVersion: req.BaseVersion,
		Apply: func(cur *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
			p, r, err := rollback(cur, &req, actor, now)
			res = r
			return p, err
		}}, actor)
	if err != nil {
		return res, err
	}
	return s.written(ctx, res, &moved)
}

// EstimateRequest names a move to estimate.
type EstimateRequest struct {
	Flag string
	// From and To name stages: From "" is the live stage; "none" is
	// before the first stage.
	From, To string
}

// Estimate evaluates every user listed in a cohort, with the region the
// list gives, with the plan at stage From and at stage To, and counts who
// gains and who loses the rollout variant. Users the lists do not know are
// not counted: for a region, the estimate covers only its listed users. It
// reads every member list (seconds for lists of millions): dry runs make
// it, moves do not.
func (s *Service) Estimate(ctx context.Context, req EstimateRequest) (KnownEstimate, error) {
	r, f, err := s.readRollout(ctx, req.Flag)
	if err != nil {
		return KnownEstimate{}, err
	}
	from, err := resolveStage(&r, req.From, r.Live(), true)
	if err != nil {
		return KnownEstimate{}, err
	}
	to, err := resolveStage(&r, req.To, r.Live(), true)
	if err != nil {
		return KnownEstimate{}, err
	}
	est, err := s.estimate(ctx, &r, &f, from, to)
	if err != nil {
		return KnownEstimate{}, err
	}
	return *est, nil
}

// HistoryEvent is one line of a rollout's history.
type HistoryEvent struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Event  string    `json:"event"`
	Detail string    `json:"detail"`
	// Stage is the live stage after the event, for rollout events.
	Stage string `json:"stage,omitempty"`
}

// RolloutHistory returns a plan's history, oldest first: plan changes,
// moves (by people and the schedule), approvals, pauses with their
// reasons, and uses of the flag's kill switch.
func (s *Service) RolloutHistory(ctx context.Context, flag string) ([]HistoryEvent, error) {
	if err := s.planExists(ctx, flag); err != nil {
		return nil, err
	}
	entries, err := s.db().Audit(ctx, store.AuditFilter{Target: flag, Kinds: []string{"flag", "rollout"}})
	if err != nil {
		return nil, err
	}
	return historyOf(entries), nil
}

// ScheduleEvent is what one pass of the schedule did to one plan.
type ScheduleEvent struct {
	Flag  string `json:"flag"`
	Stage string `json:"stage"`
	// Outcome is rollout.Started or rollout.Requested (approval asked for).
	Outcome rollout.Outcome `json:"outcome"`
	At      time.Time       `json:"at"`
}

// TickResult is what one pass of the schedule read and did.
type TickResult struct {
	Events []ScheduleEvent `json:"events"`
	// Rollouts are the plans as the pass read them, updated with its
	// moves; Killed the flags whose kill switch is thrown. For metrics.
	Rollouts []rollout.Rollout `json:"-"`
	Killed   map[string]bool   `json:"-"`
	// RampUps are the experiment ramp-up steps the pass took or the
	// layer refused (experiments_rampup.go).
	RampUps []RampEvent `json:"rampUps,omitempty"`
	// SampleRatios are the sample-ratio checks the pass made, and the
	// pauses they decided (safety_srm.go).
	SampleRatios []SampleRatioEvent `json:"sampleRatios,omitempty"`
	// Guards are the live guarded stages the pass judged, and the halts
	// they decided (safety_halt.go).
	Guards []GuardEvent `json:"guards,omitempty"`
}

// Tick runs one pass of the schedule at the service's time, as the
// scheduler (rollout.Scheduler): first every live guarded stage is judged,
// and a plan whose guardrail regressed is halted (Guards,
// safety_halt.go); then every stage that is due starts, or is
// requested when it needs approval; then every running experiment whose
// ramp-up step is due grows to it (RampUps, experiments_rampup.go); then
// every running experiment whose sample ratio is due for a check is
// checked, and paused when its assignment looks broken (SampleRatios,
// safety_srm.go). Each move checks again, inside its
// transaction, that the stage is due (rollout.Next: not paused, not held,
// not killed, not awaiting approval), so several servers ticking together
// start a stage once. A plan another server moved meanwhile is skipped;
// other failures are joined and returned after the pass, with what it did.
func (s *Service) Tick(ctx context.Context) (TickResult, error) {
	var res TickResult
	now := s.Now()
	// Guardrails first, so that a regressed stage is halted before the
	// schedule could leave it (safety_halt.go).
	guards, guardErr := s.guardPass(ctx, now)
	res.Guards = guards
	rs, fs, err := s.db().RolloutsAndFlags(ctx)
	if err != nil {
		return res, errors.Join(guardErr, err)
	}
	res.Killed = make(map[string]bool, len(fs))
	for _, f := range fs {
		res.Killed[f.Key] = !f.Enabled
	}
	errs := []error{guardErr}
	for i := range rs {
		r := &rs[i]
		if n := r.Next(res.Killed[r.Flag]); n.Stage < 0 || n.Blocked != "" || now.Before(n.Due) {
			continue
		}
		// A guarded stage waits for its minimum sample (safety_guard.go).
		g, err := s.readGuardCounts(ctx, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("rollout %s: %w", r.Flag, err))
			continue
		}
		if r.MayLeave(g.sample(r)) != nil {
			continue
		}
		var outcome rollout.Outcome
		moved, err := s.db().MoveRollout(ctx, store.Move{Flag: r.Flag, Action: "rollout.schedule", BaseVersion: r.Version,
			Apply: func(cur *rollout.Rollout, f *flags.Flag, now time.Time) (rollout.Progress, error) {
				// Check again on the plan as the transaction sees it.
				n := cur.Next(!f.Enabled)
				if n.Stage < 0 || n.Blocked != "" || now.Before(n.Due) || cur.MayLeave(g.sample(cur)) != nil {
					return cur.Progress, store.ErrNoChange
				}
				p, o, err := cur.Advance(n.Stage, rollout.Scheduler, now)
				outcome = o
				return p, err
			}}, rollout.Scheduler)
		switch {
		case err == nil:
			e := ScheduleEvent{Flag: r.Flag, Stage: moved.Progress.Stage, Outcome: outcome, At: moved.UpdatedAt}
			if outcome == rollout.Requested {
				e.Stage = moved.Progress.Pending.Stage
			}
			res.Events = append(res.Events, e)
			*r = moved
		case errors.Is(err, store.ErrNoChange), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
			// Another server (or a person) moved it first, or it is gone.
		default:
			errs = append(errs, fmt.Errorf("rollout %s: %w", r.Flag, err))
		}
	}
	res.Rollouts = rs
	if res.Events == nil {
		res.Events = []ScheduleEvent{}
	}
	res.RampUps, err = s.rampUps(ctx, now) // experiments_rampup.go
	errs = append(errs, err)
	res.SampleRatios, err = s.sampleRatioChecks(ctx, now) // safety_srm.go
	return res, errors.Join(append(errs, err)...)
}

package admin

import (
	"context"
	"errors"
	"slices"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// PlanEditResult is what a plan edit did.
type PlanEditResult struct {
	Flag string `json:"flag"`
	// Action is "created", "updated", "deleted" or "unchanged".
	Action string `json:"action"`
	// Stages are the plan's stage names after the edit.
	Stages []string `json:"stages"`
}

// ErrNoStageLeft refuses removing a plan's only stage: delete the plan
// instead.
var ErrNoStageLeft error = &ramp.Error{Kind: ramp.KindInvalid, Msg: "that would leave the plan no stage: delete the plan instead"}

// AddStageRequest adds a stage to a flag's plan.
type AddStageRequest struct {
	Flag string
	// Variant is the variant the plan rolls out: needed to create the
	// plan (the first stage added); when set on an existing plan it
	// changes the plan's variant.
	Variant string
	Stage   rollout.Stage
	// Before names the stage to insert it before; "" appends it.
	Before string
	// BaseVersion, when not 0, is the plan version the caller decided
	// from: a plan changed since is refused as a conflict (*ConflictError).
	BaseVersion int64
}

// AddStage adds a stage to a flag's plan, creating the plan with the first
// stage (which needs req.Variant). The plan is validated as a whole as
// `ramp apply` validates it, against the flags and cohorts as the write's
// transaction sees them, without reading member lists.
func (s *Service) AddStage(ctx context.Context, req AddStageRequest) (PlanEditResult, error) {
	return s.editPlan(ctx, req.Flag, req.Variant, req.BaseVersion, func(p *rollout.Plan) error {
		if p.StageIndex(req.Stage.Name) >= 0 {
			return &StageError{Flag: p.Flag, Stage: req.Stage.Name, Exists: true}
		}
		at := len(p.Stages)
		if req.Before != "" {
			if at = p.StageIndex(req.Before); at < 0 {
				return &StageError{Flag: p.Flag, Stage: req.Before, Stages: p.StageNames()}
			}
		}
		p.Stages = slices.Insert(p.Stages, at, req.Stage)
		return nil
	})
}

// Stage fields EditStageRequest.Fields names.
const (
	FieldPercent  = "percent"
	FieldCohorts  = "cohorts"
	FieldRegions  = "regions"
	FieldWhen     = "when"
	FieldAfter    = "after"
	FieldAt       = "at"
	FieldApproval = "approval"
	FieldHalt     = "halt"
	FieldDecrease = "decrease"
	FieldReplace  = "replace"
)

// EditStageRequest changes fields of one stage of a flag's plan.
type EditStageRequest struct {
	Flag, Stage string
	// Set holds the new values of the fields Fields names (FieldPercent…);
	// the stage's other fields keep their values. Its Name is ignored.
	Set    rollout.Stage
	Fields []string
	// BaseVersion, when not 0, is the plan version the caller decided
	// from: a plan changed since is refused as a conflict (*ConflictError).
	BaseVersion int64
}

// EditStage changes the fields req.Fields names of one stage; the plan is
// validated as a whole. Editing the live stage changes who gets the
// variant at once.
func (s *Service) EditStage(ctx context.Context, req EditStageRequest) (PlanEditResult, error) {
	return s.editPlan(ctx, req.Flag, "", req.BaseVersion, func(p *rollout.Plan) error {
		i := p.StageIndex(req.Stage)
		if i < 0 {
			return &StageError{Flag: p.Flag, Stage: req.Stage, Stages: p.StageNames()}
		}
		st, set := &p.Stages[i], &req.Set
		for _, f := range req.Fields {
			switch f {
			case FieldPercent:
				st.Percent = set.Percent
			case FieldCohorts:
				st.Cohorts = set.Cohorts
			case FieldRegions:
				st.Regions = set.Regions
			case FieldWhen:
				st.When = set.When
			case FieldAfter:
				st.After = set.After
			case FieldAt:
				st.At = set.At
			case FieldApproval:
				st.Approval = set.Approval
			case FieldHalt:
				st.Halt = set.Halt
			case FieldDecrease:
				st.Decrease = set.Decrease
			case FieldReplace:
				st.Replace = set.Replace
			default:
				return ramp.Errorf(ramp.KindInvalid, "unknown stage field %q", f)
			}
		}
		return nil
	})
}

// RemoveStageRequest removes a stage from a flag's plan.
type RemoveStageRequest struct {
	Flag, Stage string
	// BaseVersion, when not 0, is the plan version the caller decided
	// from: a plan changed since is refused as a conflict (*ConflictError).
	BaseVersion int64
}

// RemoveStage removes a stage that is not live from a flag's plan.
func (s *Service) RemoveStage(ctx context.Context, req RemoveStageRequest) (PlanEditResult, error) {
	return s.editPlan(ctx, req.Flag, "", req.BaseVersion, func(p *rollout.Plan) error {
		i := p.StageIndex(req.Stage)
		if i < 0 {
			return &StageError{Flag: p.Flag, Stage: req.Stage, Stages: p.StageNames()}
		}
		if len(p.Stages) == 1 {
			return ErrNoStageLeft
		}
		p.Stages = slices.Delete(p.Stages, i, i+1)
		return nil
	})
}

// DeleteRollout deletes a flag's plan: users the live stage gave the
// variant to lose it unless the flag's own rules give it to them.
// baseVersion, when not 0, is the plan version the caller showed when
// asking for confirmation; a plan changed since is not deleted.
func (s *Service) DeleteRollout(ctx context.Context, flag string, baseVersion int64) (PlanEditResult, error) {
	_, err := s.db().EditRollout(ctx, store.PlanEdit{Flag: flag, BaseVersion: baseVersion,
		Edit: func(cur *rollout.Rollout, st *flags.State) (*rollout.Plan, error) {
			if cur == nil {
				return nil, noPlanIn(st, flag)
			}
			return nil, nil
		}}, Actor(ctx))
	if err != nil {
		return PlanEditResult{}, err
	}
	return PlanEditResult{Flag: flag, Action: "deleted", Stages: []string{}}, nil
}

// noPlanIn is the error for a flag without a plan, in st.
func noPlanIn(st *flags.State, flag string) error {
	if _, ok := st.Flag(flag); !ok {
		return &store.NotFoundError{Kind: "flag", Key: flag}
	}
	return &NoPlanError{Flag: flag}
}

// editPlan changes a flag's plan (creating it when variant is given and
// there is none) inside one write transaction: the plan as stored, edited,
// validated against the flags and cohorts as stored (without members), the
// live stage kept, written.
func (s *Service) editPlan(ctx context.Context, flag, variant string, base int64, edit func(p *rollout.Plan) error) (PlanEditResult, error) {
	var plan rollout.Plan
	ch, err := s.db().EditRollout(ctx, store.PlanEdit{Flag: flag, BaseVersion: base,
		Edit: func(cur *rollout.Rollout, st *flags.State) (*rollout.Plan, error) {
			if _, ok := st.Flag(flag); !ok {
				return nil, &store.NotFoundError{Kind: "flag", Key: flag}
			}
			plan = rollout.Plan{Flag: flag, Variant: variant}
			switch {
			case cur != nil:
				plan = cur.Plan
				plan.Stages = slices.Clone(cur.Stages)
				if variant != "" {
					plan.Variant = variant
				}
			case variant == "":
				return nil, &NoPlanError{Flag: flag}
			}
			if err := edit(&plan); err != nil {
				return nil, err
			}
			if err := rollout.Validate([]rollout.Plan{plan}, st); err != nil {
				return nil, err
			}
			return &plan, nil
		}}, Actor(ctx))
	res := PlanEditResult{Flag: flag, Stages: plan.StageNames()}
	switch {
	case errors.Is(err, store.ErrNoChange):
		res.Action = "unchanged"
		return res, nil
	case err != nil:
		return PlanEditResult{}, err
	case ch.Action == flags.Create:
		res.Action = "created"
	default:
		res.Action = "updated"
	}
	return res, nil
}

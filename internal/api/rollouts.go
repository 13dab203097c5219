package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

func (h *Handler) rolloutList(w http.ResponseWriter, r *http.Request) error {
	sts, err := h.a.RolloutStatuses(r.Context())
	if err != nil {
		return err
	}
	return reply(w, nonNil(sts))
}

func (h *Handler) rolloutGet(w http.ResponseWriter, r *http.Request) error {
	ro, err := h.a.RolloutGet(r.Context(), r.PathValue("flag"))
	if err != nil {
		return err
	}
	return h.replyObject(w, r, ro, ro.Version)
}

func (h *Handler) rolloutStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := h.a.RolloutStatus(r.Context(), r.PathValue("flag"))
	if err != nil {
		return err
	}
	return h.replyObject(w, r, st, st.Version)
}

func (h *Handler) rolloutHistory(w http.ResponseWriter, r *http.Request) error {
	hs, err := h.a.RolloutHistory(r.Context(), r.PathValue("flag"))
	if err != nil {
		return err
	}
	return reply(w, nonNil(hs))
}

// rolloutExplain says which stage admitted a context, deciding the flag
// as Evaluate does.
func (h *Handler) rolloutExplain(w http.ResponseWriter, r *http.Request) error {
	var body ContextBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	flag, ctx := r.PathValue("flag"), nonNilMap(body.Context)
	d, err := h.a.Evaluate(r.Context(), flag, ctx)
	if err != nil {
		return err
	}
	ex, err := h.a.ExplainRollout(r.Context(), flag, ctx, &d)
	if err != nil {
		return err
	}
	return reply(w, ex)
}

func (h *Handler) rolloutEstimate(w http.ResponseWriter, r *http.Request) error {
	var body EstimateBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	est, err := h.a.Estimate(r.Context(), admin.EstimateRequest{Flag: r.PathValue("flag"), From: body.From, To: body.To})
	if err != nil {
		return err
	}
	return reply(w, est)
}

// replyMove answers a move with the plan's ETag after it.
func (h *Handler) replyMove(w http.ResponseWriter, r *http.Request, res admin.MoveResult) error {
	var v int64
	if res.Status != nil {
		v = res.Status.Version
	}
	return h.replyObject(w, r, res, v)
}

// rolloutAdvance starts a later stage. It depends on where the plan
// stands, so it needs If-Match (a dry run does not).
func (h *Handler) rolloutAdvance(w http.ResponseWriter, r *http.Request) error {
	var body AdvanceBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	req := admin.AdvanceRequest{Flag: r.PathValue("flag"), To: body.To, DryRun: body.DryRun, Force: body.Force, Confirmed: body.Confirmed}
	if !body.DryRun {
		if err := need(r.Context(), auth.Write); err != nil {
			return err
		}
		var err error
		if req.BaseVersion, err = h.basis(r, true); err != nil {
			return err
		}
	}
	res, err := h.a.Advance(r.Context(), req)
	if err != nil {
		return err
	}
	return h.replyMove(w, r, res)
}

// rolloutApprove approves the stage awaiting approval. The principal
// approving must not be the one who asked (admin and rollout refuse it
// whatever the path); approving takes the approve capability.
func (h *Handler) rolloutApprove(w http.ResponseWriter, r *http.Request) error {
	var body ApproveBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	if body.Stage == "" {
		return ramp.Errorf(ramp.KindInvalid, "approve: name the stage awaiting approval (\"stage\")")
	}
	res, err := h.a.Approve(r.Context(), admin.ApproveRequest{Flag: r.PathValue("flag"), Stage: body.Stage, Force: body.Force})
	if err != nil {
		return err
	}
	return h.replyMove(w, r, res)
}

func (h *Handler) rolloutPause(w http.ResponseWriter, r *http.Request) error {
	var body PauseBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	res, err := h.a.Pause(r.Context(), admin.PauseRequest{Flag: r.PathValue("flag"), Reason: body.Reason})
	if err != nil {
		return err
	}
	return h.replyMove(w, r, res)
}

// rolloutResume takes If-Match when given: the plan must still be at that
// version.
func (h *Handler) rolloutResume(w http.ResponseWriter, r *http.Request) error {
	if err := h.decode(r, &struct{}{}); err != nil {
		return err
	}
	base, err := h.basis(r, false)
	if err != nil {
		return err
	}
	res, err := h.a.ResumeAt(r.Context(), r.PathValue("flag"), base)
	if err != nil {
		return err
	}
	return h.replyMove(w, r, res)
}

// rolloutRollback goes back to an earlier stage; like advance it needs
// If-Match unless it is a dry run.
func (h *Handler) rolloutRollback(w http.ResponseWriter, r *http.Request) error {
	var body RollbackBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	req := admin.RollbackRequest{Flag: r.PathValue("flag"), To: body.To, Reason: body.Reason, DryRun: body.DryRun, Confirmed: body.Confirmed}
	if !body.DryRun {
		if err := need(r.Context(), auth.Write); err != nil {
			return err
		}
		var err error
		if req.BaseVersion, err = h.basis(r, true); err != nil {
			return err
		}
	}
	res, err := h.a.Rollback(r.Context(), req)
	if err != nil {
		return err
	}
	return h.replyMove(w, r, res)
}

func (h *Handler) rolloutTick(w http.ResponseWriter, r *http.Request) error {
	if err := h.decode(r, &struct{}{}); err != nil {
		return err
	}
	res, err := h.a.Tick(r.Context())
	if err != nil {
		return err
	}
	if res.Events == nil {
		res.Events = []admin.ScheduleEvent{}
	}
	return reply(w, res)
}

// planBasis reads the version a plan edit is based on: If-Match, or for
// creating a plan If-None-Match: * (refused with 412 if a plan exists).
func (h *Handler) planBasis(r *http.Request, flag string) (int64, error) {
	if r.Header.Get("If-Match") == "" && r.Header.Get("If-None-Match") == "*" {
		ro, err := h.a.RolloutGet(r.Context(), flag)
		switch {
		case err == nil:
			return 0, &httpError{status: http.StatusPreconditionFailed, kind: ramp.KindConflict,
				msg: fmt.Sprintf("rollout %q was created meanwhile (version %d, by %s); re-read and retry", flag, ro.Version, ro.UpdatedBy)}
		case !errors.Is(err, ramp.ErrNotFound):
			return 0, err
		}
		return 0, nil
	}
	return h.basis(r, true)
}

// replyPlanEdit answers a plan edit with the plan's new ETag.
func (h *Handler) replyPlanEdit(w http.ResponseWriter, r *http.Request, res admin.PlanEditResult) error {
	var v int64
	if res.Action != "deleted" {
		if ro, err := h.a.RolloutGet(r.Context(), res.Flag); err == nil {
			v = ro.Version
		}
	}
	if res.Stages == nil {
		res.Stages = []string{}
	}
	return h.replyObject(w, r, res, v)
}

func (h *Handler) stageAdd(w http.ResponseWriter, r *http.Request) error {
	var body AddStageBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	flag := r.PathValue("flag")
	base, err := h.planBasis(r, flag)
	if err != nil {
		return err
	}
	res, err := h.a.AddStage(r.Context(), admin.AddStageRequest{Flag: flag, Variant: body.Variant, Stage: body.Stage, Before: body.Before, BaseVersion: base})
	if err != nil {
		return err
	}
	return h.replyPlanEdit(w, r, res)
}

func (h *Handler) stageEdit(w http.ResponseWriter, r *http.Request) error {
	var body EditStageBody
	if err := h.decode(r, &body); err != nil {
		return err
	}
	base, err := h.basis(r, true)
	if err != nil {
		return err
	}
	res, err := h.a.EditStage(r.Context(), admin.EditStageRequest{Flag: r.PathValue("flag"), Stage: r.PathValue("stage"),
		Set: body.Set, Fields: body.Fields, BaseVersion: base})
	if err != nil {
		return err
	}
	return h.replyPlanEdit(w, r, res)
}

func (h *Handler) stageRemove(w http.ResponseWriter, r *http.Request) error {
	base, err := h.basis(r, true)
	if err != nil {
		return err
	}
	res, err := h.a.RemoveStage(r.Context(), admin.RemoveStageRequest{Flag: r.PathValue("flag"), Stage: r.PathValue("stage"), BaseVersion: base})
	if err != nil {
		return err
	}
	return h.replyPlanEdit(w, r, res)
}

func (h *Handler) rolloutDelete(w http.ResponseWriter, r *http.Request) error {
	base, err := h.basis(r, true)
	if err != nil {
		return err
	}
	res, err := h.a.DeleteRollout(r.Context(), r.PathValue("flag"), base)
	if err != nil {
		return err
	}
	return h.replyPlanEdit(w, r, res)
}

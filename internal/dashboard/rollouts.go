package dashboard

import (
	"net/http"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/rollout"
)

// stageView is one stage of a plan's timeline.
type stageView struct {
	N     int
	Stage rollout.Stage
	// State is "done", "live", "next" or "later".
	State string
	// For the next stage: when the schedule may start it, or what holds
	// it (an approval, a hold point, a pause, a guardrail, the kill
	// switch, no schedule).
	Due     time.Time
	Blocked string
	// Pending says the stage awaits approval: who asked and when.
	Pending *rollout.Request
	// Holds are what the stage itself declares: approval, hold point,
	// guardrails, a schedule.
	Holds []string
}

// timeline is a plan as the Rollouts pages draw it.
type timeline struct {
	admin.RolloutStatus
	Stages []stageView
}

// timelineOf lays a plan's stages out as done, live, next and later.
func timelineOf(st admin.RolloutStatus) timeline {
	t := timeline{RolloutStatus: st}
	live := st.Position - 1
	for i, s := range st.Plan {
		v := stageView{N: i + 1, Stage: s, State: "later"}
		switch {
		case i < live:
			v.State = "done"
		case i == live:
			v.State = "live"
		case i == st.Next.Stage:
			v.State, v.Due, v.Blocked = "next", st.Next.Due, st.Next.Blocked
		}
		if st.Pending != nil && st.Pending.Stage == s.Name {
			v.Pending = st.Pending
		}
		if s.Approval {
			v.Holds = append(v.Holds, "needs approval")
		}
		if s.Halt {
			v.Holds = append(v.Holds, "hold point")
		}
		if s.After != 0 {
			v.Holds = append(v.Holds, "starts "+s.After.String()+" after the previous stage")
		}
		if s.At != nil {
			v.Holds = append(v.Holds, "not before "+when(*s.At))
		}
		for _, g := range s.Guardrails {
			v.Holds = append(v.Holds, "guardrail "+g.String())
		}
		t.Stages = append(t.Stages, v)
	}
	return t
}

// rolloutsPage shows every plan as a timeline.
func (d *Dashboard) rolloutsPage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	sts, err := d.opt.Admin.RolloutStatuses(r.Context())
	if err != nil {
		return err
	}
	ts := make([]timeline, len(sts))
	for i := range sts {
		ts[i] = timelineOf(sts[i])
	}
	return d.render(w, http.StatusOK, "rollouts", view{Title: "Rollouts", Nav: "rollouts", Who: &p, Data: ts})
}

// rolloutView is one plan's page.
type rolloutView struct {
	timeline
	// Reach is the listed users the live stage gives the variant to that
	// the plan not started would not: Gain of Listed.
	Reach   *admin.KnownEstimate
	History []admin.HistoryEvent
	Done    string
	// May* say which actions the plan's state allows (the buttons the
	// principal's role allows are decided by the template).
	CanAdvance, CanRollback, CanApprove bool
}

// rolloutPage shows a plan's timeline, the live stage's audience and the
// share of known users it reaches, its history, and the actions.
func (d *Dashboard) rolloutPage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx := r.Context()
	flag := r.PathValue("flag")
	st, err := d.opt.Admin.RolloutStatus(ctx, flag)
	if err != nil {
		return err
	}
	v := rolloutView{timeline: timelineOf(st), Done: doneMessage(r)}
	if st.Position > 0 {
		est, err := d.opt.Admin.Estimate(ctx, admin.EstimateRequest{Flag: flag, From: "none", To: st.Stage})
		if err != nil {
			return err
		}
		v.Reach = &est
	}
	if v.History, err = d.opt.Admin.RolloutHistory(ctx, flag); err != nil {
		return err
	}
	// Newest first: what happened last night is what people look for.
	for i, j := 0, len(v.History)-1; i < j; i, j = i+1, j-1 {
		v.History[i], v.History[j] = v.History[j], v.History[i]
	}
	v.CanAdvance = st.Next.Stage >= 0 && st.Pending == nil
	v.CanRollback = st.Position > 0
	v.CanApprove = st.Pending != nil
	return d.render(w, http.StatusOK, "rollout", view{Title: "Rollout of " + flag, Nav: "rollouts", Who: &p, Data: v})
}

package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/rollout"
)

// The actions: each has a confirmation page (GET) that shows the dry run of
// the move, and a POST that carries the version the confirmation showed.
// The POST goes through the control plane with the principal as actor, so
// every rule (approval by another person, the kill switch holding the
// schedule, a paused plan) is the one the CLI and the admin API obey.

// moveKind is a rollout action.
type moveKind struct {
	Name  string // the path segment: advance, pause, resume, rollback, approve
	Title string // the button's and heading's words
	perm  auth.Permission
}

// moves are the rollout actions and who may take them.
var moves = []moveKind{
	{Name: "advance", Title: "Advance", perm: auth.Write},
	{Name: "pause", Title: "Pause", perm: auth.Write},
	{Name: "resume", Title: "Resume", perm: auth.Write},
	{Name: "rollback", Title: "Roll back", perm: auth.Write},
	{Name: "approve", Title: "Approve", perm: auth.ApproveStage},
}

// confirmView is a move's confirmation page.
type confirmView struct {
	Move   moveKind
	Status admin.RolloutStatus
	// Summary says in one sentence what the move will do; Details more.
	Summary string
	Details []string
	// Changes are the targets whose share changes, Known the listed
	// users who gain or lose the variant (the dry run's estimate).
	Changes []rollout.Step
	Known   *admin.KnownEstimate
	// Refused says why the move cannot be made now; the page then has no
	// button.
	Refused string
	// Reason asks for a reason (pause, roll back); ReasonRequired for a
	// pause.
	Reason, ReasonRequired bool
	Stage                  string
	Version                int64
	// Choices are the stages the move may go to instead (advance: any
	// later stage; roll back: any earlier one, or none), to compute
	// another dry run.
	Choices []string
}

// moveConfirm renders the confirmation of a move: the dry run of exactly
// what it will change.
func (d *Dashboard) moveConfirm(m moveKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		ctx := r.Context()
		flag := r.PathValue("flag")
		ro, err := d.opt.Admin.RolloutGet(ctx, flag)
		if err != nil {
			return err
		}
		st, err := d.opt.Admin.RolloutStatus(ctx, flag)
		if err != nil {
			return err
		}
		v := confirmView{Move: m, Status: st, Version: ro.Version}
		to := r.URL.Query().Get("to")
		live := ro.Live()
		refuse := func(err error) error {
			if k := ramp.KindOf(err); k == ramp.KindRefused || k == ramp.KindInvalid || k == ramp.KindNotFound || errors.Is(err, rollout.ErrMove) {
				v.Refused = err.Error()
				return nil
			}
			return err
		}
		switch m.Name {
		case "advance":
			for i := live + 1; i < len(ro.Stages); i++ {
				v.Choices = append(v.Choices, ro.Stages[i].Name)
			}
			res, err := d.opt.Admin.Advance(ctx, admin.AdvanceRequest{Flag: flag, DryRun: true, To: to})
			if err != nil {
				if err := refuse(err); err != nil {
					return err
				}
				break
			}
			v.Changes, v.Known, v.Stage = res.Changes, res.Known, res.To
			v.Summary = fmt.Sprintf("Start stage %s of %s (now at %s).", res.To, flag, res.From)
			if i := ro.StageIndex(res.To); i >= 0 && ro.Stages[i].Approval {
				v.Summary = fmt.Sprintf("Ask for stage %s of %s: it needs a second person's approval, and starts only when they approve.", res.To, flag)
			}
			if res.TakesAway {
				v.Details = append(v.Details, fmt.Sprintf("This stage takes %q away from some users.", ro.Variant))
			}
		case "rollback":
			for i := live - 1; i >= 0; i-- {
				v.Choices = append(v.Choices, ro.Stages[i].Name)
			}
			if live >= 0 {
				v.Choices = append(v.Choices, "none")
			}
			res, err := d.opt.Admin.Rollback(ctx, admin.RollbackRequest{Flag: flag, DryRun: true, To: to})
			if err != nil {
				if err := refuse(err); err != nil {
					return err
				}
				break
			}
			v.Changes, v.Known, v.Stage, v.Reason = res.Changes, res.Known, res.To, true
			v.Summary = fmt.Sprintf("Roll %s back from %s to %s and pause the plan. Users outside that stage lose %q.", flag, res.From, res.To, ro.Variant)
		case "pause":
			if st.Paused {
				v.Refused = fmt.Sprintf("rollout %s is already paused", flag)
				break
			}
			v.Reason, v.ReasonRequired = true, true
			v.Summary = fmt.Sprintf("Pause the rollout of %s at %s: the schedule stops, and nobody can advance it or approve a stage until it is resumed. Nobody's variant changes.", flag, stageName(st.Stage))
		case "resume":
			if !st.Paused {
				v.Refused = fmt.Sprintf("rollout %s is not paused", flag)
				break
			}
			v.Summary = fmt.Sprintf("Resume the rollout of %s at %s: people may advance it again and the schedule continues. Nobody's variant changes now.", flag, stageName(st.Stage))
			resumed := ro
			resumed.Progress.Paused = false
			if n := resumed.Next(st.Killed); n.Stage >= 0 {
				switch {
				case !n.Due.IsZero():
					v.Details = append(v.Details, fmt.Sprintf("The schedule may then start %s from %s.", n.Name, when(n.Due)))
				case n.Blocked != "":
					v.Details = append(v.Details, fmt.Sprintf("The next stage, %s, is then still held: %s.", n.Name, n.Blocked))
				}
			}
			if st.Pause != nil && st.Pause.Reason != "" {
				v.Details = append(v.Details, fmt.Sprintf("It was paused by %s: %s", st.Pause.By, st.Pause.Reason))
			}
		case "approve":
			if st.Pending == nil {
				v.Refused = fmt.Sprintf("no stage of %s awaits approval", flag)
				break
			}
			v.Stage = st.Pending.Stage
			if st.Pending.By == p.Name {
				v.Refused = fmt.Sprintf("you asked for stage %s: another person must approve it", v.Stage)
				break
			}
			to := ro.StageIndex(v.Stage)
			v.Changes = ro.Changes(ro.Live(), to)
			est, err := d.opt.Admin.Estimate(ctx, admin.EstimateRequest{Flag: flag, To: v.Stage})
			if err != nil {
				return err
			}
			v.Known = &est
			v.Summary = fmt.Sprintf("Approve stage %s of %s, which %s asked for %s, and start it now.", v.Stage, flag, st.Pending.By, ago(st.Pending.At))
		}
		if st.Killed && v.Refused == "" && (m.Name == "advance" || m.Name == "approve") {
			v.Details = append(v.Details, "The flag's kill switch is thrown: every context gets the default variant until it is enabled.")
		}
		status := http.StatusOK
		if v.Refused != "" {
			status = http.StatusConflict
		}
		return d.render(w, status, "confirm", view{Title: m.Title + " " + flag, Nav: "rollouts", Who: &p, Data: v})
	}
}

func stageName(s string) string {
	if s == "" {
		return "not started"
	}
	return s
}

// formVersion reads the version a confirmation page posted.
func formVersion(r *http.Request) (int64, error) {
	v, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if err != nil || v <= 0 {
		return 0, &ramp.Error{Kind: ramp.KindInvalid, Msg: "the form lacks the version it was confirmed at: confirm from the dashboard's page"}
	}
	return v, nil
}

// changedMeanwhile refuses an action confirmed at another version.
func changedMeanwhile(what string, confirmed, now int64) error {
	return &ramp.Error{Kind: ramp.KindConflict, Msg: fmt.Sprintf("%s is at version %d, the confirmation showed version %d", what, now, confirmed)}
}

// move makes a rollout move from its confirmation page's form.
func (d *Dashboard) move(m moveKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		ctx := r.Context()
		flag := r.PathValue("flag")
		if err := r.ParseForm(); err != nil {
			return &ramp.Error{Kind: ramp.KindInvalid, Msg: "unreadable form", Err: err}
		}
		version, err := formVersion(r)
		if err != nil {
			return err
		}
		reason := strings.TrimSpace(r.PostForm.Get("reason"))
		done := m.Name
		switch m.Name {
		case "advance":
			res, err := d.opt.Admin.Advance(ctx, admin.AdvanceRequest{Flag: flag, BaseVersion: version, Confirmed: true,
				To: r.PostForm.Get("stage")})
			if err != nil {
				return err
			}
			if res.Outcome == string(rollout.Requested) {
				done = "request"
			}
		case "rollback":
			if _, err := d.opt.Admin.Rollback(ctx, admin.RollbackRequest{Flag: flag, BaseVersion: version, Confirmed: true,
				To: r.PostForm.Get("stage"), Reason: reason}); err != nil {
				return err
			}
		case "pause":
			if reason == "" {
				return &ramp.Error{Kind: ramp.KindInvalid, Msg: "say why you pause the rollout: the reason is shown to whoever wants to move it next"}
			}
			if _, err := d.opt.Admin.Pause(ctx, admin.PauseRequest{Flag: flag, Reason: reason, BaseVersion: version}); err != nil {
				return err
			}
		case "resume":
			if _, err := d.opt.Admin.ResumeAt(ctx, flag, version); err != nil {
				return err
			}
		case "approve":
			if _, err := d.opt.Admin.Approve(ctx, admin.ApproveRequest{Flag: flag, Stage: r.PostForm.Get("stage"), BaseVersion: version}); err != nil {
				return err
			}
		}
		d.log.Info("rollout move", "action", m.Name, "flag", flag, "by", p.Name)
		http.Redirect(w, r, "/rollouts/"+url.PathEscape(flag)+"?done="+done, http.StatusSeeOther)
		return nil
	}
}

// killView is the kill switch's confirmation page.
type killView struct {
	admin.FlagInfo
	// Off says the confirmation throws the switch (disables the flag);
	// otherwise it enables the flag again.
	Off     bool
	Status  *admin.RolloutStatus
	Running []string
	Refused string
}

// killSwitchConfirm says what throwing (or releasing) the kill switch
// changes: every context gets the default variant, the plan's schedule
// stops, running experiments stop serving their arms.
func (d *Dashboard) killSwitchConfirm(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	info, err := d.opt.Admin.Flag(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	v := killView{FlagInfo: info, Off: r.URL.Query().Get("to") != "on"}
	if info.Rollout != nil {
		st := admin.StatusOf(info.Rollout, &info.Flag)
		v.Status = &st
	}
	for _, x := range info.Experiments {
		if x.Status == "running" {
			v.Running = append(v.Running, x.Key)
		}
	}
	switch {
	case v.Off && !info.Flag.Enabled:
		v.Refused = fmt.Sprintf("flag %s is already disabled", info.Flag.Key)
	case !v.Off && info.Flag.Enabled:
		v.Refused = fmt.Sprintf("flag %s is already enabled", info.Flag.Key)
	}
	status := http.StatusOK
	if v.Refused != "" {
		status = http.StatusConflict
	}
	return d.render(w, status, "kill", view{Title: "Kill switch of " + info.Flag.Key, Nav: "flags", Who: &p, Data: v})
}

// killSwitch throws or releases the kill switch at the version confirmed.
func (d *Dashboard) killSwitch(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ctx := r.Context()
	key := r.PathValue("key")
	if err := r.ParseForm(); err != nil {
		return &ramp.Error{Kind: ramp.KindInvalid, Msg: "unreadable form", Err: err}
	}
	version, err := formVersion(r)
	if err != nil {
		return err
	}
	off := r.PostForm.Get("to") != "on"
	info, err := d.opt.Admin.Flag(ctx, key)
	if err != nil {
		return err
	}
	if info.Flag.Version != version {
		return changedMeanwhile("flag "+key, version, info.Flag.Version)
	}
	if _, err := d.opt.Admin.SetEnabled(ctx, key, !off); err != nil {
		return err
	}
	done := "kill"
	if !off {
		done = "enable"
	}
	d.log.Info("kill switch", "flag", key, "enabled", !off, "by", p.Name)
	http.Redirect(w, r, "/flags/"+url.PathEscape(key)+"?done="+done, http.StatusSeeOther)
	return nil
}

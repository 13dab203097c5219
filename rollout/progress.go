package rollout

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scheduler is the actor the schedule acts as, in progress and the audit
// log.
const Scheduler = "ramp-scheduler"

// Progress is where a plan stands.
type Progress struct {
	// Stage is the live stage's name; empty before the first stage.
	Stage string `json:"stage,omitempty"`
	// Since is when the live stage began, By who started it (Scheduler for
	// the schedule) and ApprovedBy who approved it, when it needed approval.
	Since      time.Time `json:"since,omitzero"`
	By         string    `json:"by,omitempty"`
	ApprovedBy string    `json:"approvedBy,omitempty"`
	// Paused holds the plan: the schedule does not move it, and people
	// cannot advance it (or approve a stage) until it is resumed, unless
	// they force the move. A rollback pauses the plan too. PausedBy,
	// PausedAt and PauseReason say who paused it, when and why; they are
	// empty for plans paused before ramp recorded them.
	Paused      bool      `json:"paused,omitempty"`
	PausedBy    string    `json:"pausedBy,omitempty"`
	PausedAt    time.Time `json:"pausedAt,omitzero"`
	PauseReason string    `json:"pauseReason,omitempty"`
	// Pending is a stage waiting for approval, if any.
	Pending *Request `json:"pending,omitempty"`
	// Halted is the controller's last halt of the plan for a guardrail
	// regression (Halt), kept after a person resumes it: the controller
	// does not halt the same stage again until it is left and reached
	// again (Judged).
	Halted *Halt `json:"halted,omitempty"`
}

// Request is a stage someone (or the schedule) asked to start that needs
// another person's approval.
type Request struct {
	Stage string    `json:"stage"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// Rollout is a plan with its progress, as stored.
type Rollout struct {
	Plan
	Progress Progress `json:"progress"`
	// Version counts the changes to the plan and its progress; the store
	// refuses a change computed from an older version.
	Version   int64     `json:"version"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Live returns the index of the live stage, or -1 before the first stage
// (or if the live stage's name is no longer in the plan).
func (r *Rollout) Live() int {
	if r.Progress.Stage == "" {
		return -1
	}
	return r.StageIndex(r.Progress.Stage)
}

// ErrMove is matched by errors about a move the plan's state does not
// allow (advancing past the last stage, approving one's own request…).
var ErrMove = errors.New("not possible in the rollout's current state")

// moveError is a refused move; it matches ErrMove.
type moveError struct{ msg string }

func (e *moveError) Error() string        { return e.msg }
func (e *moveError) Is(target error) bool { return target == ErrMove }

func refuse(format string, args ...any) error { return &moveError{fmt.Sprintf(format, args...)} }

// Outcome says what a move did.
type Outcome string

// The outcomes of Advance and Approve.
const (
	// Started: the target stage is live.
	Started Outcome = "started"
	// Requested: the target stage needs approval; a request now waits for
	// someone other than the requester.
	Requested Outcome = "requested"
)

// resolve finds a stage by name for a move.
func (r *Rollout) resolve(name string) (int, error) {
	i := r.StageIndex(name)
	if i < 0 {
		return -1, refuse("rollout %s has no stage %q (stages: %s)", r.Flag, name, strings.Join(r.StageNames(), ", "))
	}
	return i, nil
}

// Advance moves the plan forward to stage to (an index after the live one)
// on actor's behalf and returns the new progress. When that stage, or one it
// skips, needs approval, the move becomes a request (Outcome Requested) and
// the live stage stays. Advance checks the stages only: people's moves
// check MayAdvance first, the schedule's Next.
func (r *Rollout) Advance(to int, actor string, now time.Time) (Progress, Outcome, error) {
	live := r.Live()
	switch {
	case to >= len(r.Stages) && live == len(r.Stages)-1:
		return r.Progress, "", refuse("rollout %s is at its last stage, %s", r.Flag, r.Progress.Stage)
	case to >= len(r.Stages) || to < 0:
		return r.Progress, "", refuse("rollout %s has no stage %d", r.Flag, to)
	case to <= live:
		return r.Progress, "", refuse("stage %s is not after the live stage %s: use rollback to go back", r.Stages[to].Name, r.Progress.Stage)
	}
	p := r.Progress
	for i := live + 1; i <= to; i++ {
		if !r.Stages[i].Approval {
			continue
		}
		target := r.Stages[to].Name
		if p.Pending != nil && p.Pending.Stage == target {
			return r.Progress, "", refuse("stage %s already awaits approval, asked by %s at %s: someone else runs ramp rollout approve %s %s",
				target, p.Pending.By, p.Pending.At.UTC().Format(time.RFC3339), r.Flag, target)
		}
		p.Pending = &Request{Stage: target, By: actor, At: now}
		return p, Requested, nil
	}
	p.Stage, p.Since, p.By, p.ApprovedBy, p.Pending = r.Stages[to].Name, now, actor, "", nil
	return p, Started, nil
}

// Approve approves the pending request for stage, on actor's behalf, and
// starts it. The approver must not be the requester.
func (r *Rollout) Approve(stage, actor string, now time.Time) (Progress, error) {
	if _, err := r.resolve(stage); err != nil {
		return r.Progress, err
	}
	p := r.Progress
	switch {
	case p.Pending == nil:
		return p, refuse("rollout %s has no stage awaiting approval: ramp rollout advance %s --to %s asks for it", r.Flag, r.Flag, stage)
	case p.Pending.Stage != stage:
		return p, refuse("stage %s is not the one awaiting approval (%s is, asked by %s)", stage, p.Pending.Stage, p.Pending.By)
	case p.Pending.By == actor:
		return p, refuse("%s asked for stage %s and cannot approve it too: approval must come from someone else", actor, stage)
	}
	if i := r.StageIndex(stage); i <= r.Live() {
		return p, refuse("stage %s is no longer ahead of the live stage %s (the rollout moved since it was asked for)", stage, p.Stage)
	}
	p.Stage, p.Since, p.By, p.ApprovedBy, p.Pending = stage, now, p.Pending.By, actor, nil
	return p, nil
}

// Rollback moves the plan back to stage to (an index before the live one,
// or -1 for before the first stage) and pauses it, so that nobody (the
// schedule included) advances it again before someone resumes it. The
// pause carries reason, or "rolled back from stage X by Y" when it is
// empty. A pending request is dropped.
func (r *Rollout) Rollback(to int, actor string, now time.Time, reason string) (Progress, error) {
	live := r.Live()
	if live < 0 {
		return r.Progress, refuse("rollout %s has not started: nothing to roll back", r.Flag)
	}
	if to >= live {
		return r.Progress, refuse("stage %s is not before the live stage %s: use advance to go forward", r.Stages[to].Name, r.Progress.Stage)
	}
	if reason == "" {
		reason = fmt.Sprintf("rolled back from stage %s by %s", r.Progress.Stage, actor)
	}
	p := r.Progress
	p.Stage, p.Since, p.By, p.ApprovedBy, p.Pending = "", now, actor, "", nil
	p.Paused, p.PausedBy, p.PausedAt, p.PauseReason = true, actor, now, reason
	if to >= 0 {
		p.Stage = r.Stages[to].Name
	}
	return p, nil
}

// Pause holds the plan on actor's behalf, for reason (which may be empty):
// see Progress.Paused.
func (r *Rollout) Pause(actor string, now time.Time, reason string) (Progress, error) {
	if r.Progress.Paused {
		return r.Progress, refuse("rollout %s is already %s", r.Flag, r.pauseWords())
	}
	p := r.Progress
	p.Paused, p.PausedBy, p.PausedAt, p.PauseReason = true, actor, now, reason
	return p, nil
}

// Resume releases a paused plan: people may advance it again and the
// schedule continues from the live stage.
func (r *Rollout) Resume() (Progress, error) {
	if !r.Progress.Paused {
		return r.Progress, refuse("rollout %s is not paused", r.Flag)
	}
	p := r.Progress
	p.Paused, p.PausedBy, p.PausedAt, p.PauseReason = false, "", time.Time{}, ""
	return p, nil
}

// PausedError is the refusal to move a paused plan forward: it says who
// paused it, when and why. It matches ErrMove.
type PausedError struct {
	Flag   string
	By     string
	At     time.Time
	Reason string
}

func (e *PausedError) Error() string {
	return fmt.Sprintf("rollout %s is %s: resume it first, or force the move", e.Flag, pauseWords(e.By, e.At, e.Reason))
}

// Is makes PausedError match ErrMove.
func (e *PausedError) Is(target error) bool { return target == ErrMove }

// KilledError refuses to move forward a plan whose flag is disabled (the
// kill switch overrides every plan). It matches ErrMove.
type KilledError struct {
	Flag  string
	Stage string // the live stage, which enabling the flag restores
}

func (e *KilledError) Error() string {
	return fmt.Sprintf("flag %s is disabled (kill switch): enable it first (that restores stage %s)", e.Flag, e.Stage)
}

// Is makes KilledError match ErrMove.
func (e *KilledError) Is(target error) bool { return target == ErrMove }

// pauseWords says who paused the plan, when and why: "paused by alice at
// 2026-11-24T10:00:00Z: error rate up".
func (r *Rollout) pauseWords() string {
	return pauseWords(r.Progress.PausedBy, r.Progress.PausedAt, r.Progress.PauseReason)
}

func pauseWords(by string, at time.Time, reason string) string {
	s := "paused"
	if by != "" {
		s += " by " + by
	}
	if !at.IsZero() {
		s += " at " + at.UTC().Format(time.RFC3339)
	}
	if reason != "" {
		s += ": " + reason
	}
	return s
}

// MayAdvance says whether people may move the plan forward (advance it or
// approve a stage): not while its flag is killed, and not while it is
// paused unless force is set (a forced move leaves the plan paused). The
// refusal matches ErrMove: a *KilledError or a *PausedError.
func (r *Rollout) MayAdvance(killed, force bool) error {
	if killed {
		return &KilledError{Flag: r.Flag, Stage: r.stageWord()}
	}
	if r.Progress.Paused && !force {
		p := r.Progress
		return &PausedError{Flag: r.Flag, By: p.PausedBy, At: p.PausedAt, Reason: p.PauseReason}
	}
	return nil
}

// stageWord names the live stage, or "none" before the first.
func (r *Rollout) stageWord() string {
	if r.Progress.Stage == "" {
		return "none"
	}
	return r.Progress.Stage
}

// Next describes what the schedule would do next.
type Next struct {
	// Stage is the index of the next stage, -1 when there is none.
	Stage int    `json:"-"`
	Name  string `json:"stage,omitempty"`
	// Due is when the schedule may start it; zero when the schedule will
	// not (see Blocked).
	Due time.Time `json:"due,omitzero"`
	// Blocked says why the schedule will not start the next stage on its
	// own, when it will not: paused, a hold point, no schedule, awaiting
	// approval, the kill switch…
	Blocked string `json:"blocked,omitempty"`
}

// Next returns the next stage and when the schedule may start it. killed
// tells whether the flag's kill switch is thrown, which stops the schedule.
func (r *Rollout) Next(killed bool) Next {
	live := r.Live()
	if live == len(r.Stages)-1 {
		return Next{Stage: -1, Blocked: "at the last stage"}
	}
	if r.Progress.Stage != "" && live < 0 {
		return Next{Stage: -1, Blocked: fmt.Sprintf("live stage %q is no longer in the plan", r.Progress.Stage)}
	}
	n := Next{Stage: live + 1, Name: r.Stages[live+1].Name}
	st := &r.Stages[live+1]
	switch {
	case r.Progress.Pending != nil:
		n.Blocked = fmt.Sprintf("stage %s awaits approval by someone other than %s", r.Progress.Pending.Stage, r.Progress.Pending.By)
		return n
	case killed:
		n.Blocked = "the flag is disabled (kill switch)"
		return n
	case r.Progress.Paused:
		n.Blocked = "paused"
		return n
	case live >= 0 && r.Stages[live].Halt:
		n.Blocked = fmt.Sprintf("stage %s is a hold point: advance by hand", r.Stages[live].Name)
		return n
	case !st.Scheduled():
		n.Blocked = "no schedule: advance by hand"
		return n
	}
	if st.After > 0 {
		n.Due = r.Progress.Since.Add(time.Duration(st.After))
	}
	if st.At != nil && st.At.After(n.Due) {
		n.Due = *st.At
	}
	return n
}

package admin

import (
	"encoding/json"
	"fmt"

	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// auditedRollout is what a rollout's history reads of a plan recorded in
// the audit log: the stages' count and the progress. It reads entries of
// every ramp version alike, whichever unit their percentages are in (basis
// points before issue #10, percent after): it does not read them.
type auditedRollout struct {
	Stages   []json.RawMessage `json:"stages"`
	Progress rollout.Progress  `json:"progress"`
}

func decodeAudited(b []byte) *auditedRollout {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	var r auditedRollout
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

// historyOf turns the audit entries of a flag and its plan into history
// events, oldest first.
func historyOf(entries []store.AuditEntry) []HistoryEvent {
	out := []HistoryEvent{}
	for _, e := range entries {
		ev := HistoryEvent{At: e.At, Actor: e.Actor, Event: e.Action}
		switch e.Kind {
		case "flag":
			switch e.Action {
			case "flag.disable":
				ev.Event, ev.Detail = "killed", "kill switch thrown: everyone gets the default variant"
			case "flag.enable":
				ev.Event, ev.Detail = "enabled", "kill switch released: the live stage serves again"
			default:
				continue
			}
		case "rollout":
			before, after := decodeAudited(e.Before), decodeAudited(e.After)
			ev.Event, ev.Detail = describeMove(e.Action, before, after)
			if after != nil {
				ev.Stage = after.Progress.Stage
			}
		default:
			continue
		}
		out = append(out, ev)
	}
	return out
}

// describeMove names a rollout audit entry and says what it changed.
func describeMove(action string, before, after *auditedRollout) (string, string) {
	from, to := "not started", "not started"
	if before != nil && before.Progress.Stage != "" {
		from = before.Progress.Stage
	}
	if after != nil && after.Progress.Stage != "" {
		to = after.Progress.Stage
	}
	why := func() string {
		if after != nil && after.Progress.PauseReason != "" {
			return ": " + after.Progress.PauseReason
		}
		return ""
	}
	switch action {
	case "apply.create":
		if after == nil {
			return "plan created", ""
		}
		return "plan created", fmt.Sprintf("%d stages", len(after.Stages))
	case "apply.update":
		if after == nil {
			return "plan changed", ""
		}
		return "plan changed", fmt.Sprintf("%d stages; live stage %s", len(after.Stages), to)
	case "apply.delete":
		return "plan deleted", ""
	case "rollout.pause":
		return "paused", "held at " + to + why()
	case "rollout.resume":
		return "resumed", "the plan moves again from " + to
	case "rollout.rollback":
		return "rolled back", from + " → " + to + " (and paused" + why() + ")"
	case "rollout.halt":
		return "halted by a guardrail", "held at " + to + why()
	case "rollout.halt.rollback":
		return "halted by a guardrail", "rolled back " + from + " → " + to + " (and paused" + why() + ")"
	case "rollout.approve", "rollout.approve.forced":
		by := ""
		if after != nil {
			by = after.Progress.By
		}
		d := fmt.Sprintf("%s → %s, asked by %s", from, to, by)
		if action == "rollout.approve.forced" {
			d += "; forced while paused"
		}
		return "approved", d
	}
	// Advances, by a person or the schedule, and approval requests.
	forced := ""
	if action == "rollout.advance.forced" && before != nil && !before.Progress.Paused {
		forced = " (forced before the stage's guardrails had their minimum sample)"
	} else if action == "rollout.advance.forced" {
		forced = " (forced while paused"
		if before != nil && before.Progress.PausedBy != "" {
			forced += " by " + before.Progress.PausedBy
		}
		if before != nil && before.Progress.PauseReason != "" {
			forced += ": " + before.Progress.PauseReason
		}
		forced += ")"
	}
	if after != nil && after.Progress.Pending != nil && (before == nil || before.Progress.Pending == nil) {
		return "approval requested", "stage " + after.Progress.Pending.Stage + " awaits someone other than " + after.Progress.Pending.By + forced
	}
	name := "advanced"
	if action == "rollout.schedule" {
		name = "advanced by schedule"
	}
	return name, from + " → " + to + forced
}

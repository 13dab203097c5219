package rollout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/rollout"
)

func TestNext(t *testing.T) {
	since := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := since.Add(d); return &x }
	tests := []struct {
		name    string
		edit    func(p *rollout.Plan)
		stage   string
		paused  bool
		pending bool
		killed  bool
		want    string // stage name, or "-" for none
		due     time.Duration
		blocked string
	}{
		{name: "after counts from the live stage's start", stage: "us-1", want: "us-10", due: 48 * time.Hour},
		{name: "not started, first stage by hand", stage: "", want: "dogfood", blocked: "no schedule: advance by hand"},
		{name: "not started, first stage at a time", edit: func(p *rollout.Plan) { p.Stages[0].At = at(5 * time.Hour) },
			stage: "", want: "dogfood", due: 5 * time.Hour},
		{name: "after and at: the later", edit: func(p *rollout.Plan) { p.Stages[2].At = at(72 * time.Hour) },
			stage: "us-1", want: "us-10", due: 72 * time.Hour},
		{name: "at earlier than after: after", edit: func(p *rollout.Plan) { p.Stages[2].At = at(time.Hour) },
			stage: "us-1", want: "us-10", due: 48 * time.Hour},
		{name: "by hand", stage: "dogfood", want: "us-1", blocked: "no schedule: advance by hand"},
		{name: "paused", stage: "us-1", paused: true, want: "us-10", blocked: "paused"},
		{name: "killed", stage: "us-1", killed: true, want: "us-10", blocked: "the flag is disabled (kill switch)"},
		{name: "awaiting approval", stage: "us-1", pending: true, want: "us-10",
			blocked: "stage us-10 awaits approval by someone other than alice"},
		{name: "hold point", edit: func(p *rollout.Plan) { p.Stages[1].Halt = true }, stage: "us-1", want: "us-10",
			blocked: "stage us-1 is a hold point: advance by hand"},
		{name: "last stage", stage: "world-5", want: "-", blocked: "at the last stage"},
		{name: "live stage gone", stage: "us-2", want: "-", blocked: `live stage "us-2" is no longer in the plan`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := interop()
			if tt.edit != nil {
				tt.edit(&p)
			}
			r := rollout.Rollout{Plan: p, Progress: rollout.Progress{Stage: tt.stage, Since: since, Paused: tt.paused}}
			if tt.pending {
				r.Progress.Pending = &rollout.Request{Stage: "us-10", By: "alice", At: since}
			}
			n := r.Next(tt.killed)
			name := n.Name
			if n.Stage < 0 {
				name = "-"
			}
			if name != tt.want || n.Blocked != tt.blocked {
				t.Errorf("Next = %s (blocked %q), want %s (blocked %q)", name, n.Blocked, tt.want, tt.blocked)
			}
			if tt.blocked == "" && !n.Due.Equal(since.Add(tt.due)) {
				t.Errorf("due %v, want %v", n.Due, since.Add(tt.due))
			}
		})
	}
}

func TestMovesRefused(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	r := rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Stage: "us-10"}}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"advance backwards", second(r.Advance(1, "a", now)), "stage us-1 is not after the live stage us-10: use rollback to go back"},
		{"advance to the live stage", second(r.Advance(2, "a", now)), "stage us-10 is not after the live stage us-10"},
		{"rollback forwards", errOf(r.Rollback(4, "a", now, "")), "stage us-100 is not before the live stage us-10: use advance to go forward"},
		{"approve unknown stage", errOf(r.Approve("us-11", "a", now)), `has no stage "us-11"`},
		{"pause twice", errOf((&rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Paused: true, PausedBy: "bob", PauseReason: "errors up"}}).Pause("a", now, "")), "is already paused by bob: errors up"},
		{"resume a running plan", errOf(r.Resume()), "is not paused"},
		{"advance while killed", r.MayAdvance(true, true), "is disabled (kill switch): enable it first (that restores stage us-10)"},
		{"advance while paused", (&rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Stage: "us-10", Paused: true, PausedBy: "bob", PausedAt: now, PauseReason: "errors up"}}).MayAdvance(false, false),
			"rollout messenger-ig-interop is paused by bob at 2026-11-02T09:00:00Z: errors up: resume it first, or force the move"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	var killed *rollout.KilledError
	if err := r.MayAdvance(true, false); !errors.As(err, &killed) || !errors.Is(err, rollout.ErrMove) || killed.Stage != "us-10" {
		t.Errorf("MayAdvance of a killed flag = %v, want a *KilledError at us-10 matching ErrMove", err)
	}
	last := rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Stage: "world-5"}}
	if _, _, err := last.Advance(7, "a", now); err == nil || !strings.Contains(err.Error(), "is at its last stage, world-5") {
		t.Errorf("advance past the last stage: %v", err)
	}
}

func second(_ rollout.Progress, _ rollout.Outcome, err error) error { return err }
func errOf(_ rollout.Progress, err error) error                     { return err }

// TestRollbackPauseCarriesItsReason: issue #10 item 6, a rollback pauses the
// plan without telling the next person why. Its pause names who, when and
// why, by default "rolled back from stage X by Y".
func TestRollbackPauseCarriesItsReason(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	r := rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Stage: "us-10"}}
	for _, tt := range []struct{ reason, want string }{
		{"", "rolled back from stage us-10 by alice"},
		{"error rate doubled", "error rate doubled"},
	} {
		p, err := r.Rollback(1, "alice", now, tt.reason)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Paused || p.PausedBy != "alice" || !p.PausedAt.Equal(now) || p.PauseReason != tt.want {
			t.Errorf("rollback with reason %q: paused %v by %q at %v: %q, want by alice at %v: %q", tt.reason, p.Paused, p.PausedBy, p.PausedAt, p.PauseReason, now, tt.want)
		}
		held := rollout.Rollout{Plan: r.Plan, Progress: p}
		var pe *rollout.PausedError
		if err := held.MayAdvance(false, false); !errors.As(err, &pe) || !errors.Is(err, rollout.ErrMove) || pe.Reason != tt.want {
			t.Errorf("advance after the rollback: %v, want a *PausedError matching ErrMove", err)
		}
		if err := held.MayAdvance(false, true); err != nil {
			t.Errorf("forced advance after the rollback: %v", err)
		}
	}
}

package rollout_test

import (
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
		{"rollback forwards", errOf(r.Rollback(4, "a", now)), "stage us-100 is not before the live stage us-10: use advance to go forward"},
		{"approve unknown stage", errOf(r.Approve("us-11", "a", now)), `has no stage "us-11"`},
		{"pause twice", errOf((&rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Paused: true}}).SetPaused(true)), "is already paused"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	last := rollout.Rollout{Plan: interop(), Progress: rollout.Progress{Stage: "world-5"}}
	if _, _, err := last.Advance(7, "a", now); err == nil || !strings.Contains(err.Error(), "is at its last stage, world-5") {
		t.Errorf("advance past the last stage: %v", err)
	}
}

func second(_ rollout.Progress, _ rollout.Outcome, err error) error { return err }
func errOf(_ rollout.Progress, err error) error                     { return err }

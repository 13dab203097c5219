package admin

import (
	"context"
	"time"

	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/rollout"
)

// judgeStage judges a plan's live guarded stage at now: the units each
// side holds and each guardrail's verdict (safety.JudgeStage).
func (s *Service) judgeStage(ctx context.Context, r *rollout.Rollout, g guardCounts, now time.Time) (safety.StageJudgement, error) {
	stage := &r.Stages[r.Live()]
	return safety.JudgeStage(safety.StageInput{Flag: r.Flag, Stage: stage, Sample: g.sample(r), At: now}), nil
}

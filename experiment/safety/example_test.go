package safety_test

import (
	"fmt"

	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/experiment/stats"
	"github.com/ramp-flags/ramp/rollout"
)

// A running phase meant to split 50/50 has 45% of its exposed units in
// one arm: the check pauses it.
func ExampleCheckSampleRatio() {
	chk, err := safety.CheckSampleRatio(safety.SampleRatioInput{Experiment: "dm-handoff-vs-inline", Phase: 1, Arms: []safety.ArmCount{
		{Arm: "handoff", Weight: 5000, Units: 9000},
		{Arm: "inline", Weight: 5000, Units: 11000},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Println(chk.Pause)
	fmt.Println(chk.Reason)
	// Output:
	// true
	// sample ratio mismatch in phase 1: handoff 9,000 units (45.00%, expected 50.00%), inline 11,000 (55.00%, expected 50.00%); anytime-valid p = 1.83e-29 < 0.001
}

// A 10% stage's users who got the variant crash more than those who did
// not, well beyond the metric's 1% margin: the stage halts, rolling back.
func ExampleJudgeStage() {
	crashRate := safety.JudgeGuardrail(safety.GuardInput{
		Metric: "crash-rate", Kind: safety.KindConversion, Direction: -1, Margin: 1,
		Control:   stats.Paired{N: 45_000, SumY: 900, SumY2: 900}, // 2.0% crashed
		Treatment: stats.Paired{N: 5_000, SumY: 150, SumY2: 150},  // 3.0%
	})
	stage := &rollout.Stage{Name: "us-10", Percent: 1000, OnRegression: rollout.ReactRollback,
		Guardrails: []rollout.Guardrail{{Metric: "crash-rate"}}}
	j := safety.JudgeStage(safety.StageInput{Flag: "messenger-ig-interop", Stage: stage,
		Sample: rollout.Sample{Treatment: 5_000, Control: 45_000}, Verdicts: []safety.GuardVerdict{crashRate}})
	fmt.Println(crashRate.Verdict, j.Halt, j.Reaction)
	// Output:
	// regressed true rollback
}

// Package safety holds the decisions of ramp's automatic safety, which the
// controller takes on every pass (internal/admin's Tick): numbers in, what
// to do out, no I/O.
//
//   - The sample-ratio check (CheckSampleRatio) pauses a running
//     experiment whose exposed units per arm contradict its weights, by
//     the anytime-valid test of Lindon and Malek (stats.
//     SequentialSampleRatio), once every arm is expected to hold a
//     minimum sample.
//   - Guarded rollout stages (JudgeGuardrails) compare, while a guarded
//     percentage stage is live, the units of its audience that get the
//     plan's variant with those that do not, metric by metric, with the
//     one-sided always-valid interval of the relative difference
//     (stats.Sequential and stats.Guardrail), and decide to halt the plan
//     (pause it, or roll it back) when a guardrail is worse than its
//     margin with confidence.
//
// It sits above experiment, rollout and experiment/stats, so that neither
// experiment nor rollout (which the engine and the data plane import)
// depends on the statistics.
package safety

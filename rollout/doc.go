// Package rollout holds staged rollout plans: which users get a flag's
// rollout variant at each stage of a plan (dogfood → US 1% → US 10% → … →
// world), how a plan turns into targeting rules for the engine, and the
// moves a plan's progress allows (advance, approve, rollback, pause) and
// what its schedule does next.
//
// A stage may be guarded (guard.go): while it is live, its split is
// recorded as exposures on both sides and compared metric by metric by the
// controller (package experiment/safety), which halts the plan on a
// regression (Halt); MayLeave holds the stage until its guardrails have
// their minimum sample.
//
// The package is pure: it reads no clock and no database. The store keeps
// plans and progress (internal/store), the controller runs schedules
// (internal/controller), and the engine (package flags) evaluates the rules
// that Apply adds for each live stage.
//
// The guarantees, proven by this package's property tests:
//   - Stages are cumulative: at stage k a user gets the variant when any
//     target named by stages 0…k admits them, with the latest percentage
//     given to each target.
//   - Advancing never takes the variant away from anyone who had it, unless
//     a stage says it may (Decrease or Replace); Validate refuses a plan
//     that would otherwise.
//   - The audience of a stage depends only on the plan and the stage, so
//     rolling back to a stage restores exactly the users it had (the same
//     buckets), and so does re-enabling a flag after its kill switch.
package rollout

// Package experiment holds ramp's experiments: layers that keep
// experiments mutually exclusive, holdouts, phases with their allocation
// tables, and how an experiment becomes rules of its flag. It is pure: the
// store keeps experiments, the control plane changes them, and the engine
// never learns what an experiment is (it sees a rule with a sample, an
// allocation and an Origin).
//
// # Assignment
//
// A layer hashes each unit once, with the layer's salt (Layer.EffectiveSalt)
// and the layer's bucketBy attribute (targetingKey when absent), onto the
// 10,000 buckets of package bucket. The holdout is the reserved set
// [0, Holdout) — a 5% holdout is buckets 0–499 — which no experiment of the
// layer ever owns. Each running or paused experiment owns a set of the
// other buckets, its current phase's Buckets: traffic T (in basis points)
// owns exactly T buckets, taken lowest free first, so a set is not
// necessarily contiguous. A stopped experiment frees its buckets. An
// experiment without a declared layer is alone in a layer of its own
// (LayerOf: key "experiment-" + its key, its flag's bucketBy, no holdout).
//
// Inside an experiment a second, independent hash with the experiment's own
// salt (Experiment.EffectiveSalt) and the layer's bucketBy places the unit
// on the phase's arm table (Phase.Table, 10,000 buckets). Phase 1's table
// is cumulative ranges in arm declaration order (Table).
//
// # Guarantees (proven by the property tests through the engine)
//
//   - Two experiments of one layer never share a unit; the holdout is in
//     none of them.
//   - Experiments of different layers are independent.
//   - Raising traffic (SetTraffic) only adds buckets: nobody changes arm.
//   - A new phase with other weights (NewPhase, Reallocate) moves exactly
//     the total-variation share ½·Σ|w′ᵢ − wᵢ| of the units between arms,
//     the ones MovedUnits counts.
//   - Linked accounts (one bucketBy value) get the same arm.
//
// # Rules
//
// A running experiment adds one rule to its flag (Rules): its audience,
// then a flags.Sample of its layer buckets, then a flags.Allocation of its
// arm table. One rule serves every arm, so a decision's arm is its Variant
// (arms are variants of the flag); the rule's Origin names the experiment,
// the phase (from 1) and the unit attribute, with an empty Part. A stopped
// experiment with a shipped arm serves it to its whole audience through a
// rule whose Origin has Phase 0 and Part the arm: Phase 0 means no
// experiment is running, so no exposure is recorded. Drafts, paused
// experiments and stopped ones without a shipped arm add nothing.
//
// # Ramp-up
//
// An experiment's RampUp grows its traffic on a schedule, weights fixed:
// it starts at the first step (StartTraffic), and Ramp, run by the
// control plane's schedule pass, takes the next step when it is due
// (NextStep: its After past RampedAt, the time spent paused not
// counted), through SetTraffic, so nobody changes arm. With a ramp-up,
// Traffic is the ceiling the layer reserves; the traffic taken now is the
// current phase's.
//
// # Metrics
//
// A Metric is declared in configuration and named by experiments
// (Experiment.Metrics: a primary, secondary ones, guardrails) by its key.
// Its kind says what one exposed unit contributes: Conversion (1 when the
// unit has at least one event, else 0), Mean (the sum of the event's
// values) or Ratio (a numerator event's sum and a denominator event's, the
// report dividing the arm's sums). Its window counts whole UTC days from
// each unit's first exposure, day 0 being the day of first exposure; a
// Covariate asks for CUPED over days before it. Y and X turn a metric into
// the per-unit values (UnitValue: an event and a range of day offsets)
// that the store sums per arm. ValidateMetrics checks metrics and the
// experiments' references to them.
//
// # Lifecycle
//
// draft → (Start) running ⇄ (Pause, Resume) paused → (Stop) stopped. A
// change the status does not allow is refused with ErrLocked, a traffic the
// layer cannot give with ErrLayerFull, malformed arms or traffic with
// ErrInvalid; package ramp maps them to its kinds (refused, invalid).
package experiment

// Package config reads and writes ramp's configuration as code: the file
// that `ramp apply -f FILE` applies and `ramp export` writes.
//
// A file is YAML, or JSON (read by the same parser, so that problems in JSON
// files are reported by line too). It declares cohorts and flags:
//
//	cohorts:
//	  - key: employees
//	    description: Internal dogfooders
//	    members: [emp-1, emp-2, {id: emp-3, region: FR}]
//	  - key: business-accounts
//	    when:
//	      - {attribute: accountType, op: eq, values: [business]}
//	flags:
//	  - key: messenger-ig-interop
//	    type: boolean
//	    variants: {on: true, off: false}
//	    defaultVariant: "off"
//	    bucketBy: accountCenterId
//	    rules:
//	      - cohorts: [employees]
//	        serve: "on"
//	      - regions: [US]
//	        rollout: {"on": 10, "off": 90}
//
// Top level: cohorts, flags, rollouts, layers, metrics and experiments, all
// optional. Any other key, at any level, is an error: a typo is never
// silently ignored. So is a key given twice in one mapping.
//
// Rollout: flag, variant and stages, each stage with name, cohorts,
// regions, when, percent (required), after (48h, 7d), at (RFC 3339),
// approval (required or none), halt, decrease and replace, and for a
// guarded stage guardrails (metric keys, or {metric, margin}), minSample and
// onRegression (pause or rollback). Document.Rollouts returns them;
// Validate checks them against the flags and cohorts with rollout.Validate
// (docs/rollouts.md), and that the metrics guardrails name are declared.
//
// Layer: key, bucketBy, holdout (a percentage) and salt. Experiment: key,
// flag, layer, hypothesis, owner, audience {regions, cohorts, when},
// traffic (required), arms (a mapping of variant to percentage, in
// declaration order), control, metrics {primary, secondary, guardrails},
// salt, and its lifecycle: status (draft, running, paused, stopped), ship
// (the arm a stopped experiment serves) and phase (next, or the current
// phase number, which export writes). Document.Layers, Experiments,
// NextPhase and Phase return them; Validate checks them with
// experiment.Validate, and ValidateAgainst also against the stored ones
// (docs/config.md).
//
// Metric: key, description, kind (conversion, mean or ratio), event (of a
// conversion or mean) or numerator and denominator (of a ratio), window
// (whole days after first exposure: 7d), direction (increase, the default,
// or decrease), margin (a guardrail's non-inferiority margin, relative, in
// percent: 0.5) and covariate {event, window} (CUPED over the days before
// first exposure). Document.Metrics returns them; Validate checks them, and
// that every metric the file's experiments name is declared (in the file,
// or for ValidateAgainst stored), with experiment.ValidateMetrics.
//
// Cohort: key, description, when (a list of conditions) and members. Each
// member is a user id or {id, region}. Leaving members out means that the
// file does not manage the cohort's member list (lists imported from CSV stay
// as they are); members: [] empties it; a bare "members:" (null) is refused
// as ambiguous.
//
// Condition: {attribute, op, values}. Values are kept as written (300 is
// "300", 300.0.0 is "300.0.0", true is "true"); one value may stand for a
// list of one.
//
// Flag: key, description, owner, tags, type (boolean, string, integer,
// float or object), variants, defaultVariant, enabled, bucketBy, salt,
// bucketing and rules. Variants map names to values, in declaration order;
// values are read by their YAML type (true is a boolean, 300 an integer,
// "300" a string), mappings and lists as JSON for object flags. enabled and
// bucketing are optional: see Document.Resolve.
//
// Rule: name, cohorts, regions, when, and either serve (a variant) or
// rollout, a mapping of variant to percentage in declaration order.
// Percentages have at most two decimals and are read from the text as
// written, never through floating point, so 33.33 is exact.
//
// Anchors and aliases may share a value (a list of conditions, a set of
// variants) between places; merge keys (<<) are refused, and aliases may not
// expand a file to more than about twice its size. A file holds one YAML
// document of at most MaxSize bytes.
//
// Parse reports structural problems (syntax, kinds, unknown and duplicate
// keys); Document.Validate reports what flags.State.Validate finds, located
// at the line and column where the file says it. Both return an *Error that
// lists every problem as FILE:LINE:COL: PATH: MESSAGE.
//
// Encode writes a state back as a complete, deterministic file, such that
// parsing it and resolving it against the same state reproduces the state.
// Because JSON is read by a YAML parser, a JSON file cannot hold a key longer
// than 1024 characters or a raw U+0085 inside a string (write \u0085);
// Encode escapes such characters and refuses such keys.
package config

package flags

// Reason says why a decision came out as it did, with OpenFeature's names.
type Reason string

// The reasons a decision carries.
const (
	// ReasonStatic: the flag has no rules, every context gets its default.
	ReasonStatic Reason = "STATIC"
	// ReasonTargetingMatch: a rule matched and served one variant.
	ReasonTargetingMatch Reason = "TARGETING_MATCH"
	// ReasonSplit: a rule matched and its percentage split chose the variant.
	ReasonSplit Reason = "SPLIT"
	// ReasonDefault: no rule matched; the default variant was served.
	ReasonDefault Reason = "DEFAULT"
	// ReasonDisabled: the flag's kill switch is on; the default was served.
	ReasonDisabled Reason = "DISABLED"
	// ReasonError: the caller's default was returned; see the error code.
	ReasonError Reason = "ERROR"
)

// ErrorCode is an OpenFeature error code.
type ErrorCode string

// The error codes a decision may carry.
const (
	ErrFlagNotFound        ErrorCode = "FLAG_NOT_FOUND"
	ErrTypeMismatch        ErrorCode = "TYPE_MISMATCH"
	ErrTargetingKeyMissing ErrorCode = "TARGETING_KEY_MISSING"
	ErrInvalidContext      ErrorCode = "INVALID_CONTEXT"
	ErrParse               ErrorCode = "PARSE_ERROR"
	ErrGeneral             ErrorCode = "GENERAL"
)

// Decision is the outcome of evaluating one flag for one context.
type Decision struct {
	Key string
	// Value is the served variant's value, or the caller's default (nil for
	// the untyped Evaluate) when ErrorCode is set. Object values are shared
	// with the snapshot and must not be modified.
	Value   any
	Variant string
	Reason  Reason
	// ErrorCode and ErrorDetails are set, and Reason is ERROR, when the
	// caller's default was returned because of a failure.
	ErrorCode    ErrorCode
	ErrorDetails string
	// Rule is the index of the rule that matched, or -1; RuleName its name.
	Rule     int
	RuleName string
	// Origin is the matched rule's Origin: nil for the flag's own rules,
	// else the rollout stage or experiment arm that added the rule. It is
	// shared with the snapshot and must not be modified.
	Origin *Origin
	// Unit is where the matched rule's allocation (an experiment's arm
	// table) placed the unit; zero for any other rule.
	Unit Placement
	// FlagVersion is the flag's store version; SnapshotVersion the version
	// of the configuration the decision was made from.
	FlagVersion     int64
	SnapshotVersion int64
}

// Placement is how an allocation rule placed a unit on its scale.
type Placement struct {
	// Attr is the context attribute that identified the unit: the
	// allocation's bucketBy, or targetingKey when the context lacks it.
	Attr string
	// Hash is the unit's 64-bit bucketing hash under the allocation's salt
	// (bucket.Sum): a fingerprint that tells the experiment's units apart,
	// so that exposure recording neither looks the unit up in the context
	// again nor hashes it again.
	Hash uint64
}

// IsError reports whether the decision carries an error code.
func (d *Decision) IsError() bool { return d.ErrorCode != "" }

// Metadata returns the decision's flag metadata in the OpenFeature sense:
// only strings, numbers and booleans. It names the matched rule; when a
// rule whose decisions are exposures (Origin.Exposes: a running
// experiment phase, a guarded rollout stage) served a variant, the
// experiment ("experiment", Origin.ExperimentKey), the phase ("phase", an
// integer) and the arm ("arm", the variant served); and the versions. It
// reveals nothing about other users (no split boundaries, no cohort
// contents).
func (d *Decision) Metadata() map[string]any {
	m := map[string]any{}
	if d.Rule >= 0 {
		m["ruleIndex"] = d.Rule
		if d.RuleName != "" {
			m["rule"] = d.RuleName
		}
	}
	if o := d.Origin; o.Exposes() && !d.IsError() {
		// The arm is the variant served: an experiment rule's allocation
		// serves every arm of the phase, so the rule cannot name one. A
		// stopped experiment's shipped rule (phase 0) runs no experiment.
		m["experiment"], m["phase"], m["arm"] = o.ExperimentKey(), o.Phase, d.Variant
	}
	if d.FlagVersion != 0 {
		m["flagVersion"] = d.FlagVersion
	}
	if d.SnapshotVersion != 0 {
		m["configVersion"] = d.SnapshotVersion
	}
	return m
}

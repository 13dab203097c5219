package flags

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// Type is the type of a flag's values.
type Type string

// The flag types, named as in OpenFeature.
const (
	Boolean Type = "boolean"
	String  Type = "string"
	Integer Type = "integer"
	Float   Type = "float"
	Object  Type = "object"
)

// Types lists every flag type.
var Types = []Type{Boolean, String, Integer, Float, Object}

// Flag is a feature flag: typed variants, a default, and ordered targeting
// rules of which the first that matches decides.
type Flag struct {
	Key         string   `json:"key"`
	Description string   `json:"description,omitempty"`
	Owner       string   `json:"owner,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Type        Type     `json:"type"`
	// Variants are the flag's named values, in declaration order. Values
	// are normalised to bool, string, int64, float64 or a JSON object
	// (map[string]any) according to Type.
	Variants       []Variant `json:"variants"`
	DefaultVariant string    `json:"defaultVariant"`
	// Enabled is false when the kill switch is thrown: every context gets the
	// default variant with reason DISABLED.
	Enabled bool `json:"enabled"`
	// BucketBy names the context attribute that places a user on the
	// percentage scale (e.g. accountCenterId, so that linked accounts agree).
	// When the attribute is missing or empty, targetingKey is used.
	BucketBy string `json:"bucketBy,omitempty"`
	// Salt seeds the bucketing hash; the flag key when empty. Flags sharing a
	// salt share their buckets.
	Salt string `json:"salt,omitempty"`
	// Bucketing is the bucketing algorithm version, fixed when the flag is
	// created so that a new algorithm never reshuffles an existing flag.
	Bucketing bucket.Version `json:"bucketing"`
	Rules     []Rule         `json:"rules,omitempty"`
	// Version counts the changes the store has accepted for this flag; it is
	// used to detect concurrent edits and is not part of configuration.
	Version int64 `json:"-"`
}

// Variant is a named value of a flag.
type Variant struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Rule targets contexts and serves them a variant or a split. A rule matches
// when the context is in any of its cohorts (if it names some), in any of its
// regions (if it names some) and satisfies all its conditions.
type Rule struct {
	// Name is optional; it appears in decision metadata and explanations.
	Name    string              `json:"name,omitempty"`
	Cohorts []string            `json:"cohorts,omitempty"`
	Regions []string            `json:"regions,omitempty"`
	When    []cohorts.Condition `json:"when,omitempty"`
	// Sample, when set, further restricts the rule to the units whose
	// bucket under the sample's own salt is in its set: the generic
	// predicate an experiment's share of a layer becomes.
	Sample *Sample `json:"sample,omitempty"`
	// Serve names the variant every matching context gets. Exactly one of
	// Serve, Rollout and Allocation is set.
	Serve string `json:"serve,omitempty"`
	// Rollout splits matching contexts between variants by percentage, in
	// declaration order (see package bucket). The weights sum to 100%.
	Rollout []Split `json:"rollout,omitempty"`
	// Allocation serves variants by bucket ranges under its own salt and
	// bucketing attribute: an experiment phase's arm table, whose ranges
	// need not be contiguous per variant.
	Allocation *Allocation `json:"allocation,omitempty"`
	// Origin is set on rules that the control plane adds to a flag's own
	// (a rollout plan's live stage, an experiment's arm) and nil on rules
	// written in the flag. The engine never reads it: it hands it to the
	// decisions the rule makes (Decision.Origin), so that explanations and
	// exposure logs name the stage or arm without parsing rule names.
	Origin *Origin `json:"origin,omitempty"`
}

// Origin names the part of the control plane that added a rule to its flag.
// It is opaque to the engine.
type Origin struct {
	// Kind is what added the rule: "rollout" or "experiment".
	Kind string `json:"kind"`
	// Key is the rollout's flag or the experiment's key.
	Key string `json:"key"`
	// Part is the rollout stage. Experiment rules leave it empty: their
	// allocation serves every arm of the phase, and the arm of a decision
	// is the variant it served (Decision.Metadata names it so).
	Part string `json:"part"`
	// Phase is the experiment phase (from 1), or the number (from 1) of a
	// guarded rollout stage, whose split compares the units that get the
	// plan's variant with those that do not: the decisions of a rule with
	// a Phase are exposures (Exposes). 0 for other rollout rules and a
	// stopped experiment's shipped arm.
	Phase int `json:"phase,omitempty"`
	// Unit names the context attribute that identifies the experiment's
	// unit (its layer's bucketBy, or the flag's for a rollout stage);
	// targetingKey when it is empty or the context lacks it. Exposure logs
	// read it.
	Unit string `json:"unit,omitempty"`
	// Experiment is the key exposures of the rule's decisions are
	// recorded under when it is not Key: "rollout:" and the flag for a
	// guarded rollout stage, so that they never mix with an experiment's
	// (ExperimentKey).
	Experiment string `json:"experiment,omitempty"`
}

// OriginExperiment is the Origin.Kind of the rules a running experiment
// adds: Key is the experiment, Phase its phase and Unit the attribute its
// layer buckets by; the arm is the variant the rule serves.
const OriginExperiment = "experiment"

// OriginRollout is the Origin.Kind of the rules a rollout plan's live
// stage adds: Key is the flag and Part the stage that set the target's
// percentage; a guarded stage's splits also carry the stage's Phase, Unit
// and Experiment.
const OriginRollout = "rollout"

// Exposes reports whether the decisions of a rule with this origin are
// exposures to record: a running experiment phase's, or a guarded rollout
// stage's split (Phase 1 or more). False for nil.
func (o *Origin) Exposes() bool {
	return o != nil && o.Phase > 0 && (o.Kind == OriginExperiment || o.Kind == OriginRollout)
}

// ExperimentKey returns the key the exposures of the rule's decisions are
// recorded under: Experiment, else Key.
func (o *Origin) ExperimentKey() string {
	if o.Experiment != "" {
		return o.Experiment
	}
	return o.Key
}

// BucketRange is the half-open range of buckets [From, To) on the
// 10,000-bucket scale of package bucket.
type BucketRange struct {
	From uint32 `json:"from"`
	To   uint32 `json:"to"`
}

// Sample is a predicate on a unit's bucket under a salt of its own: the
// unit matches when its bucket is in one of Buckets. Ranges are sorted,
// non-empty and do not overlap.
type Sample struct {
	// BucketBy names the attribute whose value is the unit; targetingKey
	// when empty or absent from the context, as for flags.
	BucketBy string        `json:"bucketBy,omitempty"`
	Salt     string        `json:"salt"`
	Buckets  []BucketRange `json:"buckets"`
}

// Contains reports whether bucket b is in the sample's set.
func (s *Sample) Contains(b uint32) bool { return inRanges(s.Buckets, b) }

// inRanges reports whether b is in one of the sorted ranges rs.
func inRanges(rs []BucketRange, b uint32) bool {
	for _, r := range rs {
		if b < r.From {
			return false
		}
		if b < r.To {
			return true
		}
	}
	return false
}

// Size returns the number of buckets in the sample's set.
func (s *Sample) Size() uint32 {
	var n uint32
	for _, r := range s.Buckets {
		n += r.To - r.From
	}
	return n
}

// Allocation maps every bucket of its own scale to a variant: the unit's
// bucket under Salt (hashed from its BucketBy attribute, else
// targetingKey) selects the range, and the range's variant is served.
// Ranges are sorted, do not overlap and cover [0, 10000) exactly.
type Allocation struct {
	BucketBy string         `json:"bucketBy,omitempty"`
	Salt     string         `json:"salt"`
	Ranges   []VariantRange `json:"ranges"`
}

// VariantRange gives the buckets [From, To) to a variant.
type VariantRange struct {
	From    uint32 `json:"from"`
	To      uint32 `json:"to"`
	Variant string `json:"variant"`
}

// Split is one variant's share of a percentage rollout.
type Split struct {
	Variant string  `json:"variant"`
	Weight  Percent `json:"weight"`
}

// Percent is a percentage with two decimals, counted in basis points:
// 1 is 0.01% and 10000 is 100%.
type Percent int

// Hundred is 100%.
const Hundred Percent = bucket.Scale

// ParsePercent reads a percentage such as "10", "0.01" or "33.33" exactly,
// without going through floating point. It rejects more than two decimals,
// negative numbers and values above 100.
func ParsePercent(s string) (Percent, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && !hasDot || !digits(whole) || hasDot && (frac == "" || !digits(frac)) {
		return 0, fmt.Errorf("invalid percentage %q: want a number from 0 to 100 with at most two decimals", s)
	}
	if len(frac) > 2 {
		return 0, fmt.Errorf("invalid percentage %q: at most two decimals (0.01%% is the smallest step)", s)
	}
	if len(whole) > 3 {
		return 0, fmt.Errorf("percentage %s is above 100", s)
	}
	w := 0
	if whole != "" {
		w, _ = strconv.Atoi(whole)
	}
	f, _ := strconv.Atoi((frac + "00")[:2])
	p := Percent(w*100 + f)
	if p > Hundred {
		return 0, fmt.Errorf("percentage %s is above 100", s)
	}
	return p, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String renders the percentage without trailing zeros: "10", "0.01", "33.5".
func (p Percent) String() string {
	if p < 0 {
		return "-" + (-p).String()
	}
	whole, frac := int(p)/100, int(p)%100
	switch {
	case frac == 0:
		return strconv.Itoa(whole)
	case frac%10 == 0:
		return fmt.Sprintf("%d.%d", whole, frac/10)
	default:
		return fmt.Sprintf("%d.%02d", whole, frac)
	}
}

// VariantIndex returns the position of the named variant, or -1.
func (f *Flag) VariantIndex(key string) int {
	for i, v := range f.Variants {
		if v.Key == key {
			return i
		}
	}
	return -1
}

// EffectiveSalt returns the salt the bucketing hash uses: Salt, or the key.
func (f *Flag) EffectiveSalt() string {
	if f.Salt != "" {
		return f.Salt
	}
	return f.Key
}

// State is what the engine validates and compiles into a Snapshot: every
// cohort and every flag with the rules it is evaluated with. It knows
// nothing of where its rules came from: the control plane's whole
// configuration (ramp.Config, with rollout plans and their progress) is
// composed into a State by ramp.Compose, and rules it added carry an
// Origin. A cohort's listed members come either as ids (Members) or as a
// prebuilt hashed set (MemberSets); a State read for edits may carry
// neither, only MemberCount, and is validated but never compiled.
type State struct {
	Cohorts []cohorts.Cohort `json:"cohorts,omitempty"`
	Flags   []Flag           `json:"flags,omitempty"`
	// MemberSets optionally supplies prebuilt membership sets by cohort key,
	// used instead of the cohort's Members (stores pass them for large
	// imported lists).
	MemberSets map[string]*cohorts.Set `json:"-"`
}

// Flag returns the flag with the given key.
func (st *State) Flag(key string) (*Flag, bool) {
	for i := range st.Flags {
		if st.Flags[i].Key == key {
			return &st.Flags[i], true
		}
	}
	return nil, false
}

// Cohort returns the cohort with the given key.
func (st *State) Cohort(key string) (*cohorts.Cohort, bool) {
	for i := range st.Cohorts {
		if st.Cohorts[i].Key == key {
			return &st.Cohorts[i], true
		}
	}
	return nil, false
}

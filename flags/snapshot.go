package flags

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// The context attributes the engine reads by name.
const (
	// TargetingKey is the OpenFeature targeting key: the user's id. Cohort
	// lists are matched against it and it is the bucketing key unless the
	// flag's BucketBy attribute is present.
	TargetingKey = "targetingKey"
	// RegionAttribute holds the user's ISO 3166-1 alpha-2 country.
	RegionAttribute = "region"
)

// Snapshot is an immutable, compiled configuration. Evaluating against it is
// a pure function of the snapshot and the context: no I/O, no locks, and no
// allocation for boolean, string and number flags. A Snapshot is safe for
// concurrent use; to change configuration, compile a new one and swap it in.
type Snapshot struct {
	version int64
	flags   map[string]*compiledFlag
	keys    []string
	ordered []*compiledFlag // parallel to keys
	state   State
}

type compiledFlag struct {
	key       string
	typ       Type
	enabled   bool
	version   int64
	values    []any
	names     []string
	def       int
	bucketBy  string
	salt      string
	bucketing bucket.Version
	rules     []compiledRule
}

type compiledRule struct {
	name     string
	origin   *Origin
	cohorts  []*cohorts.Compiled
	regions  *cohorts.RegionSet
	matchers []*cohorts.Matcher
	sample   *compiledSample
	serve    int          // variant index, or -1 for a split
	split    []splitRange // cumulative upper bounds, in declaration order
	// splitBy and splitSalt place units for split when the rule has an
	// Allocation; empty for a Rollout, which uses the flag's.
	splitBy, splitSalt string
	allocated          bool
}

type compiledSample struct {
	bucketBy, salt string
	buckets        []BucketRange
}

type splitRange struct {
	variant int
	upper   uint32 // exclusive, in buckets
}

// Compile validates a state and compiles it into a Snapshot tagged with the
// given configuration version. It returns a *ValidationError if the state is
// not sound.
func Compile(st State, version int64) (*Snapshot, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	s := &Snapshot{version: version, flags: make(map[string]*compiledFlag, len(st.Flags)), state: st}
	compiledCohorts := make(map[string]*cohorts.Compiled, len(st.Cohorts))
	for _, c := range st.Cohorts {
		cc, err := c.Compile(st.MemberSets[c.Key])
		if err != nil {
			return nil, fmt.Errorf("cohort %s: %w", c.Key, err)
		}
		compiledCohorts[c.Key] = cc
	}
	for i := range st.Flags {
		cf, err := compileFlag(&st.Flags[i], compiledCohorts)
		if err != nil {
			return nil, fmt.Errorf("flag %s: %w", st.Flags[i].Key, err)
		}
		s.flags[cf.key] = cf
		s.keys = append(s.keys, cf.key)
	}
	sort.Strings(s.keys)
	s.ordered = make([]*compiledFlag, len(s.keys))
	for i, k := range s.keys {
		s.ordered[i] = s.flags[k]
	}
	return s, nil
}

func compileFlag(f *Flag, cs map[string]*cohorts.Compiled) (*compiledFlag, error) {
	cf := &compiledFlag{
		key: f.Key, typ: f.Type, enabled: f.Enabled, version: f.Version,
		def: f.VariantIndex(f.DefaultVariant), bucketBy: f.BucketBy,
		salt: f.EffectiveSalt(), bucketing: f.Bucketing,
	}
	for _, v := range f.Variants {
		nv, err := NormalizeValue(f.Type, v.Value)
		if err != nil {
			return nil, err
		}
		cf.values = append(cf.values, nv)
		cf.names = append(cf.names, v.Key)
	}
	for i, r := range f.Rules {
		cr := compiledRule{name: r.Name, origin: r.Origin, serve: -1}
		for _, key := range r.Cohorts {
			cr.cohorts = append(cr.cohorts, cs[key])
		}
		if len(r.Regions) > 0 {
			cr.regions = &cohorts.RegionSet{}
			for _, sel := range r.Regions {
				list, all, err := cohorts.ExpandSelector(sel)
				if err != nil {
					return nil, fmt.Errorf("rules[%d]: %w", i, err)
				}
				if all {
					cr.regions.AddEverywhere()
				}
				for _, c := range list {
					cr.regions.Add(c)
				}
			}
		}
		for _, c := range r.When {
			m, err := c.Compile()
			if err != nil {
				return nil, fmt.Errorf("rules[%d]: %w", i, err)
			}
			cr.matchers = append(cr.matchers, m)
		}
		if r.Sample != nil {
			cr.sample = &compiledSample{bucketBy: r.Sample.BucketBy, salt: r.Sample.Salt, buckets: r.Sample.Buckets}
		}
		switch {
		case r.Serve != "":
			cr.serve = f.VariantIndex(r.Serve)
		case r.Allocation != nil:
			cr.splitBy, cr.splitSalt, cr.allocated = r.Allocation.BucketBy, r.Allocation.Salt, true
			for _, vr := range r.Allocation.Ranges {
				cr.split = append(cr.split, splitRange{variant: f.VariantIndex(vr.Variant), upper: vr.To})
			}
		default:
			var cum uint32
			for _, sp := range r.Rollout {
				if sp.Weight == 0 {
					continue
				}
				cum += uint32(sp.Weight)
				cr.split = append(cr.split, splitRange{variant: f.VariantIndex(sp.Variant), upper: cum})
			}
		}
		cf.rules = append(cf.rules, cr)
	}
	return cf, nil
}

// Version returns the configuration version the snapshot was compiled from.
func (s *Snapshot) Version() int64 { return s.version }

// Keys returns the flag keys in alphabetical order. The slice is shared:
// do not modify it.
func (s *Snapshot) Keys() []string { return s.keys }

// State returns the configuration the snapshot was compiled from. It is
// shared: do not modify it.
func (s *Snapshot) State() *State { return &s.state }

// Type returns a flag's type.
func (s *Snapshot) Type(key string) (Type, bool) {
	f, ok := s.flags[key]
	if !ok {
		return "", false
	}
	return f.typ, true
}

// Evaluate decides a flag for a context. On failure the decision's Value is
// nil and its ErrorCode says why. ctx is an OpenFeature flattened context:
// targetingKey and other attributes in one map; it is only read.
func (s *Snapshot) Evaluate(key string, ctx map[string]any) (d Decision) {
	if f := s.lookup(&d, key); f != nil {
		s.decide(&d, f, ctx, nil)
	}
	return d
}

// EvaluateAt decides the i-th flag of Keys for a context, as Evaluate does,
// without looking its key up: for callers that decide every flag (a bulk
// evaluation). It panics if i is out of range.
func (s *Snapshot) EvaluateAt(i int, ctx map[string]any) (d Decision) {
	s.decide(&d, s.ordered[i], ctx, nil)
	return d
}

// lookup finds a flag, or fills d with the error decision for its absence.
func (s *Snapshot) lookup(d *Decision, key string) *compiledFlag {
	if s == nil {
		*d = Decision{Key: key, Reason: ReasonError, ErrorCode: ErrGeneral, ErrorDetails: "no configuration loaded", Rule: -1}
		return nil
	}
	f, ok := s.flags[key]
	if !ok {
		*d = Decision{Key: key, Reason: ReasonError, ErrorCode: ErrFlagNotFound,
			ErrorDetails: "flag " + quote(key) + " not found", Rule: -1, SnapshotVersion: s.version}
		return nil
	}
	return f
}

// trace receives what each rule did, for explanations; nil on the hot path.
type trace interface {
	rule(i int, matched bool, why string)
	// placed reports a unit's placement: for rule i's sample, or for the
	// split that chose the variant when i is -1.
	placed(i int, bucketingAttr, bucketingKey, salt string, position, bucket uint32)
}

// decide fills d, which must be the zero Decision. It writes fields one by
// one rather than a whole struct: a Decision is large, and copying it is a
// measurable part of a fast evaluation.
func (s *Snapshot) decide(d *Decision, f *compiledFlag, ctx map[string]any, tr trace) {
	d.Key, d.Rule, d.Origin, d.FlagVersion, d.SnapshotVersion = f.key, -1, nil, f.version, s.version
	if !f.enabled {
		d.Value, d.Variant, d.Reason = f.values[f.def], f.names[f.def], ReasonDisabled
		return
	}
	if len(f.rules) == 0 {
		d.Value, d.Variant, d.Reason = f.values[f.def], f.names[f.def], ReasonStatic
		return
	}
	var (
		idHash    uint64
		idHashSet bool
	)
	for i := range f.rules {
		r := &f.rules[i]
		if r.regions != nil {
			region, _ := ctx[RegionAttribute].(string)
			if !r.regions.Contains(region) {
				if tr != nil {
					tr.rule(i, false, "region "+quote(region)+" is not targeted")
				}
				continue
			}
			if tr != nil {
				tr.rule(i, true, "region "+quote(region)+" is targeted")
			}
		}
		if len(r.cohorts) > 0 {
			if !idHashSet {
				if tk, ok := ctx[TargetingKey].(string); ok && tk != "" {
					idHash, idHashSet = cohorts.HashID(tk), true
				}
			}
			in := false
			for _, c := range r.cohorts {
				if c != nil && c.Match(ctx, idHash, idHashSet) {
					in = true
					if tr != nil {
						tr.rule(i, true, "member of cohort "+c.Key())
					}
					break
				}
			}
			if !in {
				if tr != nil {
					tr.rule(i, false, "not in any of the rule's cohorts")
				}
				continue
			}
		}
		matched := true
		for _, m := range r.matchers {
			if !m.Match(ctx) {
				matched = false
				if tr != nil {
					tr.rule(i, false, "condition not met: "+m.Condition().String())
				}
				break
			}
		}
		if !matched {
			continue
		}
		if tr != nil && len(r.matchers) > 0 {
			tr.rule(i, true, "conditions hold")
		}
		var unitAttr string // the sample's unit, reused by an allocation by the same attribute
		var unitVal any
		if sm := r.sample; sm != nil {
			unitAttr, unitVal = bucketingValue(sm.bucketBy, ctx)
			b, _, code, detail := placeUnit(f.bucketing, unitAttr, unitVal, sm.salt, tr, i)
			if code != "" {
				errorDecision(d, code, detail)
				return
			}
			if !inRanges(sm.buckets, b) {
				if tr != nil {
					tr.rule(i, false, "bucket not in the rule's sample")
				}
				continue
			}
			if tr != nil {
				tr.rule(i, true, "bucket in the rule's sample")
			}
		}
		d.Rule, d.RuleName, d.Origin = i, r.name, r.origin
		if r.serve >= 0 {
			if tr != nil {
				tr.rule(i, true, "serves "+f.names[r.serve])
			}
			d.Value, d.Variant, d.Reason = f.values[r.serve], f.names[r.serve], ReasonTargetingMatch
			return
		}
		v, code, detail := s.pick(d, f, r, ctx, tr, unitAttr, unitVal)
		if code != "" {
			errorDecision(d, code, detail)
			return
		}
		if tr != nil {
			tr.rule(i, true, "split serves "+f.names[v])
		}
		d.Value, d.Variant, d.Reason = f.values[v], f.names[v], ReasonSplit
		return
	}
	d.Value, d.Variant, d.Reason = f.values[f.def], f.names[f.def], ReasonDefault
}

// pick places the context's unit on the rule's scale (the flag's, or the
// allocation's own) and returns the variant of the range it falls in. An
// allocation that buckets by the same attribute as the rule's sample
// reuses the unit the sample found (sampleAttr, sampleVal), without
// looking the context up again. For an allocation it records the unit's
// placement in d.Unit.
func (s *Snapshot) pick(d *Decision, f *compiledFlag, r *compiledRule, ctx map[string]any, tr trace, sampleAttr string, sampleVal any) (int, ErrorCode, string) {
	by, salt := f.bucketBy, f.salt
	if r.allocated {
		by, salt = r.splitBy, r.splitSalt
	}
	var attr string
	var val any
	if r.allocated && r.sample != nil && by == r.sample.bucketBy {
		attr, val = sampleAttr, sampleVal
	} else {
		attr, val = bucketingValue(by, ctx)
	}
	b, h, code, detail := placeUnit(f.bucketing, attr, val, salt, tr, -1)
	if code != "" {
		return 0, code, detail
	}
	if r.allocated {
		d.Unit = Placement{Attr: attr, Hash: h}
	}
	for _, sr := range r.split {
		if b < sr.upper {
			return sr.variant, "", ""
		}
	}
	// Unreachable for a validated state (the ranges cover every bucket).
	return 0, ErrGeneral, "percentage split does not cover bucket"
}

// placeUnit returns the bucket under salt of a unit found by
// bucketingValue (attribute attr, value val; nil when the context has
// none), and the 64-bit hash it comes from (bucket.Sum). It reports the
// placement to tr: as a sample of rule i, or as the split when i is -1.
func placeUnit(v bucket.Version, attr string, val any, salt string, tr trace, i int) (uint32, uint64, ErrorCode, string) {
	if val == nil {
		if i >= 0 {
			return 0, 0, ErrTargetingKeyMissing, "a rule with a bucket sample needs a targetingKey"
		}
		return 0, 0, ErrTargetingKeyMissing, "a percentage rollout needs a targetingKey"
	}
	var h uint64
	if str, ok := val.(string); ok {
		h = bucket.Sum(v, salt, str)
		if tr != nil {
			tr.placed(i, attr, str, salt, uint32(h>>32), bucket.BucketOf(uint32(h>>32)))
		}
	} else {
		var buf [32]byte
		key, ok := AppendUnitKey(buf[:0], val)
		if !ok {
			return 0, 0, ErrInvalidContext, "attribute " + quote(attr) + " must be a string or an integer to bucket by"
		}
		h = bucket.SumBytes(v, salt, key)
		if tr != nil {
			tr.placed(i, attr, string(key), salt, uint32(h>>32), bucket.BucketOf(uint32(h>>32)))
		}
	}
	return bucket.BucketOf(uint32(h >> 32)), h, "", ""
}

// bucketingValue returns the attribute that places a unit and its value:
// bucketBy when present and not empty, else targetingKey; nil when neither
// is there.
func bucketingValue(bucketBy string, ctx map[string]any) (string, any) {
	if bucketBy != "" {
		if v, ok := ctx[bucketBy]; ok && v != nil && v != "" {
			return bucketBy, v
		}
	}
	if v, ok := ctx[TargetingKey]; ok && v != nil && v != "" {
		return TargetingKey, v
	}
	return TargetingKey, nil
}

// AppendUnitKey appends a non-string bucketing key as the bucketing
// contract reads it (docs/bucketing.md): an integer in decimal, a float
// only when integral and below 2^53 (JSON numbers arrive as float64), a
// json.Number as written. ok is false for anything else. Whatever places
// or records a unit outside the engine (exposure logs) writes it with this
// function, so that the unit recorded is the key the engine hashed.
func AppendUnitKey(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || math.Abs(x) >= 1<<53 {
			return dst, false
		}
		return strconv.AppendInt(dst, int64(x), 10), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		return cohorts.AppendText(dst, v)
	}
	return dst, false
}

func errorDecision(d *Decision, code ErrorCode, detail string) {
	d.Value, d.Variant, d.Reason, d.ErrorCode, d.ErrorDetails = nil, "", ReasonError, code, detail
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

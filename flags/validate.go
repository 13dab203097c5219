package flags

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// Problem is one thing wrong with a configuration. Path locates the field in
// the configuration's structure, e.g. "flags[1].rules[0].rollout.on"
// (sequence positions in brackets, mapping keys after dots), so that a
// configuration reader can turn it into a file and line.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration: %d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Validate checks a whole configuration and reports every problem at once,
// as a *ValidationError, or nil when the state is sound: keys well formed and
// unique, variants typed as their flag, rules naming known variants, cohorts
// and regions, rollouts summing to 100%, conditions well formed, samples
// and allocations with usable salts and sound bucket ranges.
func (st *State) Validate() error {
	var ps problems
	cohortKeys := make(map[string]bool, len(st.Cohorts))
	for i := range st.Cohorts {
		validateCohort(&ps, fmt.Sprintf("cohorts[%d]", i), &st.Cohorts[i], cohortKeys)
	}
	flagKeys := make(map[string]bool, len(st.Flags))
	for i := range st.Flags {
		path := fmt.Sprintf("flags[%d]", i)
		f := &st.Flags[i]
		if err := cohorts.ValidateKey(f.Key); err != nil {
			ps.add(path+".key", "%v", err)
		} else if flagKeys[f.Key] {
			ps.add(path+".key", "duplicate flag key %q", f.Key)
		}
		flagKeys[f.Key] = true
		validateFlag(&ps, path, f, cohortKeys)
	}
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// ValidateFlag checks one flag against the set of known cohort keys.
func ValidateFlag(f *Flag, knownCohorts map[string]bool) error {
	var ps problems
	if err := cohorts.ValidateKey(f.Key); err != nil {
		ps.add("key", "%v", err)
	}
	validateFlag(&ps, "", f, knownCohorts)
	for i := range ps {
		ps[i].Path = strings.TrimPrefix(ps[i].Path, ".")
	}
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

func validateCohort(ps *problems, path string, c *cohorts.Cohort, seen map[string]bool) {
	if err := cohorts.ValidateKey(c.Key); err != nil {
		ps.add(path+".key", "%v", err)
	} else if seen[c.Key] {
		ps.add(path+".key", "duplicate cohort key %q", c.Key)
	}
	seen[c.Key] = true
	for j, cond := range c.When {
		if _, err := cond.Compile(); err != nil {
			ps.add(fmt.Sprintf("%s.when[%d]", path, j), "%v", err)
		}
	}
	ids := make(map[string]int, len(c.Members))
	for j, m := range c.Members {
		mp := fmt.Sprintf("%s.members[%d]", path, j)
		if err := cohorts.ValidateID(m.ID); err != nil {
			ps.add(mp, "%v", err)
			continue
		}
		if prev, dup := ids[m.ID]; dup {
			ps.add(mp, "duplicate member %q (also members[%d])", m.ID, prev)
		}
		ids[m.ID] = j
		if m.Region != "" {
			if _, err := cohorts.ParseRegion(string(m.Region)); err != nil {
				ps.add(mp+".region", "%v", err)
			}
		}
	}
}

func validateFlag(ps *problems, path string, f *Flag, cohortKeys map[string]bool) {
	typeOK := false
	for _, t := range Types {
		typeOK = typeOK || f.Type == t
	}
	if !typeOK {
		ps.add(path+".type", "unknown type %q (want boolean, string, integer, float or object)", f.Type)
	}
	if err := f.Bucketing.Validate(); err != nil {
		ps.add(path+".bucketing", "%v", err)
	}
	if strings.Contains(f.Salt, ":") {
		ps.add(path+".salt", "salt must not contain ':' (the bucketing separator)")
	}
	if len(f.Variants) == 0 {
		ps.add(path+".variants", "a flag needs at least one variant")
	}
	variants := make(map[string]bool, len(f.Variants))
	for _, v := range f.Variants {
		vp := path + ".variants." + v.Key
		if err := cohorts.ValidateKey(v.Key); err != nil {
			ps.add(vp, "variant %v", err)
		} else if variants[v.Key] {
			ps.add(vp, "duplicate variant %q", v.Key)
		}
		variants[v.Key] = true
		if typeOK {
			if _, err := NormalizeValue(f.Type, v.Value); err != nil {
				ps.add(vp, "%v", err)
			}
		}
	}
	switch {
	case f.DefaultVariant == "":
		ps.add(path+".defaultVariant", "defaultVariant is required")
	case !variants[f.DefaultVariant]:
		ps.add(path+".defaultVariant", "unknown variant %q (have %s)", f.DefaultVariant, variantList(f))
	}
	names := make(map[string]bool)
	for j, r := range f.Rules {
		rp := fmt.Sprintf("%s.rules[%d]", path, j)
		if r.Name != "" {
			if names[r.Name] {
				ps.add(rp+".name", "duplicate rule name %q", r.Name)
			}
			names[r.Name] = true
		}
		for k, c := range r.Cohorts {
			if !cohortKeys[c] {
				ps.add(fmt.Sprintf("%s.cohorts[%d]", rp, k), "unknown cohort %q", c)
			}
		}
		for k, sel := range r.Regions {
			if _, _, err := cohorts.ExpandSelector(sel); err != nil {
				ps.add(fmt.Sprintf("%s.regions[%d]", rp, k), "%v", err)
			}
		}
		for k, cond := range r.When {
			if _, err := cond.Compile(); err != nil {
				ps.add(fmt.Sprintf("%s.when[%d]", rp, k), "%v", err)
			}
		}
		if r.Sample != nil {
			validateSample(ps, rp+".sample", r.Sample)
		}
		forms := 0
		for _, set := range []bool{r.Serve != "", len(r.Rollout) > 0, r.Allocation != nil} {
			if set {
				forms++
			}
		}
		switch {
		case forms > 1:
			ps.add(rp, "a rule has one of serve, rollout and allocation, not several")
		case forms == 0:
			ps.add(rp, "a rule needs serve (one variant), rollout (a percentage split) or allocation (a bucket table)")
		case r.Serve != "":
			if !variants[r.Serve] {
				ps.add(rp+".serve", "unknown variant %q (have %s)", r.Serve, variantList(f))
			}
		case r.Allocation != nil:
			validateAllocation(ps, rp+".allocation", r.Allocation, f, variants)
		default:
			var sum Percent
			seen := make(map[string]bool)
			for _, s := range r.Rollout {
				sp := rp + ".rollout." + s.Variant
				switch {
				case !variants[s.Variant]:
					ps.add(sp, "unknown variant %q (have %s)", s.Variant, variantList(f))
				case seen[s.Variant]:
					ps.add(sp, "variant %q appears twice", s.Variant)
				}
				seen[s.Variant] = true
				if s.Weight < 0 || s.Weight > Hundred {
					ps.add(sp, "percentage %s is outside 0..100", s.Weight)
				}
				sum += s.Weight
			}
			if sum != Hundred {
				ps.add(rp+".rollout", "percentages sum to %s, not 100", sum)
			}
		}
	}
}

// validateSample checks a rule sample: a usable salt and sorted,
// non-empty, non-overlapping ranges on the bucket scale. An empty set is
// sound: the rule then matches no unit.
func validateSample(ps *problems, path string, sm *Sample) {
	validateSalt(ps, path+".salt", sm.Salt)
	var last uint32
	for k, br := range sm.Buckets {
		bp := fmt.Sprintf("%s.buckets[%d]", path, k)
		switch {
		case br.From >= br.To:
			ps.add(bp, "empty range %d..%d (a range is half-open: from < to)", br.From, br.To)
		case br.To > bucket.Scale:
			ps.add(bp, "range %d..%d goes beyond the last bucket (%d)", br.From, br.To, bucket.Scale-1)
		case k > 0 && br.From < last:
			ps.add(bp, "range %d..%d overlaps or precedes the one before it (ranges are sorted and disjoint)", br.From, br.To)
		}
		last = max(last, br.To)
	}
}

// validateAllocation checks an allocation table: known variants and
// non-empty ranges that cover the bucket scale exactly, in order.
func validateAllocation(ps *problems, path string, a *Allocation, f *Flag, variants map[string]bool) {
	validateSalt(ps, path+".salt", a.Salt)
	if len(a.Ranges) == 0 {
		ps.add(path+".ranges", "an allocation needs ranges covering buckets 0..%d", bucket.Scale)
		return
	}
	var next uint32
	for k, vr := range a.Ranges {
		rp := fmt.Sprintf("%s.ranges[%d]", path, k)
		if !variants[vr.Variant] {
			ps.add(rp+".variant", "unknown variant %q (have %s)", vr.Variant, variantList(f))
		}
		switch {
		case vr.From >= vr.To:
			ps.add(rp, "empty range %d..%d (a range is half-open: from < to)", vr.From, vr.To)
		case vr.To > bucket.Scale:
			ps.add(rp, "range %d..%d goes beyond the last bucket (%d)", vr.From, vr.To, bucket.Scale-1)
		case vr.From > next:
			ps.add(rp, "gap: buckets %d..%d belong to no range", next, vr.From)
		case vr.From < next:
			ps.add(rp, "range %d..%d overlaps the one before it, which ends at %d", vr.From, vr.To, next)
		}
		next = max(next, vr.To)
	}
	if next < bucket.Scale {
		ps.add(path+".ranges", "gap: buckets %d..%d belong to no range", next, bucket.Scale)
	}
}

func validateSalt(ps *problems, path, salt string) {
	switch {
	case salt == "":
		ps.add(path, "salt is required")
	case strings.Contains(salt, ":"):
		ps.add(path, "salt must not contain ':' (the bucketing separator)")
	}
}

func variantList(f *Flag) string {
	keys := make([]string, len(f.Variants))
	for i, v := range f.Variants {
		keys[i] = v.Key
	}
	return strings.Join(keys, ", ")
}

// NormalizeValue checks that v is a value of type t and returns it in the
// canonical Go form the engine serves: bool, string, int64, float64, or for
// objects a JSON value built of map[string]any, []any, string, float64, bool
// and nil.
func NormalizeValue(t Type, v any) (any, error) {
	switch t {
	case Boolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Integer:
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case uint64:
			if x <= math.MaxInt64 {
				return int64(x), nil
			}
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
		case json.Number:
			if n, err := x.Int64(); err == nil {
				return n, nil
			}
		}
	case Float:
		switch x := v.(type) {
		case float64:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				return x, nil
			}
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case json.Number:
			if f, err := x.Float64(); err == nil {
				return f, nil
			}
		}
	case Object:
		switch v.(type) {
		case map[string]any, []any:
			return normalizeJSON(v)
		}
	default:
		return nil, fmt.Errorf("unknown type %q", t)
	}
	return nil, fmt.Errorf("value %s is not of type %s", describe(v), t)
}

func normalizeJSON(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("value %v cannot be represented in JSON", x)
		}
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		return f, err
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalizeJSON(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeJSON(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("value %s cannot be represented in JSON", describe(v))
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q (a string)", x)
	case bool:
		return fmt.Sprintf("%t (a boolean)", x)
	case map[string]any:
		return "(an object)"
	case []any:
		return "(a list)"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

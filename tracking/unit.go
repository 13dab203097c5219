package tracking

import (
	"slices"

	"github.com/ramp-flags/ramp/flags"
)

// TargetingKey is the context attribute that identifies a unit when an
// experiment names no other (OpenFeature's targeting key).
const TargetingKey = flags.TargetingKey

// unitOf finds the unit an experiment decision was made for, as the engine
// placed it: the attribute attr when the context has it (not nil, not
// empty), else targetingKey. A string value is returned in str; an integer
// (an integral float64 below 2^53, any Go integer, a json.Number) is
// written in decimal into buf, returned as num. ok is false when the
// context has no usable value.
func unitOf(attr string, ctx map[string]any, buf []byte) (name, str string, num []byte, ok bool) {
	name = attr
	v, found := any(nil), false
	if attr != "" {
		v, found = ctx[attr]
		found = found && v != nil && v != ""
	}
	if !found {
		name = TargetingKey
		v, found = ctx[TargetingKey]
		if !found || v == nil || v == "" {
			return name, "", nil, false
		}
	}
	if s, isStr := v.(string); isStr {
		return name, s, nil, true
	}
	num, ok = flags.AppendUnitKey(buf, v)
	return name, "", num, ok
}

// identifier returns an attribute's value as an identifier: a string as
// it is, an integer in decimal. ok is false for anything else (a
// fraction, a boolean, an object), and for nil and "".
func identifier(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, x != ""
	}
	var buf [24]byte
	b, ok := flags.AppendUnitKey(buf[:0], v)
	if !ok {
		return "", false
	}
	return string(b), true
}

// UnitAttributes lists, sorted and once each, the context attributes a
// configuration places units by (flags' and experiments' bucketBy, and
// the units experiment rules name), targetingKey excluded: the
// identifiers an event keeps from its context besides targetingKey, so
// that it joins the exposures of every experiment whatever it buckets by.
func UnitAttributes(st *flags.State) []string {
	var out []string
	add := func(a string) {
		if a != "" && a != TargetingKey {
			out = append(out, a)
		}
	}
	for i := range st.Flags {
		f := &st.Flags[i]
		add(f.BucketBy)
		for j := range f.Rules {
			r := &f.Rules[j]
			if r.Sample != nil {
				add(r.Sample.BucketBy)
			}
			if r.Allocation != nil {
				add(r.Allocation.BucketBy)
			}
			if r.Origin != nil {
				add(r.Origin.Unit)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Identifiers returns the identifiers an event keeps from its context:
// targetingKey and each of attrs (UnitAttributes) that the context holds,
// strings as they are and integers in decimal. It returns the first
// attribute whose value is neither (bad != ""), and nil when the context
// identifies nothing. Other attributes are not kept: an event stores who
// did something, not everything the service knew about them.
func Identifiers(ctx map[string]any, attrs []string) (units map[string]string, bad string) {
	for _, a := range append([]string{TargetingKey}, attrs...) {
		v, ok := ctx[a]
		if !ok || v == nil || v == "" {
			continue
		}
		s, ok := identifier(v)
		if !ok {
			return nil, a
		}
		if units == nil {
			units = make(map[string]string, 1+len(attrs))
		}
		units[a] = s
	}
	return units, ""
}

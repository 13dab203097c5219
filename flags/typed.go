package flags

import "fmt"

// The typed look-ups below return the caller's default with TYPE_MISMATCH
// when the flag's type differs from the one asked for, and with the
// decision's error code on any other failure, as OpenFeature providers do.

// Bool decides a boolean flag.
func (s *Snapshot) Bool(key string, def bool, ctx map[string]any) (v bool, d Decision) {
	s.typed(&d, key, Boolean, ctx)
	if x, ok := d.Value.(bool); ok && !d.IsError() {
		return x, d
	}
	d.Value = def
	return def, d
}

// String decides a string flag.
func (s *Snapshot) String(key string, def string, ctx map[string]any) (v string, d Decision) {
	s.typed(&d, key, String, ctx)
	if x, ok := d.Value.(string); ok && !d.IsError() {
		return x, d
	}
	d.Value = def
	return def, d
}

// Int decides an integer flag.
func (s *Snapshot) Int(key string, def int64, ctx map[string]any) (v int64, d Decision) {
	s.typed(&d, key, Integer, ctx)
	if x, ok := d.Value.(int64); ok && !d.IsError() {
		return x, d
	}
	d.Value = def
	return def, d
}

// Float decides a float flag.
func (s *Snapshot) Float(key string, def float64, ctx map[string]any) (v float64, d Decision) {
	s.typed(&d, key, Float, ctx)
	if x, ok := d.Value.(float64); ok && !d.IsError() {
		return x, d
	}
	d.Value = def
	return def, d
}

// Object decides an object flag. The value returned is a deep copy that the
// caller may modify.
func (s *Snapshot) Object(key string, def any, ctx map[string]any) (_ any, d Decision) {
	s.typed(&d, key, Object, ctx)
	if d.IsError() {
		d.Value = def
		return def, d
	}
	v := deepCopy(d.Value)
	d.Value = v
	return v, d
}

func (s *Snapshot) typed(d *Decision, key string, want Type, ctx map[string]any) {
	f := s.lookup(d, key)
	if f == nil {
		return
	}
	if f.typ != want {
		*d = Decision{Key: key, Reason: ReasonError, ErrorCode: ErrTypeMismatch, Rule: -1,
			ErrorDetails:    fmt.Sprintf("flag %q is of type %s, not %s", key, f.typ, want),
			FlagVersion:     f.version,
			SnapshotVersion: s.version}
		return
	}
	s.decide(d, f, ctx, nil)
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

package experiment

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
)

// Problem is something wrong with declared layers or experiments, at a
// path such as experiments[0].arms.inline or layers[1].holdout (indexes
// in declaration order, mapping keys after dots, as flags.Problem's paths),
// so that a configuration reader can turn it into a file and line.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// String renders the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError returns problems as a *flags.ValidationError (which ramp
// classifies as invalid), or nil when there are none.
func ValidationError(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	ps := make([]flags.Problem, len(problems))
	for i, p := range problems {
		ps[i] = flags.Problem{Path: p.Path, Message: p.Message}
	}
	return &flags.ValidationError{Problems: ps}
}

// Validate checks declared layers and experiments against the flags and
// cohorts of st and returns every problem found, nil when there is none:
//
//   - layers: a well-formed, unique key, a holdout within 0–100, a salt
//     without ':';
//   - experiments: a well-formed, unique key; a known flag and layer; known
//     cohorts, valid region selectors and conditions in the audience;
//     traffic above 0 and at most 100; at least two arms, each a variant of
//     the flag (an arm written as a value, "300" for a variant short: 300,
//     is told which variants the flag has and of what type), named once,
//     with weights summing to 100; a control that is an arm; a shipped arm
//     that is an arm, and only on a stopped experiment; a ramp-up whose
//     steps rise, each within 0–100 and at most the traffic, with an
//     After on every step but the first; a ShipVia of "" or
//     ShipViaRollout, the latter with a shipped arm;
//   - together: the experiments of one layer that are not stopped, with its
//     holdout, take at most 100% (the problem names the experiments that
//     fill it); the buckets of running and paused experiments of a layer
//     overlap neither each other nor the holdout; a flag is decided by one
//     experiment at a time, so two running or paused experiments on one
//     flag in different layers are refused (two of one layer are mutually
//     exclusive and may share a flag).
//
// A layer whose bucketBy differs from the bucketBy of an experiment's flag
// is allowed: the experiment places its units by the layer's attribute.
func Validate(st *flags.State, layers []Layer, exps []Experiment) []Problem {
	v := validator{st: st}
	layerAt := map[string]int{}
	for i := range layers {
		l := &layers[i]
		p := fmt.Sprintf("layers[%d]", i)
		if err := cohorts.ValidateKey(l.Key); err != nil {
			v.add(p+".key", "layer %v", err)
		} else if j, dup := layerAt[l.Key]; dup {
			v.add(p+".key", "duplicate layer %q (also layers[%d])", l.Key, j)
		} else {
			layerAt[l.Key] = i
		}
		if l.Holdout < 0 || l.Holdout >= flags.Hundred {
			v.add(p+".holdout", "holdout %s%% is outside 0–100 (a layer must leave its experiments some room)", l.Holdout)
		}
		if strings.Contains(l.Salt, ":") {
			v.add(p+".salt", "salt must not contain ':' (the bucketing separator)")
		}
	}
	expAt := map[string]int{}
	for i := range exps {
		e := &exps[i]
		p := fmt.Sprintf("experiments[%d]", i)
		if err := cohorts.ValidateKey(e.Key); err != nil {
			v.add(p+".key", "experiment %v", err)
		} else if j, dup := expAt[e.Key]; dup {
			v.add(p+".key", "duplicate experiment %q (also experiments[%d])", e.Key, j)
		} else {
			expAt[e.Key] = i
		}
		if e.Layer != "" {
			if _, ok := layerAt[e.Layer]; !ok {
				v.add(p+".layer", "unknown layer %q%s", e.Layer, known("layers", keysOf(layers)))
			}
		}
		v.experiment(p, e)
	}
	v.layers(layers, exps)
	v.flagsDecidedOnce(exps)
	return v.ps
}

type validator struct {
	st *flags.State
	ps []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// experiment checks one experiment on its own.
func (v *validator) experiment(p string, e *Experiment) {
	var f *flags.Flag
	switch ok := false; {
	case e.Flag == "":
		v.add(p+".flag", "flag is required: the flag whose variants the arms are")
	case v.st == nil:
	default:
		if f, ok = v.st.Flag(e.Flag); !ok {
			v.add(p+".flag", "unknown flag %q", e.Flag)
		}
	}
	if strings.Contains(e.Salt, ":") {
		v.add(p+".salt", "salt must not contain ':' (the bucketing separator)")
	}
	for k, c := range e.Audience.Cohorts {
		if v.st != nil {
			if _, ok := v.st.Cohort(c); !ok {
				v.add(fmt.Sprintf("%s.audience.cohorts[%d]", p, k), "unknown cohort %q", c)
			}
		}
	}
	for k, sel := range e.Audience.Regions {
		if _, _, err := cohorts.ExpandSelector(sel); err != nil {
			v.add(fmt.Sprintf("%s.audience.regions[%d]", p, k), "%v", err)
		}
	}
	for k, c := range e.Audience.When {
		if _, err := c.Compile(); err != nil {
			v.add(fmt.Sprintf("%s.audience.when[%d]", p, k), "%v", err)
		}
	}
	if e.Traffic <= 0 || e.Traffic > flags.Hundred {
		v.add(p+".traffic", "traffic %s%% is outside 0–100: an experiment takes more than 0%% and at most 100%% of its layer", e.Traffic)
	}
	v.arms(p, e, f)
	v.rampUp(p, e)
	isArm := func(a string) bool {
		for _, arm := range e.Arms {
			if arm.Variant == a {
				return true
			}
		}
		return false
	}
	switch {
	case e.Control == "":
		v.add(p+".control", "control is required: the arm the others are compared with (one of %s)", armNames(e.Arms))
	case !isArm(e.Control):
		v.add(p+".control", "control %q is not an arm (arms: %s)", e.Control, armNames(e.Arms))
	}
	switch e.Status {
	case "", Draft, Stopped:
	case Running, Paused:
		if len(e.Phases) == 0 {
			v.add(p+".status", "a %s experiment needs a phase", e.Status)
		}
	default:
		v.add(p+".status", "unknown status %q (want draft, running, paused or stopped)", e.Status)
	}
	if e.Shipped != "" {
		switch {
		case e.Status != Stopped:
			v.add(p+".shipped", "only a stopped experiment ships an arm; this one is %s", e.status())
		case !isArm(e.Shipped) && !phaseArm(e, e.Shipped):
			v.add(p+".shipped", "shipped arm %q is not an arm (arms: %s)", e.Shipped, armNames(e.Arms))
		}
	}
}

// phaseArm reports whether arm is an arm of the experiment's last phase.
func phaseArm(e *Experiment, arm string) bool {
	if cur := e.Current(); cur != nil {
		for _, a := range cur.Arms {
			if a.Variant == arm {
				return true
			}
		}
	}
	return false
}

// arms checks the arms against each other and, when known, the flag.
func (v *validator) arms(p string, e *Experiment, f *flags.Flag) {
	if len(e.Arms) < 2 {
		v.add(p+".arms", "%d arm(s); an experiment compares at least 2 (a control and a treatment)", len(e.Arms))
	}
	var sum flags.Percent
	seen := map[string]bool{}
	for _, a := range e.Arms {
		ap := p + ".arms." + a.Variant
		switch {
		case a.Variant == "":
			v.add(p+".arms", "an arm needs a variant")
		case seen[a.Variant]:
			v.add(ap, "arm %q appears twice", a.Variant)
		case f != nil && f.VariantIndex(a.Variant) < 0:
			v.add(ap, "%s", unknownArm(a.Variant, f))
		}
		seen[a.Variant] = true
		if a.Weight < 0 || a.Weight > flags.Hundred {
			v.add(ap, "weight %s%% is outside 0–100", a.Weight)
		}
		sum += a.Weight
	}
	if len(e.Arms) > 0 && sum != flags.Hundred {
		v.add(p+".arms", "weights sum to %s%%, not 100", sum)
	}
}

// unknownArm explains an arm that is not a variant of f. Arms name
// variants; an arm written as a value (of the flag's type or another) is
// told so, with the flag's variants, their values and its type.
func unknownArm(arm string, f *flags.Flag) string {
	have := fmt.Sprintf("flag %s (%s) has variants %s", f.Key, f.Type, variantValues(f))
	var val any = arm
	if err := json.Unmarshal([]byte(arm), &val); err != nil {
		val = arm
	}
	if nv, err := flags.NormalizeValue(f.Type, val); err == nil {
		for _, vr := range f.Variants {
			if x, err := flags.NormalizeValue(f.Type, vr.Value); err == nil && reflect.DeepEqual(x, nv) {
				return fmt.Sprintf("arm %q is a value, not a variant: arms name variants (did you mean %s?); %s", arm, vr.Key, have)
			}
		}
		if _, isString := val.(string); !isString {
			return fmt.Sprintf("arm %q looks like a value: arms name variants of the flag, not values; %s", arm, have)
		}
	} else if _, isString := val.(string); !isString {
		return fmt.Sprintf("arm %q looks like a %s value, which does not fit the flag's type: arms name variants; %s", arm, jsonKind(val), have)
	}
	return fmt.Sprintf("unknown arm %q: arms name variants; %s", arm, have)
}

// layers checks what the experiments of each layer take together.
func (v *validator) layers(layers []Layer, exps []Experiment) {
	byKey := map[string]Layer{}
	for _, l := range layers {
		if _, dup := byKey[l.Key]; !dup {
			byKey[l.Key] = l
		}
	}
	type member struct {
		i     int
		total flags.Percent
	}
	filled := map[string][]member{}
	occupied := map[string][]flags.BucketRange{}
	owner := map[string][]int{}
	for i := range exps {
		e := &exps[i]
		if e.Status == Stopped {
			continue
		}
		lk := e.layerKey()
		l, ok := byKey[lk]
		if !ok && e.Layer != "" {
			continue // reported as an unknown layer
		}
		if !ok {
			l = Layer{Key: lk}
		}
		ms := filled[lk]
		total := l.Holdout + e.Traffic
		if n := len(ms); n > 0 {
			total = ms[n-1].total + e.Traffic
		}
		if total > flags.Hundred && e.Traffic > 0 && e.Traffic <= flags.Hundred {
			var who []string
			for _, m := range ms {
				who = append(who, fmt.Sprintf("%s (experiments[%d], %s%%)", exps[m.i].Key, m.i, exps[m.i].Traffic))
			}
			if len(who) == 0 {
				v.add(fmt.Sprintf("experiments[%d].traffic", i), "traffic %s%% and layer %s's holdout %s%% exceed 100%%", e.Traffic, lk, l.Holdout)
			} else {
				v.add(fmt.Sprintf("experiments[%d].traffic", i), "layer %s is over-full: its holdout %s%%, %s and this experiment's %s%% make %s%%, more than 100%%",
					lk, l.Holdout, strings.Join(who, ", "), e.Traffic, total)
			}
		}
		filled[lk] = append(ms, member{i, total})
		if !e.holds() {
			continue
		}
		if occupied[lk] == nil {
			occupied[lk] = l.HoldoutBuckets()
		}
		b := e.Current().Buckets
		if size(union(occupied[lk], b)) != size(occupied[lk])+size(b) {
			var who []string
			for _, j := range owner[lk] {
				who = append(who, exps[j].Key)
			}
			v.add(fmt.Sprintf("experiments[%d].phases[%d].buckets", i, len(e.Phases)-1),
				"the buckets of %s overlap layer %s's holdout (buckets 0–%d) or another running or paused experiment of it (%s)",
				e.Key, lk, max(int(l.Holdout)-1, 0), strings.Join(who, ", "))
		}
		occupied[lk] = union(occupied[lk], b)
		owner[lk] = append(owner[lk], i)
	}
}

// flagsDecidedOnce refuses two running or paused experiments on one flag
// in different layers.
func (v *validator) flagsDecidedOnce(exps []Experiment) {
	first := map[string]int{}
	for i := range exps {
		e := &exps[i]
		if !e.holds() || e.Flag == "" {
			continue
		}
		j, ok := first[e.Flag]
		if !ok {
			first[e.Flag] = i
			continue
		}
		if o := &exps[j]; o.layerKey() != e.layerKey() {
			v.add(fmt.Sprintf("experiments[%d].flag", i),
				"flag %s is already decided by experiment %s (experiments[%d], layer %s, %s); %s in layer %s cannot run at the same time: a flag is decided by one experiment at a time",
				e.Flag, o.Key, j, o.layerKey(), o.Status, e.Key, e.layerKey())
		}
	}
}

func keysOf(layers []Layer) []string {
	ks := make([]string, len(layers))
	for i, l := range layers {
		ks[i] = l.Key
	}
	return ks
}

// known renders ": known <what>: a, b" or "" when there are none.
func known(what string, keys []string) string {
	if len(keys) == 0 {
		return " (no " + what + " are declared)"
	}
	return " (known " + what + ": " + strings.Join(keys, ", ") + ")"
}

func armNames(arms []Arm) string {
	ks := make([]string, len(arms))
	for i, a := range arms {
		ks[i] = a.Variant
	}
	if len(ks) == 0 {
		return "none"
	}
	return strings.Join(ks, ", ")
}

// variantValues renders a flag's variants with their values: "short (300),
// long (600)".
func variantValues(f *flags.Flag) string {
	var b strings.Builder
	for i, vr := range f.Variants {
		if i > 0 {
			b.WriteString(", ")
		}
		val, err := json.Marshal(vr.Value)
		if err != nil {
			val = []byte("?")
		}
		fmt.Fprintf(&b, "%s (%s)", vr.Key, val)
	}
	return b.String()
}

// jsonKind names the kind of a decoded JSON value.
func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case float64:
		return "number"
	case map[string]any, []any:
		return "object"
	}
	return "string"
}

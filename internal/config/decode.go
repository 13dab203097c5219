package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ramp-flags/ramp/internal/spelling"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/rollout"
)

// YAML tags, in the short form yaml.Node.ShortTag returns.
const (
	tagStr       = "!!str"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagBool      = "!!bool"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
	tagMerge     = "!!merge"
)

// The fields each mapping of the format accepts, in documentation order.
var (
	topFields       = []string{"cohorts", "flags", "rollouts", "layers", "metrics", "experiments"}
	cohortFields    = []string{"key", "description", "when", "members", "replaceMembers"}
	memberFields    = []string{"id", "region"}
	conditionFields = []string{"attribute", "op", "values"}
	flagFields      = []string{"key", "description", "owner", "tags", "type", "variants", "defaultVariant",
		"enabled", "bucketBy", "salt", "bucketing", "rules"}
	ruleFields  = []string{"name", "cohorts", "regions", "when", "serve", "rollout"}
	planFields  = []string{"flag", "variant", "stages", "progress"}
	stageFields = []string{"name", "cohorts", "regions", "when", "percent", "after", "at", "approval", "halt",
		"decrease", "replace", "guardrails", "minSample", "onRegression"}
	layerFields      = []string{"key", "bucketBy", "holdout", "salt"}
	experimentFields = []string{"key", "flag", "layer", "hypothesis", "owner", "audience", "traffic", "arms",
		"control", "metrics", "salt", "rampUp", "status", "ship", "shipVia", "phase", "allocation"}
	stepFields     = []string{"traffic", "after"}
	audienceFields = []string{"regions", "cohorts", "when"}
	metricsFields  = []string{"primary", "secondary", "guardrails"}
)

// flagDecl records which optional fields a flag declared, for Resolve.
type flagDecl struct {
	enabled, bucketing bool
}

// cohortDecl records what a cohort declared besides its fields.
type cohortDecl struct {
	// replaceMembers: the file's members replace the stored list even
	// where imports set it.
	replaceMembers bool
}

// decoder turns a yaml.Node tree into a flags.State, collecting every
// structural problem instead of stopping at the first.
type decoder struct {
	// cohortDecls is parallel to the state's cohorts; progress, to the
	// plans (nil where a plan declares none).
	cohortDecls []cohortDecl
	progress    []*rollout.Progress
	// layers and experiments in file order; expDecls is parallel to
	// experiments.
	layers      []experiment.Layer
	experiments []experiment.Experiment
	expDecls    []expDecl
	// metricDefs are the declared metrics in file order (decode_metric.go).
	metricDefs []experiment.Metric

	problems []Problem
	damaged  map[string]bool
	// budget bounds the values decoded, so that aliases cannot expand a
	// small file into a huge state ("billion laughs").
	budget    int
	exhausted bool
	// expanding holds the anchored nodes being decoded through an alias, to
	// refuse an alias inside the value it names.
	expanding map[*yaml.Node]bool
}

// errorf records a problem with the value at path, which therefore could not
// be decoded: validation problems at or under path would only echo it.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.notef(n, path, format, args...)
	d.damage(path)
}

// damage marks the value at path as not decoded, so that validation
// leaves out what it would find there.
func (d *decoder) damage(path string) {
	if d.damaged == nil {
		d.damaged = map[string]bool{}
	}
	d.damaged[path] = true
}

// notef records a problem that leaves the value at path intact (an unknown
// extra field, say), so that validating it still makes sense.
func (d *decoder) notef(n *yaml.Node, path, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

// charge counts one decoded value against the budget and reports whether
// decoding may go on.
func (d *decoder) charge(n *yaml.Node) bool {
	if d.exhausted {
		return false
	}
	d.budget--
	if d.budget < 0 {
		d.exhausted = true
		d.errorf(n, "", "aliases expand the document too much (more than twice its size); write the values out")
		return false
	}
	return true
}

// deref follows an alias to the node it names. The parser has already
// refused aliases to unknown anchors.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// describe names the kind of a node for messages: "a list", "a string"…
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case tagStr:
			return fmt.Sprintf("the string %q", clip(n.Value))
		case tagInt:
			return "the integer " + clip(n.Value)
		case tagFloat:
			return "the number " + clip(n.Value)
		case tagBool:
			return n.Value
		case tagNull:
			return "null"
		case tagTimestamp:
			return "the timestamp " + clip(n.Value)
		}
		return fmt.Sprintf("%s %q", n.ShortTag(), clip(n.Value))
	}
	return "nothing"
}

func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && s[i]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
		i--
	}
	return s[:i] + "…"
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull
}

// field is one entry of a mapping.
type field struct {
	name string
	k, v *yaml.Node
}

// entries returns a mapping's entries, reporting keys that are not scalars,
// merge keys and duplicate keys. A null value stands for an empty mapping.
func (d *decoder) entries(n *yaml.Node, path string) ([]field, bool) {
	if !d.charge(n) {
		return nil, false
	}
	m := deref(n)
	if isNull(m) {
		return nil, true
	}
	if m.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return nil, false
	}
	out := make([]field, 0, len(m.Content)/2)
	first := make(map[string]*yaml.Node, len(m.Content)/2)
	ok := true
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		kk := deref(k)
		switch {
		case kk.Kind == yaml.ScalarNode && kk.ShortTag() == tagMerge:
			d.errorf(k, path, "merge keys (<<) are not supported: write the fields out, or alias the whole value")
			ok = false
			continue
		case kk.Kind != yaml.ScalarNode:
			d.errorf(k, path, "a key must be a string, not %s", describe(k))
			ok = false
			continue
		}
		name := kk.Value
		if prev, dup := first[name]; dup {
			d.errorf(k, join(path, name), "duplicate key %q (first at line %d)", name, prev.Line)
			ok = false
			continue
		}
		first[name] = k
		out = append(out, field{name: name, k: k, v: v})
	}
	return out, ok
}

// fields is entries for a mapping of the format's own fields: it also
// reports unknown fields, suggesting the nearest known one.
func (d *decoder) fields(n *yaml.Node, path string, known []string) ([]field, bool) {
	es, ok := d.entries(n, path)
	out := es[:0]
	for _, e := range es {
		switch {
		case contains(known, e.name):
			out = append(out, e)
		default:
			d.notef(e.k, path, "unknown field %q%s", e.name, suggest(e.name, known))
			ok = false
		}
	}
	return out, ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest names the known field closest to a misspelt one, if any is close.
func suggest(name string, known []string) string {
	fold := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", 3
	for _, k := range known {
		if fold(k) == fold(name) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
		if dist := spelling.Distance(strings.ToLower(name), strings.ToLower(k)); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" && len(name) > bestDist {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (want %s)", strings.Join(known, ", "))
}

// join appends a mapping key to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// items returns a sequence's items; a null value stands for an empty list.
func (d *decoder) items(n *yaml.Node, path, want string) ([]*yaml.Node, bool) {
	if !d.charge(n) {
		return nil, false
	}
	s := deref(n)
	if isNull(s) {
		return nil, true
	}
	if s.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want %s, got %s", want, describe(n))
		return nil, false
	}
	return s.Content, true
}

// text returns a scalar's source text, as written: 300 is "300", true is
// "true". Null is the empty string; lists and mappings are errors.
func (d *decoder) text(n *yaml.Node, path string) string {
	s := deref(n)
	if s.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a string, got %s", describe(n))
		return ""
	}
	if s.ShortTag() == tagNull {
		return ""
	}
	return s.Value
}

// word is text for items of a list, where null is an error.
func (d *decoder) word(n *yaml.Node, path, want string) (string, bool) {
	if !d.charge(n) {
		return "", false
	}
	s := deref(n)
	if s.Kind != yaml.ScalarNode || s.ShortTag() == tagNull {
		d.errorf(n, path, "want %s, got %s", want, describe(n))
		return "", false
	}
	return s.Value, true
}

func (d *decoder) words(n *yaml.Node, path, want string) []string {
	items, ok := d.items(n, path, "a list of "+want+"s")
	if !ok || isNull(n) {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		if w, ok := d.word(it, index(path, i), want); ok {
			out = append(out, w)
		}
	}
	return out
}

func (d *decoder) document(root *yaml.Node) (flags.State, []flagDecl, []rollout.Plan) {
	var (
		st    flags.State
		plans []rollout.Plan
	)
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == 0 || n.Kind == yaml.DocumentNode {
		d.errorf(nil, "", "the file is empty; write {} for a configuration that declares nothing")
		return st, nil, nil
	}
	if isNull(n) || deref(n).Kind != yaml.MappingNode {
		d.errorf(n, "", "want a mapping with cohorts, flags, rollouts, layers, metrics and experiments, got %s", describe(n))
		return st, nil, nil
	}
	fs, _ := d.fields(n, "", topFields)
	var decls []flagDecl
	for _, f := range fs {
		switch f.name {
		case "cohorts":
			items, _ := d.items(f.v, "cohorts", "a list of cohorts")
			if items != nil {
				st.Cohorts = make([]cohorts.Cohort, len(items))
				d.cohortDecls = make([]cohortDecl, len(items))
			}
			for i, it := range items {
				st.Cohorts[i], d.cohortDecls[i] = d.cohort(it, index("cohorts", i))
			}
		case "flags":
			items, _ := d.items(f.v, "flags", "a list of flags")
			if items != nil {
				st.Flags = make([]flags.Flag, len(items))
				decls = make([]flagDecl, len(items))
			}
			for i, it := range items {
				st.Flags[i], decls[i] = d.flag(it, index("flags", i))
			}
		case "rollouts":
			items, _ := d.items(f.v, "rollouts", "a list of rollout plans")
			if items != nil {
				plans = make([]rollout.Plan, len(items))
				d.progress = make([]*rollout.Progress, len(items))
			}
			for i, it := range items {
				plans[i], d.progress[i] = d.plan(it, index("rollouts", i))
			}
		case "layers":
			items, _ := d.items(f.v, "layers", "a list of layers")
			if items != nil {
				d.layers = make([]experiment.Layer, len(items))
			}
			for i, it := range items {
				d.layers[i] = d.layer(it, index("layers", i))
			}
		case "experiments":
			items, _ := d.items(f.v, "experiments", "a list of experiments")
			if items != nil {
				d.experiments = make([]experiment.Experiment, len(items))
				d.expDecls = make([]expDecl, len(items))
			}
			for i, it := range items {
				d.experiments[i], d.expDecls[i] = d.experiment(it, index("experiments", i))
			}
		case "metrics":
			d.metricsList(f.v)
		}
	}
	return st, decls, plans
}

func (d *decoder) plan(n *yaml.Node, path string) (rollout.Plan, *rollout.Progress) {
	var (
		p    rollout.Plan
		prog *rollout.Progress
	)
	fs, _ := d.fields(n, path, planFields)
	for _, f := range fs {
		fp := join(path, f.name)
		switch f.name {
		case "flag":
			p.Flag = d.text(f.v, fp)
		case "variant":
			p.Variant = d.text(f.v, fp)
		case "stages":
			items, _ := d.items(f.v, fp, "a list of stages")
			if items != nil {
				p.Stages = make([]rollout.Stage, len(items))
			}
			for i, it := range items {
				p.Stages[i] = d.stage(it, index(fp, i))
			}
		case "progress":
			prog = d.planProgress(f.v, fp)
		}
	}
	return p, prog
}

// maxProgressFields bounds the entries of a progress mapping, which is
// decoded by the YAML library as a whole.
const maxProgressFields = 32

// planProgress decodes a plan's progress as export writes it: the JSON
// fields of rollout.Progress (stage, since, by, paused, pending…), any
// other field being refused.
func (d *decoder) planProgress(n *yaml.Node, path string) *rollout.Progress {
	if !d.charge(n) {
		return nil
	}
	m := deref(n)
	if m.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping (stage, since, by, paused…), got %s", describe(n))
		return nil
	}
	if len(m.Content) > 2*maxProgressFields {
		d.errorf(n, path, "too many fields: a plan's progress has at most %d", maxProgressFields)
		return nil
	}
	var raw map[string]any
	if err := m.Decode(&raw); err != nil {
		d.errorf(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var prog rollout.Progress
	if err := dec.Decode(&prog); err != nil {
		d.errorf(n, path, "not a plan's progress as ramp export writes it: %s", strings.TrimPrefix(err.Error(), "json: "))
		return nil
	}
	return &prog
}

func (d *decoder) stage(n *yaml.Node, path string) rollout.Stage {
	var s rollout.Stage
	fs, _ := d.fields(n, path, stageFields)
	percent := false
	for _, f := range fs {
		fp := join(path, f.name)
		if d.target(f, fp, &s.Name, &s.Cohorts, &s.Regions, &s.When) || d.stageGuard(f, fp, &s) {
			continue
		}
		switch f.name {
		case "percent":
			w, ok := d.word(f.v, fp, "a percentage")
			if !ok {
				continue
			}
			pct, err := flags.ParsePercent(w)
			if err != nil {
				d.errorf(f.v, fp, "%v", err)
				continue
			}
			s.Percent, percent = pct, true
		case "after":
			w, ok := d.word(f.v, fp, "a duration such as 48h or 7d")
			if !ok {
				continue
			}
			dur, err := rollout.ParseDuration(w)
			if err != nil {
				d.errorf(f.v, fp, "%v", err)
				continue
			}
			s.After = dur
		case "at":
			w, ok := d.word(f.v, fp, "an RFC 3339 time such as 2026-12-01T09:00:00Z")
			if !ok {
				continue
			}
			t, err := time.Parse(time.RFC3339, w)
			if err != nil {
				d.errorf(f.v, fp, "invalid time %q: want RFC 3339 with a zone, such as 2026-12-01T09:00:00Z", clip(w))
				continue
			}
			t = t.UTC()
			s.At = &t
		case "approval":
			switch w := d.text(f.v, fp); w {
			case "required", "true":
				s.Approval = true
			case "", "none", "false":
			default:
				d.errorf(f.v, fp, "want required or none, got %q", clip(w))
			}
		case "halt":
			d.flagField(f.v, fp, &s.Halt)
		case "decrease":
			d.flagField(f.v, fp, &s.Decrease)
		case "replace":
			d.flagField(f.v, fp, &s.Replace)
		}
	}
	if !percent && len(fs) > 0 {
		d.errorf(n, join(path, "percent"), "percent is required: the share of the stage's targets that gets the variant")
	}
	return s
}

// flagField decodes a true/false field.
func (d *decoder) flagField(n *yaml.Node, path string, v *bool) {
	if s := deref(n); s.Kind == yaml.ScalarNode && s.ShortTag() == tagBool {
		d.decode(n, path, v)
		return
	}
	d.errorf(n, path, "want true or false, got %s", describe(n))
}

func (d *decoder) cohort(n *yaml.Node, path string) (cohorts.Cohort, cohortDecl) {
	var (
		c    cohorts.Cohort
		decl cohortDecl
	)
	var replace *yaml.Node
	fs, _ := d.fields(n, path, cohortFields)
	for _, f := range fs {
		p := join(path, f.name)
		switch f.name {
		case "key":
			c.Key = d.text(f.v, p)
		case "description":
			c.Description = d.text(f.v, p)
		case "when":
			c.When = d.conditions(f.v, p)
		case "members":
			c.Members = d.members(f.v, p)
		case "replaceMembers":
			d.flagField(f.v, p, &decl.replaceMembers)
			replace = f.v
		}
	}
	if decl.replaceMembers && c.Members == nil && !d.damaged[join(path, "members")] {
		d.errorf(replace, join(path, "replaceMembers"), "replaceMembers needs the members list that replaces the stored one (members: [] empties it)")
	}
	return c, decl
}

// members decodes a member list. Unlike other lists, null is refused:
// omitting members leaves the stored list alone while [] empties it, and a
// bare "members:" could be meant either way.
func (d *decoder) members(n *yaml.Node, path string) []cohorts.Member {
	if isNull(n) {
		d.errorf(n, path, "members is null: write members: [] to empty the list, or leave members out to keep the stored list")
		return nil
	}
	items, ok := d.items(n, path, "a list of user ids")
	if !ok {
		return nil
	}
	out := make([]cohorts.Member, 0, len(items))
	for i, it := range items {
		p := index(path, i)
		if deref(it).Kind != yaml.MappingNode {
			if id, ok := d.word(it, p, "a user id or {id, region}"); ok {
				out = append(out, cohorts.Member{ID: id})
			}
			continue
		}
		var m cohorts.Member
		fs, _ := d.fields(it, p, memberFields)
		for _, f := range fs {
			switch f.name {
			case "id":
				m.ID = d.text(f.v, join(p, f.name))
			case "region":
				m.Region = cohorts.Region(d.text(f.v, join(p, f.name)))
				if r, err := cohorts.ParseRegion(string(m.Region)); err == nil {
					m.Region = r
				}
			}
		}
		out = append(out, m)
	}
	return out
}

func (d *decoder) conditions(n *yaml.Node, path string) []cohorts.Condition {
	items, ok := d.items(n, path, "a list of conditions {attribute, op, values}")
	if !ok || items == nil {
		return nil
	}
	out := make([]cohorts.Condition, len(items))
	for i, it := range items {
		p := index(path, i)
		fs, _ := d.fields(it, p, conditionFields)
		for _, f := range fs {
			switch f.name {
			case "attribute":
				out[i].Attribute = d.text(f.v, join(p, f.name))
			case "op":
				out[i].Op = cohorts.Operator(d.text(f.v, join(p, f.name)))
			case "values":
				out[i].Values = d.values(f.v, join(p, f.name))
			}
		}
	}
	return out
}

// values decodes condition values: scalars kept as written, one scalar
// standing for a list of one.
func (d *decoder) values(n *yaml.Node, path string) []string { return d.wordList(n, path, "value") }

// wordList decodes a list of words, one word standing for a list of one;
// what names one item in messages ("value", "metric key").
func (d *decoder) wordList(n *yaml.Node, path, what string) []string {
	if s := deref(n); s.Kind == yaml.ScalarNode && s.ShortTag() != tagNull {
		w, _ := d.word(n, path, "a "+what)
		return []string{w}
	}
	return d.words(n, path, what)
}

func (d *decoder) flag(n *yaml.Node, path string) (flags.Flag, flagDecl) {
	var (
		f    flags.Flag
		decl flagDecl
	)
	fs, _ := d.fields(n, path, flagFields)
	for _, e := range fs {
		p := join(path, e.name)
		switch e.name {
		case "key":
			f.Key = d.text(e.v, p)
		case "description":
			f.Description = d.text(e.v, p)
		case "owner":
			f.Owner = d.text(e.v, p)
		case "tags":
			f.Tags = d.words(e.v, p, "tag")
		case "type":
			f.Type = flags.Type(d.text(e.v, p))
		case "variants":
			f.Variants = d.variants(e.v, p)
		case "defaultVariant":
			f.DefaultVariant = d.text(e.v, p)
		case "enabled":
			if s := deref(e.v); s.Kind == yaml.ScalarNode && s.ShortTag() == tagBool {
				decl.enabled = d.decode(e.v, p, &f.Enabled)
			} else {
				d.errorf(e.v, p, "want true or false, got %s", describe(e.v))
			}
		case "bucketBy":
			f.BucketBy = d.text(e.v, p)
		case "salt":
			f.Salt = d.text(e.v, p)
		case "bucketing":
			var v int
			if s := deref(e.v); s.Kind == yaml.ScalarNode && s.ShortTag() == tagInt {
				decl.bucketing = d.decode(e.v, p, &v)
			} else {
				d.errorf(e.v, p, "want a bucketing version such as %d, got %s", bucket.Latest, describe(e.v))
			}
			f.Bucketing = bucket.Version(v)
		case "rules":
			items, _ := d.items(e.v, p, "a list of rules")
			if items != nil {
				f.Rules = make([]flags.Rule, len(items))
			}
			for i, it := range items {
				f.Rules[i] = d.rule(it, index(p, i))
			}
		}
	}
	// Values take the canonical form of the flag's type; a value that does
	// not fit is kept as written for Validate to report.
	for i, v := range f.Variants {
		if nv, err := flags.NormalizeValue(f.Type, v.Value); err == nil {
			f.Variants[i].Value = nv
		}
	}
	return f, decl
}

// decode decodes a scalar with the YAML library's own rules (0x1F, 1_000,
// .inf…), reporting failures such as an integer out of range.
func (d *decoder) decode(n *yaml.Node, path string, v any) bool {
	if err := deref(n).Decode(v); err != nil {
		d.errorf(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return false
	}
	return true
}

func (d *decoder) variants(n *yaml.Node, path string) []flags.Variant {
	es, _ := d.entries(n, path)
	if es == nil {
		return nil
	}
	out := make([]flags.Variant, len(es))
	for i, e := range es {
		out[i] = flags.Variant{Key: e.name, Value: d.value(e.v, join(path, e.name), false)}
	}
	return out
}

// value decodes a variant value: a scalar by its tag, a mapping or list as
// JSON (map[string]any, []any). Nested values must be representable in JSON.
func (d *decoder) value(n *yaml.Node, path string, nested bool) any {
	if !d.charge(n) {
		return nil
	}
	s := deref(n)
	if s.Anchor != "" {
		if d.expanding[s] {
			d.errorf(n, path, "alias *%s is used inside the value it names", s.Anchor)
			return nil
		}
		if d.expanding == nil {
			d.expanding = make(map[*yaml.Node]bool)
		}
		d.expanding[s] = true
		defer delete(d.expanding, s)
	}
	switch s.Kind {
	case yaml.MappingNode:
		es, _ := d.entries(n, path)
		m := make(map[string]any, len(es))
		for _, e := range es {
			m[e.name] = d.value(e.v, join(path, e.name), true)
		}
		return m
	case yaml.SequenceNode:
		list := make([]any, len(s.Content))
		for i, it := range s.Content {
			list[i] = d.value(it, index(path, i), true)
		}
		return list
	case yaml.ScalarNode:
		switch s.ShortTag() {
		case tagStr, tagTimestamp:
			return s.Value
		case tagNull:
			return nil
		case tagBool:
			var b bool
			d.decode(n, path, &b)
			return b
		case tagInt:
			var v any
			if !d.decode(n, path, &v) {
				return nil
			}
			switch x := v.(type) {
			case int:
				return int64(x)
			case float64: // an explicit !!int tag on a float
				return x
			}
			return v // int64 or uint64
		case tagFloat:
			var f float64
			if !d.decode(n, path, &f) {
				return nil
			}
			if nested && (math.IsNaN(f) || math.IsInf(f, 0)) {
				d.errorf(n, path, "%s is not a JSON number", s.Value)
				return nil
			}
			return f
		}
		d.errorf(n, path, "unsupported tag %s: write a string, number, boolean, mapping or list", s.ShortTag())
		return nil
	}
	d.errorf(n, path, "want a value, got %s", describe(n))
	return nil
}

func (d *decoder) rule(n *yaml.Node, path string) flags.Rule {
	var r flags.Rule
	fs, _ := d.fields(n, path, ruleFields)
	for _, f := range fs {
		p := join(path, f.name)
		if d.target(f, p, &r.Name, &r.Cohorts, &r.Regions, &r.When) {
			continue
		}
		switch f.name {
		case "serve":
			r.Serve = d.text(f.v, p)
		case "rollout":
			r.Rollout = d.rollout(f.v, p)
		}
	}
	return r
}

// target decodes the fields rules and rollout stages share (name, cohorts,
// regions, when) and reports whether f was one of them.
func (d *decoder) target(f field, path string, name *string, cs, regions *[]string, when *[]cohorts.Condition) bool {
	switch f.name {
	case "name":
		*name = d.text(f.v, path)
	case "cohorts":
		*cs = d.words(f.v, path, "cohort key")
	case "regions":
		*regions = d.words(f.v, path, "region")
	case "when":
		*when = d.conditions(f.v, path)
	default:
		return false
	}
	return true
}

// rollout decodes a mapping of variant to percentage, reading each
// percentage from its source text so that 33.33 is exact.
func (d *decoder) rollout(n *yaml.Node, path string) []flags.Split {
	es, _ := d.entries(n, path)
	if es == nil {
		return nil
	}
	out := make([]flags.Split, 0, len(es))
	for _, e := range es {
		p := join(path, e.name)
		w, ok := d.word(e.v, p, "a percentage")
		if !ok {
			continue
		}
		pct, err := flags.ParsePercent(w)
		if err != nil {
			d.errorf(e.v, p, "%v", err)
			continue
		}
		out = append(out, flags.Split{Variant: e.name, Weight: pct})
	}
	return out
}

package config

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// The formats Encode writes.
const (
	YAML = "yaml"
	JSON = "json"
)

// Encode writes a complete configuration file for st in format YAML or JSON,
// the inverse of Parse: cohorts then flags, each sorted by key; variants,
// rules and rollouts in their order; members sorted by id, as plain ids or
// {id, region}. Every flag's enabled and bucketing are written, so that the
// file reproduces the state wherever it is applied, and empty fields are
// left out, except members: [] (an empty list the file manages, unlike a
// cohort whose members are not exported). Strings that YAML would read as
// something else ("off", "yes", "300") are quoted. Rollout plans, if any are
// given, follow under rollouts, sorted by flag, each stage on one line. The
// output is deterministic: the same state always encodes to the same bytes.
func Encode(w io.Writer, st *flags.State, format string, plans ...rollout.Plan) error {
	rs := make([]rollout.Rollout, len(plans))
	for i := range plans {
		rs[i].Plan = plans[i]
	}
	byKey := make(map[string]*cohorts.Cohort, len(st.Cohorts))
	for i := range st.Cohorts {
		byKey[st.Cohorts[i].Key] = &st.Cohorts[i]
	}
	e := &encoder{
		listed: func(c *cohorts.Cohort) bool { return c.Members != nil },
		members: func(key string, fn func(cohorts.Member) error) error {
			ms := slices.Clone(byKey[key].Members)
			slices.SortStableFunc(ms, func(a, b cohorts.Member) int { return strings.Compare(a.ID, b.ID) })
			for _, m := range ms {
				if err := fn(m); err != nil {
					return err
				}
			}
			return nil
		},
	}
	return e.write(w, st, rs, nil, format)
}

// MemberSource calls fn with each of a cohort's listed members, sorted by
// id (byte order), and stops at fn's first error, returning it.
type MemberSource func(cohort string, fn func(cohorts.Member) error) error

// Export writes the whole configuration cfg in format YAML or JSON, as
// Encode does, with two differences: the member list of each cohort whose
// MemberCount is not zero is read from members as the file is written, so
// that memory does not grow with the lists (cfg is a catalogue, without
// member ids); and each rollout plan that has started carries its progress
// (progress: the live stage, who started it and when, paused, a pending
// approval), which apply uses only when it creates the plan, so that a
// configuration moved to a new database keeps its live rollouts. Layers
// and experiments follow the plans, in cfg's order, each experiment with
// its state: status, the shipped arm of a stopped one (ship), the number
// of its current phase (phase) and that phase's allocation (its layer
// buckets and arm table), so that applying the export changes nothing and
// applying it to a new database keeps every unit's arm. Metrics come
// between the layers and the experiments, in cfg's order.
func Export(w io.Writer, cfg *ramp.Config, format string, members MemberSource) error {
	e := &encoder{
		listed:   func(c *cohorts.Cohort) bool { return c.MemberCount > 0 },
		members:  members,
		progress: true,
	}
	return e.write(w, &cfg.State, cfg.Rollouts, cfg, format)
}

// write encodes the configuration without its member lists into a node
// tree, each listed cohort's members standing as a placeholder; renders the
// tree; and writes the rendering with each placeholder replaced by the
// members streamed from e.members.
func (e *encoder) write(w io.Writer, st *flags.State, rs []rollout.Rollout, cfg *ramp.Config, format string) error {
	if format != YAML && format != JSON {
		return fmt.Errorf("unknown configuration format %q (want %s or %s)", format, YAML, JSON)
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return fmt.Errorf("encode configuration: %w", err)
	}
	e.token = fmt.Sprintf("ramp-members-%x-", nonce)
	root := e.state(st)
	if len(rs) > 0 {
		list := sequence(false)
		ps := slices.Clone(rs)
		slices.SortStableFunc(ps, func(a, b rollout.Rollout) int { return strings.Compare(a.Flag, b.Flag) })
		for i := range ps {
			list.Content = append(list.Content, e.plan(&ps[i]))
		}
		top := root.Content[0]
		top.Style = 0
		add(top, "rollouts", list)
	}
	if cfg != nil {
		// Metrics between the layers and the experiments that name them.
		e.experiments(root.Content[0], cfg.Layers, nil)
		e.metricList(root.Content[0], cfg.Metrics)
		e.experiments(root.Content[0], nil, cfg.Experiments)
	}
	if e.err != nil {
		return e.err
	}
	var doc bytes.Buffer
	switch format {
	case YAML:
		enc := yaml.NewEncoder(&doc)
		enc.SetIndent(2)
		if err := enc.Encode(root); err != nil {
			return fmt.Errorf("encode configuration: %w", err)
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("encode configuration: %w", err)
		}
	case JSON:
		var compact bytes.Buffer
		if err := writeJSON(&compact, root); err != nil {
			return err
		}
		if err := json.Indent(&doc, compact.Bytes(), "", "  "); err != nil {
			return fmt.Errorf("encode configuration: %w", err)
		}
		doc.WriteByte('\n')
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := e.splice(bw, doc.Bytes(), format); err != nil {
		return err
	}
	return bw.Flush()
}

// splice writes doc, a rendered configuration, replacing each line that
// holds a member-list placeholder with the list.
func (e *encoder) splice(w *bufio.Writer, doc []byte, format string) error {
	for len(doc) > 0 {
		line := doc
		if i := bytes.IndexByte(doc, '\n'); i >= 0 {
			line = doc[:i+1]
		}
		doc = doc[len(line):]
		at := bytes.Index(line, []byte(e.token))
		if at < 0 {
			if _, err := w.Write(line); err != nil {
				return err
			}
			continue
		}
		rest := line[at+len(e.token):]
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		i, err := strconv.Atoi(string(rest[:end]))
		if err != nil || i >= len(e.lists) {
			return fmt.Errorf("encode configuration: a member list placeholder is damaged")
		}
		indent := line[:len(line)-len(bytes.TrimLeft(line, " "))]
		if format == YAML {
			err = e.yamlMembers(w, string(indent), e.lists[i])
		} else {
			err = e.jsonMembers(w, string(indent), e.lists[i], bytes.HasSuffix(bytes.TrimRight(rest[end:], "\n"), []byte(",")))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// yamlMembers writes "members:" and the cohort's list at indent.
func (e *encoder) yamlMembers(w *bufio.Writer, indent, key string) error {
	var buf []byte
	n := 0
	err := e.members(key, func(m cohorts.Member) error {
		if n == 0 {
			if _, err := w.WriteString(indent + "members:\n"); err != nil {
				return err
			}
		}
		n++
		var err error
		if buf, err = yamlMember(buf[:0], indent+"  ", m); err != nil {
			return err
		}
		_, err = w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		_, err = w.WriteString(indent + "members: []\n")
	}
	return err
}

// jsonMembers writes "members": and the cohort's list at indent, as
// json.Indent would, then a comma if comma.
func (e *encoder) jsonMembers(w *bufio.Writer, indent, key string, comma bool) error {
	var buf []byte
	n := 0
	in := indent + "  "
	err := e.members(key, func(m cohorts.Member) error {
		buf = buf[:0]
		if n == 0 {
			buf = append(buf, indent+`"members": [`...)
		} else {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		n++
		buf = append(buf, in...)
		var err error
		if m.Region == "" {
			if buf, err = appendJSONString(buf, m.ID); err != nil {
				return err
			}
		} else {
			buf = append(buf, "{\n"+in+`  "id": `...)
			if buf, err = appendJSONString(buf, m.ID); err != nil {
				return err
			}
			buf = append(buf, ",\n"+in+`  "region": `...)
			if buf, err = appendJSONString(buf, string(m.Region)); err != nil {
				return err
			}
			buf = append(buf, "\n"+in+"}"...)
		}
		_, err = w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	tail := "\n" + indent + "]"
	if n == 0 {
		tail = indent + `"members": []`
	}
	if comma {
		tail += ","
	}
	_, err = w.WriteString(tail + "\n")
	return err
}

// yamlMember appends one member as an item of a block list at indent:
// "- id" or "- {id: x, region: R}", with strings quoted as the YAML
// encoder quotes them. Ids of letters, digits and a few punctuation marks
// (nearly all ids) are written directly; others go through the encoder.
func yamlMember(buf []byte, indent string, m cohorts.Member) ([]byte, error) {
	id, okID := yamlFast(m.ID)
	region, okRegion := yamlFast(string(m.Region))
	if okID && okRegion {
		buf = append(buf, indent...)
		if m.Region == "" {
			buf = append(buf, "- "...)
			buf = append(buf, id...)
			return append(buf, '\n'), nil
		}
		buf = append(buf, "- {id: "...)
		buf = append(buf, id...)
		buf = append(buf, ", region: "...)
		buf = append(buf, region...)
		return append(buf, "}\n"...), nil
	}
	var e encoder
	item := e.str(m.ID)
	if m.Region != "" {
		item = mapping(true)
		add(item, "id", e.str(m.ID))
		add(item, "region", e.str(string(m.Region)))
	}
	list := sequence(false)
	list.Content = append(list.Content, item)
	if e.err != nil {
		return buf, e.err
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{list}}); err != nil {
		return buf, fmt.Errorf("encode configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return buf, fmt.Errorf("encode configuration: %w", err)
	}
	for _, line := range bytes.SplitAfter(out.Bytes(), []byte("\n")) {
		if len(line) > 0 {
			buf = append(buf, indent...)
			buf = append(buf, line...)
		}
	}
	return buf, nil
}

// yamlFast returns s as the YAML encoder writes it in a list or a flow
// mapping, for strings it writes plain or in plain double quotes: ASCII
// letters, digits and _ . @ / -, not starting with a mark. ok is false for
// other strings.
func yamlFast(s string) (out string, ok bool) {
	if s == "" {
		return `""`, true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case i > 0 && (c == '.' || c == '@' || c == '/' || c == '-'):
		default:
			return "", false
		}
	}
	if quoteStyle(s) == yaml.DoubleQuotedStyle {
		return `"` + s + `"`, true
	}
	if c := s[0]; c >= '0' && c <= '9' {
		return "", false // the encoder may read it as a number or a time: let it decide
	}
	return s, true
}

// appendJSONString appends s as a JSON string that the YAML parser reads
// back as s (see writeJSON).
func appendJSONString(buf []byte, s string) ([]byte, error) {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		buf = append(buf, '"')
		buf = append(buf, s...)
		return append(buf, '"'), nil
	}
	var b bytes.Buffer
	if err := writeJSON(&b, &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: s}); err != nil {
		return buf, err
	}
	return append(buf, b.Bytes()...), nil
}

// encoder builds the node tree of a configuration, keeping the first error.
type encoder struct {
	err error

	// listed says which cohorts have their member list written, read from
	// members when the rendering is written out.
	listed  func(*cohorts.Cohort) bool
	members MemberSource
	// token starts the placeholders of member lists; lists holds the
	// cohort of each placeholder.
	token string
	lists []string
	// progress writes the progress of the plans that have started.
	progress bool
}

func (e *encoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("encode configuration: "+format, args...)
	}
}

func mapping(flow bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if flow {
		n.Style = yaml.FlowStyle
	}
	return n
}

func sequence(flow bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	if flow {
		n.Style = yaml.FlowStyle
	}
	return n
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: key, Style: quoteStyle(key)}, v)
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// str is a string scalar, quoted when YAML could read it as another type.
func (e *encoder) str(s string) *yaml.Node {
	if !utf8.ValidString(s) {
		e.fail("string %q is not valid UTF-8", s)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: s, Style: quoteStyle(s)}
}

func (e *encoder) addStr(m *yaml.Node, key, s string) {
	if s != "" {
		add(m, key, e.str(s))
	}
}

func (e *encoder) strs(list []string) *yaml.Node {
	n := sequence(true)
	for _, s := range list {
		n.Content = append(n.Content, e.str(s))
	}
	return n
}

// quoteStyle double-quotes strings that a YAML reader, including an older
// YAML 1.1 one, could take for a boolean, null or number; the encoder quotes
// by itself the strings the YAML library would misread (including
// timestamps) or that cannot be written plain.
func quoteStyle(s string) yaml.Style {
	if s == "" {
		return yaml.DoubleQuotedStyle
	}
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "on", "off", "true", "false", "null", "~":
		return yaml.DoubleQuotedStyle
	}
	if c := s[0]; c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' {
		numeric := true
		for i := 0; i < len(s) && numeric; i++ {
			numeric = strings.IndexByte("0123456789abcdefABCDEFxXoO_.:+-", s[i]) >= 0
		}
		if numeric {
			return yaml.DoubleQuotedStyle
		}
	}
	return 0
}

func (e *encoder) state(st *flags.State) *yaml.Node {
	root := mapping(false)
	if len(st.Cohorts) > 0 {
		list := sequence(false)
		cs := slices.Clone(st.Cohorts)
		slices.SortStableFunc(cs, func(a, b cohorts.Cohort) int { return strings.Compare(a.Key, b.Key) })
		for i := range cs {
			list.Content = append(list.Content, e.cohort(&cs[i]))
		}
		add(root, "cohorts", list)
	}
	if len(st.Flags) > 0 {
		list := sequence(false)
		fs := slices.Clone(st.Flags)
		slices.SortStableFunc(fs, func(a, b flags.Flag) int { return strings.Compare(a.Key, b.Key) })
		for i := range fs {
			list.Content = append(list.Content, e.flag(&fs[i]))
		}
		add(root, "flags", list)
	}
	if len(root.Content) == 0 {
		root.Style = yaml.FlowStyle // {}: an empty file does not parse
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
}

func (e *encoder) cohort(c *cohorts.Cohort) *yaml.Node {
	m := mapping(false)
	add(m, "key", e.str(c.Key))
	e.addStr(m, "description", c.Description)
	if len(c.When) > 0 {
		add(m, "when", e.conditions(c.When))
	}
	switch {
	case e.listed != nil && e.listed(c):
		add(m, "members", scalar(tagStr, e.token+strconv.Itoa(len(e.lists))))
		e.lists = append(e.lists, c.Key)
	case c.MemberCount > 0:
		m.Content[1].LineComment = fmt.Sprintf("%d members, managed outside this file", c.MemberCount)
	}
	return m
}

func (e *encoder) conditions(cs []cohorts.Condition) *yaml.Node {
	list := sequence(false)
	for _, c := range cs {
		m := mapping(true)
		add(m, "attribute", e.str(c.Attribute))
		add(m, "op", e.str(string(c.Op)))
		if len(c.Values) > 0 {
			add(m, "values", e.strs(c.Values))
		}
		list.Content = append(list.Content, m)
	}
	return list
}

func (e *encoder) flag(f *flags.Flag) *yaml.Node {
	m := mapping(false)
	add(m, "key", e.str(f.Key))
	e.addStr(m, "description", f.Description)
	e.addStr(m, "owner", f.Owner)
	if len(f.Tags) > 0 {
		add(m, "tags", e.strs(f.Tags))
	}
	e.addStr(m, "type", string(f.Type))
	if len(f.Variants) > 0 {
		vs := mapping(false)
		for _, v := range f.Variants {
			val := v.Value
			if nv, err := flags.NormalizeValue(f.Type, val); err == nil {
				val = nv
			}
			add(vs, v.Key, e.value(val, f.Type == flags.Float))
		}
		add(m, "variants", vs)
	}
	e.addStr(m, "defaultVariant", f.DefaultVariant)
	add(m, "enabled", scalar(tagBool, strconv.FormatBool(f.Enabled)))
	e.addStr(m, "bucketBy", f.BucketBy)
	e.addStr(m, "salt", f.Salt)
	add(m, "bucketing", scalar(tagInt, strconv.Itoa(int(f.Bucketing))))
	if len(f.Rules) > 0 {
		rules := sequence(false)
		for _, r := range f.Rules {
			rules.Content = append(rules.Content, e.rule(r))
		}
		add(m, "rules", rules)
	}
	return m
}

func (e *encoder) rule(r flags.Rule) *yaml.Node {
	m := mapping(false)
	e.addStr(m, "name", r.Name)
	if len(r.Cohorts) > 0 {
		add(m, "cohorts", e.strs(r.Cohorts))
	}
	if len(r.Regions) > 0 {
		add(m, "regions", e.strs(r.Regions))
	}
	if len(r.When) > 0 {
		add(m, "when", e.conditions(r.When))
	}
	e.addStr(m, "serve", r.Serve)
	if len(r.Rollout) > 0 {
		split := mapping(true)
		for _, s := range r.Rollout {
			add(split, s.Variant, percent(s.Weight))
		}
		add(m, "rollout", split)
	}
	return m
}

func (e *encoder) plan(r *rollout.Rollout) *yaml.Node {
	p := &r.Plan
	m := mapping(false)
	add(m, "flag", e.str(p.Flag))
	add(m, "variant", e.str(p.Variant))
	stages := sequence(false)
	for i := range p.Stages {
		s := &p.Stages[i]
		sm := mapping(true)
		add(sm, "name", e.str(s.Name))
		if len(s.Cohorts) > 0 {
			add(sm, "cohorts", e.strs(s.Cohorts))
		}
		if len(s.Regions) > 0 {
			add(sm, "regions", e.strs(s.Regions))
		}
		if len(s.When) > 0 {
			when := e.conditions(s.When)
			when.Style = yaml.FlowStyle
			add(sm, "when", when)
		}
		add(sm, "percent", percent(s.Percent))
		if s.After > 0 {
			add(sm, "after", e.str(s.After.String()))
		}
		if s.At != nil {
			add(sm, "at", e.str(s.At.UTC().Format(time.RFC3339)))
		}
		if s.Approval {
			add(sm, "approval", e.str("required"))
		}
		for _, b := range []struct {
			name string
			on   bool
		}{{"halt", s.Halt}, {"decrease", s.Decrease}, {"replace", s.Replace}} {
			if b.on {
				add(sm, b.name, scalar(tagBool, "true"))
			}
		}
		e.stageGuard(sm, s) // encode_guard.go
		stages.Content = append(stages.Content, sm)
	}
	add(m, "stages", stages)
	if e.progress && r.Progress != (rollout.Progress{}) {
		b, err := json.Marshal(r.Progress)
		var v map[string]any
		if err == nil {
			err = json.Unmarshal(b, &v)
		}
		if err != nil {
			e.fail("rollout %s: progress: %v", p.Flag, err)
			return m
		}
		prog := e.value(v, false)
		prog.Style = yaml.FlowStyle
		add(m, "progress", prog)
		m.Content[len(m.Content)-2].HeadComment = "where the plan stood when exported: apply uses it only when it creates the plan"
	}
	return m
}

func percent(p flags.Percent) *yaml.Node {
	s := p.String()
	if p < 0 {
		s = "-" + (-p).String()
	}
	if strings.Contains(s, ".") {
		return scalar(tagFloat, s)
	}
	return scalar(tagInt, s)
}

// value encodes a variant value. Floats of a float flag keep a decimal point
// (300.0) so that the file shows their type.
func (e *encoder) value(v any, point bool) *yaml.Node {
	switch x := v.(type) {
	case nil:
		return scalar(tagNull, "null")
	case bool:
		return scalar(tagBool, strconv.FormatBool(x))
	case string:
		return e.str(x)
	case int:
		return scalar(tagInt, strconv.Itoa(x))
	case int64:
		return scalar(tagInt, strconv.FormatInt(x, 10))
	case int32:
		return scalar(tagInt, strconv.FormatInt(int64(x), 10))
	case uint64:
		return scalar(tagInt, strconv.FormatUint(x, 10))
	case json.Number:
		if _, err := x.Float64(); err != nil {
			e.fail("invalid number %q", x)
		}
		if _, err := x.Int64(); err == nil {
			return scalar(tagInt, x.String())
		}
		return scalar(tagFloat, x.String())
	case float64:
		return e.float(x, point)
	case map[string]any:
		m := mapping(false)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !utf8.ValidString(k) {
				e.fail("key %q is not valid UTF-8", k)
			}
			add(m, k, e.value(x[k], false))
		}
		return m
	case []any:
		list := sequence(false)
		for _, it := range x {
			list.Content = append(list.Content, e.value(it, false))
		}
		return list
	}
	e.fail("cannot encode a variant value of type %T", v)
	return scalar(tagNull, "null")
}

func (e *encoder) float(f float64, point bool) *yaml.Node {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.fail("cannot encode %v: not a JSON number", f)
		return scalar(tagNull, "null")
	}
	if !point && f == math.Trunc(f) && math.Abs(f) < 1e15 && !math.Signbit(f) {
		return scalar(tagInt, strconv.FormatInt(int64(f), 10))
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return scalar(tagFloat, s)
}

// maxJSONKey bounds the length of a key in JSON output, quotes and escapes
// included, below the YAML parser's limit on implicit keys.
const maxJSONKey = 1000

// writeJSON writes a node tree built by encoder as compact JSON.
func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		return writeJSON(b, n.Content[0])
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			start := b.Len()
			if err := writeJSON(b, n.Content[i]); err != nil {
				return err
			}
			// A YAML parser reads a key of at most 1024 characters
			// without the "? " indicator JSON lacks.
			if utf8.RuneCount(b.Bytes()[start:]) > maxJSONKey {
				return fmt.Errorf("encode configuration: key %.20q… is too long to read back as JSON (%d characters at most); export as YAML", n.Content[i].Value, maxJSONKey)
			}
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, it := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, it); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		if n.Tag != tagStr {
			b.WriteString(n.Value) // numbers, booleans and null are written as JSON spells them
			return nil
		}
		start := b.Len()
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(n.Value); err != nil {
			return fmt.Errorf("encode configuration: %w", err)
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		// The YAML parser that reads JSON back refuses raw characters that
		// YAML does not print (DEL, C1 controls, U+FFFE, U+FFFF) and takes
		// U+0085 for a line break; escape them. (encoding/json escapes
		// the C0 controls, U+2028 and U+2029.)
		if s := b.Bytes()[start:]; bytes.IndexFunc(s, yamlUnprintable) >= 0 {
			esc := make([]byte, 0, len(s)+12)
			for _, r := range string(s) {
				if yamlUnprintable(r) {
					esc = fmt.Appendf(esc, `\u%04x`, r)
				} else {
					esc = utf8.AppendRune(esc, r)
				}
			}
			b.Truncate(start)
			b.Write(esc)
		}
	}
	return nil
}

// yamlUnprintable reports the characters that YAML does not allow raw in a
// file, or reads as a line break, beyond the ASCII controls.
func yamlUnprintable(r rune) bool {
	return r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff
}

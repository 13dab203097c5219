package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/rollout"
)

// MaxSize is the largest configuration file Parse and Read accept, in bytes.
// Member lists of millions belong in CSV imports, not in configuration files.
const MaxSize = 64 << 20

// ErrTooLarge is returned, wrapped, for a file larger than MaxSize. It
// matches ramp.ErrInvalid.
var ErrTooLarge error = &ramp.Error{Kind: ramp.KindInvalid, Msg: "configuration file too large"}

// Document is a parsed configuration file. It remembers where each value was
// written, to report problems by line, and which optional fields each flag
// declared, to resolve the rest from the stored state.
type Document struct {
	file  string
	root  *yaml.Node
	state flags.State
	decls []flagDecl // parallel to state.Flags
	plans []rollout.Plan
	// cohortDecls is parallel to state.Cohorts; progress to plans.
	cohortDecls []cohortDecl
	progress    []*rollout.Progress
	// layers and experiments in file order; expDecls is parallel to
	// experiments.
	layers      []experiment.Layer
	experiments []experiment.Experiment
	expDecls    []expDecl
	// metrics in file order.
	metrics []experiment.Metric

	// structural holds the problems found while decoding a document that
	// ParsePartial returned anyway; damaged, the paths whose values could
	// not be decoded.
	structural []Problem
	damaged    map[string]bool

	// data is the file as parsed, for Source.
	data []byte
}

// Source returns the file name and the bytes the document was parsed
// from: what the admin API's client sends, so that the server parses the
// same file and reports its problems at the same lines.
func (d *Document) Source() (filename string, data []byte) { return d.file, d.data }

// Read reads a configuration file of at most MaxSize bytes from r and parses
// it; see Parse.
func Read(filename string, r io.Reader) (*Document, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filename, err)
	}
	return Parse(filename, data)
}

// Parse decodes a configuration file, YAML or JSON (JSON is read by the same
// parser, which keeps line numbers). filename is only used in messages. It
// returns an *Error listing every structural problem (syntax errors, values
// of the wrong kind, unknown fields, duplicate keys, malformed percentages),
// or an error wrapping ErrTooLarge. Whether the configuration makes sense
// (known variants, cohorts and regions, rollouts summing to 100…) is for
// Document.Validate.
func Parse(filename string, data []byte) (*Document, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: %w: more than %d MiB", filename, ErrTooLarge, MaxSize>>20)
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, &Error{File: filename, Problems: []Problem{syntaxProblem(err)}}
	}
	d := decoder{budget: 2*len(data) + 10000}
	st, decls, plans := d.document(root)
	if e := newError(filename, d.problems); e != nil {
		return nil, e
	}
	return &Document{file: filename, root: root, state: st, decls: decls, plans: plans,
		cohortDecls: d.cohortDecls, progress: d.progress,
		layers: d.layers, experiments: d.experiments, expDecls: d.expDecls, metrics: d.metricDefs}, nil
}

// ParsePartial is Parse for callers that report every problem at once: when
// the file is well-formed YAML but has structural problems, it returns the
// document decoded as far as possible together with the *Error, and
// Validate then adds the problems of the values that did decode to the
// structural ones (leaving out what would only echo a structural problem).
// On a syntax error or an oversized file it returns no document.
func ParsePartial(filename string, data []byte) (*Document, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: %w: more than %d MiB", filename, ErrTooLarge, MaxSize>>20)
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, &Error{File: filename, Problems: []Problem{syntaxProblem(err)}}
	}
	d := decoder{budget: 2*len(data) + 10000}
	st, decls, plans := d.document(root)
	// A flag whose type or variants did not decode makes every check of its
	// values and variant names an echo: leave the whole flag out. So does
	// an experiment whose arms did not decode.
	for p := range d.damaged {
		for _, field := range []string{".variants", ".type", ".arms"} {
			if parent, ok := strings.CutSuffix(p, field); ok {
				d.damaged[parent] = true
			}
		}
	}
	doc := &Document{file: filename, root: root, state: st, decls: decls, plans: plans,
		cohortDecls: d.cohortDecls, progress: d.progress,
		layers: d.layers, experiments: d.experiments, expDecls: d.expDecls, metrics: d.metricDefs,
		structural: d.problems, damaged: d.damaged, data: data}
	if d.exhausted {
		return nil, newError(filename, d.problems)
	}
	if e := newError(filename, slices.Clone(d.problems)); e != nil {
		return doc, e
	}
	return doc, nil
}

// parseYAML parses exactly one YAML document into a node tree.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil && err != io.EOF {
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("yaml: line %d: a configuration file holds one YAML document, found another", next.Line)
	}
	return &root, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parserProblems are the messages of the YAML parser proper (as opposed to
// its scanner), whose line numbers the library reports counting from 0.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxProblem locates a YAML parser error, whose line is in its message.
// For the parser's own errors, that is the line where the enclosing block
// starts rather than where the parser gave up.
func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		if parserProblems[msg] {
			line++
		}
		return Problem{Line: line, Message: "syntax error: " + msg}
	}
	return Problem{Message: "syntax error: " + strings.TrimPrefix(msg, "yaml: ")}
}

// Load parses data, resolves it against the current stored state (nil for
// none) and validates the result: the usual way to read a file for apply.
// On success it returns the document and the resolved state; otherwise an
// *Error (or an error wrapping ErrTooLarge).
func Load(filename string, data []byte, current *flags.State) (*Document, flags.State, error) {
	doc, err := Parse(filename, data)
	if err != nil {
		return nil, flags.State{}, err
	}
	st := doc.Resolve(current)
	if err := doc.Validate(&st); err != nil {
		return doc, st, err
	}
	return doc, st, nil
}

// File returns the file name the document was parsed with.
func (d *Document) File() string { return d.file }

// State returns the configuration as declared, cohorts and flags in file
// order. Fields the file leaves out keep their zero value, including a
// flag's Enabled (false) and Bucketing (0, which does not validate): use
// Resolve for a state to validate and apply. The slices inside the state
// are shared with the document; treat them as read-only.
func (d *Document) State() flags.State {
	return flags.State{
		Cohorts: slices.Clone(d.state.Cohorts),
		Flags:   slices.Clone(d.state.Flags),
	}
}

// Rollouts returns the rollout plans the file declares, in file order. The
// slice is shared with the document; treat it as read-only.
func (d *Document) Rollouts() []rollout.Plan { return d.plans }

// ReplacesMembers reports whether the file says that its member list for
// the cohort replaces the stored one even where imports set it
// (replaceMembers: true). Without it, apply only adds to a list that a
// CSV import set: it never shrinks what the file does not own.
func (d *Document) ReplacesMembers(cohort string) bool {
	for i, c := range d.state.Cohorts {
		if c.Key == cohort && i < len(d.cohortDecls) && d.cohortDecls[i].replaceMembers {
			return true
		}
	}
	return false
}

// Progress returns the progress the file gives a flag's rollout plan
// (written by export: the live stage, who started it and when, paused,
// a pending approval), and whether it gives one. Apply uses it only when
// it creates the plan; it never moves a plan that exists.
func (d *Document) Progress(flag string) (rollout.Progress, bool) {
	for i, p := range d.plans {
		if p.Flag == flag && i < len(d.progress) && d.progress[i] != nil {
			return *d.progress[i], true
		}
	}
	return rollout.Progress{}, false
}

// Resolve returns the declared state completed from the current stored state
// (nil for none): a flag that does not declare enabled keeps its current
// enabled state, and is enabled when new, so that applying a file never
// re-enables a flag someone switched off; a flag that does not declare
// bucketing keeps its current version, bucket.Latest when new, so that a new
// algorithm never reshuffles an existing flag. Cohorts are returned as
// declared: a cohort without members leaves its stored member list alone
// (see flags.Diff). Order is the file's, so that Validate can locate
// problems.
func (d *Document) Resolve(current *flags.State) flags.State {
	st := d.State()
	for i := range st.Flags {
		f := &st.Flags[i]
		var cur *flags.Flag
		if current != nil {
			cur, _ = current.Flag(f.Key)
		}
		if !d.decls[i].enabled {
			f.Enabled = cur == nil || cur.Enabled
		}
		if !d.decls[i].bucketing {
			f.Bucketing = bucket.Latest
			if cur != nil {
				f.Bucketing = cur.Bucketing
			}
		}
	}
	return st
}

// Validate checks a state obtained from this document by Resolve with
// flags.State.Validate, the document's rollout plans against it with
// rollout.Validate, its layers and experiments with experiment.Validate,
// and its metrics and the metrics its experiments name with
// experiment.ValidateMetrics, and returns the problems as an *Error
// located in the file, or nil. The state must hold every flag and cohort the plans and
// experiments may name, which is also where their checks look. It is
// ValidateAgainst without a stored configuration: the file's layers and
// experiments are checked alone.
func (d *Document) Validate(resolved *flags.State) error {
	return d.ValidateAgainst(resolved, nil, false)
}

// ValidateAgainst is Validate for a file applied onto a stored
// configuration (nil for none; only its Layers, Experiments and Metrics are
// read).
// The layers and experiments checked are those the store would hold: the
// file's, in file order, each taking from the stored experiment of its key
// the status, phases and shipped arm the file does not state; then, unless
// prune, the stored ones the file does not declare, which the file's
// experiments share layers with. A problem of a stored object the file
// does not declare is reported without a line, naming it.
//
// It also checks each phase number the file states (phase: N, as export
// writes it) against the stored experiment's current phase: a file
// exported before the experiment's last phase started would otherwise
// undo that phase's changes.
//
// The metrics the file's experiments name must be metrics the store would
// hold: the file's, then, unless prune, the stored ones (Metrics is read
// too). Stored experiments the file does not declare are not checked
// against them.
func (d *Document) ValidateAgainst(resolved *flags.State, stored *ramp.Config, prune bool) error {
	ps := slices.Clone(d.structural)
	ps = append(ps, d.progressProblems()...)
	for _, err := range []error{resolved.Validate(), rollout.Validate(d.plans, resolved)} {
		var ve *flags.ValidationError
		switch {
		case err == nil:
		case !errors.As(err, &ve):
			ps = append(ps, Problem{Message: err.Error()})
		default:
			for _, p := range ve.Problems {
				ps = d.appendLocated(ps, p.Path, p.Message)
			}
		}
	}
	ps = append(ps, d.experimentProblems(resolved, stored, prune)...)
	ps = append(ps, d.metricProblems(stored, prune)...)
	ps = append(ps, d.guardMetricProblems(stored, prune)...) // config_guard.go
	if e := newError(d.file, ps); e != nil {
		return e
	}
	return nil
}

// appendLocated appends a validation problem at path, located in the file,
// unless it is under a value that did not decode.
func (d *Document) appendLocated(ps []Problem, path, msg string) []Problem {
	if d.isDamaged(path) {
		return ps
	}
	line, col := d.Locate(path)
	return append(ps, Problem{Line: line, Column: col, Path: path, Message: msg})
}

// progressProblems checks the stages the plans' progress names.
func (d *Document) progressProblems() []Problem {
	var ps []Problem
	for i, prog := range d.progress {
		if prog == nil || i >= len(d.plans) {
			continue
		}
		plan, path := &d.plans[i], index("rollouts", i)+".progress"
		for _, st := range []struct{ name, field string }{{prog.Stage, "stage"}, {pendingStage(prog), "pending.stage"}} {
			if st.name != "" && plan.StageIndex(st.name) < 0 {
				ps = d.appendLocated(ps, path+"."+st.field, fmt.Sprintf("stage %q is not one of the plan's stages", clip(st.name)))
			}
		}
	}
	return ps
}

func pendingStage(p *rollout.Progress) string {
	if p.Pending == nil {
		return ""
	}
	return p.Pending.Stage
}

// isDamaged reports whether path is at or under a value that could not be
// decoded.
func (d *Document) isDamaged(path string) bool {
	for p := range d.damaged {
		if path == p || p == "" || strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[') {
			return true
		}
	}
	return false
}

// Locate returns the line and column of a configuration path such as
// flags[1].rules[0].rollout.on (the form of flags.Problem.Path). When the
// path names something the file does not spell out, such as a missing
// defaultVariant, it returns the position of the nearest enclosing value
// that the file does contain. A scalar is located at its value, a mapping or
// list at its key. An index may also pick an ordered mapping's entry by
// position (experiments[0].arms[1] is the second arm).
func (d *Document) Locate(path string) (line, column int) {
	n := locate(d.root, path)
	if n == nil {
		return 0, 0
	}
	return n.Line, n.Column
}

func locate(root *yaml.Node, path string) *yaml.Node {
	cur := root
	if cur != nil && cur.Kind == yaml.DocumentNode && len(cur.Content) == 1 {
		cur = cur.Content[0]
	}
	best := cur
	rest := path
	for rest != "" && cur != nil {
		cur = deref(cur)
		if rest[0] == '[' {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				break
			}
			i, err := strconv.Atoi(rest[1:end])
			if err == nil && cur.Kind == yaml.MappingNode && i >= 0 && 2*i+1 < len(cur.Content) {
				// An ordered mapping (arms, a rollout) indexed by
				// position: its i-th entry.
				k, v := cur.Content[2*i], cur.Content[2*i+1]
				best = k
				if deref(v).Kind == yaml.ScalarNode {
					best = v
				}
				cur, rest = v, rest[end+1:]
				continue
			}
			if err != nil || cur.Kind != yaml.SequenceNode || i < 0 || i >= len(cur.Content) {
				break
			}
			cur, best, rest = cur.Content[i], cur.Content[i], rest[end+1:]
			continue
		}
		rest = strings.TrimPrefix(rest, ".")
		if cur.Kind != yaml.MappingNode {
			break
		}
		// Keys may contain dots (variant keys do): take the longest key
		// that the path continues from.
		var k, v *yaml.Node
		for i := 0; i+1 < len(cur.Content); i += 2 {
			key := deref(cur.Content[i]).Value
			if strings.HasPrefix(rest, key) && (len(rest) == len(key) || rest[len(key)] == '.' || rest[len(key)] == '[') &&
				(k == nil || len(key) > len(deref(k).Value)) {
				k, v = cur.Content[i], cur.Content[i+1]
			}
		}
		if k == nil {
			break
		}
		best = k
		if deref(v).Kind == yaml.ScalarNode {
			best = v
		}
		cur, rest = v, rest[len(deref(k).Value):]
	}
	return best
}

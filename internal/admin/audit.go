package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ramp-flags/ramp/internal/store"
)

// AuditEntry is one change recorded in the audit log: who, when, what, and
// the object's JSON before and after (see store.AuditEntry).
type AuditEntry = store.AuditEntry

// AuditFilter selects audit entries: those that match every field set; its
// Limit keeps the newest (see store.AuditFilter).
type AuditFilter = store.AuditFilter

// AuditLog is the part of the audit log a filter selected.
type AuditLog struct {
	// Entries are the entries selected, oldest first: with a Limit, the
	// newest Limit of them.
	Entries []AuditEntry `json:"entries"`
	// More reports that older entries match too, beyond the Limit.
	More bool `json:"more"`
}

// Audit reads the audit log: the entries f selects, oldest first, and
// whether the limit left older ones out.
func (s *Service) Audit(ctx context.Context, f AuditFilter) (AuditLog, error) {
	limit := f.Limit
	if limit > 0 {
		f.Limit++ // one more, to tell whether more exist
	}
	entries, err := s.db().Audit(ctx, f)
	if err != nil {
		return AuditLog{}, err
	}
	log := AuditLog{Entries: entries}
	if limit > 0 && len(entries) > limit {
		log.Entries, log.More = entries[1:], true // the oldest was read only to know it exists
	}
	if log.Entries == nil {
		log.Entries = []AuditEntry{} // [] in JSON, not null
	}
	return log, nil
}

// Limits of SummarizeChange.
const (
	summaryValueWidth = 32 // characters of one value
	summaryFields     = 3  // changes listed before "+N more"
)

// bookkeepingFields are the top-level fields in which objects record their
// own version and last change, left out of summaries.
var bookkeepingFields = []string{"version", "updatedAt", "updatedBy"}

// SummarizeChange renders a change in one line, as the audit log's CHANGE
// column shows it: "created" or "deleted" when one side is missing, else
// what differs, "field: old → new", values clipped and bookkeeping fields
// (version, updatedAt, updatedBy) left out unless nothing else changed.
// Fields are those ChangedFields finds.
func SummarizeChange(before, after json.RawMessage) string {
	switch {
	case before == nil && after == nil:
		return ""
	case before == nil:
		return "created"
	case after == nil:
		return "deleted"
	}
	changes := ChangedFields(before, after)
	if len(changes) == 0 {
		return "no change"
	}
	// An audit entry already says who and when: leave out the object's
	// own record of it, unless nothing else changed.
	if rest := slices.DeleteFunc(slices.Clone(changes), func(c FieldChange) bool {
		return slices.Contains(bookkeepingFields, c.Path)
	}); len(rest) > 0 {
		changes = rest
	}
	parts := make([]string, 0, summaryFields+1)
	for i, c := range changes {
		if i == summaryFields {
			parts = append(parts, fmt.Sprintf("+%d more", len(changes)-summaryFields))
			break
		}
		p := clipValue(c.Before) + " → " + clipValue(c.After)
		if c.Path != "" {
			p = c.Path + ": " + p
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// FieldChange is a value that differs between two JSON documents.
type FieldChange struct {
	// Path locates the value: "" for the whole document, "enabled",
	// "rules[1].rollout[0].weight".
	Path string `json:"path"`
	// Before and After are the two values; nil where the field is absent.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// ChangedFields returns the values that differ between two JSON documents:
// within two objects, field by field in the order they appear (before's
// fields, then those only after has); within two arrays of the same
// length, element by element; else the two values whole.
func ChangedFields(before, after json.RawMessage) []FieldChange {
	var changes []FieldChange
	diffJSON("", before, after, &changes)
	return changes
}

func diffJSON(path string, before, after json.RawMessage, changes *[]FieldChange) {
	if before == nil || after == nil {
		*changes = append(*changes, FieldChange{path, before, after})
		return
	}
	if sameJSON(before, after) {
		return
	}
	if bNames, bFields, ok := objectFields(before); ok {
		if aNames, aFields, ok := objectFields(after); ok {
			names := bNames
			for _, n := range aNames {
				if _, seen := bFields[n]; !seen {
					names = append(names, n)
				}
			}
			for _, n := range names {
				sub := n
				if path != "" {
					sub = path + "." + n
				}
				diffJSON(sub, bFields[n], aFields[n], changes)
			}
			return
		}
	}
	var bItems, aItems []json.RawMessage
	if json.Unmarshal(before, &bItems) == nil && json.Unmarshal(after, &aItems) == nil &&
		bItems != nil && aItems != nil && len(bItems) == len(aItems) {
		for i := range bItems {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), bItems[i], aItems[i], changes)
		}
		return
	}
	*changes = append(*changes, FieldChange{path, before, after})
}

// DiffOp says where a line of a diff comes from.
type DiffOp string

// The lines of a diff.
const (
	DiffSame    DiffOp = " " // in both versions
	DiffRemoved DiffOp = "-" // only in the version before
	DiffAdded   DiffOp = "+" // only in the version after
	DiffSkipped DiffOp = "…" // unchanged lines left out (Text is empty)
)

// DiffLine is one line of a change's diff.
type DiffLine struct {
	Op   DiffOp `json:"op"`
	Text string `json:"text,omitempty"`
}

// diffContext is how many unchanged lines a diff shows around a change.
const diffContext = 3

// DiffChange returns a change in full, as `ramp audit --diff` shows it: the
// line diff of the two versions rendered as indented JSON, with a few
// unchanged lines around each change and the rest skipped. Lists of plain
// values (the ids an edit added or removed, tags, regions) are packed
// several to a line, and small flat objects (a member's region change)
// kept on one line, so that a change of a hundred ids reads as a few
// lines. A creation or deletion shows the whole object; no line differs
// when the two versions are the same value.
func DiffChange(before, after json.RawMessage) []DiffLine {
	if before != nil && after != nil && sameJSON(before, after) {
		return nil
	}
	ops := lineDiff(jsonLines(before), jsonLines(after))
	show := make([]bool, len(ops))
	changed := false
	for i, op := range ops {
		if op.Op == DiffSame {
			continue
		}
		changed = true
		for j := max(0, i-diffContext); j <= min(len(ops)-1, i+diffContext); j++ {
			show[j] = true
		}
	}
	if !changed {
		return nil
	}
	var out []DiffLine
	skipped := false
	for i, op := range ops {
		if !show[i] {
			skipped = true
			continue
		}
		if skipped {
			out = append(out, DiffLine{Op: DiffSkipped})
			skipped = false
		}
		out = append(out, op)
	}
	if skipped {
		out = append(out, DiffLine{Op: DiffSkipped})
	}
	return out
}

// renderWidth is the width jsonLines packs values into.
const renderWidth = 100

// jsonLines renders a JSON value as indented lines: objects a field a
// line, arrays of plain values packed into lines of up to renderWidth
// characters, flat objects within arrays on one line when they fit.
// Nothing for nil.
func jsonLines(raw json.RawMessage) []string {
	if raw == nil {
		return nil
	}
	var lines []string
	renderJSON(&lines, "", "", raw, "", false)
	return lines
}

// renderJSON appends the lines of v at indent, the first starting with head
// (`"key": ` or nothing) and the last ending with tail ("," or nothing);
// item says v is an element of an array.
func renderJSON(lines *[]string, indent, head string, v json.RawMessage, tail string, item bool) {
	if names, fields, ok := objectFields(v); ok {
		if len(names) == 0 {
			*lines = append(*lines, indent+head+"{}"+tail)
			return
		}
		if item && jsonFlat(fields) {
			if line := indent + compactJSON(v) + tail; utf8.RuneCountInString(line) <= renderWidth {
				*lines = append(*lines, line)
				return
			}
		}
		*lines = append(*lines, indent+head+"{")
		for i, n := range names {
			k, _ := json.Marshal(n)
			renderJSON(lines, indent+"  ", string(k)+": ", fields[n], jsonSep(i, len(names)), false)
		}
		*lines = append(*lines, indent+"}"+tail)
		return
	}
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil || items == nil {
		*lines = append(*lines, indent+head+compactJSON(v)+tail)
		return
	}
	if len(items) == 0 {
		*lines = append(*lines, indent+head+"[]"+tail)
		return
	}
	if !slices.ContainsFunc(items, jsonNested) {
		// Plain values: as many to a line as fit.
		cells := make([]string, len(items))
		for i, it := range items {
			cells[i] = compactJSON(it)
		}
		if line := indent + head + "[" + strings.Join(cells, ", ") + "]" + tail; utf8.RuneCountInString(line) <= renderWidth {
			*lines = append(*lines, line)
			return
		}
		*lines = append(*lines, indent+head+"[")
		inner := indent + "  "
		cur := ""
		for i, c := range cells {
			c += jsonSep(i, len(cells))
			if cur != "" && utf8.RuneCountInString(inner+cur+" "+c) > renderWidth {
				*lines = append(*lines, inner+cur)
				cur = ""
			}
			if cur == "" {
				cur = c
			} else {
				cur += " " + c
			}
		}
		*lines = append(*lines, inner+cur, indent+"]"+tail)
		return
	}
	*lines = append(*lines, indent+head+"[")
	for i, it := range items {
		renderJSON(lines, indent+"  ", "", it, jsonSep(i, len(items)), true)
	}
	*lines = append(*lines, indent+"]"+tail)
}

func jsonSep(i, n int) string {
	if i < n-1 {
		return ","
	}
	return ""
}

// jsonNested reports whether v is an object or an array.
func jsonNested(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '{' || v[0] == '[')
}

// jsonFlat reports whether every field of an object is a plain value.
func jsonFlat(fields map[string]json.RawMessage) bool {
	for _, v := range fields {
		if jsonNested(v) {
			return false
		}
	}
	return true
}

func compactJSON(v json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

// maxDiffCells bounds the work of lineDiff (lines before × lines after);
// beyond it the versions are shown one after the other.
const maxDiffCells = 4 << 20

// lineDiff returns a shortest edit script from a to b, by longest common
// subsequence.
func lineDiff(a, b []string) []DiffLine {
	if len(a)*len(b) > maxDiffCells {
		ops := make([]DiffLine, 0, len(a)+len(b))
		for _, l := range a {
			ops = append(ops, DiffLine{DiffRemoved, l})
		}
		for _, l := range b {
			ops = append(ops, DiffLine{DiffAdded, l})
		}
		return ops
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:]
	// and b[j:].
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []DiffLine
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, DiffLine{DiffSame, a[i]})
			i, j = i+1, j+1
		case j == len(b) || i < len(a) && lcs[i+1][j] >= lcs[i][j+1]:
			ops = append(ops, DiffLine{DiffRemoved, a[i]})
			i++
		default:
			ops = append(ops, DiffLine{DiffAdded, b[j]})
			j++
		}
	}
	return ops
}

// objectFields returns a JSON object's field names in order and their
// values, or ok false if raw is not an object.
func objectFields(raw json.RawMessage) (names []string, fields map[string]json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, false
	}
	fields = map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, false
		}
		if _, dup := fields[name]; !dup {
			names = append(names, name)
		}
		fields[name] = v
	}
	return names, fields, true
}

// sameJSON reports whether two JSON texts are the same value, ignoring
// white space and the order of object fields.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	ca, _ := json.Marshal(va) // maps marshal with sorted keys
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}

// clipValue renders a JSON value compactly for a summary: as it is when
// short; else a long string clipped, an array as its length, an object as
// its number of fields. nil (an absent field) is "(none)".
func clipValue(raw json.RawMessage) string {
	if raw == nil {
		return "(none)"
	}
	s := compactJSON(raw)
	if utf8.RuneCountInString(s) <= summaryValueWidth {
		return s
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	switch v := v.(type) {
	case []any:
		return fmt.Sprintf("[%s]", auditCount(len(v), "item", "items"))
	case map[string]any:
		return fmt.Sprintf("{%s}", auditCount(len(v), "field", "fields"))
	}
	r := []rune(s)
	if _, isString := v.(string); isString {
		return string(r[:summaryValueWidth-2]) + "…\""
	}
	return string(r[:summaryValueWidth-1]) + "…"
}

func auditCount(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

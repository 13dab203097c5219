package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/store"
)

// auditKinds are the kinds of object the audit log records.
var auditKinds = []string{"flag", "cohort", "key", "rollout"}

// defaultAuditLimit is how many entries `ramp audit` shows without --limit.
const defaultAuditLimit = 100

type auditOptions struct {
	f      *Factory
	now    func() time.Time // what --since and --until are relative to
	flag   string
	cohort string
	kinds  []string
	actor  string
	action string
	since  string
	until  string
	limit  int
	diff   bool
	format string
}

func newAuditCmd(f *Factory, runF func(*auditOptions) error) *cobra.Command {
	opts := &auditOptions{f: f, now: time.Now}
	cmd := &cobra.Command{
		Use:   "audit [--flag F | --cohort C] [--since 24h] [--actor A]",
		Short: "Show the audit log: who changed what, when, and how",
		Long: `Every change ramp makes (apply, enabling and disabling flags, cohort members,
imports, API keys, rollouts) is appended to an audit log with its time, actor,
action, target and the object's JSON before and after. The log is append-only:
no command edits or deletes entries, and the database itself refuses to.

The newest entries that match are shown, oldest first (--limit, default 100;
0 for all). The table's CHANGE column summarizes each change by the fields
that changed ("enabled: true → false"); --diff shows their full values, and
-o json every entry with its whole before and after.

Here --actor selects entries by who made them (ramp audit records nothing).

--since and --until take a duration back from now (90m, 24h, 7d, 1d12h), a
date (2026-03-01, UTC) or an RFC 3339 time (2026-03-01T12:00:00Z).`,
		Example: `  ramp audit
  ramp audit --flag messenger-ig-interop --since 7d
  ramp audit --actor alice --since 24h --diff
  ramp audit --action rollout. --since 2026-03-01 --until 2026-03-08
  ramp audit --kind key -o json`,
		Args: exactArgs(0, "no arguments (filter with --flag, --cohort, --actor…)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return auditRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.flag, "flag", "", "changes to this flag and its rollout")
	cmd.Flags().StringVar(&opts.cohort, "cohort", "", "changes to this cohort")
	cmd.Flags().StringSliceVar(&opts.kinds, "kind", nil, "changes to objects of these kinds: flag, cohort, key, rollout (comma-separated or repeated)")
	cmd.Flags().StringVar(&opts.actor, "actor", "", "changes made by this actor")
	cmd.Flags().StringVar(&opts.action, "action", "", "actions starting with this (rollout., flag.disable, apply.)")
	cmd.Flags().StringVar(&opts.since, "since", "", "changes at or after this time: 24h, 7d, 2026-03-01 or an RFC 3339 time")
	cmd.Flags().StringVar(&opts.until, "until", "", "changes before this time, in the same forms as --since")
	cmd.Flags().IntVar(&opts.limit, "limit", defaultAuditLimit, "show at most this many entries, the newest (0: all)")
	cmd.Flags().BoolVar(&opts.diff, "diff", false, "show the full old and new value of every changed field")
	addOutputFlag(cmd, &opts.format)
	_ = cmd.RegisterFlagCompletionFunc("flag", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return completeFlagKeys(cmd.Context(), f, nil)
	})
	_ = cmd.RegisterFlagCompletionFunc("cohort", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return completeCohortKeys(cmd, f, nil)
	})
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(auditKinds, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// filter turns the command line into a store filter, or a usage error.
func (opts *auditOptions) filter() (store.AuditFilter, error) {
	usage := func(format string, args ...any) error {
		return &UsageError{Err: fmt.Errorf(format, args...), Command: "ramp audit"}
	}
	f := store.AuditFilter{Actor: opts.actor, Action: opts.action}
	switch {
	case opts.flag != "" && opts.cohort != "":
		return f, usage("--flag and --cohort cannot be combined")
	case (opts.flag != "" || opts.cohort != "") && len(opts.kinds) > 0:
		return f, usage("--kind cannot be combined with --flag or --cohort (narrow with --action instead: --action rollout.)")
	}
	switch {
	case opts.flag != "":
		// A flag's history includes its rollout's.
		f.Target, f.Kinds = opts.flag, []string{"flag", "rollout"}
	case opts.cohort != "":
		f.Target, f.Kind = opts.cohort, "cohort"
	}
	for _, k := range opts.kinds {
		if !slices.Contains(auditKinds, k) {
			return f, usage("unknown --kind %q: want %s", k, strings.Join(auditKinds, ", "))
		}
		f.Kinds = append(f.Kinds, k)
	}
	now := opts.now()
	var err error
	if f.Since, err = parseAuditTime(opts.since, now); err != nil {
		return f, usage("--since: %v", err)
	}
	if f.Until, err = parseAuditTime(opts.until, now); err != nil {
		return f, usage("--until: %v", err)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, usage("--since (%s) is not before --until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	if opts.limit < 0 {
		return f, usage("--limit must be 0 (all) or more, not %d", opts.limit)
	}
	if opts.limit > 0 {
		f.Limit = opts.limit + 1 // one more, to tell whether more exist
	}
	return f, nil
}

// parseAuditTime reads a --since or --until value: empty for none, a
// duration back from now (Go's "90m", "24h", or days "7d", "1d12h"), a date
// (UTC midnight) or an RFC 3339 time.
func parseAuditTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a duration (24h, 90m, 7d), a date (2026-03-01) or an RFC 3339 time (2026-03-01T12:00:00Z)", s)
	}
	return now.Add(-d).UTC(), nil
}

// parseAgo parses a non-negative Go duration, optionally preceded by a
// number of days: "7d", "1d12h", "90m".
func parseAgo(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100*366 {
			return 0, fmt.Errorf("bad number of days %q", s[:i])
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return days + d, nil
}

func auditRun(ctx context.Context, opts *auditOptions) error {
	filter, err := opts.filter()
	if err != nil {
		return err
	}
	out, err := resolveFormat(opts.f.IO, opts.format)
	if err != nil {
		return err
	}
	var entries []store.AuditEntry
	err = opts.f.withStore(ctx, func(s *store.Store) error {
		entries, err = s.Audit(ctx, filter)
		return err
	})
	if err != nil {
		return err
	}
	more := opts.limit > 0 && len(entries) > opts.limit
	if more {
		entries = entries[1:] // the oldest, fetched only to know it exists
	}
	if entries == nil {
		entries = []store.AuditEntry{} // [] in JSON, not null
	}
	moreNote := fmt.Sprintf("showing the newest %d entries; older ones match too: raise --limit (0 for all) or narrow with --since/--until", opts.limit)

	if out != formatTable {
		if more {
			fmt.Fprintln(opts.f.IO.ErrOut, moreNote)
		}
		return writeData(opts.f.IO.Out, out, entries)
	}
	w := opts.f.IO.Out
	if len(entries) == 0 {
		fmt.Fprintln(opts.f.IO.ErrOut, "no audit entries match")
		return nil
	}
	if opts.diff {
		for i, e := range entries {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s  %s  %s  %s\n", e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Kind+"/"+e.Target)
			writeChangeDiff(w, e.Before, e.After, "    ")
		}
	} else {
		t := newTable(w, "TIME", "ACTOR", "ACTION", "TARGET", "CHANGE")
		for _, e := range entries {
			t.row(e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Kind+"/"+e.Target, summarizeChange(e.Before, e.After))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if more {
		fmt.Fprintf(w, "(%s)\n", moreNote)
	}
	return nil
}

// Limits of the CHANGE column.
const (
	changeValueWidth = 32 // characters of one value
	changeFields     = 3  // changes listed before "+N more"
)

// bookkeepingFields are the top-level fields in which objects record their
// own version and last change, left out of summaries.
var bookkeepingFields = []string{"version", "updatedAt", "updatedBy"}

// summarizeChange renders a change in one line: "created" or "deleted"
// when one side is missing, else what differs, "field: old → new", values
// clipped and bookkeeping fields left out. Fields are the top-level fields
// of JSON objects, followed into nested objects and into arrays whose
// length did not change ("rules[1].rollout[0].weight: 1000 → 2500").
func summarizeChange(before, after json.RawMessage) string {
	switch {
	case before == nil && after == nil:
		return ""
	case before == nil:
		return "created"
	case after == nil:
		return "deleted"
	}
	var changes []fieldChange
	diffJSON("", before, after, &changes)
	if len(changes) == 0 {
		return "no change"
	}
	// The row already says who and when: leave out the object's own
	// record of it, unless nothing else changed.
	if rest := slices.DeleteFunc(slices.Clone(changes), func(c fieldChange) bool {
		return slices.Contains(bookkeepingFields, c.path)
	}); len(rest) > 0 {
		changes = rest
	}
	parts := make([]string, 0, changeFields+1)
	for i, c := range changes {
		if i == changeFields {
			parts = append(parts, fmt.Sprintf("+%d more", len(changes)-changeFields))
			break
		}
		p := clipValue(c.before) + " → " + clipValue(c.after)
		if c.path != "" {
			p = c.path + ": " + p
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// fieldChange is a value that differs between two JSON documents, at path
// ("" for the whole document); before or after is nil where it is absent.
type fieldChange struct {
	path          string
	before, after json.RawMessage
}

// diffJSON appends to changes the differences between two JSON values at
// path: within two objects, field by field in the order they appear
// (before's fields, then those only after has); within two arrays of the
// same length, element by element; else the two values whole.
func diffJSON(path string, before, after json.RawMessage, changes *[]fieldChange) {
	if before == nil || after == nil {
		*changes = append(*changes, fieldChange{path, before, after})
		return
	}
	if jsonEqual(before, after) {
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
	*changes = append(*changes, fieldChange{path, before, after})
}

// diffContext is how many unchanged lines --diff shows around a change.
const diffContext = 3

// writeChangeDiff writes a change in full: the line diff of the two
// versions as indented JSON, "-" for lines only before has, "+" for those
// only after has, with a few unchanged lines around them. A creation or
// deletion shows the whole object.
func writeChangeDiff(w io.Writer, before, after json.RawMessage, indent string) {
	ops := diffLines(jsonLines(before), jsonLines(after))
	changed := false
	for _, op := range ops {
		changed = changed || op.sign != ' '
	}
	if !changed {
		fmt.Fprintf(w, "%sno change\n", indent)
		return
	}
	// Show lines within diffContext of a change; mark what is skipped.
	show := make([]bool, len(ops))
	for i, op := range ops {
		if op.sign == ' ' {
			continue
		}
		for j := max(0, i-diffContext); j <= min(len(ops)-1, i+diffContext); j++ {
			show[j] = true
		}
	}
	skipped := false
	for i, op := range ops {
		if !show[i] {
			skipped = true
			continue
		}
		if skipped {
			fmt.Fprintf(w, "%s  …\n", indent)
			skipped = false
		}
		fmt.Fprintf(w, "%s%c %s\n", indent, op.sign, op.line)
	}
	if skipped {
		fmt.Fprintf(w, "%s  …\n", indent)
	}
}

// jsonLines returns a JSON value indented, one line per element; nothing
// for nil.
func jsonLines(raw json.RawMessage) []string {
	if raw == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return []string{string(raw)}
	}
	return strings.Split(buf.String(), "\n")
}

// lineOp is a line of a diff: ' ' in both versions, '-' only in the
// first, '+' only in the second.
type lineOp struct {
	sign byte
	line string
}

// maxDiffCells bounds the work of diffLines (lines before × lines after);
// beyond it the versions are shown one after the other.
const maxDiffCells = 4 << 20

// diffLines returns a shortest edit script from a to b, by longest common
// subsequence.
func diffLines(a, b []string) []lineOp {
	if len(a)*len(b) > maxDiffCells {
		ops := make([]lineOp, 0, len(a)+len(b))
		for _, l := range a {
			ops = append(ops, lineOp{'-', l})
		}
		for _, l := range b {
			ops = append(ops, lineOp{'+', l})
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
	var ops []lineOp
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, lineOp{' ', a[i]})
			i, j = i+1, j+1
		case j == len(b) || i < len(a) && lcs[i+1][j] >= lcs[i][j+1]:
			ops = append(ops, lineOp{'-', a[i]})
			i++
		default:
			ops = append(ops, lineOp{'+', b[j]})
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

// jsonEqual reports whether two JSON texts are the same value, ignoring
// white space and the order of object fields.
func jsonEqual(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	ca, _ := json.Marshal(va) // maps marshal with sorted keys
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}

// clipValue renders a JSON value compactly for the CHANGE column: as it is
// when short; else a long string clipped, an array as its length, an
// object as its number of fields. nil (an absent field) is "(none)".
func clipValue(raw json.RawMessage) string {
	if raw == nil {
		return "(none)"
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	s := buf.String()
	if utf8.RuneCountInString(s) <= changeValueWidth {
		return s
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	switch v := v.(type) {
	case []any:
		return fmt.Sprintf("[%s]", plural(len(v), "item", "items"))
	case map[string]any:
		return fmt.Sprintf("{%s}", plural(len(v), "field", "fields"))
	}
	r := []rune(s)
	if _, isString := v.(string); isString {
		return string(r[:changeValueWidth-2]) + "…\""
	}
	return string(r[:changeValueWidth-1]) + "…"
}

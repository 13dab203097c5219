package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/ofrep"
)

type evalOptions struct {
	f        *Factory
	flag     string
	context  string
	contexts string
	explain  bool
	format   string
}

func newEvalCmd(f *Factory, runF func(*evalOptions) error) *cobra.Command {
	opts := &evalOptions{f: f}
	cmd := &cobra.Command{
		Use:   "eval FLAG",
		Short: "Decide a flag for one context, or for many",
		Long: `Decide a flag as a service would, from the stored configuration, and print the
decision as JSON in the OFREP shape: {key, value, variant, reason, metadata},
or {key, errorCode, errorDetails} when the service would get its own default.
-o table prints it as a table instead: the flag, variant, value, reason, and
the rule that decided, with the rollout stage it came from.

--context takes one evaluation context as JSON. --contexts reads JSON lines
(one context per line; blank lines are skipped) from a file or "-" for stdin and
writes one decision per line, in the same order; a line that is not a JSON
object gets a PARSE_ERROR decision rather than stopping the run.

--explain shows why: each rule tried and what it found, and for percentage
splits the bucketing key, salt and bucket. A decision an experiment made
names it, with its phase and arm, the unit's layer bucket and its arm
bucket; a unit that fell outside an experiment's share of its layer is told
so ("layer bucket 9512 of 10000: not in experiment X's buckets").

Exit status 7 means the single decision carried an OpenFeature error code.`,
		Example: `  ramp eval messenger-ig-interop --context '{"targetingKey":"u1","region":"US","accountCenterId":"ac-9"}'
  ramp eval ig-dm-via-whatsapp --explain --context '{"targetingKey":"u1","region":"CA","appVersion":"301.2.0"}'
  ramp eval messenger-ig-interop --contexts users.jsonl > decisions.jsonl`,
		Args: exactArgs(1, "one flag key"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeFlagKeys(cmd.Context(), f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.flag = args[0]
			if opts.context != "" && opts.contexts != "" {
				return &UsageError{Err: fmt.Errorf("use --context or --contexts, not both")}
			}
			if opts.explain && opts.contexts != "" {
				return &UsageError{Err: fmt.Errorf("--explain works with a single --context")}
			}
			if runF != nil {
				return runF(opts)
			}
			return evalRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.context, "context", "c", "", "evaluation context as a JSON object (default {})")
	cmd.Flags().StringVar(&opts.contexts, "contexts", "", "file of JSON-lines contexts, or - for stdin")
	cmd.Flags().BoolVar(&opts.explain, "explain", false, "show each rule tried and the bucket")
	addOutputFlag(cmd, &opts.format)
	return cmd
}

func evalRun(ctx context.Context, opts *evalOptions) error {
	var (
		snap *flags.Snapshot
		ro   *rolloutExplanation
	)
	evalCtx := map[string]any{}
	if opts.contexts == "" && strings.TrimSpace(opts.context) != "" {
		if err := decodeContext([]byte(opts.context), &evalCtx); err != nil {
			return &InvalidError{fmt.Errorf("--context: %w", err)}
		}
	}
	err := opts.f.withAdmin(ctx, false, func(ctx context.Context, a Control) (err error) {
		if opts.contexts != "" {
			snap, err = a.Snapshot(ctx) // every list: the contexts are many
			return err
		}
		if snap, err = a.SnapshotFor(ctx, evalCtx); err != nil || !opts.explain {
			return err
		}
		d := snap.Evaluate(opts.flag, evalCtx)
		ro, err = a.ExplainRollout(ctx, opts.flag, evalCtx, &d)
		return err
	})
	if err != nil {
		return err
	}
	io := opts.f.IO
	if opts.contexts != "" {
		in := io.In
		if opts.contexts != "-" {
			file, err := os.Open(opts.contexts)
			if err != nil {
				return &InvalidError{fmt.Errorf("contexts: %w", err)}
			}
			defer file.Close()
			in = file
		}
		return evalMany(snap, opts.flag, in, io.Out, opts.contexts)
	}
	format, err := resolveFormat(io, opts.format)
	if err != nil {
		return err
	}
	if opts.format == "" && !opts.explain {
		format = formatJSON // a decision is data: JSON even on a terminal, unless -o table
	}
	if opts.explain {
		ex := snap.Explain(opts.flag, evalCtx)
		if format == formatTable {
			printExplanation(io.Out, &ex)
			printRolloutExplanation(io.Out, ro, &ex.Decision)
		} else {
			view := struct {
				Decision    any                 `json:"decision"`
				Explanation flags.Explanation   `json:"explanation"`
				Rollout     *rolloutExplanation `json:"rollout,omitempty"`
			}{ofrep.Body(&ex.Decision), ex, ro}
			if err := writeData(io.Out, format, view); err != nil {
				return err
			}
		}
		if ex.Decision.IsError() {
			return errEvalFailed
		}
		return nil
	}
	d := snap.Evaluate(opts.flag, evalCtx)
	if format == formatTable {
		if err := printDecision(io.Out, &d); err != nil {
			return err
		}
	} else if err := writeData(io.Out, format, ofrep.Body(&d)); err != nil {
		return err
	}
	if d.IsError() {
		return errEvalFailed
	}
	return nil
}

// printDecision prints one decision as a table: the flag, the variant and
// its value, the reason, and the rule that decided (its number and name,
// and the rollout stage it came from), or the error code and details.
func printDecision(w io.Writer, d *flags.Decision) error {
	if d.IsError() {
		t := newTable(w, "KEY", "VALUE", "REASON", "ERROR")
		t.row(d.Key, "(caller's default)", string(d.Reason), string(d.ErrorCode)+": "+d.ErrorDetails)
		return t.flush()
	}
	val, err := json.Marshal(d.Value)
	if err != nil {
		return err
	}
	t := newTable(w, "KEY", "VARIANT", "VALUE", "REASON", "RULE")
	t.row(d.Key, d.Variant, string(val), string(d.Reason), decidedBy(d))
	return t.flush()
}

// decidedBy names the rule behind a decision: "2 (employees)",
// "3 (rollout messenger-ig-interop, stage us-10)", "0 (experiment
// dm-handoff-vs-inline, phase 2, arm inline)", or "-" when no rule decided
// (a default, a static flag, a disabled one).
func decidedBy(d *flags.Decision) string {
	if d.Rule < 0 {
		return "-"
	}
	var about []string
	if o := d.Origin; o != nil && o.Kind == flags.OriginExperiment {
		about = append(about, experimentArm(o, d))
	} else if o != nil {
		about = append(about, fmt.Sprintf("%s %s, stage %s", o.Kind, o.Key, o.Part))
	} else if d.RuleName != "" {
		about = append(about, d.RuleName)
	}
	if len(about) == 0 {
		return itoa(d.Rule)
	}
	return itoa(d.Rule) + " (" + strings.Join(about, "; ") + ")"
}

// decodeContext reads one evaluation context: a JSON object.
func decodeContext(b []byte, into *map[string]any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if *into == nil {
		return fmt.Errorf("not a JSON object: null")
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// evalMany streams JSON-lines contexts to JSON-lines decisions. Lines are
// read in chunks, decoded and decided by one worker per CPU, and written back
// in input order; memory stays bounded by the chunks in flight.
func evalMany(snap *flags.Snapshot, key string, in io.Reader, out io.Writer, name string) error {
	const chunkLines = 2048
	type chunk struct {
		firstLine int
		lines     [][]byte
		result    chan []byte
	}
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *chunk, workers)
	ordered := make(chan *chunk, 2*workers)
	var readErr error
	go func() {
		defer close(work)
		defer close(ordered)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		line := 0
		c := &chunk{firstLine: 1}
		flush := func() {
			c.result = make(chan []byte, 1)
			ordered <- c
			work <- c
		}
		for sc.Scan() {
			line++
			if len(c.lines) == 0 {
				c.firstLine = line
			}
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 {
				c.lines = append(c.lines, nil) // keeps line numbers; skipped below
			} else {
				c.lines = append(c.lines, bytes.Clone(text))
			}
			if len(c.lines) == chunkLines {
				flush()
				c = &chunk{}
			}
		}
		if len(c.lines) > 0 {
			flush()
		}
		if err := sc.Err(); err != nil {
			readErr = &InvalidError{fmt.Errorf("%s: line %d: %w", name, line+1, err)}
		}
	}()
	for range workers {
		go func() {
			for c := range work {
				var buf []byte
				for i, text := range c.lines {
					if text == nil {
						continue
					}
					var d flags.Decision
					var evalCtx map[string]any
					if err := json.Unmarshal(text, &evalCtx); err != nil || evalCtx == nil {
						d = flags.Decision{Key: key, Reason: flags.ReasonError, ErrorCode: flags.ErrParse, Rule: -1,
							ErrorDetails: fmt.Sprintf("line %d: context is not a JSON object", c.firstLine+i)}
					} else {
						d = snap.Evaluate(key, evalCtx)
					}
					buf, _ = ofrep.AppendJSON(buf, &d) // never fails for values the engine serves
					buf = append(buf, '\n')
				}
				c.result <- buf
			}
		}()
	}
	w := bufio.NewWriterSize(out, 256*1024)
	var writeErr error
	for c := range ordered {
		b := <-c.result
		if writeErr == nil {
			_, writeErr = w.Write(b)
		}
	}
	if writeErr != nil {
		return writeErr
	}
	if readErr != nil {
		return readErr
	}
	return w.Flush()
}

func printExplanation(w io.Writer, ex *flags.Explanation) {
	d := &ex.Decision
	if d.IsError() {
		fmt.Fprintf(w, "%s → caller's default (%s: %s)\n", d.Key, d.ErrorCode, d.ErrorDetails)
	} else {
		val, _ := json.Marshal(d.Value)
		fmt.Fprintf(w, "%s → %s = %s (%s)\n", d.Key, d.Variant, val, d.Reason)
	}
	switch {
	case d.Reason == flags.ReasonDisabled:
		fmt.Fprintln(w, "  the flag is disabled (kill switch): every context gets the default variant")
	case d.Reason == flags.ReasonStatic:
		fmt.Fprintln(w, "  the flag has no rules: every context gets the default variant")
	}
	armTable := false
	for _, s := range ex.Steps {
		mark := "✗"
		if s.Matched {
			mark = "✓"
		}
		name := ""
		if s.Name != "" {
			name = " (" + s.Name + ")"
		}
		fmt.Fprintf(w, "  %s rule %d%s: %s\n", mark, s.Rule, name, s.Detail)
		for i := range ex.Samples {
			if ex.Samples[i].Rule == s.Rule {
				armTable = printSample(w, ex, &ex.Samples[i]) || armTable
			}
		}
	}
	if d.Reason == flags.ReasonDefault {
		fmt.Fprintln(w, "  no rule matched: default variant")
	}
	if b := ex.Bucketing; b != nil && !armTable {
		fmt.Fprintf(w, "  bucketing: %s\n", placement(b))
	}
}

// printSample says where the unit fell on a rule's sample. For an
// experiment's rule: in the experiment, with its phase, arm, layer bucket
// and arm bucket; or outside its buckets. It reports whether it printed
// the decision's arm bucket.
func printSample(w io.Writer, ex *flags.Explanation, s *flags.SampleTrace) (armBucket bool) {
	d := &ex.Decision
	o := s.Origin
	experiment := o != nil && o.Kind == flags.OriginExperiment
	switch {
	case experiment && s.In && s.Rule == d.Rule && !d.IsError():
		fmt.Fprintf(w, "    in %s; layer bucket %d of 10000\n", experimentArm(o, d), s.Bucket)
	case experiment && s.In:
		fmt.Fprintf(w, "    layer bucket %d of 10000: in experiment %s's buckets\n", s.Bucket, o.Key)
	case experiment:
		fmt.Fprintf(w, "    layer bucket %d of 10000: not in experiment %s's buckets\n", s.Bucket, o.Key)
	case s.In:
		fmt.Fprintf(w, "    bucket %d of 10000 is in the rule's sample\n", s.Bucket)
	default:
		fmt.Fprintf(w, "    bucket %d of 10000 is not in the rule's sample\n", s.Bucket)
	}
	label := "sample:"
	if experiment {
		label = "layer: "
	}
	fmt.Fprintf(w, "      %s %s\n", label, placement(&s.BucketingTrace))
	if b := ex.Bucketing; experiment && s.In && s.Rule == d.Rule && b != nil {
		fmt.Fprintf(w, "      arm:    %s\n", placement(b))
		return true
	}
	return false
}

// experimentArm names an experiment decision: "experiment
// dm-handoff-vs-inline, phase 2, arm inline". The arm is the variant
// served.
func experimentArm(o *flags.Origin, d *flags.Decision) string {
	return fmt.Sprintf("experiment %s, phase %d, arm %s", o.Key, o.Phase, d.Variant)
}

// placement renders the inputs and outputs of one bucketing.
func placement(b *flags.BucketingTrace) string {
	return fmt.Sprintf("%s=%q salt=%q v%d → position %d, bucket %d of 10000 (%.2f%%)",
		b.Attribute, b.Key, b.Salt, b.Version, b.Position, b.Bucket, float64(b.Bucket)/100)
}

package config_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/rollout"
)

// experimentsFile is the issue's declaration, with the flags and cohort it
// names.
const experimentsFile = `
cohorts:
  - key: linked-accounts
    when: [{attribute: accountCenterId, op: exists}]
flags:
  - key: ig-dm-via-whatsapp
    type: string
    variants: {"off": "off", handoff: handoff, inline: inline}
    defaultVariant: "off"
    bucketBy: accountCenterId
  - key: wa-link-code-ttl-seconds
    type: integer
    variants: {short: 300, long: 600}
    defaultVariant: long
layers:
  - key: cross-app-messaging
    bucketBy: accountCenterId          # fixed per layer; falls back to targetingKey as flags do
    holdout: 5                         # % of the layer that no experiment in it may use
experiments:
  - key: dm-handoff-vs-inline
    flag: ig-dm-via-whatsapp
    layer: cross-app-messaging
    hypothesis: Sending inline from Instagram raises replies per linked user
    owner: messaging-interop
    audience: {regions: [US, CA], cohorts: [linked-accounts], when: [{attribute: appVersion, op: semver_gte, values: ["300.0.0"]}]}
    traffic: 20                        # % of the layer this experiment takes
    arms: {"off": 34, handoff: 33, inline: 33}
    control: "off"
    metrics: {primary: replies-per-user, guardrails: [send-errors-per-message]}
  - key: link-code-ttl
    flag: wa-link-code-ttl-seconds
    audience: {regions: [BR, IN]}
    traffic: 100
    arms: {short: 50, long: 50}
    control: long
metrics:
  - key: replies-per-user
    event: dm_reply
    kind: mean                 # conversion | mean | ratio
    window: 7d                 # counted from each unit's first exposure
    direction: increase
  - key: reply-rate
    event: dm_reply
    kind: conversion
  - key: send-errors-per-message
    kind: ratio
    numerator: dm_send_error
    denominator: dm_sent
    direction: decrease
    margin: 0.5                # a guardrail: worse by more than 0.5% (relative) is a regression
`

// issueLayers and issueExperiments are experimentsFile's layers and
// experiments as Document returns them; issueMetrics its metrics.
var (
	issueLayers = []experiment.Layer{{Key: "cross-app-messaging", BucketBy: "accountCenterId", Holdout: 500}}

	issueMetrics = []experiment.Metric{
		{Key: "replies-per-user", Kind: experiment.Mean, Event: "dm_reply", Window: rollout.Duration(7 * 24 * time.Hour), Direction: experiment.Increase},
		{Key: "reply-rate", Kind: experiment.Conversion, Event: "dm_reply", Direction: experiment.Increase},
		{Key: "send-errors-per-message", Kind: experiment.Ratio, Numerator: "dm_send_error", Denominator: "dm_sent",
			Direction: experiment.Decrease, Margin: 0.5},
	}

	issueExperiments = []experiment.Experiment{
		{
			Key: "dm-handoff-vs-inline", Flag: "ig-dm-via-whatsapp", Layer: "cross-app-messaging",
			Hypothesis: "Sending inline from Instagram raises replies per linked user", Owner: "messaging-interop",
			Audience: experiment.Audience{
				Regions: []string{"US", "CA"}, Cohorts: []string{"linked-accounts"},
				When: []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}},
			},
			Traffic: 2000,
			Arms:    []experiment.Arm{{Variant: "off", Weight: 3400}, {Variant: "handoff", Weight: 3300}, {Variant: "inline", Weight: 3300}},
			Control: "off",
			Metrics: experiment.Metrics{Primary: "replies-per-user", Guardrails: []string{"send-errors-per-message"}},
		},
		{
			Key: "link-code-ttl", Flag: "wa-link-code-ttl-seconds",
			Audience: experiment.Audience{Regions: []string{"BR", "IN"}},
			Traffic:  flags.Hundred,
			Arms:     []experiment.Arm{{Variant: "short", Weight: 5000}, {Variant: "long", Weight: 5000}},
			Control:  "long",
		},
	}
)

func TestParseExperiments(t *testing.T) {
	doc := mustParse(t, "experiments.yaml", []byte(experimentsFile))
	if diff := cmp.Diff(issueLayers, doc.Layers()); diff != "" {
		t.Errorf("Layers() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(issueExperiments, doc.Experiments()); diff != "" {
		t.Errorf("Experiments() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(issueMetrics, doc.Metrics()); diff != "" {
		t.Errorf("Metrics() mismatch (-want +got):\n%s", diff)
	}
	for _, key := range []string{"dm-handoff-vs-inline", "link-code-ttl", "absent"} {
		if doc.NextPhase(key) {
			t.Errorf("NextPhase(%q) = true for a file without phase", key)
		}
		if n, ok := doc.Phase(key); ok {
			t.Errorf("Phase(%q) = %d, true for a file without phase", key, n)
		}
	}
	for key, want := range map[string]string{"dm-handoff-vs-inline": "experiments[0]", "link-code-ttl": "experiments[1]", "absent": ""} {
		if got := doc.ExperimentPath(key); got != want {
			t.Errorf("ExperimentPath(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestExperimentLifecycleFields decodes what a file says about an
// experiment's lifecycle: status, ship and phase.
func TestExperimentLifecycleFields(t *testing.T) {
	tests := []struct {
		name      string
		fields    string
		status    experiment.Status
		shipped   string
		next      bool
		phase     int
		havePhase bool
	}{
		{name: "nothing stated keeps the stored lifecycle"},
		{name: "draft", fields: "status: draft", status: experiment.Draft},
		{name: "running", fields: "status: running", status: experiment.Running},
		{name: "running, a new phase", fields: "status: running\n    phase: next", status: experiment.Running, next: true},
		{name: "paused in phase 2 as exported", fields: "status: paused\n    phase: 2", status: experiment.Paused, phase: 2, havePhase: true},
		{name: "phase: next alone", fields: "phase: next", next: true},
		{name: "stopped without shipping", fields: "status: stopped\n    phase: 3", status: experiment.Stopped, phase: 3, havePhase: true},
		{name: "stopped, shipping an arm", fields: "status: stopped\n    ship: b", status: experiment.Stopped, shipped: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "experiments:\n  - key: x\n    flag: f\n    traffic: 10\n    arms: {a: 50, b: 50}\n    control: a\n    " + tt.fields + "\n"
			doc := mustParse(t, "x.yaml", []byte(file))
			got := doc.Experiments()[0]
			if got.Status != tt.status || got.Shipped != tt.shipped {
				t.Errorf("Status, Shipped = %q, %q; want %q, %q", got.Status, got.Shipped, tt.status, tt.shipped)
			}
			if got.Phases != nil {
				t.Errorf("Phases = %v, want none: a file never carries phases", got.Phases)
			}
			if next := doc.NextPhase("x"); next != tt.next {
				t.Errorf("NextPhase = %v, want %v", next, tt.next)
			}
			if n, ok := doc.Phase("x"); n != tt.phase || ok != tt.havePhase {
				t.Errorf("Phase = %d, %v; want %d, %v", n, ok, tt.phase, tt.havePhase)
			}
		})
	}
}

// experimentStructuralCases are experiment files that Parse refuses; they
// join TestErrors's table through init.
var experimentStructuralCases = []struct {
	name string
	data string
	want []wantProblem
}{
	{
		name: "unknown experiment field",
		data: `
experiments:
  - {key: x, flag: f, traffic: 10, arms: {a: 100}, control: a, hypotesis: more}
`,
		want: []wantProblem{{3, 64, "experiments[0]", `unknown field "hypotesis" (did you mean "hypothesis"?)`}},
	},
	{
		name: "unknown layer field",
		data: `
layers:
  - key: l
    bucket_by: accountCenterId
`,
		want: []wantProblem{{4, 5, "layers[0]", `unknown field "bucket_by" (did you mean "bucketBy"?)`}},
	},
	{
		name: "unknown audience and metrics fields",
		data: `
experiments:
  - key: x
    flag: f
    traffic: 10
    arms: {a: 100}
    control: a
    audience: {region: [US]}
    metrics: {primary: m, guardrail: [g]}
`,
		want: []wantProblem{
			{8, 16, "experiments[0].audience", `unknown field "region" (did you mean "regions"?)`},
			{9, 27, "experiments[0].metrics", `unknown field "guardrail" (did you mean "guardrails"?)`},
		},
	},
	{
		name: "arm weight not a percentage",
		data: `
experiments:
  - {key: x, flag: f, traffic: 10, arms: {a: 33.333, b: [66]}, control: a}
`,
		want: []wantProblem{
			{3, 46, "experiments[0].arms.a", "at most two decimals"},
			{3, 57, "experiments[0].arms.b", "want a percentage, got a list"},
		},
	},
	{
		name: "duplicate arm",
		data: `
experiments:
  - key: x
    flag: f
    traffic: 10
    arms:
      a: 50
      a: 50
    control: a
`,
		want: []wantProblem{{8, 7, "experiments[0].arms.a", `duplicate key "a" (first at line 7)`}},
	},
	{
		name: "traffic and holdout above 100",
		data: `
layers:
  - {key: l, holdout: 101}
experiments:
  - {key: x, flag: f, traffic: 120, arms: {a: 100}, control: a}
`,
		want: []wantProblem{
			{3, 23, "layers[0].holdout", "percentage 101 is above 100"},
			{5, 32, "experiments[0].traffic", "percentage 120 is above 100"},
		},
	},
	{
		name: "traffic missing",
		data: `
experiments:
  - key: x
    flag: f
    arms: {a: 100}
    control: a
`,
		want: []wantProblem{{3, 5, "experiments[0].traffic", "traffic is required"}},
	},
	{
		name: "unknown status",
		data: `
experiments:
  - {key: x, flag: f, traffic: 10, arms: {a: 100}, control: a, status: started}
`,
		want: []wantProblem{{3, 72, "experiments[0].status", `unknown status "started" (want draft, running, paused or stopped)`}},
	},
	{
		name: "phase neither next nor a number",
		data: `
experiments:
  - {key: x, flag: f, traffic: 10, arms: {a: 100}, control: a, status: running, phase: new}
  - {key: y, flag: f, traffic: 10, arms: {a: 100}, control: a, status: running, phase: 0}
`,
		want: []wantProblem{
			{3, 88, "experiments[0].phase", `want next (to make the file's changes as a new phase) or the current phase number, got the string "new"`},
			{4, 88, "experiments[1].phase", "got the integer 0"},
		},
	},
	{
		name: "ship without status stopped",
		data: `
experiments:
  - {key: x, flag: f, traffic: 10, arms: {a: 100}, control: a, status: running, ship: a}
  - {key: y, flag: f, traffic: 10, arms: {a: 100}, control: a, ship: a}
`,
		want: []wantProblem{
			{3, 87, "experiments[0].ship", "ship needs status: stopped"},
			{4, 70, "experiments[1].ship", "ship needs status: stopped"},
		},
	},
	{
		name: "a draft with a phase, a stopped experiment with phase: next",
		data: `
experiments:
  - {key: x, flag: f, traffic: 10, arms: {a: 100}, control: a, status: draft, phase: next}
  - {key: y, flag: f, traffic: 10, arms: {a: 100}, control: a, status: stopped, phase: next}
`,
		want: []wantProblem{
			{3, 72, "experiments[0].status", "a draft experiment has no phase"},
			{4, 72, "experiments[1].status", "a stopped experiment starts no new phase"},
		},
	},
	{
		name: "wrong kinds",
		data: `
layers: {key: l}
experiments:
  - key: x
    flag: [f]
    traffic: 10
    arms: [a, b]
    control: a
    audience: [US]
    metrics: {primary: [m]}
`,
		want: []wantProblem{
			{2, 9, "layers", "want a list of layers, got a mapping"},
			{5, 11, "experiments[0].flag", "want a string, got a list"},
			{7, 11, "experiments[0].arms", "want a mapping, got a list"},
			{9, 15, "experiments[0].audience", "want a mapping, got a list"},
			{10, 24, "experiments[0].metrics.primary", "want a metric key, got a list"},
		},
	},
}

func init() {
	for _, c := range experimentStructuralCases {
		errorCases = append(errorCases, struct {
			name string
			file string
			data string
			want []wantProblem
		}{name: "experiments: " + c.name, data: c.data, want: c.want})
	}
}

// experimentFlags is experimentsFile's state resolved against an empty
// store.
func experimentFlags() flags.State {
	doc, err := config.Parse("experiments.yaml", []byte(experimentsFile))
	if err != nil {
		panic(err)
	}
	return doc.Resolve(nil)
}

// runningExperiments is a stored configuration with an experiment in each
// status, as export reads it from the store.
func runningExperiments() *ramp.Config {
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ended := started.Add(7 * 24 * time.Hour)
	// phase owns the layer buckets from first on, as many as its traffic
	// takes (a traffic in basis points is a number of buckets).
	phase := func(n int, traffic flags.Percent, arms []experiment.Arm, first uint32, end *time.Time) experiment.Phase {
		return experiment.Phase{
			Number: n, Traffic: traffic, Arms: arms, StartedBy: "alice", Started: started, Ended: end,
			Buckets: []flags.BucketRange{{From: first, To: first + uint32(traffic)}},
			Table:   experiment.Table(arms),
		}
	}
	exps := []experiment.Experiment{issueExperiments[0], issueExperiments[1]}
	dm := &exps[0]
	dm.Status = experiment.Running
	dm.Salt = "dm-2026"
	dm.Metrics.Secondary = []string{"sends-per-user", "on"}
	dm.Phases = []experiment.Phase{
		phase(1, 1000, []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "handoff", Weight: 5000}}, 500, &ended),
		phase(2, 2000, dm.Arms, 500, nil),
	}
	// Phase 2 grew around the paused experiment's buckets, and its table
	// moved the fewest units: neither is contiguous.
	dm.Phases[1].Buckets = []flags.BucketRange{{From: 500, To: 1500}, {From: 3600, To: 4600}}
	dm.Phases[1].Table, _ = experiment.Reallocate(dm.Phases[0].Table, dm.Arms)
	ttl := &exps[1]
	ttl.Status = experiment.Stopped
	ttl.Shipped = "short"
	ttl.Phases = []experiment.Phase{phase(1, flags.Hundred, ttl.Arms, 0, &ended)}
	paused := experiment.Experiment{
		Key: "dm-inline-composer", Flag: "ig-dm-via-whatsapp", Layer: "cross-app-messaging", Traffic: 1050,
		Arms: []experiment.Arm{{Variant: "inline", Weight: 3333}, {Variant: "off", Weight: 6667}}, Control: "off",
		Status: experiment.Paused,
	}
	paused.Phases = []experiment.Phase{phase(1, 1050, paused.Arms, 2500, nil)}
	draft := experiment.Experiment{
		Key: "ttl-120", Flag: "wa-link-code-ttl-seconds", Layer: "wa-identity", Traffic: 5,
		Arms: []experiment.Arm{{Variant: "long", Weight: 5000}, {Variant: "short", Weight: 5000}}, Control: "long",
		Status: experiment.Draft,
	}
	return &ramp.Config{
		State: experimentFlags(),
		Layers: []experiment.Layer{
			issueLayers[0],
			{Key: "wa-identity", BucketBy: "targetingKey", Holdout: 1, Salt: "wa-2026"},
		},
		Experiments: []experiment.Experiment{exps[0], paused, exps[1], draft},
		Metrics: append(slices.Clone(issueMetrics),
			experiment.Metric{Key: "sends-per-user", Description: "Messages sent, per linked user", Kind: experiment.Mean, Event: "dm_sent",
				Window: rollout.Duration(14 * 24 * time.Hour), Direction: experiment.Increase, Covariate: &experiment.Covariate{}},
			// A key YAML 1.1 reads as a boolean, and a covariate of its own.
			experiment.Metric{Key: "on", Kind: experiment.Conversion, Event: "yes", Direction: experiment.Decrease,
				Window: rollout.Duration(24 * time.Hour), Margin: 2, Covariate: &experiment.Covariate{Event: "no", Window: rollout.Duration(28 * 24 * time.Hour)}}),
	}
}

// TestExportExperimentsRoundTrip exports layers and experiments in every
// status and parses them back: the same declarations, the stated
// lifecycle, and the current phase numbers.
func TestExportExperimentsRoundTrip(t *testing.T) {
	cfg := runningExperiments()
	for _, format := range []string{config.YAML, config.JSON} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := config.Export(&buf, cfg, format, nil); err != nil {
				t.Fatal(err)
			}
			doc, err := config.Parse("export."+format, buf.Bytes())
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, buf.String())
			}
			st := doc.Resolve(&cfg.State)
			if err := doc.ValidateAgainst(&st, cfg, false); err != nil {
				t.Errorf("ValidateAgainst the exported configuration: %v", err)
			}
			if diff := cmp.Diff(cfg.Layers, doc.Layers()); diff != "" {
				t.Errorf("layers mismatch (-want +got):\n%s\n%s", diff, buf.String())
			}
			if diff := cmp.Diff(cfg.Metrics, doc.Metrics()); diff != "" {
				t.Errorf("metrics mismatch (-want +got):\n%s\n%s", diff, buf.String())
			}
			want := make([]experiment.Experiment, len(cfg.Experiments))
			for i, e := range cfg.Experiments {
				e.Phases = nil
				want[i] = e
			}
			if diff := cmp.Diff(want, doc.Experiments()); diff != "" {
				t.Errorf("experiments mismatch (-want +got):\n%s\n%s", diff, buf.String())
			}
			for _, e := range cfg.Experiments {
				n, ok := doc.Phase(e.Key)
				wantN, wantOK := 0, false
				if cur := e.Current(); cur != nil {
					wantN, wantOK = cur.Number, true
				}
				if n != wantN || ok != wantOK {
					t.Errorf("Phase(%s) = %d, %v; want %d, %v", e.Key, n, ok, wantN, wantOK)
				}
				if doc.NextPhase(e.Key) {
					t.Errorf("NextPhase(%s) = true in an export", e.Key)
				}
				got, ok := doc.Allocation(e.Key)
				switch cur := e.Current(); {
				case cur == nil || e.Status == experiment.Draft:
					if ok {
						t.Errorf("Allocation(%s) = %+v for an experiment without a phase", e.Key, got)
					}
				case !ok:
					t.Errorf("Allocation(%s) missing from the export", e.Key)
				default:
					want := *cur
					want.Started, want.Ended, want.StartedBy = time.Time{}, nil, ""
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("Allocation(%s) mismatch (-stored +file):\n%s", e.Key, diff)
					}
				}
			}
			// Exporting what was read back, with the stored phases, gives
			// the same bytes.
			again := &ramp.Config{State: st, Layers: doc.Layers(), Experiments: doc.Experiments(), Metrics: doc.Metrics()}
			for i := range again.Experiments {
				again.Experiments[i].Phases = cfg.Experiments[i].Phases
			}
			var buf2 bytes.Buffer
			if err := config.Export(&buf2, again, format, nil); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(buf.String(), buf2.String()); diff != "" {
				t.Errorf("second export differs (-first +second):\n%s", diff)
			}
		})
	}
}

// TestExportExperimentsGolden pins how export writes layers and
// experiments: declaration order, arms in order, status, ship and phase.
func TestExportExperimentsGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := config.Export(&buf, runningExperiments(), config.YAML, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "experiments.golden.yaml", buf.Bytes())
}

// TestParseIssueExportRoundTrip parses the issue's file, exports its
// declarations and parses them again.
func TestParseIssueExportRoundTrip(t *testing.T) {
	doc := mustParse(t, "experiments.yaml", []byte(experimentsFile))
	var buf bytes.Buffer
	if err := config.Export(&buf, &ramp.Config{Layers: doc.Layers(), Experiments: doc.Experiments(), Metrics: doc.Metrics()}, config.YAML, nil); err != nil {
		t.Fatal(err)
	}
	doc2 := mustParse(t, "export.yaml", buf.Bytes())
	if diff := cmp.Diff(doc.Metrics(), doc2.Metrics()); diff != "" {
		t.Errorf("metrics mismatch (-parsed +re-parsed):\n%s", diff)
	}
	if diff := cmp.Diff(doc.Layers(), doc2.Layers()); diff != "" {
		t.Errorf("layers mismatch (-parsed +re-parsed):\n%s", diff)
	}
	if diff := cmp.Diff(doc.Experiments(), doc2.Experiments(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("experiments mismatch (-parsed +re-parsed):\n%s\n%s", diff, buf.String())
	}
}

// TestParsePartialExperiments: an experiment whose arms do not decode is
// reported once, without echoes (weights, control) from validation.
func TestParsePartialExperiments(t *testing.T) {
	const file = `flags:
  - {key: f, type: boolean, variants: {"on": true, "off": false}, defaultVariant: "off"}
experiments:
  - key: x
    flag: f
    traffic: 10
    arms: {"on": 50, "off": lots}
    control: "off"
`
	doc, err := config.ParsePartial("f.yaml", []byte(file))
	if doc == nil || err == nil {
		t.Fatalf("ParsePartial = %v, %v; want a document and the structural error", doc, err)
	}
	st := doc.Resolve(nil)
	err = doc.Validate(&st)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Validate = %v, want a *config.Error", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, fmt.Sprintf("%d %s", p.Line, p.Path))
	}
	if diff := cmp.Diff([]string{"7 experiments[0].arms.off"}, got); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s\n%v", diff, err)
	}
}

// TestLocateMappingByPosition: a path may index an ordered mapping (arms, a
// rollout) by position.
func TestLocateMappingByPosition(t *testing.T) {
	doc := mustParse(t, "experiments.yaml", []byte(experimentsFile))
	for _, tt := range []struct {
		path      string
		line, col int
	}{
		{"experiments[0].arms[2]", 27, 44},
		{"experiments[0].arms.inline", 27, 44},
		{"experiments[1].arms[0]", 34, 19},
		{"experiments[1].arms[5]", 34, 5},
	} {
		if line, col := doc.Locate(tt.path); line != tt.line || col != tt.col {
			t.Errorf("Locate(%q) = %d:%d, want %d:%d", tt.path, line, col, tt.line, tt.col)
		}
	}
	if !strings.Contains(experimentsFile, "arms: {short: 50, long: 50}") {
		t.Fatal("experimentsFile changed: update the positions")
	}
}

// experimentPreamble declares the flags, cohort and layer the validation
// cases name; its 13 lines come before each case's experiments.
const experimentPreamble = `cohorts:
  - {key: linked-accounts, when: [{attribute: accountCenterId, op: exists}]}
flags:
  - key: dm
    type: string
    variants: {"off": "off", handoff: handoff, inline: inline}
    defaultVariant: "off"
  - key: ttl
    type: integer
    variants: {short: 300, long: 600}
    defaultVariant: long
layers:
  - {key: messaging, bucketBy: accountCenterId, holdout: 5}
`

// experimentValidationCases are the problems the issue lists, each
// located in the file: the experiments follow experimentPreamble, so their
// first line is 14.
var experimentValidationCases = []struct {
	name string
	data string
	want []wantProblem
}{
	{
		name: "unknown flag",
		data: `experiments:
  - {key: x, flag: dms, traffic: 10, arms: {a: 50, b: 50}, control: a}
`,
		want: []wantProblem{{15, 20, "experiments[0].flag", `unknown flag "dms"`}},
	},
	{
		name: "unknown arm",
		data: `experiments:
  - key: x
    flag: dm
    traffic: 10
    arms: {"off": 50, inlined: 50}
    control: "off"
`,
		want: []wantProblem{{18, 32, "experiments[0].arms.inlined", `unknown arm "inlined"`}},
	},
	{
		name: "weights not summing to 100",
		data: `experiments:
  - key: x
    flag: dm
    traffic: 10
    arms: {"off": 34, handoff: 33, inline: 30}
    control: "off"
`,
		want: []wantProblem{{18, 5, "experiments[0].arms", "weights sum to 97%, not 100"}},
	},
	{
		name: "control not an arm",
		data: `experiments:
  - key: x
    flag: dm
    traffic: 10
    arms: {handoff: 50, inline: 50}
    control: "off"
`,
		want: []wantProblem{{19, 14, "experiments[0].control", `control "off" is not an arm (arms: handoff, inline)`}},
	},
	{
		name: "traffic plus holdout above 100 in a layer",
		data: `experiments:
  - {key: x, flag: dm, layer: messaging, traffic: 60, arms: {"off": 50, inline: 50}, control: "off"}
  - {key: y, flag: dm, layer: messaging, traffic: 40, arms: {"off": 50, handoff: 50}, control: "off"}
`,
		want: []wantProblem{{16, 51, "experiments[1].traffic", "layer messaging is over-full"}},
	},
	{
		name: "arm whose variant's type does not match the flag",
		data: `experiments:
  - key: x
    flag: ttl
    traffic: 10
    arms: {"300": 50, long: 50}
    control: long
`,
		want: []wantProblem{{18, 19, "experiments[0].arms.300", `arm "300" is a value, not a variant`}},
	},
	{
		name: "unknown layer",
		data: `experiments:
  - {key: x, flag: dm, layer: messages, traffic: 10, arms: {"off": 50, inline: 50}, control: "off"}
`,
		want: []wantProblem{{15, 31, "experiments[0].layer", `unknown layer "messages" (known layers: messaging)`}},
	},
	{
		name: "unknown cohort, bad region, bad condition",
		data: `experiments:
  - key: x
    flag: dm
    audience:
      regions: [US, XX]
      cohorts: [linked-acounts]
      when: [{attribute: appVersion, op: semver_gte, values: [three]}]
    traffic: 10
    arms: {"off": 50, inline: 50}
    control: "off"
`,
		want: []wantProblem{
			{18, 21, "experiments[0].audience.regions[1]", `unknown region "XX"`},
			{19, 17, "experiments[0].audience.cohorts[0]", `unknown cohort "linked-acounts"`},
			{20, 14, "experiments[0].audience.when[0]", "needs a semantic version"},
		},
	},
	{
		name: "shipped arm that is not an arm",
		data: `experiments:
  - {key: x, flag: dm, traffic: 10, arms: {"off": 50, inline: 50}, control: "off", status: stopped, ship: handoff}
`,
		want: []wantProblem{{15, 107, "experiments[0].ship", `shipped arm "handoff" is not an arm`}},
	},
	{
		name: "duplicate experiment and layer keys",
		data: `experiments:
  - {key: x, flag: dm, traffic: 10, arms: {"off": 50, inline: 50}, control: "off"}
  - {key: x, flag: ttl, traffic: 10, arms: {short: 50, long: 50}, control: long}
`,
		want: []wantProblem{{16, 11, "experiments[1].key", `duplicate experiment "x"`}},
	},
	{
		name: "one flag run by two experiments in different layers",
		data: `experiments:
  - {key: x, flag: dm, layer: messaging, traffic: 10, arms: {"off": 50, inline: 50}, control: "off", status: running}
  - {key: y, flag: dm, traffic: 10, arms: {"off": 50, inline: 50}, control: "off", status: running}
`,
		want: []wantProblem{{16, 20, "experiments[1].flag", "flag dm is already decided by experiment x"}},
	},
}

func TestExperimentValidation(t *testing.T) {
	for _, tt := range experimentValidationCases {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config.Load("ramp.yaml", []byte(experimentPreamble+tt.data), nil)
			checkProblems(t, err, tt.want)
		})
	}
}

// checkProblems checks that err is a *config.Error with exactly the
// problems want.
func checkProblems(t *testing.T, err error, want []wantProblem) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *config.Error", err)
	}
	var got []wantProblem
	for i, p := range ce.Problems {
		g := wantProblem{Line: p.Line, Path: p.Path, Message: p.Message}
		if i < len(want) {
			if want[i].Column != 0 {
				g.Column = p.Column
			}
			if strings.Contains(p.Message, want[i].Message) {
				g.Message = want[i].Message
			}
		}
		got = append(got, g)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s\nerror:\n%v", diff, err)
	}
}

// TestValidateAgainst validates files against a stored configuration:
// stored layers, experiments and metrics the file does not declare, the
// stored lifecycle of the ones it does, and the phase numbers it states.
func TestValidateAgainst(t *testing.T) {
	stored := runningExperiments() // dm-handoff-vs-inline running in phase 2
	tests := []struct {
		name  string
		data  string
		prune bool
		want  []wantProblem // nil: valid
	}{
		{
			name: "a stored layer the file does not declare",
			data: `experiments:
  - {key: new, flag: ttl, layer: wa-identity, traffic: 5, arms: {short: 50, long: 50}, control: long}
`,
		},
		{
			name:  "a stored layer that prune deletes",
			prune: true,
			data: `experiments:
  - {key: new, flag: ttl, layer: wa-identity, traffic: 5, arms: {short: 50, long: 50}, control: long}
`,
			want: []wantProblem{{15, 34, "experiments[0].layer", `unknown layer "wa-identity"`}},
		},
		{
			name: "a stored metric the file does not declare",
			data: `experiments:
  - {key: new, flag: ttl, traffic: 5, arms: {short: 50, long: 50}, control: long, metrics: {primary: sends-per-user}}
`,
		},
		{
			name:  "a stored metric that prune deletes",
			prune: true,
			data: `experiments:
  - {key: new, flag: ttl, traffic: 5, arms: {short: 50, long: 50}, control: long, metrics: {primary: sends-per-user}}
`,
			want: []wantProblem{{15, 102, "experiments[0].metrics.primary", `unknown metric "sends-per-user" (no metrics are declared`}},
		},
		{
			name: "the current phase, as exported",
			data: `experiments:
  - {key: dm-handoff-vs-inline, flag: dm, layer: cross-app-messaging, traffic: 20, arms: {"off": 34, handoff: 33, inline: 33}, control: "off", status: running, phase: 2}
`,
		},
		{
			name: "a phase that is no longer current",
			data: `experiments:
  - {key: dm-handoff-vs-inline, flag: dm, layer: cross-app-messaging, traffic: 20, arms: {"off": 34, handoff: 33, inline: 33}, control: "off", status: running, phase: 1}
`,
			want: []wantProblem{{15, 168, "experiments[0].phase", "experiment dm-handoff-vs-inline is in phase 2, not 1"}},
		},
		{
			name: "a phase of a stored draft",
			data: `experiments:
  - {key: ttl-120, flag: ttl, layer: wa-identity, traffic: 5, arms: {long: 50, short: 50}, control: long, phase: 1}
`,
			want: []wantProblem{{15, 114, "experiments[0].phase", "experiment ttl-120 has not started"}},
		},
		{
			name: "a new experiment that overfills a stored layer",
			data: `experiments:
  - {key: big, flag: ttl, layer: cross-app-messaging, traffic: 70, arms: {short: 50, long: 50}, control: long}
`,
			want: []wantProblem{{0, 0, "", "stored experiment dm-inline-composer (not in the file): traffic: layer cross-app-messaging is over-full"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustParse(t, "ramp.yaml", []byte(experimentPreamble+tt.data))
			// What apply validates: the file's flags and cohorts, then
			// the stored ones it does not declare.
			st := doc.Resolve(nil)
			st.Flags = append(st.Flags, stored.State.Flags...)
			st.Cohorts = append(st.Cohorts[:1:1], stored.State.Cohorts[1:]...)
			err := doc.ValidateAgainst(&st, stored, tt.prune)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidateAgainst: %v", err)
				}
				return
			}
			checkProblems(t, err, tt.want)
		})
	}
}

// TestScenario loads the demo scenario: its experiments are the issue's,
// running, and the file validates.
func TestScenario(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := config.Load("scenario.yaml", data, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff(issueLayers, doc.Layers()); diff != "" {
		t.Errorf("layers mismatch (-want +got):\n%s", diff)
	}
	type summary struct {
		Key, Flag, Layer, Control string
		Traffic                   flags.Percent
		Arms                      []experiment.Arm
		Status                    experiment.Status
	}
	var got []summary
	for _, e := range doc.Experiments() {
		got = append(got, summary{e.Key, e.Flag, e.Layer, e.Control, e.Traffic, e.Arms, e.Status})
	}
	var want []summary
	for _, e := range issueExperiments {
		want = append(want, summary{e.Key, e.Flag, e.Layer, e.Control, e.Traffic, e.Arms, experiment.Running})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("experiments mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(issueExperiments[0].Audience, doc.Experiments()[0].Audience); diff != "" {
		t.Errorf("dm-handoff-vs-inline audience mismatch (-want +got):\n%s", diff)
	}
}

// TestBrokenFile: the demo's broken file reports its experiment's problems
// with the rest, each located.
func TestBrokenFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "broken.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := config.ParsePartial("broken.yaml", data)
	if doc == nil {
		t.Fatalf("ParsePartial: %v", err)
	}
	st := doc.Resolve(nil)
	err = doc.Validate(&st)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Validate = %v, want a *config.Error", err)
	}
	want := map[string]string{
		"experiments[0].layer":   `unknown layer "cross-app-messagin"`,
		"experiments[0].arms.of": `unknown arm "of"`,
		"experiments[0].arms":    "weights sum to 90%, not 100",
		"experiments[0].control": `control "maybe" is not an arm`,
	}
	for _, p := range ce.Problems {
		if msg, ok := want[p.Path]; ok && strings.Contains(p.Message, msg) && p.Line > 0 {
			delete(want, p.Path)
		}
	}
	for path, msg := range want {
		t.Errorf("no located problem %s: %s in\n%v", path, msg, err)
	}
}

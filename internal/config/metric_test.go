package config_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/rollout"
)

// metricStructuralCases are metric files that Parse refuses; they join
// TestErrors's table through init, and seed FuzzParse.
var metricStructuralCases = []struct {
	name string
	data string
	want []wantProblem
}{
	{
		name: "unknown metric field",
		data: `
metrics:
  - key: reply-rate
    kind: conversion
    evnt: dm_reply
`,
		want: []wantProblem{{5, 5, "metrics[0]", `unknown field "evnt" (did you mean "event"?)`}},
	},
	{
		name: "unknown covariate field",
		data: `
metrics:
  - {key: r, kind: mean, event: dm_reply, window: 7d, covariate: {windw: 14d}}
`,
		want: []wantProblem{{3, 67, "metrics[0].covariate", `unknown field "windw" (did you mean "window"?)`}},
	},
	{
		name: "duplicate field",
		data: `
metrics:
  - key: r
    kind: mean
    event: dm_reply
    event: dm_sent
`,
		want: []wantProblem{{6, 5, "metrics[0].event", `duplicate key "event" (first at line 5)`}},
	},
	{
		name: "values of the wrong kind",
		data: `
metrics:
  - key: r
    kind: [mean]
    event: {name: dm_reply}
    window: [7d]
    margin: "0.5%"
    direction: up
`,
		want: []wantProblem{
			{4, 11, "metrics[0].kind", "want a kind (conversion, mean or ratio), got a list"},
			{5, 12, "metrics[0].event", "want an event name, got a mapping"},
			{6, 13, "metrics[0].window", "want a number of days such as 7d, got a list"},
			{7, 13, "metrics[0].margin", `want a number, the relative worsening a guardrail tolerates in percent (0.5 for 0.5%), got the string "0.5%"`},
			{8, 16, "metrics[0].direction", `unknown direction "up" (want increase: higher is better, or decrease: lower is better)`},
		},
	},
	{
		name: "a window that is not a duration",
		data: `
metrics:
  - {key: r, kind: mean, event: dm_reply, window: 1 week}
`,
		want: []wantProblem{{3, 51, "metrics[0].window", `invalid window "1 week": want whole days such as 7d or 14d`}},
	},
	{
		name: "a null covariate, a covariate that is not a mapping",
		data: `
metrics:
  - {key: r, kind: mean, event: dm_reply, window: 7d, covariate: }
  - {key: s, kind: mean, event: dm_sent, window: 7d, covariate: 14d}
`,
		want: []wantProblem{
			{3, 66, "metrics[0].covariate", "covariate is null: write covariate: {}"},
			{4, 65, "metrics[1].covariate", `want a mapping such as {window: 14d} (event and window, both optional), got the string "14d"`},
		},
	},
	{
		name: "metrics not a list",
		data: `
metrics: {key: r}
`,
		want: []wantProblem{{2, 10, "metrics", "want a list of metrics, got a mapping"}},
	},
	{
		name: "a misspelt top-level metrics",
		data: `
metric:
  - {key: r, kind: mean, event: dm_reply}
`,
		want: []wantProblem{{2, 1, "", `unknown field "metric" (did you mean "metrics"?)`}},
	},
}

func init() {
	for _, c := range metricStructuralCases {
		errorCases = append(errorCases, struct {
			name string
			file string
			data string
			want []wantProblem
		}{name: "metrics: " + c.name, data: c.data, want: c.want})
	}
}

// metricValidationCases are the problems validation finds in metrics and
// in the metrics experiments name, each located in the file: they follow
// experimentPreamble, so their first line is 14.
var metricValidationCases = []struct {
	name string
	data string
	want []wantProblem
}{
	{
		name: "the issue's metrics and experiment",
		data: `metrics:
  - {key: replies-per-user, event: dm_reply, kind: mean, window: 7d, direction: increase, covariate: {window: 14d}}
  - {key: reply-rate, event: dm_reply, kind: conversion}
  - {key: send-errors-per-message, kind: ratio, numerator: dm_send_error, denominator: dm_sent, direction: decrease, margin: 0.5}
experiments:
  - key: x
    flag: dm
    traffic: 10
    arms: {"off": 50, inline: 50}
    control: "off"
    metrics: {primary: replies-per-user, secondary: reply-rate, guardrails: [send-errors-per-message]}
`,
	},
	{
		name: "an unknown metric, at the experiment's metrics line",
		data: `metrics:
  - {key: replies-per-user, event: dm_reply, kind: mean, window: 7d}
  - {key: reply-rate, event: dm_reply, kind: conversion}
experiments:
  - key: x
    flag: dm
    traffic: 10
    arms: {"off": 50, inline: 50}
    control: "off"
    metrics:
      primary: replies-per-usr
      secondary: [reply-rate, crashes-per-user]
`,
		want: []wantProblem{
			{24, 16, "experiments[0].metrics.primary", `unknown metric "replies-per-usr" (did you mean replies-per-user?; known metrics: replies-per-user, reply-rate)`},
			{25, 31, "experiments[0].metrics.secondary[1]", `unknown metric "crashes-per-user" (known metrics: replies-per-user, reply-rate)`},
		},
	},
	{
		name: "metrics named by an experiment when the file declares none",
		data: `experiments:
  - {key: x, flag: dm, traffic: 10, arms: {"off": 50, inline: 50}, control: "off", metrics: {guardrails: send-errors}}
`,
		want: []wantProblem{{15, 106, "experiments[0].metrics.guardrails[0]", `unknown metric "send-errors" (no metrics are declared`}},
	},
	{
		name: "a metric named twice",
		data: `metrics:
  - {key: reply-rate, event: dm_reply, kind: conversion}
experiments:
  - {key: x, flag: dm, traffic: 10, arms: {"off": 50, inline: 50}, control: "off", metrics: {primary: reply-rate, guardrails: [reply-rate]}}
`,
		want: []wantProblem{{17, 128, "experiments[0].metrics.guardrails[0]", "metric reply-rate is named twice (as primary and in guardrails)"}},
	},
	{
		name: "what each kind needs",
		data: `metrics:
  - {key: a, kind: mean}
  - {key: b, kind: ratio, event: dm_sent, numerator: dm_send_error}
  - {key: c, kind: conversion, event: dm_reply, denominator: dm_sent}
  - {key: d, event: dm_reply}
  - {key: e, kind: count, event: dm_reply}
  - {key: f, kind: ratio, numerator: dm_sent, denominator: dm_sent}
`,
		want: []wantProblem{
			{15, 5, "metrics[0].event", "a mean metric needs the event it counts"},
			{16, 5, "metrics[1].denominator", "a ratio metric needs a denominator"},
			{16, 34, "metrics[1].event", "a ratio metric has no event"},
			{17, 62, "metrics[2].denominator", "a conversion metric has no denominator"},
			{18, 5, "metrics[3].kind", "kind is required"},
			{19, 20, "metrics[4].kind", `unknown kind "count" (want conversion, mean or ratio)`},
			{20, 60, "metrics[5].denominator", "the numerator and the denominator are the same event (dm_sent)"},
		},
	},
	{
		name: "windows, direction, margin and covariate",
		data: `metrics:
  - {key: a, kind: mean, event: dm_reply, window: 36h}
  - {key: b, kind: mean, event: dm_reply, margin: 100}
  - {key: c, kind: ratio, numerator: dm_send_error, denominator: dm_sent, covariate: {window: 14d}}
  - {key: d, kind: conversion, event: dm_reply, covariate: {}}
  - {key: e, kind: mean, event: dm_reply, window: 7d, covariate: {window: 12h}}
  - {key: f, kind: mean, event: dm_reply, margin: -1}
  - {key: a, kind: mean, event: dm_reply}
`,
		want: []wantProblem{
			{15, 51, "metrics[0].window", "window 36h is not a whole number of days"},
			{16, 51, "metrics[1].margin", "margin 100% is outside [0, 100)"},
			{17, 75, "metrics[2].covariate", "a ratio metric takes no covariate"},
			{18, 49, "metrics[3].covariate.window", "the covariate needs a window"},
			{19, 75, "metrics[4].covariate.window", "covariate window 12h is not a whole number of days"},
			{20, 51, "metrics[5].margin", "margin -1% is outside [0, 100)"},
			{21, 11, "metrics[6].key", `duplicate metric "a" (also metrics[0])`},
		},
	},
}

func TestMetricValidation(t *testing.T) {
	for _, tt := range metricValidationCases {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config.Load("ramp.yaml", []byte(experimentPreamble+tt.data), nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			checkProblems(t, err, tt.want)
		})
	}
}

// TestParsePartialMetrics: a window that does not decode is reported once,
// without the covariate that would take it being told the metric has none.
func TestParsePartialMetrics(t *testing.T) {
	const file = `metrics:
  - {key: r, kind: mean, event: dm_reply, window: a week, covariate: {}}
`
	doc, err := config.ParsePartial("f.yaml", []byte(file))
	if doc == nil || err == nil {
		t.Fatalf("ParsePartial = %v, %v; want a document and the structural error", doc, err)
	}
	st := doc.Resolve(nil)
	checkProblems(t, doc.Validate(&st), []wantProblem{{2, 51, "metrics[0].window", `invalid window "a week"`}})
}

// TestParseMetrics decodes every field of a metric, and the default
// direction.
func TestParseMetrics(t *testing.T) {
	const file = `metrics:
  - key: replies-per-user
    description: DM replies per linked user
    event: dm_reply
    kind: mean
    window: 7d
    covariate: {event: dm_open, window: 336h}
  - {key: errors, kind: ratio, numerator: dm_send_error, denominator: dm_sent, direction: decrease, margin: 1}
`
	doc := mustParse(t, "f.yaml", []byte(file))
	want := []experiment.Metric{
		{Key: "replies-per-user", Description: "DM replies per linked user", Kind: experiment.Mean, Event: "dm_reply",
			Window: rollout.Duration(7 * 24 * time.Hour), Direction: experiment.Increase,
			Covariate: &experiment.Covariate{Event: "dm_open", Window: rollout.Duration(14 * 24 * time.Hour)}},
		{Key: "errors", Kind: experiment.Ratio, Numerator: "dm_send_error", Denominator: "dm_sent", Direction: experiment.Decrease, Margin: 1},
	}
	if d := cmp.Diff(want, doc.Metrics()); d != "" {
		t.Errorf("Metrics() (-want +got):\n%s", d)
	}
	st := doc.Resolve(nil)
	if err := doc.Validate(&st); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// Exported, the covariate's 336h is written as days.
	var buf bytes.Buffer
	if err := config.Export(&buf, &ramp.Config{Metrics: doc.Metrics()}, config.YAML, nil); err != nil {
		t.Fatal(err)
	}
	const exported = `metrics:
  - key: replies-per-user
    description: DM replies per linked user
    kind: mean
    event: dm_reply
    window: 7d
    direction: increase
    covariate: {event: dm_open, window: 14d}
  - key: errors
    kind: ratio
    numerator: dm_send_error
    denominator: dm_sent
    direction: decrease
    margin: 1
`
	if d := cmp.Diff(exported, buf.String()); d != "" {
		t.Errorf("export (-want +got):\n%s", d)
	}
}

package config_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/rollout"
)

const guardedFile = `
metrics:
  - {key: send-errors-per-message, kind: ratio, numerator: dm_send_error, denominator: dm_sent, direction: decrease, margin: 0.5}
  - {key: crash-rate, kind: conversion, event: app_crash, direction: decrease, margin: 1}
flags:
  - key: interop
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
rollouts:
  - flag: interop
    variant: on
    stages:
      - {name: us-1, regions: [US], percent: 1}
      - name: us-10
        regions: [US]
        percent: 10
        guardrails: [send-errors-per-message, {metric: crash-rate, margin: 1.5}]
        minSample: 5000
        onRegression: rollback
      - {name: us-50, regions: [US], percent: 50, guardrails: crash-rate}
`

func margin(m float64) *float64 { return &m }

// TestGuardedStages: a stage's guardrails (keys, or a metric with a
// margin; one alone stands for a list), minimum sample and reaction are
// read, validated and exported back to what was read, in YAML and JSON.
func TestGuardedStages(t *testing.T) {
	doc, st, err := config.Load("ramp.yaml", []byte(guardedFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	plans := doc.Rollouts()
	want := []rollout.Stage{
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
		{Name: "us-10", Regions: []string{"US"}, Percent: 1000, MinSample: 5000, OnRegression: rollout.ReactRollback,
			Guardrails: []rollout.Guardrail{{Metric: "send-errors-per-message"}, {Metric: "crash-rate", Margin: margin(1.5)}}},
		{Name: "us-50", Regions: []string{"US"}, Percent: 5000, Guardrails: []rollout.Guardrail{{Metric: "crash-rate"}}},
	}
	if d := cmp.Diff(want, plans[0].Stages); d != "" {
		t.Fatalf("stages (-want +got):\n%s", d)
	}
	for _, format := range []string{config.YAML, config.JSON} {
		var buf bytes.Buffer
		if err := config.Encode(&buf, &st, format, plans...); err != nil {
			t.Fatal(err)
		}
		if format == config.YAML && !strings.Contains(buf.String(), "guardrails: [send-errors-per-message, {metric: crash-rate, margin: 1.5}], minSample: 5000, onRegression: rollback}") {
			t.Errorf("export does not write the guarded stage on one line:\n%s", buf.String())
		}
		// Encode writes plans without the metrics they name: they are
		// stored already.
		back, err := config.Parse("export."+format, buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, buf.String())
		}
		resolved := back.Resolve(&st)
		if err := back.ValidateAgainst(&resolved, &ramp.Config{Metrics: doc.Metrics()}, false); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, buf.String())
		}
		if d := cmp.Diff(plans, back.Rollouts()); d != "" {
			t.Errorf("%s round trip (-want +got):\n%s", format, d)
		}
	}
}

// TestGuardedStageErrors: every mistake in a guarded stage is reported
// with the file's line and the field's path.
func TestGuardedStageErrors(t *testing.T) {
	tests := []struct {
		name, from, to string
		line           int
		path, msg      string
	}{
		{"negative minimum", "minSample: 5000", "minSample: -5", 19, "rollouts[0].stages[1].minSample", "negative"},
		{"minimum not a number", "minSample: 5000", "minSample: lots", 19, "rollouts[0].stages[1].minSample", "want a number of units"},
		{"unknown reaction", "onRegression: rollback", "onRegression: panic", 20, "rollouts[0].stages[1].onRegression", "want pause or rollback"},
		{"negative margin", "margin: 1.5", "margin: -1", 18, "rollouts[0].stages[1].guardrails[1].margin", "0 or more"},
		{"margin not a number", "margin: 1.5", "margin: big", 18, "rollouts[0].stages[1].guardrails[1].margin", "want a margin in percent"},
		{"guardrail without a metric", "{metric: crash-rate, margin: 1.5}", "{margin: 1.5}", 18, "rollouts[0].stages[1].guardrails[1].metric", "metric is required"},
		{"unknown guardrail field", "{metric: crash-rate, margin: 1.5}", "{metric: crash-rate, margn: 1.5}", 18, "rollouts[0].stages[1].guardrails[1]", `unknown field "margn" (did you mean "margin"?)`},
		{"duplicate guardrail", "[send-errors-per-message, {metric: crash-rate, margin: 1.5}]", "[crash-rate, {metric: crash-rate, margin: 1.5}]", 18, "rollouts[0].stages[1].guardrails[1].metric", "already a guardrail"},
		{"a full stage", "percent: 50, guardrails: crash-rate", "percent: 100, guardrails: crash-rate", 21, "rollouts[0].stages[2].guardrails", "needs a percentage between 0 and 100"},
		{"minimum without guardrails", "{name: us-1, regions: [US], percent: 1}", "{name: us-1, regions: [US], percent: 1, minSample: 10}", 14, "rollouts[0].stages[0].minSample", "names no guardrails"},
		{"undeclared metric", "[send-errors-per-message,", "[send-errors-per-mesage,", 18, "rollouts[0].stages[1].guardrails[0].metric", `unknown metric "send-errors-per-mesage" (declared metrics: crash-rate, send-errors-per-message)`},
		{"misspelt field", "onRegression: rollback", "onRegresion: rollback", 20, "rollouts[0].stages[1]", `unknown field "onRegresion" (did you mean "onRegression"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(guardedFile, tt.from, tt.to, 1)
			if data == guardedFile {
				t.Fatalf("%q is not in the file", tt.from)
			}
			_, _, err := config.Load("ramp.yaml", []byte(data), nil)
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load: %v; want a *config.Error", err)
			}
			for _, p := range ce.Problems {
				if p.Line == tt.line && p.Path == tt.path && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Errorf("no problem at line %d, %s, saying %q:\n%v", tt.line, tt.path, tt.msg, err)
		})
	}
}

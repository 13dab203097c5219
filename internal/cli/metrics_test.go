package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/cli"
)

// TestMetricsCommands applies the scenario and reads its metrics back as a
// table, JSON and YAML; a change to a metric is listed by the dry run and
// the apply, and audited.
func TestMetricsCommands(t *testing.T) {
	r := newRamp(t)
	out := r.ok("apply", "-f", testdata("scenario.yaml"), "-o", "table")
	for _, want := range []string{"+ metric replies-per-user\n", "+ metric send-errors-per-message\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply does not say %q:\n%s", want, out)
		}
	}

	list := decode[[]map[string]any](t, r.ok("metrics", "list"))
	if len(list) != 5 || list[2]["key"] != "replies-per-user" || list[2]["window"] != "7d" {
		t.Fatalf("metrics list: %v", list)
	}
	table := r.ok("metrics", "list", "-o", "table")
	for _, want := range []string{
		"KEY", "USED BY",
		"replies-per-user", "mean", "7d (cov. 14d)", "dm-handoff-vs-inline (primary)",
		"dm_send_error / dm_sent", "decrease", "0.5", "dm-handoff-vs-inline (guardrail)",
		"reply-rate", "conversion", "phase", "dm-handoff-vs-inline (secondary)",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("metrics list table lacks %q:\n%s", want, table)
		}
	}

	get := r.ok("metrics", "get", "send-errors-per-message", "-o", "table")
	for _, want := range []string{
		"send-errors-per-message: ratio metric",
		"the sum of dm_send_error values over the sum of dm_sent values, per arm",
		"window:      every day from each unit's first exposure",
		"better:      lower (decrease)",
		"margin:      0.5% (as a guardrail",
		"dm-handoff-vs-inline (guardrail, running)",
	} {
		if !strings.Contains(get, want) {
			t.Errorf("metrics get lacks %q:\n%s", want, get)
		}
	}
	get = r.ok("metrics", "get", "replies-per-user", "-o", "table")
	for _, want := range []string{"days 0 to 6", "covariate:   dm_reply over the 14d before first exposure (days -14 to -1), for CUPED"} {
		if !strings.Contains(get, want) {
			t.Errorf("metrics get lacks %q:\n%s", want, get)
		}
	}
	if y := r.ok("metrics", "get", "reply-rate", "-o", "yaml"); !strings.Contains(y, "kind: conversion\n") || !strings.Contains(y, "direction: increase\n") {
		t.Errorf("metrics get -o yaml:\n%s", y)
	}
	if _, errOut, code := r.run("", "metrics", "get", "crashes-per-user"); code != cli.ExitNotFound || !strings.Contains(errOut, "crashes-per-user") {
		t.Errorf("get of an unknown metric: exit %d: %s", code, errOut)
	}

	// A change: the dry run lists the fields, the apply writes them.
	data, err := os.ReadFile(testdata("scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "    margin: 0.5 ", "    margin: 1 ", 1)
	file := filepath.Join(t.TempDir(), "edited.yaml")
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--dry-run"}, nil} {
		out := r.ok(append([]string{"apply", "-f", file, "-o", "table"}, args...)...)
		if out != "~ metric send-errors-per-message (margin)\n" {
			t.Errorf("apply %v: %q", args, out)
		}
	}
	if m := decode[map[string]any](t, r.ok("metrics", "get", "send-errors-per-message")); m["margin"] != 1.0 || m["version"] != 2.0 {
		t.Errorf("after the apply: %v", m)
	}
	audit := decode[[]map[string]any](t, r.ok("audit", "--kind", "metric", "--limit", "0", "-o", "json"))
	if len(audit) != 6 || audit[5]["action"] != "apply.update" {
		t.Errorf("audit --kind metric: %d entries, last %v", len(audit), audit[len(audit)-1])
	}

	// An experiment naming an undeclared metric is refused at its line.
	bad := strings.Replace(string(data), "secondary: [reply-rate]", "secondary: [reply-rte]", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := r.run("", "apply", "-f", file); code != cli.ExitInvalid || !strings.Contains(errOut, `edited.yaml:`) ||
		!strings.Contains(errOut, `experiments[0].metrics.secondary[0]: unknown metric "reply-rte" (did you mean reply-rate?`) {
		t.Errorf("apply of an unknown metric: exit %d\n%s", code, errOut)
	}
}

func TestMetricsListEmpty(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	out, errOut, code := r.run("", "metrics", "list", "-o", "table")
	if code != 0 || out != "" || !strings.Contains(errOut, "no metrics yet") {
		t.Errorf("empty list: exit %d, %q, %q", code, out, errOut)
	}
	if out := r.ok("metrics", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty list as JSON: %q", out)
	}
}

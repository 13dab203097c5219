package cli_test

import (
	"context"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/tracking"
)

// reportYAML declares an experiment with a primary metric, a secondary
// one and a guardrail.
const reportYAML = `
flags:
  - key: ig-dm-via-whatsapp
    type: string
    variants: {"off": "off", inline: inline}
    defaultVariant: "off"
metrics:
  - key: replies-per-user
    event: dm_reply
    kind: mean
    window: 7d
  - key: reply-rate
    event: dm_reply
    kind: conversion
  - key: send-errors-per-message
    kind: ratio
    numerator: dm_send_error
    denominator: dm_sent
    direction: decrease
    margin: 0.5
experiments:
  - key: dm-inline
    flag: ig-dm-via-whatsapp
    audience: {regions: [US]}
    traffic: 100
    arms: {"off": 50, inline: 50}
    control: "off"
    metrics: {primary: replies-per-user, secondary: [reply-rate], guardrails: [send-errors-per-message]}
`

// plantReport stores exposures and events of n units per arm, in which
// inline raises replies by a quarter and leaves send errors alone.
func plantReport(t *testing.T, db string, n int) {
	t.Helper()
	ctx := context.Background()
	a, err := admin.Open(ctx, db, admin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	x, err := a.Experiment(ctx, "dm-inline")
	if err != nil {
		t.Fatal(err)
	}
	start := x.Phases[0].Started
	rng := rand.New(rand.NewPCG(1, 2))
	var exps []tracking.Exposure
	var evs []tracking.Event
	for i := range 2 * n {
		arm, mean := "off", 1.0
		if i%2 == 1 {
			arm, mean = "inline", 1.25
		}
		unit := fmt.Sprint("ig-", i)
		at := start.Add(time.Duration(i) * time.Millisecond)
		exps = append(exps, tracking.Exposure{Experiment: "dm-inline", Phase: 1, UnitAttr: "targetingKey", Unit: unit, Arm: arm, Flag: "ig-dm-via-whatsapp", Time: at})
		ev := func(name string, k int) {
			for j := range k {
				evs = append(evs, tracking.Event{ID: fmt.Sprintf("%s-%d-%d", name, i, j), Name: name, Value: 1, Time: at.Add(time.Hour), Units: map[string]string{"targetingKey": unit}})
			}
		}
		ev("dm_reply", poisson(rng, mean))
		sent := 1 + poisson(rng, 3)
		ev("dm_sent", sent)
		if rng.Float64() < 0.05 {
			ev("dm_send_error", 1)
		}
	}
	if err := a.WriteExposures(ctx, exps); err != nil {
		t.Fatal(err)
	}
	for len(evs) > 0 {
		k := min(len(evs), 5000)
		if err := a.WriteEvents(ctx, evs[:k]); err != nil {
			t.Fatal(err)
		}
		evs = evs[k:]
	}
}

// poisson draws from a Poisson distribution (Knuth's method).
func poisson(r *rand.Rand, mean float64) int {
	k, p, limit := 0, r.Float64(), math.Exp(-mean)
	for p > limit {
		k++
		p *= r.Float64()
	}
	return k
}

func TestExperimentsReport(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", writeFile(t, "exp.yaml", reportYAML))
	_, errOut, code := r.run("", "experiments", "report", "dm-inline")
	if code != 5 || !strings.Contains(errOut, "has not started") {
		t.Fatalf("report of a draft: exit %d, %s", code, errOut)
	}
	r.ok("experiments", "start", "dm-inline")
	plantReport(t, r.db, 3000)

	got := decode[struct {
		SampleRatio struct {
			Mismatch bool
			Units    int64
		}
		Metrics []struct {
			Key         string
			Role        string
			Comparisons []struct {
				Arm     string
				Outcome string
				Fixed   struct{ Rel float64 }
			}
		}
	}](t, r.ok("experiments", "report", "dm-inline", "-o", "json"))
	if got.SampleRatio.Mismatch || got.SampleRatio.Units != 6000 {
		t.Errorf("sample ratio %+v, want 6000 units and no mismatch", got.SampleRatio)
	}
	want := map[string]string{"replies-per-user": "better", "reply-rate": "better", "send-errors-per-message": ""}
	for _, m := range got.Metrics {
		if len(m.Comparisons) != 1 || m.Comparisons[0].Arm != "inline" {
			t.Fatalf("%s: comparisons %+v", m.Key, m.Comparisons)
		}
		c := m.Comparisons[0]
		if w := want[m.Key]; w != "" && c.Outcome != w {
			t.Errorf("%s: outcome %s (lift %.3f), want %s", m.Key, c.Outcome, c.Fixed.Rel, w)
		}
		if m.Key == "send-errors-per-message" && c.Outcome == "regressed" {
			t.Errorf("an unchanged guardrail regressed: %+v", c)
		}
		delete(want, m.Key)
	}
	if len(want) > 0 {
		t.Errorf("metrics missing from the report: %v", want)
	}

	// A rebuild of the maintained statistics changes nothing in the report.
	before := r.ok("experiments", "report", "dm-inline", "-o", "json")
	r.ok("events", "compact", "--rebuild-stats")
	if after := r.ok("experiments", "report", "dm-inline", "-o", "json"); after != before {
		t.Errorf("the report changed with events compact --rebuild-stats:\nbefore %s\nafter %s", before, after)
	}

	table := r.ok("experiments", "report", "dm-inline", "-o", "table")
	for _, s := range []string{"Sample ratio: ok", "replies-per-user (primary, mean per unit, 7-day window, higher is better)",
		"reply-rate (secondary", "P (HOLM)", "send-errors-per-message (guardrail, ratio, lower is better, margin 0.50%)", "worst case"} {
		if !strings.Contains(table, s) {
			t.Errorf("table does not say %q:\n%s", s, table)
		}
	}

	dir := t.TempDir()
	for _, name := range []string{"report.svg", "report.png"} {
		path := filepath.Join(dir, name)
		r.ok("experiments", "report", "dm-inline", "--plot", path, "-o", "json")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".png") {
			if _, err := png.Decode(f); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		} else if b, _ := os.ReadFile(path); !strings.Contains(string(b), "replies-per-user") {
			t.Errorf("%s does not name the metric", name)
		}
		f.Close()
	}
	if _, errOut, code := r.run("", "experiments", "report", "dm-inline", "--plot", filepath.Join(dir, "x.pdf")); code != 2 || !strings.Contains(errOut, ".svg or .png") {
		t.Errorf("--plot x.pdf: exit %d, %s", code, errOut)
	}
	if _, errOut, code := r.run("", "experiments", "report", "dm-inline", "--phase", "7"); code != 4 || !strings.Contains(errOut, "no phase 7") {
		t.Errorf("--phase 7: exit %d, %s", code, errOut)
	}
}

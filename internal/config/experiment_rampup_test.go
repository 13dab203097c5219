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

// TestParseRampUp reads an experiment's ramp-up and a shipVia.
func TestParseRampUp(t *testing.T) {
	doc := mustParse(t, "ramp.yaml", []byte(experimentPreamble+`experiments:
  - key: x
    flag: dm
    traffic: 50
    arms: {"off": 50, inline: 50}
    control: "off"
    rampUp: [{traffic: 5}, {traffic: 20, after: 24h}, {traffic: 50, after: 3d}]
  - key: y
    flag: ttl
    traffic: 10
    arms: {short: 50, long: 50}
    control: long
    status: stopped
    ship: short
    shipVia: rollout
`))
	want := []experiment.Step{{Traffic: 500}, {Traffic: 2000, After: rollout.Duration(24 * time.Hour)}, {Traffic: 5000, After: rollout.Duration(72 * time.Hour)}}
	exps := doc.Experiments()
	if d := cmp.Diff(want, exps[0].RampUp); d != "" {
		t.Errorf("rampUp (-want +got):\n%s", d)
	}
	if exps[1].ShipVia != experiment.ShipViaRollout || exps[1].Shipped != "short" {
		t.Errorf("y ships %q via %q, want short via rollout", exps[1].Shipped, exps[1].ShipVia)
	}
}

// TestRampUpValidation locates every problem of a ramp-up, and of
// shipVia, at its line.
func TestRampUpValidation(t *testing.T) {
	const head = `experiments:
  - key: x
    flag: dm
    traffic: 50
    arms: {"off": 50, inline: 50}
    control: "off"
`
	tests := []struct {
		name string
		data string
		want []wantProblem
	}{
		{
			name: "steps that do not rise",
			data: head + `    rampUp: [{traffic: 5}, {traffic: 20, after: 24h}, {traffic: 20, after: 24h}]
`,
			want: []wantProblem{{20, 0, "experiments[0].rampUp[2].traffic", "does not rise from the previous step's 20%"}},
		},
		{
			name: "a bad duration",
			data: head + `    rampUp:
      - traffic: 5
      - {traffic: 20, after: a day}
`,
			want: []wantProblem{{22, 30, "experiments[0].rampUp[1].after", `invalid duration "a day"`}},
		},
		{
			name: "above 100",
			data: head + `    rampUp: [{traffic: 5}, {traffic: 120, after: 24h}]
`,
			want: []wantProblem{{20, 38, "experiments[0].rampUp[1].traffic", "percentage 120 is above 100"}},
		},
		{
			name: "above the experiment's traffic",
			data: head + `    rampUp: [{traffic: 5}, {traffic: 60, after: 24h}]
`,
			want: []wantProblem{{20, 0, "experiments[0].rampUp[1].traffic", "above the experiment's traffic 50%"}},
		},
		{
			name: "after missing, and on the first step",
			data: head + `    rampUp:
      - {traffic: 5, after: 1h}
      - {traffic: 20}
`,
			want: []wantProblem{
				{21, 0, "experiments[0].rampUp[0].after", "the first step is the traffic the experiment starts at"},
				{22, 0, "experiments[0].rampUp[1].after", "after is required on every step but the first"},
			},
		},
		{
			name: "a step without traffic, an unknown field",
			data: head + `    rampUp: [{traffic: 5}, {after: 24h}, {traffic: 30, afer: 1h}]
`,
			want: []wantProblem{
				{20, 0, "experiments[0].rampUp[1].traffic", "traffic is required"},
				{20, 0, "experiments[0].rampUp[2]", `unknown field "afer" (did you mean "after"?)`},
			},
		},
		{
			name: "shipVia without ship, an unknown shipVia",
			data: head + `    status: stopped
    shipVia: rollout
  - {key: y, flag: ttl, traffic: 10, arms: {short: 50, long: 50}, control: long, status: stopped, ship: short, shipVia: plan}
`,
			want: []wantProblem{
				{21, 0, "experiments[0].shipVia", "shipVia needs ship"},
				{22, 0, "experiments[1].shipVia", `unknown shipVia "plan"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config.Load("ramp.yaml", []byte(experimentPreamble+tt.data), nil)
			checkProblems(t, err, tt.want)
		})
	}
}

// TestExportRampUpRoundTrip exports experiments with a ramp-up (one
// running part-way up it) and a shipVia, and reads back what was stored.
func TestExportRampUpRoundTrip(t *testing.T) {
	cfg := runningExperiments()
	dm := &cfg.Experiments[0]
	dm.Traffic = 5000
	dm.RampUp = []experiment.Step{{Traffic: 1000}, {Traffic: 2000, After: rollout.Duration(24 * time.Hour)}, {Traffic: 5000, After: rollout.Duration(90 * time.Minute)}}
	ttl := &cfg.Experiments[2]
	ttl.ShipVia = experiment.ShipViaRollout
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
				t.Errorf("ValidateAgainst the exported configuration: %v\n%s", err, buf.String())
			}
			got := doc.Experiments()
			if d := cmp.Diff(dm.RampUp, got[0].RampUp); d != "" {
				t.Errorf("rampUp (-want +got):\n%s\n%s", d, buf.String())
			}
			if got[0].Traffic != 5000 {
				t.Errorf("traffic %v, want the ceiling 50%%", got[0].Traffic)
			}
			if got[2].ShipVia != experiment.ShipViaRollout {
				t.Errorf("shipVia %q, want rollout", got[2].ShipVia)
			}
			again := &ramp.Config{State: st, Layers: doc.Layers(), Experiments: doc.Experiments(), Metrics: doc.Metrics()}
			for i := range again.Experiments {
				again.Experiments[i].Phases = cfg.Experiments[i].Phases
			}
			var buf2 bytes.Buffer
			if err := config.Export(&buf2, again, format, nil); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(buf.String(), buf2.String()); d != "" {
				t.Errorf("second export differs (-first +second):\n%s", d)
			}
		})
	}
}

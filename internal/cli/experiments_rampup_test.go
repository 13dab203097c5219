package cli_test

import (
	"strings"
	"testing"
)

// TestExperimentRampUpAndHandoff: get shows a ramp-up and its next step;
// stop --ship ARM --rollout hands the flag to a plan, with its exit codes.
func TestExperimentRampUpAndHandoff(t *testing.T) {
	r := newRamp(t)
	file := writeFile(t, "exp.yaml", strings.Replace(experimentsYAML, "    traffic: 100\n",
		"    traffic: 50\n    rampUp: [{traffic: 5}, {traffic: 20, after: 24h}, {traffic: 50, after: 72h}]\n    status: running\n", 1))
	r.ok("apply", "-f", file)
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout, or in stderr when code is not 0
	}{
		{"get", []string{"experiments", "get", "dm-handoff-vs-inline", "-o", "table"}, 0, "traffic:    5% of the layer, ramping up to at most 50%"},
		{"get the schedule", []string{"experiments", "get", "dm-handoff-vs-inline", "-o", "table"}, 0, "ramp-up:    5% (reached), 20% after 24h, 50% after 72h"},
		{"get the next step", []string{"experiments", "get", "dm-handoff-vs-inline", "-o", "table"}, 0, "next step:  20%, due "},
		{"rollout without ship", []string{"experiments", "stop", "dm-handoff-vs-inline", "--rollout", "--yes"}, 2, "pass --ship ARM"},
		{"rollout with the default", []string{"experiments", "stop", "dm-handoff-vs-inline", "--ship", "off", "--rollout", "--yes"}, 5, "default variant"},
		{"unconfirmed", []string{"experiments", "stop", "dm-handoff-vs-inline", "--ship", "inline", "--rollout"}, 2, "pass --yes"},
		{"handoff", []string{"experiments", "stop", "dm-handoff-vs-inline", "--ship", "inline", "--rollout", "--yes", "-o", "table"}, 0, "rollout plan serves inline, stage from-experiment live"},
		{"the plan", []string{"rollout", "status", "ig-dm-via-whatsapp", "-o", "json"}, 0, `"stage": "from-experiment"`},
		{"get after", []string{"experiments", "get", "dm-handoff-vs-inline", "-o", "table"}, 0, "stopped, ships inline through the flag's rollout plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := r.run("", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			where := out
			if code != 0 {
				where = errOut
			}
			if !strings.Contains(where, tt.out) {
				t.Errorf("output does not say %q:\nstdout: %s\nstderr: %s", tt.out, out, errOut)
			}
		})
	}
}

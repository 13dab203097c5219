package cli_test

import (
	"strings"
	"testing"
)

// experimentsYAML declares a flag, a layer and a draft experiment whose
// audience is a listed cohort, so that known units can be counted.
const experimentsYAML = `
cohorts:
  - key: whatsapp-beta-testers
    members: [{id: u1, region: US}, {id: u2, region: US}, {id: u3, region: CA}, {id: u4, region: US}, {id: u5, region: US}, {id: u6, region: CA}, {id: u7, region: US}, {id: u8, region: US}]
flags:
  - key: ig-dm-via-whatsapp
    type: string
    variants: {"off": "off", handoff: handoff, inline: inline}
    defaultVariant: "off"
layers:
  - key: cross-app-messaging
    holdout: 0
experiments:
  - key: dm-handoff-vs-inline
    flag: ig-dm-via-whatsapp
    layer: cross-app-messaging
    audience: {regions: [US, CA], cohorts: [whatsapp-beta-testers]}
    traffic: 100
    arms: {"off": 34, handoff: 33, inline: 33}
    control: "off"
`

func TestExperimentCommands(t *testing.T) {
	r := newRamp(t)
	file := writeFile(t, "exp.yaml", experimentsYAML)
	out := r.ok("apply", "-f", file, "-o", "json")
	if !strings.Contains(out, `"kind": "experiment"`) {
		t.Fatalf("apply: %s", out)
	}
	list := decode[[]map[string]any](t, r.ok("experiments", "list"))
	if len(list) != 1 || list[0]["status"] != "draft" || list[0]["traffic"] != 100.0 {
		t.Fatalf("list: %v", list)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout, or in stderr when code is not 0
	}{
		{"start", []string{"experiments", "start", "dm-handoff-vs-inline", "-o", "table"}, 0, "draft → running"},
		{"start again", []string{"experiments", "start", "dm-handoff-vs-inline"}, 5, "only a draft starts"},
		{"unknown", []string{"experiments", "pause", "nope"}, 4, `experiment "nope" not found`},
		{"weights without a new phase", []string{"experiments", "set-weights", "dm-handoff-vs-inline", "off=50,handoff=25,inline=25"}, 5, "pass --new-phase"},
		{"bad weights", []string{"experiments", "set-weights", "dm-handoff-vs-inline", "off50"}, 2, "want ARM=WEIGHT"},
		{"dry run", []string{"experiments", "set-weights", "dm-handoff-vs-inline", "off=50,handoff=25,inline=25", "--new-phase", "--dry-run", "-o", "table"}, 0, "16% of the experiment's units change arm"},
		{"unconfirmed off a terminal", []string{"experiments", "set-weights", "dm-handoff-vs-inline", "off=50,handoff=25,inline=25", "--new-phase"}, 2, "pass --yes"},
		{"new phase", []string{"experiments", "set-weights", "dm-handoff-vs-inline", "off=50,handoff=25,inline=25", "--new-phase", "--yes", "-o", "table"}, 0, "phase 2 starts"},
		{"lower traffic", []string{"experiments", "set-traffic", "dm-handoff-vs-inline", "50"}, 5, "--new-phase --traffic 50"},
		{"locked apply", []string{"apply", "-f", file}, 5, "phase: next"},
		{"pause", []string{"experiments", "pause", "dm-handoff-vs-inline", "-o", "table"}, 0, "running → paused"},
		{"resume", []string{"experiments", "resume", "dm-handoff-vs-inline", "-o", "table"}, 0, "paused → running"},
		{"ship an unknown arm", []string{"experiments", "stop", "dm-handoff-vs-inline", "--ship", "nope", "--yes"}, 3, "not an arm"},
		{"stop and ship", []string{"experiments", "stop", "dm-handoff-vs-inline", "--ship", "inline", "--yes", "-o", "table"}, 0, "serves inline to its whole audience"},
		{"get", []string{"experiments", "get", "dm-handoff-vs-inline", "-o", "yaml"}, 0, "shipped: inline"},
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
	got := decode[map[string]any](t, r.ok("experiments", "get", "dm-handoff-vs-inline"))
	if phases := got["phases"].([]any); len(phases) != 2 || got["status"] != "stopped" {
		t.Errorf("get: %v", got)
	}
	// The shipped arm is what the audience gets.
	ev := decode[map[string]any](t, r.ok("eval", "ig-dm-via-whatsapp", "--context", `{"targetingKey":"u1","region":"US"}`))
	if ev["variant"] != "inline" {
		t.Errorf("eval after shipping inline: %v", ev)
	}
}

func TestExperimentCompletion(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", writeFile(t, "exp.yaml", experimentsYAML))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "experiments", "start", ""}, "dm-handoff-vs-inline\tdraft on ig-dm-via-whatsapp"},
		{[]string{"__complete", "experiments", "stop", "dm-handoff-vs-inline", "--ship", ""}, "handoff\t33%"},
		{[]string{"__complete", "experiments", "set-weights", "dm-handoff-vs-inline", ""}, "off=34,handoff=33,inline=33"},
	} {
		if out := r.ok(tt.args...); !strings.Contains(out, tt.want) {
			t.Errorf("ramp %s:\n%s\nwant %q", strings.Join(tt.args, " "), out, tt.want)
		}
	}
}

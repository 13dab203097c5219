package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/tracking"
)

// TestExperimentSampleRatioPause: a running experiment whose exposures
// contradict its weights is paused by `ramp rollout tick`; `experiments
// get` says who paused it and why, with the last check, in a table and in
// JSON; a resume says it overrides the check.
func TestExperimentSampleRatioPause(t *testing.T) {
	r := newRamp(t)
	file := writeFile(t, "exp.yaml", strings.Replace(experimentsYAML, "    traffic: 100\n", "    traffic: 100\n    status: running\n", 1))
	r.ok("apply", "-f", file)
	a, err := admin.Open(context.Background(), r.db, admin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var batch []tracking.Exposure
	for i, n := range []int{4000, 3300, 2700} {
		arm := []string{"off", "handoff", "inline"}[i]
		for j := range n {
			batch = append(batch, tracking.Exposure{Experiment: "dm-handoff-vs-inline", Phase: 1, UnitAttr: "targetingKey",
				Unit: fmt.Sprintf("%s-%d", arm, j), Arm: arm, Flag: "ig-dm-via-whatsapp", Time: time.Now()})
		}
	}
	if err := a.WriteExposures(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if out := r.ok("rollout", "tick", "-o", "table"); !strings.Contains(out, "experiment dm-handoff-vs-inline: paused: sample ratio mismatch in phase 1") {
		t.Errorf("tick:\n%s", out)
	}
	out := r.ok("experiments", "get", "dm-handoff-vs-inline", "-o", "table")
	for _, want := range []string{
		"status:     paused",
		"paused:     by ramp-scheduler at ",
		": sample ratio mismatch in phase 1: off 4,000 units (40.00%, expected 34.00%), handoff 3,300 (33.00%, expected 33.00%), inline 2,700 (27.00%, expected 33.00%); anytime-valid p = ",
		"ramp experiments resume dm-handoff-vs-inline to override",
		"srm check:  ",
		": mismatch (p < 0.001)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("get does not say %q:\n%s", want, out)
		}
	}
	js := decode[map[string]any](t, r.ok("experiments", "get", "dm-handoff-vs-inline", "-o", "json"))
	pause, _ := js["pause"].(map[string]any)
	srm, _ := js["sampleRatio"].(map[string]any)
	if pause["by"] != "ramp-scheduler" || srm["units"] != 10000.0 || srm["pause"] != true || srm["minP"].(float64) >= 0.001 {
		t.Errorf("get -o json: pause %v, sampleRatio %v", pause, srm)
	}
	out = r.ok("experiments", "resume", "dm-handoff-vs-inline", "-o", "table")
	if !strings.Contains(out, "overrides the sample-ratio check, which had paused it (sample ratio mismatch in phase 1") {
		t.Errorf("resume: %s", out)
	}
	out = r.ok("audit", "--kind", "experiment")
	for _, want := range []string{"experiment.pause.srm", "experiment.resume.override"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit does not list %s:\n%s", want, out)
		}
	}
}

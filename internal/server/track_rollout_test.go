package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/rollout"
)

// guardedSource serves a flag whose rollout plan's live stage, us-10, is
// guarded, composed as ramp serve composes it.
func guardedSource() fixedSource {
	st := flags.State{Flags: []flags.Flag{{Key: "interop", Type: flags.Boolean, Enabled: true, Bucketing: bucket.V1, BucketBy: "accountCenterId",
		Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}, DefaultVariant: "off"}}}
	plan := rollout.Plan{Flag: "interop", Variant: "on", Stages: []rollout.Stage{
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
		{Name: "us-10", Regions: []string{"US"}, Percent: 1000, Guardrails: []rollout.Guardrail{{Metric: "crash-rate"}}},
	}}
	return fixedSource{ramp.Compose(&ramp.Config{State: st, Rollouts: []rollout.Rollout{{Plan: plan, Progress: rollout.Progress{Stage: "us-10"}}}})}
}

// TestOFREPRecordsGuardedStageExposures: OFREP answers decided by a
// guarded rollout stage name the stage as an experiment in their metadata
// and are recorded as exposures, on both sides of the split, under
// rollout:<flag> and the stage's number; the tracking endpoint refuses an
// exposure of the stage whose arm the unit's bucket does not give.
func TestOFREPRecordsGuardedStageExposures(t *testing.T) {
	sink := newMemSink()
	srv := trackingServer(t, sink, func(c *server.Config) { c.Source = guardedSource() })
	const units = 300
	arms := map[string]string{}
	for i := range units {
		ctx := map[string]any{"targetingKey": fmt.Sprint("ig-", i), "accountCenterId": fmt.Sprint("ac-", i), "region": "US"}
		resp, body := do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/interop", sdkKey, evalBody(ctx))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("evaluate: %d %s", resp.StatusCode, body)
		}
		var got struct {
			Variant  string         `json:"variant"`
			Metadata map[string]any `json:"metadata"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Metadata["experiment"] != "rollout:interop" || got.Metadata["phase"] != 2.0 || got.Metadata["arm"] != got.Variant {
			t.Fatalf("metadata %v", got.Metadata)
		}
		arms[fmt.Sprint("ac-", i)] = got.Variant
	}
	waitUntil(t, "the exposures to be stored", func() bool { n, _ := sink.counts(); return n >= units })
	sink.mu.Lock()
	sides := map[string]int{}
	for _, e := range sink.exposures {
		if e.Experiment != "rollout:interop" || e.Phase != 2 || e.UnitAttr != "accountCenterId" || arms[e.Unit] != e.Arm {
			t.Errorf("exposure %+v", e)
		}
		sides[e.Arm]++
	}
	sink.mu.Unlock()
	if len(sink.exposures) != units || sides["on"] == 0 || sides["off"] == 0 {
		t.Errorf("%d exposures, by side %v; want %d on both sides", len(sink.exposures), sides, units)
	}
	// A made-up arm is refused; the engine's is stored.
	var unit, arm string
	for unit, arm = range arms {
		break
	}
	wrong := map[string]string{"on": "off", "off": "on"}[arm]
	body := fmt.Sprintf(`{"exposures":[{"experiment":"rollout:interop","phase":2,"unitAttribute":"accountCenterId","unit":%q,"arm":%q,"flag":"interop","time":%q}]}`,
		unit, wrong, time.Now().UTC().Format(time.RFC3339))
	resp, out := do(t, http.MethodPost, srv.URL+"/v1/track", sdkKey, body)
	var answer struct {
		Inconsistent int `json:"inconsistentExposures"`
	}
	_ = json.Unmarshal(out, &answer)
	if resp.StatusCode != http.StatusOK || answer.Inconsistent != 1 {
		t.Errorf("posting a made-up arm: %d %s; want it counted inconsistent", resp.StatusCode, out)
	}

}

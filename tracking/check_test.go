package tracking_test

import (
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/tracking"
)

// The check agrees with the engine: every exposure the engine's decisions
// make passes, the same exposure with another arm does not, nor one for a
// unit outside the phase's share; phases the configuration does not run
// pass unchecked.
func TestExposureCheckAgreesWithTheEngine(t *testing.T) {
	origin := &flags.Origin{Kind: flags.OriginExperiment, Key: "dm", Phase: 2, Unit: "accountCenterId"}
	st := flags.State{Flags: []flags.Flag{{
		Key: "ig-dm", Type: flags.String, Enabled: true, Bucketing: bucket.V1, DefaultVariant: "off",
		Variants: []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
		Rules: []flags.Rule{{
			Sample: &flags.Sample{BucketBy: "accountCenterId", Salt: "layer-msg", Buckets: []flags.BucketRange{{From: 500, To: 2500}, {From: 4000, To: 4500}}},
			Allocation: &flags.Allocation{BucketBy: "accountCenterId", Salt: "experiment-dm", Ranges: []flags.VariantRange{
				{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 5900, Variant: "handoff"}, {From: 5900, To: 6700, Variant: "off"},
				{From: 6700, To: 9200, Variant: "inline"}, {From: 9200, To: 10000, Variant: "off"}}},
			Origin: origin,
		}},
	}}}
	snap, err := flags.Compile(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	check := tracking.NewExposureCheck(&st)
	other := map[string]string{"off": "inline", "handoff": "off", "inline": "handoff"}
	in, out := 0, 0
	for i := range 20000 {
		unit := fmt.Sprint("ac-", i)
		d := snap.Evaluate("ig-dm", map[string]any{"accountCenterId": unit})
		e := tracking.Exposure{Experiment: "dm", Phase: 2, UnitAttr: "accountCenterId", Unit: unit, Arm: d.Variant}
		if d.Origin == nil { // outside the share: whatever arm it claims, no
			out++
			if check.Consistent(&e) {
				t.Fatalf("unit %s is outside the phase's share, yet its exposure passes", unit)
			}
			continue
		}
		in++
		if !check.Consistent(&e) {
			t.Fatalf("the engine's exposure %+v is refused", e)
		}
		e.Arm = other[e.Arm]
		if check.Consistent(&e) {
			t.Fatalf("exposure %+v with another arm than the engine's passes", e)
		}
	}
	if in < 1000 || out < 1000 {
		t.Fatalf("%d units in the share, %d out: the check proves little", in, out)
	}
	for _, e := range []tracking.Exposure{
		{Experiment: "dm", Phase: 1, Unit: "ac-1", Arm: "anything"}, // a phase no longer running
		{Experiment: "gone", Phase: 3, Unit: "ac-1", Arm: "x"},      // an experiment this configuration does not run
	} {
		if !check.Consistent(&e) || check.Running(e.Experiment, e.Phase) {
			t.Errorf("%+v: a phase not running here must pass unchecked", e)
		}
	}
}

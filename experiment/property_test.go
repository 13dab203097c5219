package experiment_test

import (
	"math"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// The guarantees of docs/bucketing.md's layers, each over 100,000
// generated units evaluated through the real engine: the configuration is
// composed by ramp.Compose and compiled by flags.Compile, as `ramp serve`
// does.

const nUnits = 100_000

// within fails unless got is within tol percentage points of want.
func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s: %.3f%%, want %.2f%% ± %.2f", what, got, want, tol)
	}
}

// TestOneLayerExclusiveAndHoldout: two experiments of one layer never share
// a unit, the holdout is in neither, each takes its traffic, and arms get
// their weights.
func TestOneLayerExclusiveAndHoldout(t *testing.T) {
	exps := []experiment.Experiment{dmExperiment(2000), inboxExperiment(3000)}
	start(t, crossApp, exps)
	snap := compile(t, ramp.Config{State: scenario(), Layers: []experiment.Layer{crossApp}, Experiments: exps})
	in := map[string]int{}
	arms := map[string]int{}
	held := 0
	for _, u := range units(1, nUnits) {
		dm, dmArm := fromExperiment(t, snap.Evaluate("ig-dm-via-whatsapp", u.ctx))
		inbox, _ := fromExperiment(t, snap.Evaluate("ig-business-inbox-tools", u.ctx))
		if dm != "" && inbox != "" {
			t.Fatalf("unit %s is in both %s and %s", u.center, dm, inbox)
		}
		if bucket.Bucket(bucket.V1, crossApp.EffectiveSalt(), u.center) < uint32(crossApp.Holdout) {
			held++
			if dm != "" || inbox != "" {
				t.Fatalf("unit %s of the holdout is in experiment %s%s", u.center, dm, inbox)
			}
		}
		in[dm]++
		in[inbox]++
		arms[dmArm]++
	}
	within(t, "holdout", share(held, nUnits), 5, 0.5)
	within(t, "dm-handoff-vs-inline", share(in["dm-handoff-vs-inline"], nUnits), 20, 0.5)
	within(t, "inbox-tools", share(in["inbox-tools"], nUnits), 30, 0.5)
	n := in["dm-handoff-vs-inline"]
	for _, a := range exps[0].Arms {
		within(t, "arm "+a.Variant+" of dm-handoff-vs-inline", share(arms[a.Variant], n), float64(a.Weight)/100, 1)
	}
}

// TestLayersIndependent: experiments of different layers are independent,
// each cell within one point of the product of the shares.
func TestLayersIndependent(t *testing.T) {
	messaging := experiment.Layer{Key: "messaging", BucketBy: "accountCenterId"}
	business := experiment.Layer{Key: "business", BucketBy: "accountCenterId", Holdout: 1000}
	dm, inbox := dmExperiment(5000), inboxExperiment(4000)
	dm.Layer, inbox.Layer = messaging.Key, business.Key
	exps := []experiment.Experiment{dm, inbox}
	start(t, messaging, exps[:1])
	start(t, business, exps[1:])
	snap := compile(t, ramp.Config{State: scenario(), Layers: []experiment.Layer{messaging, business}, Experiments: exps})
	type cell struct{ dm, inbox string }
	cells := map[cell]int{}
	for _, u := range units(2, nUnits) {
		_, a := fromExperiment(t, snap.Evaluate("ig-dm-via-whatsapp", u.ctx))
		_, b := fromExperiment(t, snap.Evaluate("ig-business-inbox-tools", u.ctx))
		cells[cell{a, b}]++
	}
	dmShares := map[string]float64{"": 50, "off": 50 * 0.34, "handoff": 50 * 0.33, "inline": 50 * 0.33}
	inboxShares := map[string]float64{"": 60, "off": 20, "on": 20}
	for a, sa := range dmShares {
		for b, sb := range inboxShares {
			within(t, "cell dm="+a+" inbox="+b, share(cells[cell{a, b}], nUnits), sa*sb/100, 1)
		}
	}
}

// TestRaisingTrafficMovesNobody: raising traffic only adds units; every
// unit keeps its arm.
func TestRaisingTrafficMovesNobody(t *testing.T) {
	exps := []experiment.Experiment{inboxExperiment(2000), dmExperiment(1000)}
	start(t, crossApp, exps)
	cfg := ramp.Config{State: scenario(), Layers: []experiment.Layer{crossApp}, Experiments: exps}
	before := compile(t, cfg)
	raised := append([]experiment.Experiment(nil), exps...)
	for _, traffic := range []flags.Percent{2500, 4000, 7500} {
		if err := raised[1].SetTraffic(crossApp, raised, traffic); err != nil {
			t.Fatalf("set traffic %s: %v", traffic, err)
		}
	}
	cfg.Experiments = raised
	after := compile(t, cfg)
	inAfter := 0
	for _, u := range units(3, nUnits) {
		_, was := fromExperiment(t, before.Evaluate("ig-dm-via-whatsapp", u.ctx))
		_, is := fromExperiment(t, after.Evaluate("ig-dm-via-whatsapp", u.ctx))
		if was != "" && is != was {
			t.Fatalf("unit %s moved from arm %s to %q when the traffic grew", u.center, was, is)
		}
		if is != "" {
			inAfter++
		}
	}
	within(t, "dm-handoff-vs-inline at 75%", share(inAfter, nUnits), 75, 0.5)
}

// TestWeightChangeMovesTotalVariation: 34/33/33 → 50/25/25 in a new phase
// moves 16% of the units (± 0.3 points), exactly the ones MovedUnits
// counts.
func TestWeightChangeMovesTotalVariation(t *testing.T) {
	e := dmExperiment(flags.Hundred)
	e.Layer = ""
	st := scenario()
	l, ok := experiment.LayerOf(&e, nil, &st)
	if !ok {
		t.Fatal("no layer")
	}
	if err := e.Start(l, nil, t0, "ana"); err != nil {
		t.Fatal(err)
	}
	cfg := ramp.Config{State: st, Experiments: []experiment.Experiment{e}}
	before := compile(t, cfg)
	oldTable := e.Current().Table
	next := arms("off", 5000, "handoff", 2500, "inline", 2500)
	moved, err := e.NewPhase(l, nil, next, flags.Hundred, t0.Add(7*24*3600e9), "bo")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Experiments = []experiment.Experiment{e}
	after := compile(t, cfg)
	var known []string
	changed := 0
	for _, u := range units(4, nUnits) {
		d := after.Evaluate("ig-dm-via-whatsapp", u.ctx)
		if d.Origin == nil || d.Origin.Phase != 2 {
			t.Fatalf("unit %s: origin %+v, want phase 2", u.center, d.Origin)
		}
		_, was := fromExperiment(t, before.Evaluate("ig-dm-via-whatsapp", u.ctx))
		_, is := fromExperiment(t, d)
		if was == "" || is == "" {
			t.Fatalf("unit %s outside an experiment at 100%%: %q → %q", u.center, was, is)
		}
		if was != is {
			changed++
		}
		known = append(known, u.center)
	}
	if moved != 1600 {
		t.Errorf("NewPhase says %s%% move, want 16%%", moved)
	}
	t.Logf("%d of %d units (%.3f%%) changed arm", changed, nUnits, share(changed, nUnits))
	within(t, "units that changed arm", share(changed, nUnits), 16, 0.3)
	if n := experiment.MovedUnits(bucket.V1, e.EffectiveSalt(), known, oldTable, e.Current().Table); n != changed {
		t.Errorf("MovedUnits = %d, but %d units changed arm", n, changed)
	}
}

// TestLinkedAccountsAgree: the accounts of one person (one
// accountCenterId, different targetingKeys and apps) get the same arm.
func TestLinkedAccountsAgree(t *testing.T) {
	exps := []experiment.Experiment{dmExperiment(4000)}
	start(t, crossApp, exps)
	snap := compile(t, ramp.Config{State: scenario(), Layers: []experiment.Layer{crossApp}, Experiments: exps})
	in := 0
	for i, u := range units(5, nUnits) {
		wa := map[string]any{}
		for k, v := range u.ctx {
			wa[k] = v
		}
		wa["targetingKey"], wa["app"] = "wa-"+u.center+"-"+string(rune('a'+i%26)), "whatsapp"
		k1, a1 := fromExperiment(t, snap.Evaluate("ig-dm-via-whatsapp", u.ctx))
		k2, a2 := fromExperiment(t, snap.Evaluate("ig-dm-via-whatsapp", wa))
		if k1 != k2 || a1 != a2 {
			t.Fatalf("accounts of %s disagree: instagram %q/%q, whatsapp %q/%q", u.center, k1, a1, k2, a2)
		}
		if k1 != "" {
			in++
		}
	}
	within(t, "dm-handoff-vs-inline", share(in, nUnits), 40, 0.5)
}

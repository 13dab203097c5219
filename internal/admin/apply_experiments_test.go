package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
)

// movedUnits is how many units the database-move checks evaluate.
const movedUnits = 12000

// composerFile adds a second experiment of the scenario's layer, which
// takes the buckets above dm-handoff-vs-inline's until it stops.
const composerFile = `
experiments:
  - key: dm-composer
    flag: ig-dm-via-whatsapp
    layer: cross-app-messaging
    traffic: 10
    arms: {"off": 50, inline: 50}
    control: "off"
    status: running
`

// dmArms evaluates ig-dm-via-whatsapp for movedUnits linked accounts in
// the scenario's audience through a compiled snapshot and returns, for
// each, the variant served and, when dm-handoff-vs-inline decided it, its
// phase.
func dmArms(t *testing.T, a *admin.Service) map[string]string {
	t.Helper()
	snap, err := a.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, movedUnits)
	for i := range movedUnits {
		id := fmt.Sprintf("ac-%d", i)
		d := snap.Evaluate("ig-dm-via-whatsapp", map[string]any{
			"targetingKey": "ig-" + id, "accountCenterId": id, "region": "US", "appVersion": "301.0.0",
		})
		if d.IsError() {
			t.Fatalf("%s: %s %s", id, d.ErrorCode, d.ErrorDetails)
		}
		arm := d.Variant
		if o := d.Origin; o != nil && o.Kind == flags.OriginExperiment {
			arm = fmt.Sprintf("%s in %s phase %d", d.Variant, o.Key, o.Phase)
		}
		out[id] = arm
	}
	return out
}

// exportOf exports a database's configuration as YAML.
func exportOf(t *testing.T, a *admin.Service) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := a.Export(alice, &buf, config.YAML); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// movedScenario applies the scenario, then runs dm-handoff-vs-inline
// through what makes its allocation non-contiguous: another experiment of
// the layer takes the buckets above it, dm-handoff-vs-inline grows past
// them (set-traffic 30), changes weights as phase 2 (34/33/33 →
// 50/25/25, the fewest moves) and the other experiment stops.
func movedScenario(t *testing.T) (*admin.Service, *store.Store) {
	t.Helper()
	a, s := open(t)
	apply(t, a, "scenario.yaml", readTestdata(t, "scenario.yaml"), false)
	apply(t, a, "composer.yaml", []byte(composerFile), false)
	if _, err := a.SetExperimentTraffic(alice, admin.TrafficRequest{Key: "dm-handoff-vs-inline", Traffic: 3000}); err != nil {
		t.Fatal(err)
	}
	arms := []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}}
	if _, err := a.SetExperimentWeights(alice, admin.WeightsRequest{Key: "dm-handoff-vs-inline", Arms: arms, NewPhase: true, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.StopExperiment(alice, admin.StopRequest{Key: "dm-composer", Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	return a, s
}

// TestExportApplyMovesRunningExperiment moves a database with a running
// experiment in its second phase, with a non-contiguous bucket set and
// arm table, to an empty one by export and apply: every unit gets the
// same arm in both, and the copy exports the same file.
func TestExportApplyMovesRunningExperiment(t *testing.T) {
	a, s := movedScenario(t)
	src, err := s.Experiment(context.Background(), "dm-handoff-vs-inline")
	if err != nil {
		t.Fatal(err)
	}
	cur := src.Experiment.Current()
	if cur.Number != 2 || len(cur.Buckets) < 2 || len(experiment.NormalTable(cur.Table)) <= len(cur.Arms) {
		t.Fatalf("source phase %d, buckets %v, table %v: want phase 2 with a non-contiguous bucket set and table", cur.Number, cur.Buckets, cur.Table)
	}
	exported := exportOf(t, a)
	before := dmArms(t, a)

	// Into the same database: nothing changes.
	if res := apply(t, a, "x.yaml", []byte(exported), false); len(res.Experiments) != 0 {
		t.Errorf("export applied to its own database changed %+v", res.Experiments)
	}

	b, bs := open(t)
	res := apply(t, b, "x.yaml", []byte(exported), false)
	var restored *admin.ExperimentChange
	for i := range res.Experiments {
		if c := &res.Experiments[i]; c.Key == "dm-handoff-vs-inline" {
			restored = c
		}
	}
	if restored == nil || !restored.Allocation || !restored.Start || restored.Phase != 2 {
		t.Errorf("apply into a new database: %+v; want dm-handoff-vs-inline created in phase 2 with the file's allocation", restored)
	}
	dst, err := bs.Experiment(context.Background(), "dm-handoff-vs-inline")
	if err != nil {
		t.Fatal(err)
	}
	if got := dst.Experiment.Current(); got == nil || got.Number != 2 || !experiment.SameAllocation(got, cur) || len(dst.Experiment.Phases) != 1 {
		t.Errorf("copy's phases %+v; want phase 2 alone with the source's allocation %+v", dst.Experiment.Phases, cur)
	}
	after := dmArms(t, b)
	inExperiment := 0
	for id, want := range before {
		if after[id] != want {
			t.Fatalf("unit %s: %q in the source database, %q in the copy", id, want, after[id])
		}
		if strings.Contains(want, " phase 2") {
			inExperiment++
		}
	}
	if inExperiment < movedUnits/5 {
		t.Errorf("%d of %d units in the experiment; the check needs the experiment to decide for many", inExperiment, movedUnits)
	}
	if again := exportOf(t, b); again != exported {
		t.Errorf("export of the copy differs:\n%s", cmp.Diff(exported, again))
	}
	if res := apply(t, b, "x.yaml", []byte(exported), false); len(res.Experiments) != 0 {
		t.Errorf("export applied again to the copy changed %+v", res.Experiments)
	}

	// Without the allocation (a file written before export carried it,
	// or by hand), the experiment starts afresh and units change arm:
	// what the allocation is for.
	stripped := regexp.MustCompile(`(?m)^    # that phase's.*\n    allocation:\n(      .*\n)+`).ReplaceAllString(exported, "")
	if strings.Contains(stripped, "allocation:") {
		t.Fatalf("allocation left in:\n%s", stripped)
	}
	c, _ := open(t)
	apply(t, c, "hand.yaml", []byte(stripped), false)
	fresh := dmArms(t, c)
	changed := 0
	for id, want := range before {
		if fresh[id] != want {
			changed++
		}
	}
	if changed == 0 {
		t.Error("without the allocation every unit kept its arm: the check would not see the bug")
	}
}

// TestApplyRefusesAnotherAllocation: a file cannot change a stored
// experiment's allocation; the refusal names the file and line.
func TestApplyRefusesAnotherAllocation(t *testing.T) {
	a, _ := movedScenario(t)
	exported := exportOf(t, a)
	line, in := 0, false
	for i, l := range strings.Split(exported, "\n") {
		switch {
		case strings.HasPrefix(l, "  - key: "):
			in = l == "  - key: dm-handoff-vs-inline"
		case in && strings.HasPrefix(l, "    allocation:"):
			line = i + 1
		}
	}
	for _, tt := range []struct{ name, from, to string }{
		{"other layer buckets", "layerBuckets: [500-2499, 3500-4499]", "layerBuckets: [500-2499, 4500-5499]"},
		{"other table", `table: {"off": [0-3399, 5900-6699, 9200-9999], handoff: [3400-5899], inline: [6700-9199]}`,
			`table: {"off": [0-4999], handoff: [5000-7499], inline: [7500-9999]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(exported, tt.from) {
				t.Fatalf("export lacks %q:\n%s", tt.from, exported)
			}
			edited := strings.Replace(exported, tt.from, tt.to, 1)
			_, err := a.Apply(alice, admin.ApplyRequest{Doc: parse(t, "x.yaml", []byte(edited))})
			if !errors.Is(err, ramp.ErrRefused) {
				t.Fatalf("apply = %v; want refused", err)
			}
			for _, want := range []string{fmt.Sprintf("x.yaml:%d:", line), "cannot be changed by a file", "set-weights dm-handoff-vs-inline"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestApplyAllocationIntoAFullLayer: a file whose allocation claims
// buckets a stored experiment of the layer owns is refused, at the line of
// its layerBuckets, and nothing is written.
func TestApplyAllocationIntoAFullLayer(t *testing.T) {
	a, s := open(t)
	apply(t, a, "scenario.yaml", readTestdata(t, "scenario.yaml"), false)
	// dm-handoff-vs-inline owns 500–2499; the file claims 2000–2999.
	file := composerFile + `    phase: 1
    allocation:
      layerBuckets: [2000-2999]
      table: {"off": [0-4999], inline: [5000-9999]}
`
	_, err := a.Apply(alice, admin.ApplyRequest{Doc: parse(t, "x.yaml", []byte(file))})
	var cerr *config.Error
	if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "x.yaml:12:") || !strings.Contains(err.Error(), "allocation.layerBuckets") {
		t.Fatalf("apply = %v; want the overlap located at the allocation's layerBuckets (x.yaml:12)", err)
	}
	if _, err := s.Experiment(context.Background(), "dm-composer"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dm-composer after a refused apply: %v", err)
	}
}

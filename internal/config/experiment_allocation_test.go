package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/config"
)

// allocationFile is an experiment of experimentPreamble's layer as export
// writes it in phase 2, after a traffic raise around another experiment's
// buckets and a weight change (34/33/33 → 50/25/25): neither its buckets
// nor its table are contiguous. Its lines, from 14:
//
//	14 experiments:
//	15   - key: x
//	…
//	22     phase: 2
//	23     allocation:
//	24       layerBuckets: […]
//	25       table: {…}
const allocationFile = `experiments:
  - key: x
    flag: dm
    layer: messaging
    traffic: 20
    arms: {"off": 50, handoff: 25, inline: 25}
    control: "off"
    status: running
    phase: 2
    allocation:
      layerBuckets: [500-1499, 3000-3999]
      table: {"off": [0-3399, 5900-6699, 9200-9999], handoff: [3400-5899], inline: [6700-9199]}
`

const (
	allocBuckets = "layerBuckets: [500-1499, 3000-3999]"
	allocTable   = `table: {"off": [0-3399, 5900-6699, 9200-9999], handoff: [3400-5899], inline: [6700-9199]}`
)

// TestAllocationDecode reads the allocation back as the phase it states.
func TestAllocationDecode(t *testing.T) {
	doc, _, err := config.Load("ramp.yaml", []byte(experimentPreamble+allocationFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := doc.Allocation("x")
	want := experiment.Phase{
		Number: 2, Traffic: 2000,
		Arms:    []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}},
		Buckets: []flags.BucketRange{{From: 500, To: 1500}, {From: 3000, To: 4000}},
		Table: []flags.VariantRange{
			{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 5900, Variant: "handoff"}, {From: 5900, To: 6700, Variant: "off"},
			{From: 6700, To: 9200, Variant: "inline"}, {From: 9200, To: 10000, Variant: "off"},
		},
	}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("Allocation(x) = _, %v; mismatch (-want +got):\n%s", ok, diff)
	}
	if _, ok := doc.Allocation("absent"); ok {
		t.Error("Allocation(absent) = _, true")
	}
}

// TestAllocationProblems: every problem of an allocation is reported at
// its file and line, with the rest of the file's problems.
func TestAllocationProblems(t *testing.T) {
	tests := []struct {
		name     string
		from, to string        // a replacement in allocationFile
		more     [][2]string   // further replacements
		want     []wantProblem // nil: valid
	}{
		{name: "as exported"},
		{name: "a single bucket and adjacent ranges", from: allocBuckets, to: "layerBuckets: [500-999, 1000-1498, 1499, 3000-3999]"},
		{name: "an en dash, as ramp experiments get prints ranges", from: allocBuckets, to: "layerBuckets: [500–1499, 3000–3999]"},
		{
			name: "layer buckets out of order", from: allocBuckets, to: "layerBuckets: [3000-3999, 500-1499]",
			want: []wantProblem{{24, 33, "experiments[0].allocation.layerBuckets[1]", "overlap or precede the range before them (3000-3999)"}},
		},
		{
			name: "overlapping layer buckets", from: allocBuckets, to: "layerBuckets: [500-1499, 1400-2499]",
			want: []wantProblem{{24, 32, "experiments[0].allocation.layerBuckets[1]", "overlap or precede"}},
		},
		{
			name: "a bucket beyond the scale", from: allocBuckets, to: "layerBuckets: [500-1499, 9500-10499]",
			want: []wantProblem{{24, 32, "experiments[0].allocation.layerBuckets[1]", `bucket range "9500-10499" is outside 0–9999`}},
		},
		{
			name: "a range that runs backwards", from: allocBuckets, to: "layerBuckets: [1499-500, 3000-3999]",
			want: []wantProblem{{24, 22, "experiments[0].allocation.layerBuckets[0]", "runs backwards"}},
		},
		{
			name: "not a range", from: allocBuckets, to: "layerBuckets: [500-1499, 30%]",
			want: []wantProblem{{24, 32, "experiments[0].allocation.layerBuckets[1]", `want a bucket range FROM-TO such as 500-3499 (inclusive), got "30%"`}},
		},
		{
			name: "no layer buckets", from: allocBuckets, to: "layerBuckets: []",
			want: []wantProblem{{24, 21, "experiments[0].allocation.layerBuckets", "no layer buckets"}},
		},
		{
			name: "fewer buckets than the traffic", from: allocBuckets, to: "layerBuckets: [500-1499]",
			want: []wantProblem{{24, 7, "experiments[0].allocation.layerBuckets", "1000 layer buckets (10%), but traffic is 20%"}},
		},
		{
			name: "buckets of the holdout", from: allocBuckets, to: "layerBuckets: [0-999, 3000-3999]",
			want: []wantProblem{{24, 7, "experiments[0].allocation.layerBuckets", "overlap layer messaging's holdout (buckets 0-499)"}},
		},
		{
			name: "arm-scale buckets in no arm",
			from: allocTable, to: `table: {"off": [0-3399, 5900-6699, 9200-9999], handoff: [3400-5799], inline: [6700-9199]}`,
			want: []wantProblem{{25, 31, "experiments[0].allocation.table.off[1]", "arm-scale buckets 5800-5899 are in no arm's range"}},
		},
		{
			name: "arms that share buckets",
			from: allocTable, to: `table: {"off": [0-3399, 5900-6699, 9200-9999], handoff: [3400-5999], inline: [6700-9199]}`,
			want: []wantProblem{{25, 31, "experiments[0].allocation.table.off[1]", "range 5900-6699 of arm off overlaps range 3400-5999 of arm handoff"}},
		},
		{
			name: "a table short of the end",
			from: allocTable, to: `table: {"off": [0-3399, 5900-6699, 9200-9998], handoff: [3400-5899], inline: [6700-9199]}`,
			want: []wantProblem{{25, 14, "experiments[0].allocation.table", "arm-scale buckets 9999 are in no arm's range"}},
		},
		{
			name: "an arm's ranges out of order",
			from: allocTable, to: `table: {"off": [5900-6699, 0-3399, 9200-9999], handoff: [3400-5899], inline: [6700-9199]}`,
			want: []wantProblem{{25, 34, "experiments[0].allocation.table.off[1]", "list an arm's ranges sorted"}},
		},
		{
			name: "shares that are not the weights",
			from: allocTable, to: `table: {"off": [0-3399, 5900-6699], handoff: [3400-5899], inline: [6700-9999]}`,
			want: []wantProblem{
				{25, 15, "experiments[0].allocation.table.off", "arm off owns 4200 buckets of the arm scale (42%), but its weight is 50%"},
				{25, 65, "experiments[0].allocation.table.inline", "arm inline owns 3300 buckets of the arm scale (33%), but its weight is 25%"},
			},
		},
		{
			name: "a table arm that is not an arm",
			from: allocTable, to: `table: {"off": [0-3399, 5900-6699, 9200-9999], handoff: [3400-5899], inlined: [6700-9199]}`,
			want: []wantProblem{
				{25, 7, "experiments[0].allocation.table", "arm inline (weight 25%) owns no range of the table"},
				{25, 76, "experiments[0].allocation.table.inlined", `"inlined" is not an arm of positive weight`},
			},
		},
		{
			name: "an arm without ranges",
			from: allocTable, to: `table: {"off": [0-3399, 5900-6699, 9200-9999], handoff: [3400-5899, 6700-9199], inline: []}`,
			want: []wantProblem{{25, 95, "experiments[0].allocation.table.inline", "arm inline owns no range"}},
		},
		{
			name: "a misspelt field", from: allocTable, to: `tables: {"off": [0-9999]}`,
			want: []wantProblem{{25, 7, "experiments[0].allocation", `unknown field "tables" (did you mean "table"?)`}},
		},
		{
			name: "no table", from: "\n      " + allocTable, to: "",
			want: []wantProblem{{24, 7, "experiments[0].allocation.table", "table is required"}},
		},
		{
			name: "not a mapping", from: "allocation:\n      " + allocBuckets + "\n      " + allocTable, to: "allocation: [500-2499]",
			want: []wantProblem{{23, 17, "experiments[0].allocation", "want a mapping"}},
		},
		{
			name: "no phase number", from: "    phase: 2\n", to: "",
			want: []wantProblem{{22, 5, "experiments[0].allocation", "allocation needs phase: N"}},
		},
		{
			name: "a new phase", from: "phase: 2", to: "phase: next",
			want: []wantProblem{{23, 5, "experiments[0].allocation", "phase: next starts a new one: leave allocation out"}},
		},
		{
			name: "no status", from: "    status: running\n", to: "",
			want: []wantProblem{{22, 5, "experiments[0].allocation", "allocation needs status"}},
		},
		{
			name: "a ramp-up below its ceiling", from: "    traffic: 20\n", to: "    traffic: 30\n    rampUp: [{traffic: 10}, {traffic: 30, after: 24h}]\n",
		},
		{
			name: "a ramp-up above its ceiling", from: "    traffic: 20\n", to: "    traffic: 15\n    rampUp: [{traffic: 10}, {traffic: 15, after: 24h}]\n",
			want: []wantProblem{{25, 7, "experiments[0].allocation.layerBuckets", "2000 layer buckets (20%), above the ramp-up's ceiling traffic 15%"}},
		},
		{
			name: "stopped, its arms edited since", from: "status: running", to: "status: stopped",
			more: [][2]string{{`arms: {"off": 50, handoff: 25, inline: 25}`, `arms: {"off": 50, inline: 50}`}},
		},
		{
			name: "stopped, an arm that is no variant", from: "status: running", to: "status: stopped",
			more: [][2]string{{"inline: [6700-9199]", "inlined: [6700-9199]"}},
			want: []wantProblem{{25, 76, "experiments[0].allocation.table.inlined", `arm "inlined" is not a variant of flag dm`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := allocationFile
			for _, e := range append([][2]string{{tt.from, tt.to}}, tt.more...) {
				if e[0] == "" {
					continue
				}
				if !strings.Contains(data, e[0]) {
					t.Fatalf("the file lacks %q", e[0])
				}
				data = strings.Replace(data, e[0], e[1], 1)
			}
			_, _, err := config.Load("ramp.yaml", []byte(experimentPreamble+data), nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load: %v\n%s", err, data)
				}
				return
			}
			checkProblems(t, err, tt.want)
		})
	}
}

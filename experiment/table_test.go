package experiment_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
)

func arms(kv ...any) []experiment.Arm {
	var as []experiment.Arm
	for i := 0; i < len(kv); i += 2 {
		as = append(as, experiment.Arm{Variant: kv[i].(string), Weight: flags.Percent(kv[i+1].(int))})
	}
	return as
}

func TestTable(t *testing.T) {
	tests := []struct {
		name string
		arms []experiment.Arm
		want []flags.VariantRange
	}{
		{"three arms in declaration order", arms("off", 3400, "handoff", 3300, "inline", 3300),
			[]flags.VariantRange{{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 6700, Variant: "handoff"}, {From: 6700, To: 10000, Variant: "inline"}}},
		{"an arm of weight 0 has no range", arms("short", 5000, "mid", 0, "long", 5000),
			[]flags.VariantRange{{From: 0, To: 5000, Variant: "short"}, {From: 5000, To: 10000, Variant: "long"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, experiment.Table(tt.arms)); diff != "" {
				t.Errorf("Table (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReallocate(t *testing.T) {
	tests := []struct {
		name      string
		from, to  []experiment.Arm
		want      []flags.VariantRange
		wantMoved flags.Percent
	}{
		{
			name: "34/33/33 to 50/25/25 moves 16%", from: arms("off", 3400, "handoff", 3300, "inline", 3300), to: arms("off", 5000, "handoff", 2500, "inline", 2500),
			// handoff gives 5900–6699 and inline 9200–9999 to off.
			want: []flags.VariantRange{{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 5900, Variant: "handoff"}, {From: 5900, To: 6700, Variant: "off"},
				{From: 6700, To: 9200, Variant: "inline"}, {From: 9200, To: 10000, Variant: "off"}},
			wantMoved: 1600,
		},
		{
			name: "the same weights move nobody", from: arms("off", 3400, "handoff", 3300, "inline", 3300), to: arms("off", 3400, "handoff", 3300, "inline", 3300),
			want: experiment.Table(arms("off", 3400, "handoff", 3300, "inline", 3300)), wantMoved: 0,
		},
		{
			name: "a removed arm gives all its buckets", from: arms("off", 3400, "handoff", 3300, "inline", 3300), to: arms("off", 5000, "inline", 5000),
			// handoff's 3400–6699 goes to off (1600), then to inline
			// (1700); adjacent ranges of one arm merge.
			want:      []flags.VariantRange{{From: 0, To: 5000, Variant: "off"}, {From: 5000, To: 10000, Variant: "inline"}},
			wantMoved: 3300,
		},
		{
			name: "an added arm takes the surplus", from: arms("short", 5000, "long", 5000), to: arms("short", 4000, "long", 4000, "mid", 2000),
			want:      []flags.VariantRange{{From: 0, To: 4000, Variant: "short"}, {From: 4000, To: 5000, Variant: "mid"}, {From: 5000, To: 9000, Variant: "long"}, {From: 9000, To: 10000, Variant: "mid"}},
			wantMoved: 2000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, moved := experiment.Reallocate(experiment.Table(tt.from), tt.to)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			if moved != tt.wantMoved {
				t.Errorf("moved %s%%, want %s%%", moved, tt.wantMoved)
			}
			if tv := experiment.TotalVariation(tt.from, tt.to); tv != tt.wantMoved {
				t.Errorf("TotalVariation = %s%%, want %s%%", tv, tt.wantMoved)
			}
		})
	}
}

// randomArms draws 1–5 arms (from a pool of six names) with random
// weights summing to 100%.
func randomArms(rng *rand.Rand) []experiment.Arm {
	names := []string{"a", "b", "c", "d", "e", "f"}
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	n := 1 + rng.IntN(5)
	cuts := []int{0, 10000}
	for range n - 1 {
		cuts = append(cuts, rng.IntN(10001))
	}
	slices.Sort(cuts)
	var as []experiment.Arm
	for i := range n {
		as = append(as, experiment.Arm{Variant: names[i], Weight: flags.Percent(cuts[i+1] - cuts[i])})
	}
	return as
}

// TestReallocateProperties checks, over chains of random weight changes,
// that each table covers the scale with ranges sorted and merged, gives
// every arm exactly its weight, keeps each arm's buckets up to the smaller
// of its two weights, and moves exactly the total-variation distance.
func TestReallocateProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2025))
	for range 300 {
		prevArms := randomArms(rng)
		prev := experiment.Table(prevArms)
		for range 6 {
			next := randomArms(rng)
			got, moved := experiment.Reallocate(prev, next)
			checkTable(t, got, next)
			if tv := experiment.TotalVariation(prevArms, next); moved != tv {
				t.Fatalf("%v → %v: moved %d, total variation %d", prevArms, next, moved, tv)
			}
			changed := 0
			for b := uint32(0); b < 10000; b++ {
				if experiment.ArmAt(prev, b) != experiment.ArmAt(got, b) {
					changed++
				}
			}
			if changed != int(moved) {
				t.Fatalf("%v → %v: %d buckets changed arm, Reallocate said %d", prevArms, next, changed, moved)
			}
			prev, prevArms = got, next
		}
	}
}

// checkTable checks that t covers [0, 10000) in order with merged ranges
// and serves each arm exactly its weight.
func checkTable(t *testing.T, table []flags.VariantRange, want []experiment.Arm) {
	t.Helper()
	var next uint32
	for i, r := range table {
		if r.From != next || r.To <= r.From {
			t.Fatalf("range %d is %d..%d, want it to start at %d: %v", i, r.From, r.To, next, table)
		}
		if i > 0 && table[i-1].Variant == r.Variant {
			t.Fatalf("ranges %d and %d of %s are adjacent but not merged: %v", i-1, i, r.Variant, table)
		}
		next = r.To
	}
	if next != 10000 {
		t.Fatalf("table ends at %d: %v", next, table)
	}
	got := map[string]flags.Percent{}
	for _, a := range experiment.Weights(table) {
		got[a.Variant] = a.Weight
	}
	for _, a := range want {
		if got[a.Variant] != a.Weight {
			t.Fatalf("arm %s has %d buckets, want %d: %v", a.Variant, got[a.Variant], a.Weight, table)
		}
	}
}

func TestTotalVariation(t *testing.T) {
	tests := []struct {
		name     string
		old, new []experiment.Arm
		want     flags.Percent
	}{
		{"equal", arms("a", 5000, "b", 5000), arms("b", 5000, "a", 5000), 0},
		{"issue example", arms("off", 3400, "handoff", 3300, "inline", 3300), arms("off", 5000, "handoff", 2500, "inline", 2500), 1600},
		{"an arm swapped for another", arms("a", 5000, "b", 5000), arms("a", 5000, "c", 5000), 5000},
		{"everything to one arm", arms("a", 2500, "b", 7500), arms("a", 10000), 7500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := experiment.TotalVariation(tt.old, tt.new); got != tt.want {
				t.Errorf("TotalVariation = %d, want %d", got, tt.want)
			}
		})
	}
}

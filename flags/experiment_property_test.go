package flags_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// The guarantees experiments rest on (docs/bucketing.md, "Layers and
// experiments"), each checked over population generated units through the
// engine: samples cut a layer into exclusive shares of the right size, and
// the arm hash is independent of the layer hash.

// sampledFlag returns a flag with one rule: in the sample (layer salt),
// the allocation (arm salt) decides; outside, the default "out".
func sampledFlag(key string, buckets []flags.BucketRange, table []flags.VariantRange) flags.Flag {
	f := flags.Flag{Key: key, Type: flags.String, Enabled: true, Bucketing: bucket.V1, DefaultVariant: "out",
		Variants: []flags.Variant{{Key: "out", Value: "out"}}}
	seen := map[string]bool{"out": true}
	for _, r := range table {
		if !seen[r.Variant] {
			seen[r.Variant] = true
			f.Variants = append(f.Variants, flags.Variant{Key: r.Variant, Value: r.Variant})
		}
	}
	f.Rules = []flags.Rule{{
		Sample:     &flags.Sample{BucketBy: unitAttr, Salt: layerSalt, Buckets: buckets},
		Allocation: &flags.Allocation{BucketBy: unitAttr, Salt: expSalt, Ranges: table},
		Origin:     &flags.Origin{Kind: flags.OriginExperiment, Key: key, Phase: 1, Unit: unitAttr},
	}}
	return f
}

// units returns population contexts identified by accountCenterId alone.
func units(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{unitAttr: fmt.Sprintf("ac-%d", i)}
	}
	return out
}

// blocks turns a set of 100-bucket blocks (indexes 0..99) into sorted,
// merged bucket ranges, as the control plane would store them.
func blocks(idx []int) []flags.BucketRange {
	s := slices.Clone(idx)
	slices.Sort(s)
	var out []flags.BucketRange
	for _, i := range s {
		from := uint32(i * 100)
		if n := len(out); n > 0 && out[n-1].To == from {
			out[n-1].To += 100
			continue
		}
		out = append(out, flags.BucketRange{From: from, To: from + 100})
	}
	return out
}

func size(rs []flags.BucketRange) uint32 {
	var n uint32
	for _, r := range rs {
		n += r.To - r.From
	}
	return n
}

var coinTable = []flags.VariantRange{ // 50/50, each arm in two ranges
	{From: 0, To: 2500, Variant: "a"}, {From: 2500, To: 5000, Variant: "b"},
	{From: 5000, To: 7500, Variant: "a"}, {From: 7500, To: 10000, Variant: "b"},
}

// TestSampleShare: a sample takes its size's share of units, ± 0.5 points,
// whether its set is one range or many.
func TestSampleShare(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	tests := []struct {
		name    string
		buckets []flags.BucketRange
	}{
		{"5% contiguous", []flags.BucketRange{{From: 0, To: 500}}},
		{"0.5% at the top", []flags.BucketRange{{From: 9950, To: 10000}}},
		{"20% in three ranges", []flags.BucketRange{{From: 100, To: 600}, {From: 4000, To: 5000}, {From: 9500, To: 10000}}},
		{"50% interleaved", blocks([]int{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48,
			50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 78, 80, 82, 84, 86, 88, 90, 92, 94, 96, 98})},
		{"35% random blocks", blocks(rng.Perm(100)[:35])},
		{"the whole layer", []flags.BucketRange{{From: 0, To: 10000}}},
	}
	us := units(population)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := mustCompile(t, flags.State{Flags: []flags.Flag{sampledFlag("e", tt.buckets, coinTable)}})
			in := 0
			for _, u := range us {
				if snap.Evaluate("e", u).Rule == 0 {
					in++
				}
			}
			share, want := 100*float64(in)/population, float64(size(tt.buckets))/100
			if math.Abs(share-want) > 0.5 {
				t.Errorf("%.3f%% of units in the sample, want %.2f%% ± 0.5", share, want)
			}
		})
	}
}

// TestSamplesOfOneLayerAreExclusive: samples under one salt with disjoint
// sets (two experiments and a holdout of a layer) never share a unit.
func TestSamplesOfOneLayerAreExclusive(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2))
	for trial := range 3 {
		perm := rng.Perm(100)
		sets := map[string][]flags.BucketRange{
			"exp-a":   blocks(perm[:20]),
			"exp-b":   blocks(perm[20:50]),
			"holdout": blocks(perm[50:55]),
		}
		var fs []flags.Flag
		for key, set := range sets {
			fs = append(fs, sampledFlag(key, set, coinTable))
		}
		snap := mustCompile(t, flags.State{Flags: fs})
		counts := map[string]int{}
		for _, u := range units(population) {
			owner := ""
			for key := range sets {
				if snap.Evaluate(key, u).Rule != 0 {
					continue
				}
				if owner != "" {
					t.Fatalf("trial %d: %s is in %s and in %s", trial, u[unitAttr], owner, key)
				}
				owner = key
				counts[key]++
			}
		}
		for key, set := range sets {
			if share, want := 100*float64(counts[key])/population, float64(size(set))/100; math.Abs(share-want) > 0.5 {
				t.Errorf("trial %d: %s took %.2f%%, want %.2f%% ± 0.5", trial, key, share, want)
			}
		}
	}
}

// TestLayerAndArmIndependent: whether a unit is in a sample (layer salt)
// tells nothing of its arm (the experiment's salt): the four cells are
// within 1 point of the product of the shares.
func TestLayerAndArmIndependent(t *testing.T) {
	sample := []flags.BucketRange{{From: 1000, To: 2000}, {From: 5000, To: 7000}} // 30%
	exp := sampledFlag("e", sample, coinTable)
	everyone := sampledFlag("arm", []flags.BucketRange{{From: 0, To: bucket.Scale}}, coinTable) // the arm of every unit
	snap := mustCompile(t, flags.State{Flags: []flags.Flag{exp, everyone}})
	cells := map[[2]string]int{}
	for _, u := range units(population) {
		d, arm := snap.Evaluate("e", u), snap.Evaluate("arm", u)
		in := "out"
		if d.Rule == 0 {
			in = "in"
			if d.Variant != arm.Variant {
				t.Fatalf("%s: arm %s in the experiment, %s by the same table and salt alone", u[unitAttr], d.Variant, arm.Variant)
			}
		}
		cells[[2]string{in, arm.Variant}]++
	}
	shares := map[string]float64{"in": 30, "out": 70, "a": 50, "b": 50}
	for _, in := range []string{"in", "out"} {
		for _, arm := range []string{"a", "b"} {
			got, want := 100*float64(cells[[2]string{in, arm}])/population, shares[in]*shares[arm]/100
			if math.Abs(got-want) > 1 {
				t.Errorf("cell %s/%s: %.2f%%, want %.2f%% ± 1", in, arm, got, want)
			}
		}
	}
}

// TestGrowingSampleOnlyAdds: adding buckets to a sample's set adds units
// and changes nobody's arm.
func TestGrowingSampleOnlyAdds(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 3))
	us := units(population)
	for trial := range 4 {
		perm := rng.Perm(100)
		k := 1 + rng.IntN(40)
		m := k + 1 + rng.IntN(100-k)
		small, large := blocks(perm[:k]), blocks(perm[:m])
		snap := mustCompile(t, flags.State{Flags: []flags.Flag{
			sampledFlag("small", small, expTable), sampledFlag("large", large, expTable),
		}})
		added := 0
		for _, u := range us {
			a, b := snap.Evaluate("small", u), snap.Evaluate("large", u)
			switch {
			case a.Rule == 0 && (b.Rule != 0 || b.Variant != a.Variant):
				t.Fatalf("trial %d (%d%% → %d%%): %s had %s and then %s (rule %d)", trial, k, m, u[unitAttr], a.Variant, b.Variant, b.Rule)
			case a.Rule != 0 && b.Rule == 0:
				added++
			}
		}
		if share, want := 100*float64(added)/population, float64(m-k); math.Abs(share-want) > 0.5 {
			t.Errorf("trial %d (%d%% → %d%%): added %.2f%% of units, want %.0f%% ± 0.5", trial, k, m, share, want)
		}
	}
}

// TestTableChangeMovesExactlyChangedBuckets: changing an allocation table
// moves exactly the units whose arm bucket changed variant; with the
// fewest-moves table, 34/33/33 → 50/25/25 moves the total-variation
// distance (16%) ± 0.3 points.
func TestTableChangeMovesExactlyChangedBuckets(t *testing.T) {
	phase1 := []flags.VariantRange{
		{From: 0, To: 3400, Variant: "off"}, {From: 3400, To: 6700, Variant: "handoff"}, {From: 6700, To: 10000, Variant: "inline"},
	}
	rng := rand.New(rand.NewPCG(12, 4))
	tests := []struct {
		name       string
		before     []flags.VariantRange
		after      []flags.VariantRange
		wantShare  float64 // moved share of the experiment's units, in percent; < 0 when not pinned
		wantMargin float64
	}{
		{"fewest moves 34/33/33 → 50/25/25", phase1, expTable, 16, 0.3},
		{"re-laid contiguous 34/33/33 → 50/25/25", phase1, []flags.VariantRange{
			{From: 0, To: 5000, Variant: "off"}, {From: 5000, To: 7500, Variant: "handoff"}, {From: 7500, To: 10000, Variant: "inline"},
		}, 24, 0.3},
		{"random tables", randomTable(rng), randomTable(rng), -1, 0},
		{"unchanged", phase1, phase1, 0, 0},
	}
	all := []flags.BucketRange{{From: 0, To: bucket.Scale}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := mustCompile(t, flags.State{Flags: []flags.Flag{sampledFlag("before", all, tt.before), sampledFlag("after", all, tt.after)}})
			moved := 0
			for i := range population {
				u := fmt.Sprintf("ac-%d", i)
				ctx := map[string]any{unitAttr: u}
				a, b := snap.Evaluate("before", ctx), snap.Evaluate("after", ctx)
				arm := bucket.Bucket(bucket.V1, expSalt, u)
				if changed := armOf(tt.before, arm) != armOf(tt.after, arm); (a.Variant != b.Variant) != changed {
					t.Fatalf("%s (arm bucket %d): %s → %s, but the table changed that bucket: %v", u, arm, a.Variant, b.Variant, changed)
				}
				if a.Variant != b.Variant {
					moved++
				}
			}
			if tt.wantShare >= 0 {
				if share := 100 * float64(moved) / population; math.Abs(share-tt.wantShare) > tt.wantMargin {
					t.Errorf("moved %.2f%% of units, want %.1f%% ± %.1f", share, tt.wantShare, tt.wantMargin)
				}
			}
		})
	}
}

// randomTable cuts the scale into 2 to 9 ranges given to three arms.
func randomTable(rng *rand.Rand) []flags.VariantRange {
	cuts := map[uint32]bool{}
	for range 1 + rng.IntN(8) {
		cuts[1+uint32(rng.IntN(bucket.Scale-1))] = true
	}
	points := []uint32{0, bucket.Scale}
	for c := range cuts {
		points = append(points, c)
	}
	slices.Sort(points)
	var out []flags.VariantRange
	for i := 1; i < len(points); i++ {
		out = append(out, flags.VariantRange{From: points[i-1], To: points[i], Variant: []string{"off", "handoff", "inline"}[rng.IntN(3)]})
	}
	return out
}

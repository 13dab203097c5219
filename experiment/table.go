package experiment

import (
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// Table returns a first phase's arm table: cumulative ranges of the arm
// scale in arm declaration order (weights in basis points are bucket
// counts), arms of weight 0 left out. With arms {off: 34, handoff: 33,
// inline: 33}, off has buckets 0–3399, handoff 3400–6699, inline
// 6700–9999. The weights must sum to 100%.
func Table(arms []Arm) []flags.VariantRange {
	var t []flags.VariantRange
	var next uint32
	for _, a := range arms {
		if a.Weight <= 0 {
			continue
		}
		t = appendRange(t, next, next+uint32(a.Weight), a.Variant)
		next += uint32(a.Weight)
	}
	return t
}

// Reallocate returns the arm table for new weights that moves the fewest
// units from the table old: every arm keeps its lowest buckets up to its
// new weight (all of them when it grows), and the buckets arms give up
// (the surplus of shrinking arms, all of a removed arm's) go, lowest
// first, to the arms that grow, in the new arms' declaration order, each
// up to its new weight. Adjacent ranges of one arm are merged; an arm may
// hold several ranges. The share of units that change arm is exactly the
// total-variation distance between the tables' weights (see
// TotalVariation), which Reallocate returns in basis points of the
// experiment's units. The weights of arms must sum to 100%.
func Reallocate(old []flags.VariantRange, arms []Arm) ([]flags.VariantRange, flags.Percent) {
	want := make(map[string]uint32, len(arms))
	for _, a := range arms {
		if a.Weight > 0 {
			want[a.Variant] += uint32(a.Weight)
		}
	}
	// kept counts the buckets each arm keeps (its lowest, in table
	// order); free collects the buckets given up, in order.
	kept := make(map[string]uint32, len(arms))
	var t []flags.VariantRange
	var free []flags.BucketRange
	for _, r := range old {
		keep := min(r.To-r.From, want[r.Variant]-min(want[r.Variant], kept[r.Variant]))
		kept[r.Variant] += keep
		if keep > 0 {
			t = appendRange(t, r.From, r.From+keep, r.Variant)
		}
		if r.From+keep < r.To {
			free = append(free, flags.BucketRange{From: r.From + keep, To: r.To})
		}
	}
	var moved uint32
	for _, a := range arms {
		need := want[a.Variant] - min(want[a.Variant], kept[a.Variant])
		kept[a.Variant] += need
		for need > 0 && len(free) > 0 {
			r := &free[0]
			n := min(need, r.To-r.From)
			t = insertRange(t, r.From, r.From+n, a.Variant)
			moved += n
			need -= n
			if r.From += n; r.From == r.To {
				free = free[1:]
			}
		}
	}
	return t, flags.Percent(moved)
}

// TotalVariation returns the total-variation distance between two sets of
// arm weights, ½·Σ|w′ᵢ − wᵢ| over the arms of either (an arm missing from
// one has weight 0 there), in basis points: the share of an experiment's
// units that Reallocate moves between arms. 34/33/33 → 50/25/25 is 1600
// (16%).
func TotalVariation(old, new []Arm) flags.Percent {
	d := map[string]int{}
	for _, a := range old {
		d[a.Variant] -= int(a.Weight)
	}
	for _, a := range new {
		d[a.Variant] += int(a.Weight)
	}
	var sum int
	for _, v := range d {
		sum += abs(v)
	}
	return flags.Percent(sum / 2)
}

// Weights returns the arms a table serves with their weights (their bucket
// counts), in the order of each arm's first range.
func Weights(t []flags.VariantRange) []Arm {
	var arms []Arm
	idx := map[string]int{}
	for _, r := range t {
		i, ok := idx[r.Variant]
		if !ok {
			i = len(arms)
			idx[r.Variant] = i
			arms = append(arms, Arm{Variant: r.Variant})
		}
		arms[i].Weight += flags.Percent(r.To - r.From)
	}
	return arms
}

// MovedUnits counts the units among units (values of the experiment's
// bucketing attribute, as known from its exposures) whose arm differs
// between the arm tables old and new under the experiment's salt with
// bucketing version v: what a change of weights would do to the units seen
// so far, for a dry run.
func MovedUnits(v bucket.Version, salt string, units []string, old, new []flags.VariantRange) int {
	n := 0
	for _, u := range units {
		b := bucket.Bucket(v, salt, u)
		if ArmAt(old, b) != ArmAt(new, b) {
			n++
		}
	}
	return n
}

// ArmAt returns the arm a table gives bucket b, or "" when no range holds
// it.
func ArmAt(t []flags.VariantRange, b uint32) string {
	for _, r := range t {
		if b >= r.From && b < r.To {
			return r.Variant
		}
	}
	return ""
}

// appendRange appends [from, to) of arm to t, merged with the last range
// when adjacent and of the same arm.
func appendRange(t []flags.VariantRange, from, to uint32, arm string) []flags.VariantRange {
	if n := len(t); n > 0 && t[n-1].To == from && t[n-1].Variant == arm {
		t[n-1].To = to
		return t
	}
	return append(t, flags.VariantRange{From: from, To: to, Variant: arm})
}

// insertRange inserts [from, to) of arm into the sorted, non-overlapping
// t, merging it with adjacent ranges of the same arm.
func insertRange(t []flags.VariantRange, from, to uint32, arm string) []flags.VariantRange {
	i := 0
	for i < len(t) && t[i].From < from {
		i++
	}
	if i > 0 && t[i-1].To == from && t[i-1].Variant == arm {
		t[i-1].To = to
		if i < len(t) && t[i].From == to && t[i].Variant == arm {
			t[i-1].To = t[i].To
			t = append(t[:i], t[i+1:]...)
		}
		return t
	}
	if i < len(t) && t[i].From == to && t[i].Variant == arm {
		t[i].From = from
		return t
	}
	t = append(t, flags.VariantRange{})
	copy(t[i+1:], t[i:])
	t[i] = flags.VariantRange{From: from, To: to, Variant: arm}
	return t
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

package experiment

import (
	"fmt"
	"slices"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// CheckAllocation checks a phase given from outside (a configuration file
// that carries the allocation export wrote) before the control plane stores
// it as an experiment's current phase, so that every unit keeps the arm it
// had where the file came from:
//
//   - its Buckets are sorted, non-empty, non-overlapping ranges within the
//     10,000-bucket scale, as many buckets as its Traffic (ErrInvalid);
//   - its Table covers the arm scale [0, 10000) exactly with sorted,
//     non-overlapping ranges, and each arm of positive weight among its
//     Arms owns exactly its weight in buckets, no other arm any
//     (ErrInvalid);
//   - when hold is true (the experiment is to be running or paused), no
//     bucket is the layer's holdout or owned by another running or paused
//     experiment of the layer among others (ErrLayerFull; the experiment
//     key is skipped there).
func CheckAllocation(l Layer, others []Experiment, key string, p *Phase, hold bool) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("experiment %s: phase %d's allocation: %s: %w", key, p.Number, fmt.Sprintf(format, args...), ErrInvalid)
	}
	var next uint32
	for i, r := range p.Buckets {
		switch {
		case r.From >= r.To || r.To > bucket.Scale:
			return invalid("layer bucket range %s is empty or outside 0–%d", rangeText(r.From, r.To), bucket.Scale-1)
		case i > 0 && r.From < next:
			return invalid("layer bucket range %s overlaps or precedes the range before it", rangeText(r.From, r.To))
		}
		next = r.To
	}
	if n := size(p.Buckets); n != uint32(p.Traffic) {
		return invalid("%d layer buckets (%s%%) for a traffic of %s%%", n, flags.Percent(n), p.Traffic)
	}
	t := slices.Clone(p.Table)
	slices.SortFunc(t, func(a, b flags.VariantRange) int { return int(a.From) - int(b.From) })
	next = 0
	for _, r := range t {
		switch {
		case r.From >= r.To || r.To > bucket.Scale:
			return invalid("arm range %s of %s is empty or outside 0–%d", rangeText(r.From, r.To), r.Variant, bucket.Scale-1)
		case r.From < next:
			return invalid("arm range %s of %s overlaps another", rangeText(r.From, r.To), r.Variant)
		case r.From > next:
			return invalid("arm buckets %s are in no arm's range", rangeText(next, r.From))
		}
		next = r.To
	}
	if next != bucket.Scale {
		return invalid("arm buckets %s are in no arm's range", rangeText(next, bucket.Scale))
	}
	want := map[string]flags.Percent{}
	for _, a := range p.Arms {
		if a.Weight > 0 {
			want[a.Variant] += a.Weight
		}
	}
	got := Weights(t)
	for _, a := range got {
		if w, ok := want[a.Variant]; !ok || w != a.Weight {
			return invalid("arm %s owns %s%% of the arm scale, its weight is %s%%", a.Variant, a.Weight, w)
		}
	}
	if len(got) != len(want) {
		return invalid("the table serves %s, the arms are %s", armList(got), armList(p.Arms))
	}
	if !hold {
		return nil
	}
	occupied := Occupied(l, others, key)
	if size(union(occupied, p.Buckets)) != size(occupied)+size(p.Buckets) {
		return fmt.Errorf("experiment %s: phase %d's layer buckets overlap layer %s's holdout (%s%%) or buckets a running or paused experiment of it owns: %w",
			key, p.Number, l.Key, l.Holdout, ErrLayerFull)
	}
	return nil
}

// SameAllocation reports whether two phases have the same allocation: the
// same layer buckets and the same arm table, whatever the order of their
// ranges and however adjacent ranges are split.
func SameAllocation(a, b *Phase) bool {
	return slices.Equal(union(nil, a.Buckets), union(nil, b.Buckets)) &&
		slices.Equal(NormalTable(a.Table), NormalTable(b.Table))
}

// NormalTable returns an arm table's ranges sorted, with adjacent ranges of
// one arm merged: the form in which two tables that place every bucket
// alike are equal.
func NormalTable(t []flags.VariantRange) []flags.VariantRange {
	s := slices.Clone(t)
	slices.SortFunc(s, func(a, b flags.VariantRange) int { return int(a.From) - int(b.From) })
	var out []flags.VariantRange
	for _, r := range s {
		if r.From < r.To {
			out = appendRange(out, r.From, r.To, r.Variant)
		}
	}
	return out
}

// rangeText renders the half-open range [from, to) as people read bucket
// ranges: "500–3499", inclusive.
func rangeText(from, to uint32) string {
	if to <= from {
		return fmt.Sprintf("%d–%d (empty)", from, int(to)-1)
	}
	return fmt.Sprintf("%d–%d", from, to-1)
}

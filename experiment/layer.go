package experiment

import (
	"slices"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// OwnLayerPrefix starts the key of the layer an experiment without a
// declared layer runs alone in: "experiment-" + the experiment's key.
const OwnLayerPrefix = "experiment-"

// LayerOf returns the layer an experiment runs in: its declared layer from
// layers, or, for an experiment without one, a layer of its own with key
// OwnLayerPrefix + Key, the bucketBy of the experiment's flag in st and no
// holdout. ok is false when the declared layer is not in layers, or when
// an experiment without a layer names a flag that st lacks (st may be nil).
//
// A declared layer's bucketBy may differ from the flag's: the experiment
// then places its units by the layer's attribute (its sample and its arm
// table both use it), and the flag's own rules keep theirs.
func LayerOf(e *Experiment, layers []Layer, st *flags.State) (Layer, bool) {
	if e.Layer != "" {
		for _, l := range layers {
			if l.Key == e.Layer {
				return l, true
			}
		}
		return Layer{}, false
	}
	l := Layer{Key: OwnLayerPrefix + e.Key}
	if st == nil {
		return l, false
	}
	f, ok := st.Flag(e.Flag)
	if !ok {
		return l, false
	}
	l.BucketBy = f.BucketBy
	return l, true
}

// layerKey is the key of the layer e runs in, declared or its own.
func (e *Experiment) layerKey() string {
	if e.Layer != "" {
		return e.Layer
	}
	return OwnLayerPrefix + e.Key
}

// holds reports whether the experiment owns layer buckets: it is running
// or paused and has a phase.
func (e *Experiment) holds() bool {
	return (e.Status == Running || e.Status == Paused) && len(e.Phases) > 0
}

// HoldoutBuckets returns the layer's reserved buckets: the first Holdout buckets
// of the 10,000-bucket scale, [0, Holdout) (Holdout counts basis points,
// so a 5% holdout is buckets 0–499). No experiment of the layer ever owns
// one of them.
func (l *Layer) HoldoutBuckets() []flags.BucketRange {
	if l.Holdout <= 0 {
		return nil
	}
	return []flags.BucketRange{{From: 0, To: uint32(min(l.Holdout, flags.Hundred))}}
}

// Occupied returns the layer buckets that an experiment other than
// except may not take: the holdout and the current buckets of every
// running or paused experiment of the layer among exps, merged and
// sorted. exps may hold experiments of other layers; they are skipped.
func Occupied(l Layer, exps []Experiment, except string) []flags.BucketRange {
	set := l.HoldoutBuckets()
	for i := range exps {
		o := &exps[i]
		if o.Key == except || o.layerKey() != l.Key || !o.holds() {
			continue
		}
		set = union(set, o.Current().Buckets)
	}
	return set
}

// Free returns the number of buckets of the layer that neither its holdout
// nor a running or paused experiment among exps owns.
func Free(l Layer, exps []Experiment) int {
	return bucket.Scale - int(size(Occupied(l, exps, "")))
}

// size counts the buckets of a set.
func size(set []flags.BucketRange) uint32 {
	var n uint32
	for _, r := range set {
		n += r.To - r.From
	}
	return n
}

// union returns the sorted, merged union of two sets of ranges.
func union(a, b []flags.BucketRange) []flags.BucketRange {
	all := append(slices.Clone(a), b...)
	slices.SortFunc(all, func(x, y flags.BucketRange) int { return int(x.From) - int(y.From) })
	var out []flags.BucketRange
	for _, r := range all {
		if r.From >= r.To {
			continue
		}
		if n := len(out); n > 0 && r.From <= out[n-1].To {
			out[n-1].To = max(out[n-1].To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

// takeFree returns the lowest n buckets that are not in occupied (sorted
// and merged), and false with the number of free buckets when fewer than n
// are free.
func takeFree(occupied []flags.BucketRange, n uint32) ([]flags.BucketRange, uint32, bool) {
	var taken []flags.BucketRange
	var got, next uint32
	gap := func(from, to uint32) {
		if got == n || from >= to {
			return
		}
		to = min(to, from+(n-got))
		taken = append(taken, flags.BucketRange{From: from, To: to})
		got += to - from
	}
	for _, r := range occupied {
		gap(next, r.From)
		next = max(next, r.To)
	}
	gap(next, bucket.Scale)
	if got < n {
		return nil, bucket.Scale - size(occupied), false
	}
	return taken, got, true
}

// prefix returns the lowest n buckets of a sorted set.
func prefix(set []flags.BucketRange, n uint32) []flags.BucketRange {
	var out []flags.BucketRange
	for _, r := range set {
		if n == 0 {
			break
		}
		to := min(r.To, r.From+n)
		out = append(out, flags.BucketRange{From: r.From, To: to})
		n -= to - r.From
	}
	return out
}

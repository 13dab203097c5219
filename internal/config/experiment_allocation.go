package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

// An experiment's allocation field is state, as a rollout plan's progress
// is: export writes the allocation of the current phase of every
// experiment that has one (running, paused, or stopped after running),
//
//	allocation:
//	  layerBuckets: [500-3499]
//	  table: {"off": [0-3399, 5900-6699, 9200-9999], handoff: [3400-5899], inline: [6700-9199]}
//
// the layer buckets the phase owns and, for each arm, the ranges of the
// arm scale it owns; ranges are inclusive, as ramp experiments get shows
// them. Apply uses it when it creates the experiment, storing that phase
// as it is, so that a configuration moved to another database keeps every
// unit's arm; for an experiment that exists it must be the stored current
// phase's allocation.

// allocationFields are the fields of an experiment's allocation.
var allocationFields = []string{"layerBuckets", "table"}

// allocationComment is the comment export writes above an allocation.
const allocationComment = "that phase's layer buckets and arm table (ranges inclusive): apply uses them only when it creates the experiment, so every unit keeps its arm"

// allocation is an experiment's allocation as a file states it.
type allocation struct {
	// buckets are sorted and merged half-open ranges of the layer.
	buckets []flags.BucketRange
	// table is the arm table, sorted, adjacent ranges of an arm merged.
	table []flags.VariantRange
	// arms are the table's arms in file order with the buckets each owns.
	arms []experiment.Arm
	// ok: decoded without a problem, so that validation may look at it.
	ok bool
}

// Allocation returns the current phase the file states for the experiment
// (phase: N with allocation:, as export writes them): its number, its
// layer buckets, its arm table, its traffic (the number of its buckets)
// and its arms (the declared arms when the table gives each its weight,
// else the table's, in file order). Started, Ended and StartedBy are not
// set. ok is false when the file gives the experiment no allocation.
func (d *Document) Allocation(key string) (p experiment.Phase, ok bool) {
	i := d.experimentIndex(key)
	if i < 0 || d.expDecls[i].alloc == nil {
		return experiment.Phase{}, false
	}
	return d.allocationPhase(i), true
}

// allocationPhase builds the phase the i-th experiment's allocation states.
func (d *Document) allocationPhase(i int) experiment.Phase {
	e, a := &d.experiments[i], d.expDecls[i].alloc
	var traffic uint32
	for _, r := range a.buckets {
		traffic += r.To - r.From
	}
	arms := slices.Clone(e.Arms)
	if !sameWeights(arms, a.arms) {
		arms = slices.Clone(a.arms)
	}
	return experiment.Phase{Number: d.expDecls[i].phase, Traffic: flags.Percent(traffic), Arms: arms,
		Buckets: slices.Clone(a.buckets), Table: slices.Clone(a.table)}
}

// sameWeights reports whether the arms of positive weight of declared are
// exactly those of table, with the same weights.
func sameWeights(declared, table []experiment.Arm) bool {
	want := map[string]flags.Percent{}
	for _, a := range declared {
		if a.Weight > 0 {
			want[a.Variant] = a.Weight
		}
	}
	if len(want) != len(table) {
		return false
	}
	for _, a := range table {
		if want[a.Variant] != a.Weight {
			return false
		}
	}
	return true
}

// allocation decodes an experiment's allocation: its layerBuckets, sorted
// and without overlaps, and its table, a mapping of arm → ranges that
// covers the arm scale exactly. Each range is FROM-TO (inclusive) or a
// single bucket.
func (d *decoder) allocation(n *yaml.Node, path string) *allocation {
	before := len(d.problems)
	a := &allocation{}
	fs, _ := d.fields(n, path, allocationFields)
	var haveBuckets, haveTable bool
	for _, f := range fs {
		p := join(path, f.name)
		switch f.name {
		case "layerBuckets":
			haveBuckets = true
			a.buckets = d.layerBuckets(f.v, p)
		case "table":
			haveTable = true
			a.table, a.arms = d.armTable(f.v, p)
		}
	}
	if len(d.problems) == before {
		switch {
		case !haveBuckets:
			d.errorf(n, join(path, "layerBuckets"), "layerBuckets is required: the layer buckets the phase owns, such as [500-3499]")
		case !haveTable:
			d.errorf(n, join(path, "table"), "table is required: the ranges of the arm scale each arm owns, such as {\"off\": [0-4999], inline: [5000-9999]}")
		}
	}
	a.ok = len(d.problems) == before
	return a
}

// layerBuckets decodes the layer buckets of an allocation.
func (d *decoder) layerBuckets(n *yaml.Node, path string) []flags.BucketRange {
	items, ok := d.items(n, path, "a list of bucket ranges such as [500-3499]")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(n, path, "no layer buckets: the phase of a running, paused or stopped experiment owns at least one")
		return nil
	}
	var out []flags.BucketRange
	for i, it := range items {
		ip := index(path, i)
		r, ok := d.bucketRange(it, ip)
		if !ok {
			continue
		}
		if k := len(out); k > 0 && r.From < out[k-1].To {
			d.errorf(it, ip, "layer buckets %s overlap or precede the range before them (%s): list the ranges sorted, without overlaps",
				inclusive(r.From, r.To), inclusive(out[k-1].From, out[k-1].To))
			continue
		}
		if k := len(out); k > 0 && r.From == out[k-1].To {
			out[k-1].To = r.To
			continue
		}
		out = append(out, r)
	}
	return out
}

// tableRange is a decoded range of an arm table with where it was written.
type tableRange struct {
	flags.VariantRange
	n    *yaml.Node
	path string
}

// armTable decodes an allocation's table, arm → ranges, and checks that
// the ranges cover the arm scale once.
func (d *decoder) armTable(n *yaml.Node, path string) ([]flags.VariantRange, []experiment.Arm) {
	es, ok := d.entries(n, path)
	if !ok {
		return nil, nil
	}
	if len(es) == 0 {
		d.errorf(n, path, "an empty table: each arm owns ranges of the arm scale, such as {\"off\": [0-4999], inline: [5000-9999]}")
		return nil, nil
	}
	before := len(d.problems)
	var all []tableRange
	var arms []experiment.Arm
	for _, e := range es {
		ap := join(path, e.name)
		items, ok := d.items(e.v, ap, "a list of ranges of the arm scale such as [0-3399]")
		if !ok {
			continue
		}
		if len(items) == 0 {
			d.errorf(e.v, ap, "arm %s owns no range: leave out an arm of weight 0", clip(e.name))
			continue
		}
		var total, last uint32
		for i, it := range items {
			ip := index(ap, i)
			r, ok := d.bucketRange(it, ip)
			if !ok {
				continue
			}
			if i > 0 && r.From < last {
				d.errorf(it, ip, "range %s of arm %s precedes or overlaps the one before it: list an arm's ranges sorted", inclusive(r.From, r.To), clip(e.name))
				continue
			}
			last = r.To
			total += r.To - r.From
			all = append(all, tableRange{flags.VariantRange{From: r.From, To: r.To, Variant: e.name}, it, ip})
		}
		arms = append(arms, experiment.Arm{Variant: e.name, Weight: flags.Percent(total)})
	}
	if len(d.problems) > before {
		return nil, nil
	}
	slices.SortStableFunc(all, func(a, b tableRange) int { return int(a.From) - int(b.From) })
	var next uint32
	var prev *tableRange
	for i := range all {
		r := &all[i]
		switch {
		case r.From < next:
			d.errorf(r.n, r.path, "range %s of arm %s overlaps range %s of arm %s: an arm-scale bucket belongs to one arm",
				inclusive(r.From, r.To), clip(r.Variant), inclusive(prev.From, prev.To), clip(prev.Variant))
			return nil, nil
		case r.From > next:
			d.errorf(r.n, r.path, "arm-scale buckets %s are in no arm's range: the table covers 0–%d exactly", inclusive(next, r.From), bucket.Scale-1)
			return nil, nil
		}
		next, prev = r.To, r
	}
	if next < bucket.Scale {
		d.errorf(n, path, "arm-scale buckets %s are in no arm's range: the table covers 0–%d exactly", inclusive(next, bucket.Scale), bucket.Scale-1)
		return nil, nil
	}
	table := make([]flags.VariantRange, len(all))
	for i, r := range all {
		table[i] = r.VariantRange
	}
	return experiment.NormalTable(table), arms
}

// bucketRange decodes FROM-TO (inclusive, FROM at most TO) or a single
// bucket N on the 10,000-bucket scale, as the half-open [FROM, TO+1).
func (d *decoder) bucketRange(n *yaml.Node, path string) (flags.BucketRange, bool) {
	w, ok := d.word(n, path, "a bucket range such as 500-3499")
	if !ok {
		return flags.BucketRange{}, false
	}
	from, to, found := strings.Cut(strings.ReplaceAll(w, "–", "-"), "-")
	if !found {
		to = from
	}
	f, errF := strconv.ParseUint(strings.TrimSpace(from), 10, 32)
	t, errT := strconv.ParseUint(strings.TrimSpace(to), 10, 32)
	switch {
	case errF != nil || errT != nil:
		d.errorf(n, path, "want a bucket range FROM-TO such as 500-3499 (inclusive), got %q", clip(w))
	case f > t:
		d.errorf(n, path, "bucket range %q runs backwards: FROM is at most TO", clip(w))
	case t >= bucket.Scale:
		d.errorf(n, path, "bucket range %q is outside 0–%d", clip(w), bucket.Scale-1)
	default:
		return flags.BucketRange{From: uint32(f), To: uint32(t) + 1}, true
	}
	return flags.BucketRange{}, false
}

// inclusive renders the half-open [from, to) as the file writes it.
func inclusive(from, to uint32) string {
	if to == from+1 {
		return strconv.FormatUint(uint64(from), 10)
	}
	return fmt.Sprintf("%d-%d", from, to-1)
}

// allocationNode encodes the allocation of an experiment's current phase:
// its layer buckets and its arm table, arm by arm in the phase's arm
// order.
func (e *encoder) allocationNode(p *experiment.Phase) *yaml.Node {
	m := mapping(false)
	bs := sequence(true)
	for _, r := range p.Buckets {
		bs.Content = append(bs.Content, rangeNode(r.From, r.To))
	}
	add(m, "layerBuckets", bs)
	table := experiment.NormalTable(p.Table)
	var order []string
	for _, a := range p.Arms {
		if !slices.Contains(order, a.Variant) {
			order = append(order, a.Variant)
		}
	}
	for _, a := range experiment.Weights(table) {
		if !slices.Contains(order, a.Variant) {
			order = append(order, a.Variant)
		}
	}
	tm := mapping(true)
	for _, arm := range order {
		rs := sequence(true)
		for _, r := range table {
			if r.Variant == arm {
				rs.Content = append(rs.Content, rangeNode(r.From, r.To))
			}
		}
		if len(rs.Content) > 0 {
			add(tm, arm, rs)
		}
	}
	add(m, "table", tm)
	return m
}

// rangeNode writes the half-open [from, to) as FROM-TO, inclusive, a
// string that needs no quotes.
func rangeNode(from, to uint32) *yaml.Node {
	return scalar(tagStr, fmt.Sprintf("%d-%d", from, to-1))
}

// allocationProblems checks the i-th experiment's allocation against its
// declaration: the table's arms and their shares against the arms and
// weights (for a running or paused experiment; a stopped one's arms may
// have been edited since: its table's arms need only be variants of the
// flag), the number of layer buckets against the traffic (at most the
// ceiling with a ramp-up).
func (d *Document) allocationProblems(ps []Problem, i int, resolved *flags.State) []Problem {
	e, a := &d.experiments[i], d.expDecls[i].alloc
	if a == nil || !a.ok {
		return ps
	}
	path := index("experiments", i) + ".allocation"
	if e.Status == experiment.Stopped {
		var f *flags.Flag
		if resolved != nil {
			f, _ = resolved.Flag(e.Flag)
		}
		for _, arm := range a.arms {
			if f != nil && f.VariantIndex(arm.Variant) < 0 {
				ps = d.appendLocated(ps, path+".table."+arm.Variant, fmt.Sprintf("arm %q is not a variant of flag %s", clip(arm.Variant), clip(f.Key)))
			}
		}
		return ps
	}
	declared := map[string]flags.Percent{}
	for _, arm := range e.Arms {
		declared[arm.Variant] += arm.Weight
	}
	inTable := map[string]bool{}
	for _, arm := range a.arms {
		inTable[arm.Variant] = true
		ap := path + ".table." + arm.Variant
		switch w, ok := declared[arm.Variant]; {
		case !ok || w == 0:
			ps = d.appendLocated(ps, ap, fmt.Sprintf("%q is not an arm of positive weight (arms: %s)", clip(arm.Variant), armWeights(e.Arms)))
		case w != arm.Weight:
			ps = d.appendLocated(ps, ap, fmt.Sprintf("arm %s owns %d buckets of the arm scale (%s%%), but its weight is %s%%: an arm owns its weight in buckets (1%% is 100)",
				clip(arm.Variant), arm.Weight, arm.Weight, w))
		}
	}
	for _, arm := range e.Arms {
		if arm.Weight > 0 && !inTable[arm.Variant] {
			ps = d.appendLocated(ps, path+".table", fmt.Sprintf("arm %s (weight %s%%) owns no range of the table", clip(arm.Variant), arm.Weight))
		}
	}
	var n uint32
	for _, r := range a.buckets {
		n += r.To - r.From
	}
	bp := path + ".layerBuckets"
	switch {
	case len(e.RampUp) == 0 && n != uint32(e.Traffic):
		ps = d.appendLocated(ps, bp, fmt.Sprintf("%d layer buckets (%s%%), but traffic is %s%%: a phase owns its traffic in buckets (1%% is 100)",
			n, flags.Percent(n), e.Traffic))
	case len(e.RampUp) > 0 && n > uint32(e.Traffic):
		ps = d.appendLocated(ps, bp, fmt.Sprintf("%d layer buckets (%s%%), above the ramp-up's ceiling traffic %s%%", n, flags.Percent(n), e.Traffic))
	}
	return ps
}

// armWeights renders arms with their weights: "off 34%, handoff 33%".
func armWeights(arms []experiment.Arm) string {
	parts := make([]string, len(arms))
	for i, a := range arms {
		parts[i] = fmt.Sprintf("%s %s%%", a.Variant, a.Weight)
	}
	return strings.Join(parts, ", ")
}

// bucketOverlaps checks the layer buckets of the experiments the file
// creates running or paused with an allocation (restored, indexes of the
// file's experiments) against their layer's holdout and the current
// buckets of the layer's other running or paused experiments, the file's
// and the stored ones (exps, the file's first, as the store would hold
// them), and locates each overlap at the allocation's layerBuckets, naming
// what it overlaps.
func (d *Document) bucketOverlaps(ps []Problem, restored []int, resolved *flags.State, layers []experiment.Layer, exps []experiment.Experiment) []Problem {
	bucketsOf := func(j int) []flags.BucketRange {
		if slices.Contains(restored, j) {
			return d.expDecls[j].alloc.buckets
		}
		if cur := exps[j].Current(); cur != nil {
			return cur.Buckets
		}
		return nil
	}
	layerKey := func(e *experiment.Experiment) string {
		if e.Layer != "" {
			return e.Layer
		}
		return experiment.OwnLayerPrefix + e.Key
	}
	for _, i := range restored {
		e := &exps[i]
		if e.Status != experiment.Running && e.Status != experiment.Paused {
			continue
		}
		own := bucketsOf(i)
		var with []string
		if l, ok := experiment.LayerOf(e, layers, resolved); ok {
			if r, hit := overlap(own, l.HoldoutBuckets()); hit {
				with = append(with, fmt.Sprintf("layer %s's holdout (buckets %s)", clip(l.Key), inclusive(r.From, r.To)))
			}
		}
		for j := range exps {
			o := &exps[j]
			if j == i || layerKey(o) != layerKey(e) || o.Status != experiment.Running && o.Status != experiment.Paused {
				continue
			}
			if r, hit := overlap(own, bucketsOf(j)); hit {
				where := "stored"
				if j < len(d.experiments) {
					where = index("experiments", j)
				}
				with = append(with, fmt.Sprintf("%s experiment %s (%s, buckets %s)", o.Status, clip(o.Key), where, inclusive(r.From, r.To)))
			}
		}
		if len(with) > 0 {
			ps = d.appendLocated(ps, index("experiments", i)+".allocation.layerBuckets", fmt.Sprintf(
				"the layer buckets overlap %s: a bucket of layer %s belongs to one experiment or to the holdout (apply an export into a database where the layer's buckets are free)",
				strings.Join(with, ", "), clip(layerKey(e))))
		}
	}
	return ps
}

// overlap returns the first range two sorted sets of ranges share.
func overlap(a, b []flags.BucketRange) (flags.BucketRange, bool) {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		from, to := max(a[i].From, b[j].From), min(a[i].To, b[j].To)
		if from < to {
			return flags.BucketRange{From: from, To: to}, true
		}
		if a[i].To <= b[j].To {
			i++
		} else {
			j++
		}
	}
	return flags.BucketRange{}, false
}

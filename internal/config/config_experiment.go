package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
)

// Layers returns the experiment layers the file declares, in file order.
// The slice is shared with the document; treat it as read-only.
func (d *Document) Layers() []experiment.Layer { return d.layers }

// Experiments returns the experiments the file declares, in file order,
// with their declared fields. Status and Shipped are set only when the
// file states them (status:, ship:), so that apply keeps the stored
// lifecycle otherwise; Phases are never set (see Phase, NextPhase and
// Allocation). The
// slice is shared with the document; treat it as read-only.
func (d *Document) Experiments() []experiment.Experiment { return d.experiments }

// NextPhase reports whether the file says phase: next for the experiment:
// its changes to a running or paused experiment's locked fields (audience,
// arms, weights, traffic) are to be made as a new phase rather than
// refused.
func (d *Document) NextPhase(key string) bool {
	i := d.experimentIndex(key)
	return i >= 0 && d.expDecls[i].next
}

// Phase returns the phase number the file states for the experiment
// (phase: N, which export writes: the phase current when it exported), and
// whether it states one. ValidateAgainst checks it against the stored
// experiment's current phase.
func (d *Document) Phase(key string) (number int, ok bool) {
	i := d.experimentIndex(key)
	if i < 0 || d.expDecls[i].phase == 0 {
		return 0, false
	}
	return d.expDecls[i].phase, true
}

// ExperimentPath returns the path of the experiment declared with key,
// such as experiments[1], for Locate and for Problem.Path; "" when the file
// does not declare it. With it, apply locates a refusal (a locked field
// changed without phase: next) at the field's line.
func (d *Document) ExperimentPath(key string) string {
	if i := d.experimentIndex(key); i >= 0 {
		return index("experiments", i)
	}
	return ""
}

// experimentIndex returns the index of the first experiment declared with
// key, or -1.
func (d *Document) experimentIndex(key string) int {
	for i := range d.experiments {
		if d.experiments[i].Key == key && i < len(d.expDecls) {
			return i
		}
	}
	return -1
}

// experimentProblems validates the layers and experiments the store would
// hold with experiment.Validate and the file's phase numbers against the
// stored ones.
func (d *Document) experimentProblems(resolved *flags.State, stored *ramp.Config, prune bool) []Problem {
	var storedLayers []experiment.Layer
	var storedExps []experiment.Experiment
	if stored != nil {
		storedLayers, storedExps = stored.Layers, stored.Experiments
	}
	if len(d.layers) == 0 && len(d.experiments) == 0 && (prune || len(storedLayers) == 0 && len(storedExps) == 0) {
		return nil
	}
	var ps []Problem
	layers := slices.Clone(d.layers)
	exps := slices.Clone(d.experiments)
	for i := range exps {
		e := &exps[i]
		j := slices.IndexFunc(storedExps, func(s experiment.Experiment) bool { return s.Key == e.Key })
		if j < 0 {
			continue
		}
		s := &storedExps[j]
		e.Phases = s.Phases
		if !d.expDecls[i].status {
			e.Status, e.Shipped, e.ShipVia = s.Status, s.Shipped, s.ShipVia
		}
		ps = d.checkPhase(ps, i, s)
	}
	// An experiment the file creates with the allocation export wrote is
	// checked in that phase. Its buckets are checked against the holdout
	// and the layer's other experiments below (bucketOverlaps), located
	// at its allocation; experiment.Validate sees the phase without them.
	var restored []int
	for i := range d.experiments {
		if e := &exps[i]; len(e.Phases) == 0 && d.expDecls[i].alloc != nil && d.expDecls[i].alloc.ok {
			ph := d.allocationPhase(i)
			ph.Buckets = nil
			e.Phases = []experiment.Phase{ph}
			restored = append(restored, i)
		}
		ps = d.allocationProblems(ps, i, resolved)
	}
	for i := range exps {
		// An experiment the file starts (status: running, or paused,
		// without a stored phase) is checked as apply will have started
		// it: in phase 1 with the declared traffic and arms, its buckets
		// not yet taken.
		if e := &exps[i]; (e.Status == experiment.Running || e.Status == experiment.Paused) && len(e.Phases) == 0 {
			e.Phases = []experiment.Phase{{Number: 1, Traffic: e.StartTraffic(), Arms: e.Arms}}
		}
	}
	if !prune {
		for _, l := range storedLayers {
			if !slices.ContainsFunc(layers, func(x experiment.Layer) bool { return x.Key == l.Key }) {
				layers = append(layers, l)
			}
		}
		for _, e := range storedExps {
			if !slices.ContainsFunc(exps, func(x experiment.Experiment) bool { return x.Key == e.Key }) {
				exps = append(exps, e)
			}
		}
	}
	ps = d.bucketOverlaps(ps, restored, resolved, layers, exps)
	for _, p := range experiment.Validate(resolved, layers, exps) {
		if p.Path == "" {
			ps = append(ps, Problem{Message: p.Message})
			continue
		}
		if name, rest, ok := d.storedOnly(p.Path, layers, exps); ok {
			if rest != "" {
				name += ": " + rest
			}
			ps = append(ps, Problem{Message: name + ": " + p.Message})
			continue
		}
		ps = d.appendLocated(ps, filePath(p.Path), p.Message)
	}
	return ps
}

// filePath turns a path of experiment.Validate into the file's spelling:
// the shipped arm is the ship field.
func filePath(path string) string {
	if rest, ok := strings.CutSuffix(path, ".shipped"); ok && strings.HasPrefix(rest, "experiments[") && !strings.Contains(rest, ".") {
		return rest + ".ship"
	}
	return path
}

// checkPhase checks the phase number the i-th experiment states against
// the stored experiment's current phase.
func (d *Document) checkPhase(ps []Problem, i int, s *experiment.Experiment) []Problem {
	n := d.expDecls[i].phase
	if n == 0 {
		return ps
	}
	path := index("experiments", i) + ".phase"
	cur := s.Current()
	switch {
	case cur == nil:
		return d.appendLocated(ps, path, fmt.Sprintf("experiment %s has not started: it has no phase %d (leave phase out)", clip(s.Key), n))
	case cur.Number != n:
		return d.appendLocated(ps, path, fmt.Sprintf(
			"experiment %s is in phase %d, not %d: the file was written before its current phase; export it again, or write phase: %d to keep the phase or phase: next to start one",
			clip(s.Key), cur.Number, n, cur.Number))
	}
	return ps
}

// storedOnly reports whether a validation path such as
// experiments[3].traffic is about a stored layer or experiment that the
// file does not declare (indexes past the file's), and if so names it and
// returns the rest of the path.
func (d *Document) storedOnly(path string, layers []experiment.Layer, exps []experiment.Experiment) (name, rest string, ok bool) {
	for _, list := range []struct {
		prefix, what string
		declared     int
		key          func(int) (string, bool)
	}{
		{"layers[", "stored layer", len(d.layers), func(i int) (string, bool) {
			if i < len(layers) {
				return layers[i].Key, true
			}
			return "", false
		}},
		{"experiments[", "stored experiment", len(d.experiments), func(i int) (string, bool) {
			if i < len(exps) {
				return exps[i].Key, true
			}
			return "", false
		}},
	} {
		after, found := strings.CutPrefix(path, list.prefix)
		if !found {
			continue
		}
		end := strings.IndexByte(after, ']')
		if end < 0 {
			return "", "", false
		}
		i, err := strconv.Atoi(after[:end])
		if err != nil || i < list.declared {
			return "", "", false
		}
		key, known := list.key(i)
		if !known {
			return "", "", false
		}
		return fmt.Sprintf("%s %s (not in the file)", list.what, key), strings.TrimPrefix(after[end+1:], "."), true
	}
	return "", "", false
}

package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
)

// The experiment part of an apply: the file's layers and experiments,
// validated by the config package with the rest of the file (file:line),
// are diffed against the stored ones and written in the apply's
// transaction.
//
//   - A new experiment is a draft, unless the file says status: running
//     (it is then started: "apply.create" then "experiment.start" in the
//     audit log) or status: stopped (stored stopped, serving its ship arm).
//     With the allocation export writes (allocation: with phase: N), a
//     new running, paused or stopped experiment is stored in phase N with
//     the file's layer buckets and arm table, so that every unit keeps
//     its arm (restore); without one, a running one starts afresh in
//     phase 1.
//   - A stored experiment's allocation is never changed by a file: an
//     allocation other than the stored current phase's is refused
//     (ramp.ErrRefused); the stored one is ignored.
//   - A draft or stopped experiment takes the file's declaration as it is;
//     a draft the file says is running is started.
//   - A running or paused experiment's audience, arms, weights and traffic
//     are locked within its phase: a change is refused (*LockedError,
//     ramp.ErrRefused) unless the file says phase: next for it, which makes
//     the change a new phase; raising the traffic alone (same weights, same
//     audience) needs no new phase: it adds units and keeps assignments.
//     Its flag, layer and salt never change (stop it and declare another).
//     Its status is moved only by the lifecycle commands: a file stating
//     another is noted (ExperimentNote) and left.
//   - --prune deletes the layers and experiments the file does not
//     declare, except a running or paused experiment (stop it first).
//   - A layer's bucketBy and salt are locked while an experiment of the
//     layer runs or is paused.

// ExperimentChange is a layer or experiment an apply creates, updates or
// deletes, or for a dry run would.
type ExperimentChange struct {
	// Kind is "layer" or "experiment".
	Kind   string       `json:"kind"`
	Key    string       `json:"key"`
	Action flags.Action `json:"action"`
	// Fields names what an update changes.
	Fields []string `json:"fields,omitempty"`
	// Start says the apply starts the experiment.
	Start bool `json:"start,omitempty"`
	// Traffic, when the running experiment's traffic changes, from → to.
	TrafficFrom *Percent `json:"trafficFrom,omitempty"`
	TrafficTo   *Percent `json:"trafficTo,omitempty"`
	// Phase is the phase the apply starts (phase: next), 0 for none;
	// Moved the share of the experiment's units that change arm with it.
	Phase int      `json:"phase,omitempty"`
	Moved *Percent `json:"moved,omitempty"`
	// Known counts the known units that change arm with the new phase.
	Known *KnownUnits `json:"knownUnits,omitempty"`
	// Allocation says the experiment is created in the phase the file
	// states (Phase, the phases before it not stored) with the file's
	// layer buckets and arm table, as export wrote them.
	Allocation bool `json:"allocation,omitempty"`
}

// ExperimentNote is an experiment whose status the file states otherwise
// than stored: apply leaves it (the lifecycle commands move it).
type ExperimentNote struct {
	Key    string            `json:"key"`
	File   experiment.Status `json:"file"`
	Stored experiment.Status `json:"stored"`
}

// experimentPlan is the experiment part of an apply's plan.
type experimentPlan struct {
	tx      *store.ApplyTx
	doc     *config.Document
	state   *flags.State // the state after the apply (its flags)
	now     time.Time
	actor   string
	layers  []experiment.Layer
	exps    []experiment.Experiment // as they will be, in stored order then new ones
	changes store.ExperimentChanges
	result  []ExperimentChange
	notes   []ExperimentNote
	same    int
}

// withExperiments completes an apply planned by plan (its result res and
// changes ch, nil when plan found nothing to change) with the layer and
// experiment changes, inside the apply's transaction, and returns the
// changes to write. The file was validated by plan, experiments included.
func (s *Service) withExperiments(ctx context.Context, tx *store.ApplyTx, req *ApplyRequest, res *ApplyResult, ch *store.Changes) (*store.Changes, error) {
	now := s.Now().UTC().Truncate(time.Microsecond)
	xch, err := planExperiments(tx, req, now, Actor(ctx), res)
	if err != nil || xch == nil {
		return ch, err
	}
	if ch == nil {
		ch = &store.Changes{}
	}
	ch.Experiments = xch
	return ch, nil
}

// planExperiments diffs the file's layers and experiments with the stored
// ones and returns the changes to write (nil for none), filling res.
func planExperiments(tx *store.ApplyTx, req *ApplyRequest, now time.Time, actor string, res *ApplyResult) (*store.ExperimentChanges, error) {
	doc := req.Doc
	storedLayers, storedExps, err := tx.ExperimentsAndLayers()
	if err != nil {
		return nil, err
	}
	if len(doc.Layers()) == 0 && len(doc.Experiments()) == 0 && (!req.Prune || len(storedLayers) == 0 && len(storedExps) == 0) {
		return nil, nil
	}
	cat, err := tx.Catalogue()
	if err != nil {
		return nil, err
	}
	desired := doc.Resolve(&cat.State)
	p := &experimentPlan{tx: tx, doc: doc, state: &desired, now: now, actor: actor}
	if err := p.planLayers(storedLayers, storedExps, req.Prune); err != nil {
		return nil, err
	}
	if err := p.planExperiments(storedExps, req.Prune); err != nil {
		return nil, err
	}
	res.Experiments, res.ExperimentNotes = p.result, p.notes
	res.Summary["unchanged"] += p.same
	for _, c := range p.result {
		res.Summary[string(c.Action)]++
	}
	if len(p.changes.Layers) == 0 && len(p.changes.Experiments) == 0 {
		return nil, nil
	}
	return &p.changes, nil
}

func (p *experimentPlan) planLayers(stored []store.StoredLayer, exps []store.StoredExperiment, prune bool) error {
	byKey := map[string]*store.StoredLayer{}
	for i := range stored {
		byKey[stored[i].Layer.Key] = &stored[i]
	}
	declared := map[string]bool{}
	for _, l := range p.doc.Layers() {
		declared[l.Key] = true
		p.layers = append(p.layers, l)
		s := byKey[l.Key]
		if s == nil {
			p.changes.Layers = append(p.changes.Layers, store.LayerChange{Action: flags.Create, Key: l.Key, Layer: l})
			p.result = append(p.result, ExperimentChange{Kind: "layer", Key: l.Key, Action: flags.Create})
			continue
		}
		var fields []string
		for _, f := range []struct {
			name string
			same bool
		}{{"bucketBy", s.Layer.BucketBy == l.BucketBy}, {"holdout", s.Layer.Holdout == l.Holdout}, {"salt", s.Layer.EffectiveSalt() == l.EffectiveSalt()}} {
			if !f.same {
				fields = append(fields, f.name)
			}
		}
		if len(fields) == 0 {
			p.same++
			continue
		}
		if held := heldIn(l.Key, exps); held != "" && (slices.Contains(fields, "bucketBy") || slices.Contains(fields, "salt")) {
			return ramp.Errorf(ramp.KindRefused, "%slayer %s: its bucketBy and salt place every unit of experiment %s, which is running or paused: changing them would reassign its units; stop the layer's experiments first",
				p.where("layers", l.Key), l.Key, held)
		}
		p.changes.Layers = append(p.changes.Layers, store.LayerChange{Action: flags.Update, Key: l.Key, Layer: l, BaseVersion: s.Version, Fields: fields})
		p.result = append(p.result, ExperimentChange{Kind: "layer", Key: l.Key, Action: flags.Update, Fields: fields})
	}
	for _, s := range stored {
		if declared[s.Layer.Key] {
			continue
		}
		if !prune {
			p.layers = append(p.layers, s.Layer)
			continue
		}
		p.changes.Layers = append(p.changes.Layers, store.LayerChange{Action: flags.Delete, Key: s.Layer.Key, BaseVersion: s.Version})
		p.result = append(p.result, ExperimentChange{Kind: "layer", Key: s.Layer.Key, Action: flags.Delete})
	}
	return nil
}

// heldIn names a running or paused experiment of the layer, or "".
func heldIn(layer string, exps []store.StoredExperiment) string {
	for _, x := range exps {
		e := &x.Experiment
		if e.Layer == layer && (e.Status == experiment.Running || e.Status == experiment.Paused) {
			return e.Key
		}
	}
	return ""
}

// where locates a declared layer or experiment in the file: "file:line: ".
func (p *experimentPlan) where(list, key string) string {
	path := ""
	if list == "experiments" {
		path = p.doc.ExperimentPath(key)
	} else {
		for i, l := range p.doc.Layers() {
			if l.Key == key {
				path = fmt.Sprintf("layers[%d]", i)
			}
		}
	}
	if path == "" {
		return ""
	}
	line, _ := p.doc.Locate(path)
	if line == 0 {
		return p.doc.File() + ": "
	}
	return fmt.Sprintf("%s:%d: ", p.doc.File(), line)
}

func (p *experimentPlan) planExperiments(stored []store.StoredExperiment, prune bool) error {
	byKey := map[string]*store.StoredExperiment{}
	for i := range stored {
		byKey[stored[i].Experiment.Key] = &stored[i]
	}
	declared := map[string]bool{}
	for _, f := range p.doc.Experiments() {
		declared[f.Key] = true
	}
	// The experiments as they will be: the stored ones first (their
	// buckets are taken), then changes replace them in place.
	for _, s := range stored {
		if declared[s.Experiment.Key] || !prune {
			p.exps = append(p.exps, s.Experiment)
			continue
		}
		e := &s.Experiment
		if e.Status == experiment.Running || e.Status == experiment.Paused {
			return ramp.Errorf(ramp.KindRefused, "experiment %s is %s and the file no longer declares it: deleting it would end it without a decision; stop it first (keep it in the file meanwhile)", e.Key, e.Status)
		}
		p.changes.Experiments = append(p.changes.Experiments, store.ExperimentChange{Action: flags.Delete, Key: e.Key, BaseVersion: s.Version})
		p.result = append(p.result, ExperimentChange{Kind: "experiment", Key: e.Key, Action: flags.Delete})
	}
	for _, f := range p.doc.Experiments() {
		var err error
		if s := byKey[f.Key]; s == nil {
			err = p.create(f)
		} else {
			err = p.update(f, s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// set replaces (or adds) e among the experiments as they will be.
func (p *experimentPlan) set(e experiment.Experiment) {
	for i := range p.exps {
		if p.exps[i].Key == e.Key {
			p.exps[i] = e
			return
		}
	}
	p.exps = append(p.exps, e)
}

func (p *experimentPlan) layerOf(e *experiment.Experiment) (experiment.Layer, error) {
	l, ok := experiment.LayerOf(e, p.layers, p.state)
	if !ok {
		return l, ramp.Errorf(ramp.KindInvalid, "%sexperiment %s: unknown layer %q or flag %q", p.where("experiments", e.Key), e.Key, e.Layer, e.Flag)
	}
	return l, nil
}

// create plans a new experiment: a draft, started when the file says
// running, stored stopped when it says stopped. With the allocation export
// wrote, the experiment is stored in that phase (see restore).
func (p *experimentPlan) create(f experiment.Experiment) error {
	e := store.CloneExperiment(&f)
	e.Phases = nil
	want := e.Status
	if want != experiment.Stopped {
		e.Status, e.Shipped = experiment.Draft, ""
	}
	ch := store.ExperimentChange{Action: flags.Create, Key: e.Key, Steps: []store.ExperimentStep{{Action: "apply.create", After: e}}}
	res := ExperimentChange{Kind: "experiment", Key: e.Key, Action: flags.Create}
	if phase, ok := p.doc.Allocation(e.Key); ok && want != experiment.Draft && want != "" {
		return p.restore(e, want, phase, ch, res)
	}
	if want == experiment.Running || want == experiment.Paused {
		l, err := p.layerOf(&e)
		if err != nil {
			return err
		}
		started := store.CloneExperiment(&e)
		if err := started.Start(l, p.exps, p.now, p.actor); err != nil {
			return fmt.Errorf("%s%w", p.where("experiments", e.Key), err)
		}
		ch.Steps = append(ch.Steps, store.ExperimentStep{Action: "experiment.start", After: started})
		res.Start, res.Phase = true, 1
		e = started
		if e, err = pauseIfWanted(e, want, &ch); err != nil {
			return err
		}
	}
	p.record(e, ch, res)
	return nil
}

// pauseIfWanted pauses an experiment the apply just started when the file
// says it is paused, recording the step.
func pauseIfWanted(e experiment.Experiment, want experiment.Status, ch *store.ExperimentChange) (experiment.Experiment, error) {
	if want != experiment.Paused {
		return e, nil
	}
	paused := store.CloneExperiment(&e)
	if err := paused.Pause(); err != nil {
		return e, err
	}
	ch.Steps = append(ch.Steps, store.ExperimentStep{Action: "experiment.pause", After: paused})
	return paused, nil
}

// record keeps an experiment as the apply leaves it, with its change and
// the result's line.
func (p *experimentPlan) record(e experiment.Experiment, ch store.ExperimentChange, res ExperimentChange) {
	p.set(e)
	p.changes.Experiments = append(p.changes.Experiments, ch)
	p.result = append(p.result, res)
}

// restore plans a new experiment that the file gives with its current
// phase's allocation (written by export from another database): it is
// stored in that phase, numbered as the file says (phase: N), with the
// file's layer buckets and arm table, so that every unit keeps its arm.
// The phases before it are not in the file and are not stored; the phase
// starts at the apply's time, by its actor. A running or paused one is
// recorded as "apply.create" then "experiment.start" (then
// "experiment.pause"), and refused (ramp.ErrRefused) when the layer's
// holdout or another running or paused experiment of it owns one of its
// buckets; a stopped one is stored stopped in that phase, ended at once.
func (p *experimentPlan) restore(e experiment.Experiment, want experiment.Status, phase experiment.Phase, ch store.ExperimentChange, res ExperimentChange) error {
	phase.Started, phase.StartedBy = p.now, p.actor
	hold := want == experiment.Running || want == experiment.Paused
	l, err := p.layerOf(&e)
	if err != nil && hold {
		return err
	}
	if err := experiment.CheckAllocation(l, p.exps, e.Key, &phase, hold); err != nil {
		return fmt.Errorf("%s%w", p.whereLocated(e.Key, "allocation"), err)
	}
	if !hold {
		end := p.now
		phase.Ended = &end
		e.Phases = []experiment.Phase{phase}
		ch.Steps[0].After = e
		res.Allocation = true
		p.record(e, ch, res)
		return nil
	}
	started := store.CloneExperiment(&e)
	started.Status, started.Phases, started.RampedAt = experiment.Running, []experiment.Phase{phase}, p.now
	ch.Steps = append(ch.Steps, store.ExperimentStep{Action: "experiment.start", After: started})
	res.Start, res.Phase, res.Allocation = true, phase.Number, true
	if e, err = pauseIfWanted(started, want, &ch); err != nil {
		return err
	}
	p.record(e, ch, res)
	return nil
}

// sameAllocation refuses a file whose allocation for a stored experiment
// is not the stored current phase's: a file cannot move units between
// arms or layer buckets. A file without one, or with the stored one,
// passes.
func (p *experimentPlan) sameAllocation(f *experiment.Experiment, cur *experiment.Experiment) error {
	phase, ok := p.doc.Allocation(f.Key)
	if !ok {
		return nil
	}
	stored := cur.Current()
	if stored != nil && experiment.SameAllocation(&phase, stored) {
		return nil
	}
	what := "has no phase, and the file gives it an allocation"
	if stored != nil {
		what = fmt.Sprintf("is in phase %d with another allocation than the file's", stored.Number)
	}
	return ramp.Errorf(ramp.KindRefused, "%sexperiment %s %s: a database's allocation cannot be changed by a file; change it with ramp experiments set-weights %s ARM=WEIGHT,… --new-phase (or set-traffic), then export again",
		p.whereLocated(f.Key, "allocation"), f.Key, what, f.Key)
}

// whereLocated locates a field of a declared experiment: "file:line: ".
func (p *experimentPlan) whereLocated(key, field string) string {
	if w := p.whereLocked(key, field); w != "" {
		return w + ": "
	}
	return ""
}

// declaredChanges names the declared fields that differ between the
// stored experiment s and the file's f.
func declaredChanges(s, f *experiment.Experiment) (free, locked, fixed []string) {
	eq := func(a, b any) bool {
		x, errA := json.Marshal(a)
		y, errB := json.Marshal(b)
		return errA == nil && errB == nil && string(x) == string(y)
	}
	for _, c := range []struct {
		name string
		same bool
		list *[]string
	}{
		{"flag", s.Flag == f.Flag, &fixed},
		{"layer", s.Layer == f.Layer, &fixed},
		{"salt", s.EffectiveSalt() == f.EffectiveSalt(), &fixed},
		{"audience", eq(s.Audience, f.Audience), &locked},
		{"arms", eq(s.Arms, f.Arms), &locked},
		{"traffic", s.Traffic == f.Traffic, &locked},
		{"hypothesis", s.Hypothesis == f.Hypothesis, &free},
		{"owner", s.Owner == f.Owner, &free},
		{"control", s.Control == f.Control, &free},
		{"metrics", eq(s.Metrics, f.Metrics), &free},
		// A ramp-up only schedules raises, which keep every assignment.
		{"rampUp", eq(s.RampUp, f.RampUp), &free},
	} {
		if !c.same {
			*c.list = append(*c.list, c.name)
		}
	}
	return free, locked, fixed
}

// update plans the change of a stored experiment to the file's
// declaration.
func (p *experimentPlan) update(f experiment.Experiment, s *store.StoredExperiment) error {
	cur := &s.Experiment
	if err := p.sameAllocation(&f, cur); err != nil {
		return err
	}
	status := statusOf(cur)
	free, locked, fixed := declaredChanges(cur, &f)
	held := status == experiment.Running || status == experiment.Paused
	next := store.CloneExperiment(cur)
	res := ExperimentChange{Kind: "experiment", Key: f.Key, Action: flags.Update}
	var steps []store.ExperimentStep
	declare := func(e *experiment.Experiment) {
		e.Flag, e.Layer, e.Salt = f.Flag, f.Layer, f.Salt
		e.Hypothesis, e.Owner, e.Control, e.Metrics = f.Hypothesis, f.Owner, f.Control, f.Metrics
		e.RampUp = slices.Clone(f.RampUp)
	}
	switch {
	case !held:
		declare(&next)
		next.Audience, next.Arms, next.Traffic = f.Audience, slices.Clone(f.Arms), f.Traffic
		if f.Status == experiment.Stopped && status == experiment.Stopped {
			next.Shipped, next.ShipVia = f.Shipped, f.ShipVia
		}
		res.Fields = append(append(append(res.Fields, fixed...), locked...), free...)
	case len(fixed) > 0:
		return ramp.Errorf(ramp.KindRefused, "%sexperiment %s is %s: its %v cannot change while it runs (every unit would be placed anew); stop it and declare a new experiment",
			p.where("experiments", f.Key), f.Key, status, fixed)
	default:
		declare(&next)
		res.Fields = append(res.Fields, free...)
		if len(locked) > 0 {
			if err := p.lockedChange(&f, cur, &next, locked, &res); err != nil {
				return err
			}
		}
	}
	if len(res.Fields) > 0 || res.Phase != 0 || res.TrafficTo != nil {
		action := "apply.update"
		if res.Phase != 0 {
			action = "experiment.new-phase"
		}
		steps = append(steps, store.ExperimentStep{Action: action, After: next})
	}
	// A draft the file says is running starts; other status differences
	// are left to the lifecycle commands.
	if f.Status != "" && f.Status != status {
		if status == experiment.Draft && f.Status == experiment.Running {
			l, err := p.layerOf(&next)
			if err != nil {
				return err
			}
			started := store.CloneExperiment(&next)
			if err := started.Start(l, p.exps, p.now, p.actor); err != nil {
				return fmt.Errorf("%s%w", p.where("experiments", f.Key), err)
			}
			steps = append(steps, store.ExperimentStep{Action: "experiment.start", After: started})
			res.Start, res.Phase = true, 1
			next = started
		} else {
			p.notes = append(p.notes, ExperimentNote{Key: f.Key, File: f.Status, Stored: status})
		}
	}
	if len(steps) == 0 {
		p.same++
		return nil
	}
	p.set(next)
	p.changes.Experiments = append(p.changes.Experiments, store.ExperimentChange{Action: flags.Update, Key: f.Key, BaseVersion: s.Version, Steps: steps})
	p.result = append(p.result, res)
	return nil
}

// lockedChange plans a change of a running or paused experiment's locked
// fields: a traffic raise in the phase, a new phase with phase: next, or a
// refusal.
func (p *experimentPlan) lockedChange(f, cur, next *experiment.Experiment, locked []string, res *ExperimentChange) error {
	l, err := p.layerOf(next)
	if err != nil {
		return err
	}
	from, to := Percent(cur.Traffic), Percent(f.Traffic)
	if slices.Equal(locked, []string{"traffic"}) && len(f.RampUp) > 0 && f.Traffic >= cur.Current().Traffic {
		// With a ramp-up, traffic is the ceiling the schedule grows
		// toward: moving it changes no assignment.
		next.Traffic = f.Traffic
		res.Fields = append(res.Fields, "traffic")
		return nil
	}
	if slices.Equal(locked, []string{"traffic"}) && f.Traffic > cur.Traffic {
		if err := next.SetTraffic(l, p.exps, f.Traffic); err != nil {
			return fmt.Errorf("%s%w", p.where("experiments", f.Key), err)
		}
		res.TrafficFrom, res.TrafficTo = &from, &to
		res.Fields = append(res.Fields, "traffic")
		return nil
	}
	phase := cur.Current().Number
	if !p.doc.NextPhase(f.Key) {
		fields := locked
		if slices.Equal(locked, []string{"traffic"}) {
			fields = []string{"traffic (lowered)"}
		}
		return &LockedError{Key: f.Key, Status: cur.Status, Phase: phase, Fields: fields, Where: p.whereLocked(f.Key, locked[0])}
	}
	next.Audience = f.Audience
	traffic := f.Traffic
	if len(f.RampUp) > 0 && traffic >= cur.Current().Traffic {
		// traffic is the ramp-up's ceiling: the new phase keeps the
		// traffic the schedule reached.
		traffic = cur.Current().Traffic
	}
	moved, err := next.NewPhase(l, p.exps, f.Arms, traffic, p.now, p.actor)
	if err != nil {
		return fmt.Errorf("%s%w", p.where("experiments", f.Key), err)
	}
	m := Percent(moved)
	res.Phase, res.Moved = phase+1, &m
	res.Fields = append(res.Fields, locked...)
	if from != to {
		res.TrafficFrom, res.TrafficTo = &from, &to
	}
	if moved > 0 {
		cat, err := p.tx.Catalogue()
		if err != nil {
			return err
		}
		if res.Known, err = countKnown(cur, next, &cat, p.tx.EachMember); err != nil {
			return err
		}
	}
	return nil
}

// whereLocked locates a locked field of a declared experiment.
func (p *experimentPlan) whereLocked(key, field string) string {
	path := p.doc.ExperimentPath(key)
	if path == "" {
		return ""
	}
	line, _ := p.doc.Locate(path + "." + field)
	if line == 0 {
		line, _ = p.doc.Locate(path)
	}
	if line == 0 {
		return p.doc.File()
	}
	return fmt.Sprintf("%s:%d", p.doc.File(), line)
}

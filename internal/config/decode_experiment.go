package config

import (
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// PhaseNext is the value of an experiment's phase field that asks apply
// to make the file's changes to a running experiment as a new phase.
const PhaseNext = "next"

// expDecl records what an experiment declared about its state besides
// its fields: the lifecycle, as export writes it or as a team asks for it.
type expDecl struct {
	// status and ship: the file states them (Status and Shipped are then
	// set on the experiment).
	status, ship bool
	// next: phase: next, the file's changes start a new phase.
	next bool
	// phase is the phase number the file states (export writes the
	// current one); 0 when it states none.
	phase int
	// alloc is the current phase's allocation the file states (export
	// writes it), nil when it states none.
	alloc *allocation
}

// statuses are the values of an experiment's status field.
var statuses = []experiment.Status{experiment.Draft, experiment.Running, experiment.Paused, experiment.Stopped}

func (d *decoder) layer(n *yaml.Node, path string) experiment.Layer {
	var l experiment.Layer
	fs, _ := d.fields(n, path, layerFields)
	for _, f := range fs {
		p := join(path, f.name)
		switch f.name {
		case "key":
			l.Key = d.text(f.v, p)
		case "bucketBy":
			l.BucketBy = d.text(f.v, p)
		case "holdout":
			l.Holdout, _ = d.percent(f.v, p)
		case "salt":
			l.Salt = d.text(f.v, p)
		}
	}
	return l
}

func (d *decoder) experiment(n *yaml.Node, path string) (experiment.Experiment, expDecl) {
	var (
		e    experiment.Experiment
		decl expDecl
	)
	fs, _ := d.fields(n, path, experimentFields)
	traffic := false
	var status, ship, shipVia, alloc *yaml.Node
	for _, f := range fs {
		p := join(path, f.name)
		switch f.name {
		case "key":
			e.Key = d.text(f.v, p)
		case "flag":
			e.Flag = d.text(f.v, p)
		case "layer":
			e.Layer = d.text(f.v, p)
		case "hypothesis":
			e.Hypothesis = d.text(f.v, p)
		case "owner":
			e.Owner = d.text(f.v, p)
		case "audience":
			e.Audience = d.audience(f.v, p)
		case "traffic":
			e.Traffic, traffic = d.percent(f.v, p)
		case "arms":
			before := len(d.problems)
			for _, s := range d.rollout(f.v, p) {
				e.Arms = append(e.Arms, experiment.Arm{Variant: s.Variant, Weight: s.Weight})
			}
			if len(d.problems) > before {
				// An arm that did not decode makes the sum of the
				// weights and the control's check echoes.
				d.damage(p)
			}
		case "control":
			e.Control = d.text(f.v, p)
		case "metrics":
			e.Metrics = d.metrics(f.v, p)
		case "salt":
			e.Salt = d.text(f.v, p)
		case "rampUp":
			e.RampUp = d.rampUp(f.v, p)
		case "status":
			status = f.v
			w, ok := d.word(f.v, p, "a status (draft, running, paused or stopped)")
			if !ok {
				continue
			}
			if !contains(statusNames(), w) {
				d.errorf(f.v, p, "unknown status %q (want draft, running, paused or stopped)", clip(w))
				continue
			}
			e.Status, decl.status = experiment.Status(w), true
		case "ship":
			ship = f.v
			if w, ok := d.word(f.v, p, "the arm a stopped experiment serves"); ok {
				e.Shipped, decl.ship = w, true
			}
		case "shipVia":
			shipVia = f.v
			if w, ok := d.word(f.v, p, "how the shipped arm is served (rollout)"); ok {
				if w != experiment.ShipViaRollout {
					d.errorf(f.v, p, "unknown shipVia %q (want %s: a rollout plan of the flag serves the shipped arm)", clip(w), experiment.ShipViaRollout)
					continue
				}
				e.ShipVia = w
			}
		case "phase":
			decl.next, decl.phase = d.phase(f.v, p)
		case "allocation":
			alloc = f.k
			decl.alloc = d.allocation(f.v, p)
		}
	}
	if alloc != nil {
		ap := join(path, "allocation")
		switch {
		case decl.next:
			d.errorf(alloc, ap, "allocation is the current phase's, and phase: next starts a new one: leave allocation out")
		case decl.phase == 0 && !d.damaged[join(path, "phase")]:
			d.errorf(alloc, ap, "allocation needs phase: N, the number of the phase it is the allocation of (export writes both)")
		case !decl.status && status == nil:
			d.errorf(alloc, ap, "allocation needs status: running, paused or stopped (export writes it)")
		}
	}
	if shipVia != nil && ship == nil {
		d.errorf(shipVia, join(path, "shipVia"), "shipVia needs ship: the arm the rollout plan serves")
	}
	if !traffic && len(fs) > 0 && !d.damaged[join(path, "traffic")] {
		d.errorf(n, join(path, "traffic"), "traffic is required: the share of the layer the experiment takes (100 for all of it)")
	}
	if ship != nil && status != nil && decl.status && e.Status != experiment.Stopped {
		d.errorf(ship, join(path, "ship"), "ship needs status: stopped (a running or paused experiment ships nothing yet)")
	} else if ship != nil && status == nil {
		d.errorf(ship, join(path, "ship"), "ship needs status: stopped: the experiment ends and serves the arm to its audience")
	}
	if decl.status && e.Status == experiment.Draft && (decl.next || decl.phase > 0) {
		d.errorf(status, join(path, "status"), "a draft experiment has no phase: leave phase out, or start it (status: running)")
	}
	if decl.status && e.Status == experiment.Stopped && decl.next {
		d.errorf(status, join(path, "status"), "a stopped experiment starts no new phase: leave out phase: next")
	}
	return e, decl
}

// rampUp decodes an experiment's ramp-up: a list of {traffic, after}
// steps. Whether the steps rise, stay within the experiment's traffic and
// carry an after where needed is experiment.Validate's to say, located
// at the step's line.
func (d *decoder) rampUp(n *yaml.Node, path string) []experiment.Step {
	items, ok := d.items(n, path, "a list of steps such as {traffic: 20, after: 24h}")
	if !ok {
		d.damage(path)
		return nil
	}
	out := make([]experiment.Step, 0, len(items))
	for i, it := range items {
		ip := index(path, i)
		var st experiment.Step
		fs, _ := d.fields(it, ip, stepFields)
		traffic := false
		for _, f := range fs {
			fp := join(ip, f.name)
			switch f.name {
			case "traffic":
				st.Traffic, traffic = d.percent(f.v, fp)
				if !traffic {
					d.damage(fp)
				}
			case "after":
				w, ok := d.word(f.v, fp, "a duration such as 24h or 3d")
				if !ok {
					d.damage(fp)
					continue
				}
				dur, err := rollout.ParseDuration(w)
				if err != nil {
					d.errorf(f.v, fp, "%v", err)
					d.damage(fp)
					continue
				}
				st.After = rollout.Duration(dur)
			}
		}
		if !traffic && !d.damaged[join(ip, "traffic")] {
			d.errorf(it, join(ip, "traffic"), "traffic is required: the share of the layer the step grows the experiment to")
			d.damage(join(ip, "traffic"))
		}
		out = append(out, st)
	}
	return out
}

func statusNames() []string {
	out := make([]string, len(statuses))
	for i, s := range statuses {
		out[i] = string(s)
	}
	return out
}

// phase decodes an experiment's phase: next, or the number of the
// current phase (at least 1), as export writes it.
func (d *decoder) phase(n *yaml.Node, path string) (next bool, number int) {
	w, ok := d.word(n, path, "next or a phase number")
	if !ok {
		return false, 0
	}
	if w == PhaseNext {
		return true, 0
	}
	if s := deref(n); s.ShortTag() == tagInt {
		if v, err := strconv.Atoi(w); err == nil && v >= 1 {
			return false, v
		}
	}
	d.errorf(n, path, "want next (to make the file's changes as a new phase) or the current phase number, got %s", describe(n))
	return false, 0
}

// percent decodes a percentage from its source text, as rollout weights.
func (d *decoder) percent(n *yaml.Node, path string) (flags.Percent, bool) {
	w, ok := d.word(n, path, "a percentage")
	if !ok {
		return 0, false
	}
	pct, err := flags.ParsePercent(w)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return 0, false
	}
	return pct, true
}

func (d *decoder) audience(n *yaml.Node, path string) experiment.Audience {
	var a experiment.Audience
	fs, _ := d.fields(n, path, audienceFields)
	for _, f := range fs {
		p := join(path, f.name)
		switch f.name {
		case "regions":
			a.Regions = d.words(f.v, p, "region")
		case "cohorts":
			a.Cohorts = d.words(f.v, p, "cohort key")
		case "when":
			a.When = d.conditions(f.v, p)
		}
	}
	return a
}

func (d *decoder) metrics(n *yaml.Node, path string) experiment.Metrics {
	var m experiment.Metrics
	fs, _ := d.fields(n, path, metricsFields)
	for _, f := range fs {
		p := join(path, f.name)
		switch f.name {
		case "primary":
			if w, ok := d.word(f.v, p, "a metric key"); ok {
				m.Primary = w
			}
		case "secondary":
			m.Secondary = d.metricKeys(f.v, p)
		case "guardrails":
			m.Guardrails = d.metricKeys(f.v, p)
		}
	}
	return m
}

// metricKeys decodes a list of metric keys; one key may stand for a list
// of one.
func (d *decoder) metricKeys(n *yaml.Node, path string) []string {
	return d.wordList(n, path, "metric key")
}

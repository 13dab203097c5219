package config

import (
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/experiment"
)

// experiments adds layers and experiments to the top-level mapping, in
// their order: declaration order is the file's, and problems are located
// by it.
func (e *encoder) experiments(top *yaml.Node, layers []experiment.Layer, exps []experiment.Experiment) {
	if len(layers) > 0 {
		list := sequence(false)
		for i := range layers {
			list.Content = append(list.Content, e.layer(&layers[i]))
		}
		top.Style = 0
		add(top, "layers", list)
	}
	if len(exps) > 0 {
		list := sequence(false)
		for i := range exps {
			list.Content = append(list.Content, e.experiment(&exps[i]))
		}
		top.Style = 0
		add(top, "experiments", list)
	}
}

func (e *encoder) layer(l *experiment.Layer) *yaml.Node {
	m := mapping(false)
	add(m, "key", e.str(l.Key))
	e.addStr(m, "bucketBy", l.BucketBy)
	if l.Holdout != 0 {
		add(m, "holdout", percent(l.Holdout))
	}
	e.addStr(m, "salt", l.Salt)
	return m
}

func (e *encoder) experiment(x *experiment.Experiment) *yaml.Node {
	m := mapping(false)
	add(m, "key", e.str(x.Key))
	e.addStr(m, "flag", x.Flag)
	e.addStr(m, "layer", x.Layer)
	e.addStr(m, "hypothesis", x.Hypothesis)
	e.addStr(m, "owner", x.Owner)
	if a := &x.Audience; len(a.Regions) > 0 || len(a.Cohorts) > 0 || len(a.When) > 0 {
		am := mapping(false)
		if len(a.Regions) > 0 {
			add(am, "regions", e.strs(a.Regions))
		}
		if len(a.Cohorts) > 0 {
			add(am, "cohorts", e.strs(a.Cohorts))
		}
		if len(a.When) > 0 {
			add(am, "when", e.conditions(a.When))
		}
		add(m, "audience", am)
	}
	add(m, "traffic", percent(x.Traffic))
	arms := mapping(true)
	for _, a := range x.Arms {
		add(arms, a.Variant, percent(a.Weight))
	}
	add(m, "arms", arms)
	e.addStr(m, "control", x.Control)
	if mt := &x.Metrics; mt.Primary != "" || len(mt.Secondary) > 0 || len(mt.Guardrails) > 0 {
		mm := mapping(true)
		e.addStr(mm, "primary", mt.Primary)
		if len(mt.Secondary) > 0 {
			add(mm, "secondary", e.strs(mt.Secondary))
		}
		if len(mt.Guardrails) > 0 {
			add(mm, "guardrails", e.strs(mt.Guardrails))
		}
		add(m, "metrics", mm)
	}
	e.addStr(m, "salt", x.Salt)
	if len(x.RampUp) > 0 {
		steps := sequence(false)
		for _, st := range x.RampUp {
			sm := mapping(true)
			add(sm, "traffic", percent(st.Traffic))
			if st.After > 0 {
				add(sm, "after", e.str(st.After.String()))
			}
			steps.Content = append(steps.Content, sm)
		}
		add(m, "rampUp", steps)
	}
	if x.Status != "" {
		add(m, "status", e.str(string(x.Status)))
		m.Content[len(m.Content)-2].HeadComment = "state when exported: apply moves the experiment to this status; phase is the phase then current"
	}
	if x.Shipped != "" {
		add(m, "ship", e.str(x.Shipped))
		e.addStr(m, "shipVia", x.ShipVia)
	}
	if cur := x.Current(); cur != nil && x.Status != experiment.Draft {
		add(m, "phase", scalar(tagInt, strconv.Itoa(cur.Number)))
		if len(cur.Buckets) > 0 && len(cur.Table) > 0 {
			add(m, "allocation", e.allocationNode(cur))
			m.Content[len(m.Content)-2].HeadComment = allocationComment
		}
	}
	return m
}

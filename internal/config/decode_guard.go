package config

import (
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/rollout"
)

// Guarded rollout stages (issue #13): a stage's guardrails, minimum sample
// and reaction to a regression, decoded apart from the other stage fields.
//
//	- name: us-10
//	  regions: [US]
//	  percent: 10
//	  guardrails: [send-errors-per-message, {metric: crash-rate, margin: 1}]
//	  minSample: 5000
//	  onRegression: rollback

// guardFields are the fields of a guardrail written as a mapping.
var guardFields = []string{"metric", "margin"}

// stageGuard decodes the guard fields of a stage, reporting whether f was
// one of them.
func (d *decoder) stageGuard(f field, path string, s *rollout.Stage) bool {
	switch f.name {
	case "guardrails":
		s.Guardrails = d.guardrails(f.v, path)
	case "minSample":
		var n int64
		if v := deref(f.v); v.Kind != yaml.ScalarNode || v.ShortTag() != tagInt {
			d.errorf(f.v, path, "want a number of units, such as 5000, got %s", describe(f.v))
		} else if d.decode(f.v, path, &n) {
			if n < 0 {
				d.errorf(f.v, path, "minSample %d is negative: want the units each side of the stage's split must hold", n)
			}
			s.MinSample = n
		}
	case "onRegression":
		switch w := d.text(f.v, path); rollout.Reaction(w) {
		case rollout.ReactPause, rollout.ReactRollback:
			s.OnRegression = rollout.Reaction(w)
		default:
			d.errorf(f.v, path, "want pause or rollback, got %q", clip(w))
		}
	default:
		return false
	}
	return true
}

// guardrails decodes a stage's guardrails: a list whose items are metric
// keys, or mappings with a metric and a margin; one item may stand alone
// for a list of one.
func (d *decoder) guardrails(n *yaml.Node, path string) []rollout.Guardrail {
	if s := deref(n); s.Kind != yaml.SequenceNode && !isNull(s) {
		return []rollout.Guardrail{d.guardrail(n, path)}
	}
	items, _ := d.items(n, path, "a list of guardrails")
	var out []rollout.Guardrail
	for i, it := range items {
		out = append(out, d.guardrail(it, index(path, i)))
	}
	return out
}

// guardrail decodes one guardrail: a metric key, or {metric: KEY, margin:
// PERCENT}.
func (d *decoder) guardrail(n *yaml.Node, path string) rollout.Guardrail {
	var g rollout.Guardrail
	if deref(n).Kind != yaml.MappingNode {
		g.Metric, _ = d.word(n, path, "a metric key, or {metric: KEY, margin: PERCENT}")
		return g
	}
	metric := false
	fs, _ := d.fields(n, path, guardFields)
	for _, f := range fs {
		fp := join(path, f.name)
		switch f.name {
		case "metric":
			g.Metric, metric = d.text(f.v, fp), true
		case "margin":
			v := deref(f.v)
			if v.Kind != yaml.ScalarNode || (v.ShortTag() != tagInt && v.ShortTag() != tagFloat) {
				d.errorf(f.v, fp, "want a margin in percent, such as 0.5, got %s", describe(f.v))
				continue
			}
			m, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || math.IsNaN(m) || math.IsInf(m, 0) || m < 0 {
				d.errorf(f.v, fp, "want a margin in percent, 0 or more (0.5 for 0.5%%), got %s", clip(v.Value))
				continue
			}
			g.Margin = &m
		}
	}
	if !metric {
		d.errorf(n, join(path, "metric"), "metric is required: the key of the metric the guardrail watches")
	}
	return g
}

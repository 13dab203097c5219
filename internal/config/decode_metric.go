package config

import (
	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/rollout"
)

// The fields of a metric and of its covariate, in documentation order.
var (
	metricFields    = []string{"key", "description", "kind", "event", "numerator", "denominator", "window", "direction", "margin", "covariate"}
	covariateFields = []string{"event", "window"}
)

// The words of a metric's direction field.
const (
	directionIncrease = "increase"
	directionDecrease = "decrease"
)

// metricDef decodes one metric. A metric without direction gets
// experiment.Increase, so that the file and its export read the same. What
// its fields mean together (a kind's events, whole-day windows, the
// margin's range) is experiment.ValidateMetrics's to say, at the field's
// line.
func (d *decoder) metricDef(n *yaml.Node, path string) experiment.Metric {
	m := experiment.Metric{Direction: experiment.Increase}
	fs, _ := d.fields(n, path, metricFields)
	for _, f := range fs {
		p := join(path, f.name)
		switch f.name {
		case "key":
			m.Key = d.text(f.v, p)
		case "description":
			m.Description = d.text(f.v, p)
		case "kind":
			if w, ok := d.word(f.v, p, "a kind (conversion, mean or ratio)"); ok {
				m.Kind = experiment.MetricKind(w)
			}
		case "event":
			m.Event, _ = d.word(f.v, p, "an event name")
		case "numerator":
			m.Numerator, _ = d.word(f.v, p, "the event name whose values are summed above the line")
		case "denominator":
			m.Denominator, _ = d.word(f.v, p, "the event name whose values are summed below the line")
		case "window":
			var ok bool
			if m.Window, ok = d.window(f.v, p); !ok {
				// A covariate without a window of its own takes the
				// metric's: do not tell it there is none.
				d.damage(join(path, "covariate"))
			}
		case "direction":
			w, ok := d.word(f.v, p, "increase or decrease")
			switch {
			case !ok:
			case w == directionIncrease:
				m.Direction = experiment.Increase
			case w == directionDecrease:
				m.Direction = experiment.Decrease
			default:
				d.errorf(f.v, p, "unknown direction %q (want increase: higher is better, or decrease: lower is better)", clip(w))
			}
		case "margin":
			m.Margin = d.margin(f.v, p)
		case "covariate":
			m.Covariate = d.covariate(f.v, p)
		}
	}
	return m
}

// window decodes a window: whole days such as 7d (ValidateMetrics refuses
// other durations, located here).
func (d *decoder) window(n *yaml.Node, path string) (rollout.Duration, bool) {
	w, ok := d.word(n, path, "a number of days such as 7d")
	if !ok {
		return 0, false
	}
	dur, err := rollout.ParseDuration(w)
	if err != nil {
		d.errorf(n, path, "invalid window %q: want whole days such as 7d or 14d", clip(w))
		return 0, false
	}
	return dur, true
}

// margin decodes a guardrail margin: a number, in percent.
func (d *decoder) margin(n *yaml.Node, path string) float64 {
	s := deref(n)
	if s.Kind != yaml.ScalarNode || s.ShortTag() != tagInt && s.ShortTag() != tagFloat {
		d.errorf(n, path, "want a number, the relative worsening a guardrail tolerates in percent (0.5 for 0.5%%), got %s", describe(n))
		return 0
	}
	var v float64
	d.decode(n, path, &v)
	return v
}

// covariate decodes a metric's covariate: a mapping of event and window,
// either of which may be left out ({} takes the metric's event and
// window). Null is refused: leave the field out for no covariate.
func (d *decoder) covariate(n *yaml.Node, path string) *experiment.Covariate {
	if isNull(n) {
		d.errorf(n, path, "covariate is null: write covariate: {} for the metric's own event over its window before exposure, {window: 14d} for another window, or leave covariate out")
		return nil
	}
	if deref(n).Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping such as {window: 14d} (event and window, both optional), got %s", describe(n))
		return nil
	}
	fs, _ := d.fields(n, path, covariateFields)
	c := &experiment.Covariate{}
	for _, f := range fs {
		p := join(path, f.name)
		switch f.name {
		case "event":
			c.Event, _ = d.word(f.v, p, "an event name")
		case "window":
			c.Window, _ = d.window(f.v, p)
		}
	}
	return c
}

// metricsList decodes the top-level metrics list.
func (d *decoder) metricsList(n *yaml.Node) {
	items, _ := d.items(n, "metrics", "a list of metrics")
	if items != nil {
		d.metricDefs = make([]experiment.Metric, len(items))
	}
	for i, it := range items {
		d.metricDefs[i] = d.metricDef(it, index("metrics", i))
	}
}

// directionWord writes a metric's direction as the file does.
func directionWord(m *experiment.Metric) string {
	if m.Sign() < 0 {
		return directionDecrease
	}
	return directionIncrease
}

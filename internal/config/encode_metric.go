package config

import (
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/rollout"
)

// metricList adds the metrics to the top-level mapping, in their order.
func (e *encoder) metricList(top *yaml.Node, metrics []experiment.Metric) {
	if len(metrics) == 0 {
		return
	}
	list := sequence(false)
	for i := range metrics {
		list.Content = append(list.Content, e.metric(&metrics[i]))
	}
	top.Style = 0
	add(top, "metrics", list)
}

// metric encodes one metric: every field it sets, and its direction
// always, so that an exported metric reads whole.
func (e *encoder) metric(m *experiment.Metric) *yaml.Node {
	n := mapping(false)
	add(n, "key", e.str(m.Key))
	e.addStr(n, "description", m.Description)
	e.addStr(n, "kind", string(m.Kind))
	e.addStr(n, "event", m.Event)
	e.addStr(n, "numerator", m.Numerator)
	e.addStr(n, "denominator", m.Denominator)
	if m.Window != 0 {
		add(n, "window", window(m.Window))
	}
	add(n, "direction", e.str(directionWord(m)))
	if m.Margin != 0 {
		add(n, "margin", number(m.Margin))
	}
	if c := m.Covariate; c != nil {
		cn := mapping(true)
		e.addStr(cn, "event", c.Event)
		if c.Window != 0 {
			add(cn, "window", window(c.Window))
		}
		add(n, "covariate", cn)
	}
	return n
}

// window writes a window in days (7d, unquoted: YAML reads it as a
// string) when it is whole days, as windows are written; otherwise as a
// duration.
func window(d rollout.Duration) *yaml.Node {
	const day = 24 * time.Hour
	if d > 0 && time.Duration(d)%day == 0 {
		return scalar(tagStr, strconv.FormatInt(int64(time.Duration(d)/day), 10)+"d")
	}
	return scalar(tagStr, d.String())
}

// number is a float scalar written as short as it reads back: 0.5, 2.
func number(f float64) *yaml.Node {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if strings.ContainsAny(s, ".") {
		return scalar(tagFloat, s)
	}
	return scalar(tagInt, s)
}

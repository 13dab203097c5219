package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ramp-flags/ramp"
)

// guardMetricProblems checks that every metric a plan's guarded stage
// names is declared: in the file, or, unless prune, in the store.
func (d *Document) guardMetricProblems(stored *ramp.Config, prune bool) []Problem {
	var keys []string
	for _, m := range d.metrics {
		keys = append(keys, m.Key)
	}
	if !prune && stored != nil {
		for _, m := range stored.Metrics {
			if !slices.Contains(keys, m.Key) {
				keys = append(keys, m.Key)
			}
		}
	}
	var ps []Problem
	for i := range d.plans {
		for j := range d.plans[i].Stages {
			for k, g := range d.plans[i].Stages[j].Guardrails {
				if g.Metric == "" || slices.Contains(keys, g.Metric) {
					continue
				}
				path := fmt.Sprintf("rollouts[%d].stages[%d].guardrails[%d].metric", i, j, k)
				ps = d.appendLocated(ps, path, fmt.Sprintf("unknown metric %q%s", g.Metric, knownMetrics(keys)))
			}
		}
	}
	return ps
}

// knownMetrics says which metrics are declared: " (declared metrics: a,
// b)", or that none is.
func knownMetrics(keys []string) string {
	if len(keys) == 0 {
		return " (no metrics are declared: declare it under metrics:)"
	}
	list := slices.Sorted(slices.Values(keys))
	if len(list) > 10 {
		list = append(list[:10], "…")
	}
	return " (declared metrics: " + strings.Join(list, ", ") + ")"
}

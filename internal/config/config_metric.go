package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/experiment"
)

// Metrics returns the metrics the file declares, in file order. A metric
// without direction has experiment.Increase. The slice is shared with the
// document; treat it as read-only.
func (d *Document) Metrics() []experiment.Metric { return d.metrics }

// metricProblems validates the file's metrics, and the metrics its
// experiments name against those the store would hold (the file's, then,
// unless prune, the stored ones it does not declare), with
// experiment.ValidateMetrics.
func (d *Document) metricProblems(stored *ramp.Config, prune bool) []Problem {
	named := slices.ContainsFunc(d.experiments, func(e experiment.Experiment) bool {
		m := &e.Metrics
		return m.Primary != "" || len(m.Secondary) > 0 || len(m.Guardrails) > 0
	})
	if len(d.metrics) == 0 && !named {
		return nil
	}
	ms := slices.Clone(d.metrics)
	if !prune && stored != nil {
		for _, m := range stored.Metrics {
			if !slices.ContainsFunc(d.metrics, func(x experiment.Metric) bool { return x.Key == m.Key }) {
				ms = append(ms, m)
			}
		}
	}
	var ps []Problem
	for _, p := range experiment.ValidateMetrics(ms, d.experiments) {
		if i, rest, ok := metricIndex(p.Path); ok && i >= len(d.metrics) {
			// A stored metric the file does not declare: not the file's
			// to locate.
			name := fmt.Sprintf("stored metric %s (not in the file)", ms[i].Key)
			if rest != "" {
				name += ": " + rest
			}
			ps = append(ps, Problem{Message: name + ": " + p.Message})
			continue
		}
		ps = d.appendLocated(ps, p.Path, p.Message)
	}
	return ps
}

// metricIndex reads a path such as metrics[3].window: 3 and "window".
func metricIndex(path string) (i int, rest string, ok bool) {
	after, found := strings.CutPrefix(path, "metrics[")
	if !found {
		return 0, "", false
	}
	end := strings.IndexByte(after, ']')
	if end < 0 {
		return 0, "", false
	}
	i, err := strconv.Atoi(after[:end])
	if err != nil {
		return 0, "", false
	}
	return i, strings.TrimPrefix(after[end+1:], "."), true
}

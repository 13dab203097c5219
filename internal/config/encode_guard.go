package config

import (
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/rollout"
)

// stageGuard adds a stage's guardrails, minimum sample and reaction to its
// mapping (sm) as decode_guard.go reads them: a guardrail without a margin
// of its own as its metric key, one with a margin as {metric, margin}.
func (e *encoder) stageGuard(sm *yaml.Node, s *rollout.Stage) {
	if len(s.Guardrails) > 0 {
		list := sequence(true)
		for _, g := range s.Guardrails {
			if g.Margin == nil {
				list.Content = append(list.Content, e.str(g.Metric))
				continue
			}
			m := mapping(true)
			add(m, "metric", e.str(g.Metric))
			add(m, "margin", e.float(*g.Margin, false))
			list.Content = append(list.Content, m)
		}
		add(sm, "guardrails", list)
	}
	if s.MinSample > 0 {
		add(sm, "minSample", scalar(tagInt, strconv.FormatInt(s.MinSample, 10)))
	}
	if s.OnRegression != "" {
		add(sm, "onRegression", e.str(string(s.OnRegression)))
	}
}

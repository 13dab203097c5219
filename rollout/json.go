package rollout

import (
	"encoding/json"
	"fmt"

	"github.com/ramp-flags/ramp/flags"
)

// Plans, stages, grants and steps write their percentages in JSON as
// people read them, 1 for 1% and 12.5 for 12.5% (issue #10, item 5), in
// every output a person or a script reads: `rollout status -o json`, moves'
// results, the audit log. flags.Percent itself writes basis points (100 for
// 1%), the unit of flag rules as stored and of the wire format, which does
// not change; the store keeps plans in that unit too (see
// internal/store/rollouts.go).

// percentJSON is a percentage written and read in percent units.
type percentJSON flags.Percent

// MarshalJSON writes the percentage in percent units, exactly: 12.5.
func (p percentJSON) MarshalJSON() ([]byte, error) { return []byte(flags.Percent(p).String()), nil }

// UnmarshalJSON reads a percentage in percent units, with at most two
// decimals.
func (p *percentJSON) UnmarshalJSON(b []byte) error {
	v, err := flags.ParsePercent(string(b))
	if err != nil {
		return fmt.Errorf("percent %s: %w", b, err)
	}
	*p = percentJSON(v)
	return nil
}

// MarshalJSON writes the stage with its percentage in percent units.
func (s Stage) MarshalJSON() ([]byte, error) {
	type plain Stage
	return json.Marshal(struct {
		plain
		Percent percentJSON `json:"percent"`
	}{plain(s), percentJSON(s.Percent)})
}

// UnmarshalJSON reads a stage written by MarshalJSON.
func (s *Stage) UnmarshalJSON(b []byte) error {
	type plain Stage
	var v struct {
		plain
		Percent percentJSON `json:"percent"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Stage(v.plain)
	s.Percent = flags.Percent(v.Percent)
	return nil
}

// MarshalJSON writes the grant with its percentage in percent units.
func (g Grant) MarshalJSON() ([]byte, error) {
	type plain Grant
	return json.Marshal(struct {
		plain
		Percent percentJSON `json:"percent"`
	}{plain(g), percentJSON(g.Percent)})
}

// UnmarshalJSON reads a grant written by MarshalJSON.
func (g *Grant) UnmarshalJSON(b []byte) error {
	type plain Grant
	var v struct {
		plain
		Percent percentJSON `json:"percent"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*g = Grant(v.plain)
	g.Percent = flags.Percent(v.Percent)
	return nil
}

// MarshalJSON writes the step with its percentages in percent units.
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	return json.Marshal(struct {
		plain
		From percentJSON `json:"from"`
		To   percentJSON `json:"to"`
	}{plain(s), percentJSON(s.From), percentJSON(s.To)})
}

// UnmarshalJSON reads a step written by MarshalJSON.
func (s *Step) UnmarshalJSON(b []byte) error {
	type plain Step
	var v struct {
		plain
		From percentJSON `json:"from"`
		To   percentJSON `json:"to"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Step(v.plain)
	s.From, s.To = flags.Percent(v.From), flags.Percent(v.To)
	return nil
}

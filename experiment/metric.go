package experiment

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/internal/spelling"
	"github.com/ramp-flags/ramp/rollout"
)

// MetricKind is how a metric turns each exposed unit's events into one
// number, and how the report compares arms.
type MetricKind string

// The kinds of metric.
const (
	// Conversion: the share of exposed units with at least one event
	// (each unit counts 1 or 0; compared with a two-proportion test).
	Conversion MetricKind = "conversion"
	// Mean: the sum of the event's values per exposed unit, units without
	// an event counting 0 (compared with Welch's t-test).
	Mean MetricKind = "mean"
	// Ratio: the sum of one event's values over the sum of another's, per
	// arm, such as replies per message sent (compared with the delta
	// method, the unit being the randomized unit).
	Ratio MetricKind = "ratio"
)

// metricKinds are the kinds in documentation order.
var metricKinds = []MetricKind{Conversion, Mean, Ratio}

// The directions of a metric (Metric.Direction).
const (
	// Increase: a higher value is better (the default).
	Increase = 1
	// Decrease: a lower value is better (errors, crashes, latency).
	Decrease = -1
)

// MaxEventNameLen is the longest event name, in bytes: the length the
// tracking wire format accepts (tracking.MaxNameLen), so that a metric
// never names an event that cannot be sent.
const MaxEventNameLen = 128

// EndOfPhase is the end day (exclusive) of a metric without a window: its
// days run from first exposure to the end of the data.
const EndOfPhase = math.MaxInt32

// day is the length of a window's unit.
const day = 24 * time.Hour

// Metric is a number an experiment is judged by, computed per exposed unit
// from the tracking events ramp stores, declared in configuration under
// metrics: and named by experiments (Experiment.Metrics) by its key.
//
// Days count UTC calendar days from each unit's first exposure in the
// phase, as the per-unit totals store them: day 0 is the UTC day of first
// exposure (events of that day before the exposure included), day -1 the
// day before. A Window of W days covers days 0 to W-1 (Days); a
// covariate's window of V days covers days -V to -1 (CovariateDays).
type Metric struct {
	Key         string     `json:"key"`
	Description string     `json:"description,omitempty"`
	Kind        MetricKind `json:"kind"`
	// Event is the event a conversion or mean metric counts.
	Event string `json:"event,omitempty"`
	// Numerator and Denominator are the events a ratio metric divides:
	// the sum of Numerator's values over the sum of Denominator's.
	Numerator   string `json:"numerator,omitempty"`
	Denominator string `json:"denominator,omitempty"`
	// Window is how many whole days after first exposure count; 0 counts
	// every day of the phase.
	Window rollout.Duration `json:"window,omitempty"`
	// Direction is Increase (a higher value is better; also what 0
	// means) or Decrease. See Sign.
	Direction int `json:"direction,omitempty"`
	// Margin is the non-inferiority margin the metric is judged by as a
	// guardrail: relative, in percent as written (0.5 is 0.5%): a
	// treatment worse than control by more than Margin percent, with
	// confidence, is a regression. 0 (the default) judges a guardrail on
	// any significant regression. It is not used otherwise.
	Margin float64 `json:"margin,omitempty"`
	// Covariate, when set, asks for CUPED: the report adjusts the metric
	// by the same value taken over days before each unit's first
	// exposure. Not allowed on a ratio metric.
	Covariate *Covariate `json:"covariate,omitempty"`
}

// Covariate is the pre-exposure value CUPED adjusts a metric by: the sum
// of Event's values (for a conversion metric: whether there was one) over
// the Window days before each unit's first exposure.
type Covariate struct {
	// Event is the event summed; the metric's own Event when empty.
	Event string `json:"event,omitempty"`
	// Window is how many whole days before first exposure count; the
	// metric's Window when 0.
	Window rollout.Duration `json:"window,omitempty"`
}

// UnitValue says what one per-unit value of a metric sums: the values of
// the events named Event on the days [FromDay, ToDay) counted from the
// unit's first exposure (see Metric), or with Indicator 1 when the unit has
// at least one such event and 0 otherwise. A unit without such an event
// has the value 0.
type UnitValue struct {
	Event          string
	FromDay, ToDay int
	Indicator      bool
}

// Sign returns the metric's direction as +1 (higher is better: Increase,
// or Direction left 0) or -1 (Decrease).
func (m *Metric) Sign() int {
	if m.Direction < 0 {
		return Decrease
	}
	return Increase
}

// MarginFraction returns the guardrail margin as a fraction (0.005 for a
// Margin of 0.5), the form the statistics take.
func (m *Metric) MarginFraction() float64 { return m.Margin / 100 }

// WindowDays returns the window in days, 0 for none (the whole phase).
// A window that is not a whole number of days (which Validate refuses) is
// rounded up.
func (m *Metric) WindowDays() int { return days(m.Window) }

// Days returns the day offsets [from, to) that the metric counts: 0 and
// the window's days, or 0 and EndOfPhase without a window.
func (m *Metric) Days() (from, to int) {
	if w := m.WindowDays(); w > 0 {
		return 0, w
	}
	return 0, EndOfPhase
}

// CovariateWindowDays returns the covariate's window in days: its own, or
// the metric's; 0 without a covariate (or without either window, which
// Validate refuses).
func (m *Metric) CovariateWindowDays() int {
	if m.Covariate == nil {
		return 0
	}
	if w := days(m.Covariate.Window); w > 0 {
		return w
	}
	return m.WindowDays()
}

// CovariateDays returns the day offsets [from, to) of the covariate's
// window, the days before first exposure: -V and 0 for a window of V days.
// ok is false when the metric has no covariate.
func (m *Metric) CovariateDays() (from, to int, ok bool) {
	v := m.CovariateWindowDays()
	if v <= 0 {
		return 0, 0, false
	}
	return -v, 0, true
}

// CovariateEvent returns the event the covariate sums: its own or the
// metric's; "" without a covariate.
func (m *Metric) CovariateEvent() string {
	switch {
	case m.Covariate == nil:
		return ""
	case m.Covariate.Event != "":
		return m.Covariate.Event
	}
	return m.Event
}

// Y returns the per-unit value the metric is about: its event over its
// window (an indicator for a conversion), or a ratio's numerator.
func (m *Metric) Y() UnitValue {
	from, to := m.Days()
	ev := m.Event
	if m.Kind == Ratio {
		ev = m.Numerator
	}
	return UnitValue{Event: ev, FromDay: from, ToDay: to, Indicator: m.Kind == Conversion}
}

// X returns the second per-unit value the report needs, if any: a ratio's
// denominator over the same window, or the covariate CUPED adjusts by (the
// same kind of value over the days before exposure). ok is false for a
// conversion or mean metric without a covariate.
func (m *Metric) X() (x UnitValue, ok bool) {
	if m.Kind == Ratio {
		from, to := m.Days()
		return UnitValue{Event: m.Denominator, FromDay: from, ToDay: to}, true
	}
	from, to, ok := m.CovariateDays()
	if !ok {
		return UnitValue{}, false
	}
	return UnitValue{Event: m.CovariateEvent(), FromDay: from, ToDay: to, Indicator: m.Kind == Conversion}, true
}

// Events returns the events the metric reads, each once, in the order
// event (or numerator, denominator), covariate.
func (m *Metric) Events() []string {
	var out []string
	for _, e := range []string{m.Event, m.Numerator, m.Denominator, m.CovariateEvent()} {
		if e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// days returns a duration in days, rounded up.
func days(d rollout.Duration) int {
	if d <= 0 {
		return 0
	}
	n := time.Duration(d) / day
	if time.Duration(d)%day != 0 {
		n++
	}
	return int(min(n, EndOfPhase-1))
}

// FindMetric returns the metric of metrics whose key is key.
func FindMetric(metrics []Metric, key string) (*Metric, bool) {
	for i := range metrics {
		if metrics[i].Key == key {
			return &metrics[i], true
		}
	}
	return nil, false
}

// Validate checks one metric on its own (see ValidateMetrics) and returns
// its problems as a *flags.ValidationError, paths relative to the metric
// (kind, covariate.window), or nil.
func (m *Metric) Validate() error {
	var v validator
	v.metric("", m)
	for i := range v.ps {
		v.ps[i].Path = strings.TrimPrefix(v.ps[i].Path, ".")
	}
	return ValidationError(v.ps)
}

// ValidateMetrics checks declared metrics, and the metrics the given
// experiments name, and returns every problem found, nil when there is
// none:
//
//   - each metric: a well-formed, unique key; a known kind; a conversion or
//     mean metric names its event and no numerator or denominator, a ratio
//     metric its numerator and denominator (two different events) and no
//     event; event names of 1–MaxEventNameLen bytes of UTF-8 without
//     control characters; a window, when set, of whole days (1d, 7d…); a
//     direction of Increase, Decrease or 0; a margin of at least 0 and
//     below 100 (percent); a covariate only on a conversion or mean
//     metric, with a window of whole days of its own or the metric's;
//   - each experiment: its primary, secondary and guardrail metrics are
//     metrics, each named once (a metric has one role in an experiment).
//
// A guardrail metric without a margin is valid: margin 0 judges it on any
// significant regression. Paths are metrics[i].field and
// experiments[j].metrics.primary, .secondary[k], .guardrails[k], indexes
// into the slices given. The caller chooses which experiments to check: a
// configuration file checks the ones it declares.
func ValidateMetrics(metrics []Metric, exps []Experiment) []Problem {
	var v validator
	at := map[string]int{}
	var keys []string
	for i := range metrics {
		m := &metrics[i]
		p := fmt.Sprintf("metrics[%d]", i)
		j, dup := at[m.Key]
		switch err := cohorts.ValidateKey(m.Key); {
		case dup:
			v.add(p+".key", "duplicate metric %q (also metrics[%d])", m.Key, j)
		case err != nil:
			v.add(p+".key", "metric %v", err)
		}
		if !dup && m.Key != "" {
			// A malformed key is reported once, here: experiments
			// naming it are not told it is unknown.
			at[m.Key] = i
			keys = append(keys, m.Key)
		}
		v.metric(p, m)
	}
	for i := range exps {
		v.metricRefs(fmt.Sprintf("experiments[%d].metrics", i), &exps[i].Metrics, at, keys)
	}
	return v.ps
}

// metric checks one metric's fields; p is its path ("" for a metric on
// its own).
func (v *validator) metric(p string, m *Metric) {
	switch m.Kind {
	case "":
		v.add(p+".kind", "kind is required: conversion (the share of units with at least one event), mean (the sum of the event's values per unit) or ratio (one event's sum over another's)")
	case Conversion, Mean:
		if m.Event == "" {
			v.add(p+".event", "a %s metric needs the event it counts", m.Kind)
		} else {
			v.event(p+".event", m.Event)
		}
		for _, f := range []struct{ name, val string }{{"numerator", m.Numerator}, {"denominator", m.Denominator}} {
			if f.val != "" {
				v.add(p+"."+f.name, "a %s metric has no %s: it counts its event (a ratio metric divides a numerator by a denominator)", m.Kind, f.name)
			}
		}
	case Ratio:
		if m.Event != "" {
			v.add(p+".event", "a ratio metric has no event: it divides the numerator's sum by the denominator's (for one event, use kind mean or conversion)")
		}
		for _, f := range []struct{ name, val string }{{"numerator", m.Numerator}, {"denominator", m.Denominator}} {
			if f.val == "" {
				v.add(p+"."+f.name, "a ratio metric needs a %s: the event whose values are summed %s", f.name, map[string]string{"numerator": "above the line", "denominator": "below the line"}[f.name])
			} else {
				v.event(p+"."+f.name, f.val)
			}
		}
		if m.Numerator != "" && m.Numerator == m.Denominator {
			v.add(p+".denominator", "the numerator and the denominator are the same event (%s): the ratio would always be 1", m.Denominator)
		}
	default:
		v.add(p+".kind", "unknown kind %q (want conversion, mean or ratio)", m.Kind)
	}
	if m.Window != 0 {
		v.wholeDays(p+".window", m.Window, "window", "after first exposure")
	}
	if m.Direction != 0 && m.Direction != Increase && m.Direction != Decrease {
		v.add(p+".direction", "direction %d: want %d (increase is better) or %d (decrease is better)", m.Direction, Increase, Decrease)
	}
	if math.IsNaN(m.Margin) || m.Margin < 0 || m.Margin >= 100 {
		v.add(p+".margin", "margin %v%% is outside [0, 100): it is the relative worsening a guardrail tolerates, in percent (0.5 for 0.5%%)", m.Margin)
	}
	if c := m.Covariate; c != nil {
		cp := p + ".covariate"
		switch {
		case m.Kind == Ratio:
			v.add(cp, "a ratio metric takes no covariate: CUPED adjusts a conversion or mean metric")
		case c.Window != 0:
			v.wholeDays(cp+".window", c.Window, "covariate window", "before first exposure")
		case m.Window == 0:
			v.add(cp+".window", "the covariate needs a window (the days before first exposure it sums, such as 14d): the metric has none to take")
		}
		if c.Event != "" {
			v.event(cp+".event", c.Event)
		}
	}
}

// wholeDays checks a window: whole days, at least one.
func (v *validator) wholeDays(path string, d rollout.Duration, what, when string) {
	if d < rollout.Duration(day) || time.Duration(d)%day != 0 {
		v.add(path, "%s %s is not a whole number of days: windows count UTC days %s (write 1d, 7d, 14d…)", what, d, when)
	}
}

// event checks an event name as the tracking wire format does.
func (v *validator) event(path, name string) {
	switch {
	case len(name) > MaxEventNameLen:
		v.add(path, "event name %.40q… is longer than %d bytes", name, MaxEventNameLen)
	case !utf8.ValidString(name):
		v.add(path, "event name %q is not valid UTF-8", name)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		v.add(path, "event name %q holds a control character", name)
	}
}

// metricRefs checks the metrics one experiment names against the declared
// ones (their index by key, and their keys in declaration order).
func (v *validator) metricRefs(p string, ms *Metrics, at map[string]int, keys []string) {
	role := map[string]string{}
	check := func(path, what, key string) {
		if _, ok := at[key]; !ok {
			v.add(path, "unknown metric %q%s", key, suggestKey(key, keys, "metrics"))
			return
		}
		if prev, dup := role[key]; dup {
			v.add(path, "metric %s is named twice (%s and %s): a metric has one role in an experiment", key, prev, what)
			return
		}
		role[key] = what
	}
	if ms.Primary != "" {
		check(p+".primary", "as primary", ms.Primary)
	}
	for k, key := range ms.Secondary {
		check(fmt.Sprintf("%s.secondary[%d]", p, k), "in secondary", key)
	}
	for k, key := range ms.Guardrails {
		check(fmt.Sprintf("%s.guardrails[%d]", p, k), "in guardrails", key)
	}
}

// suggestKey says which known key a misspelt one is likely to be, and
// which keys are known: " (did you mean x?; known metrics: a, b)".
func suggestKey(key string, keys []string, what string) string {
	if len(keys) == 0 {
		return " (no " + what + " are declared: declare it under " + what + ")"
	}
	best, bestDist := "", 3
	for _, k := range keys {
		if d := spelling.Distance(strings.ToLower(key), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	list := keys
	if len(list) > 10 {
		list = append(slices.Clone(list[:10]), "…")
	}
	if best != "" && len(key) > bestDist {
		return fmt.Sprintf(" (did you mean %s?; known %s: %s)", best, what, strings.Join(list, ", "))
	}
	return fmt.Sprintf(" (known %s: %s)", what, strings.Join(list, ", "))
}

// MetricKinds returns the kinds of metric, in documentation order.
func MetricKinds() []MetricKind { return slices.Clone(metricKinds) }

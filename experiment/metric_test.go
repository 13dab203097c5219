package experiment_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/tracking"
)

// days is n whole days.
func days(n int) rollout.Duration { return rollout.Duration(time.Duration(n) * 24 * time.Hour) }

// scenarioMetrics are the issue's three metrics (testdata/scenario.yaml).
func scenarioMetrics() []experiment.Metric {
	return []experiment.Metric{
		{Key: "replies-per-user", Kind: experiment.Mean, Event: "dm_reply", Window: days(7), Direction: experiment.Increase,
			Covariate: &experiment.Covariate{Window: days(14)}},
		{Key: "reply-rate", Kind: experiment.Conversion, Event: "dm_reply"},
		{Key: "send-errors-per-message", Kind: experiment.Ratio, Numerator: "dm_send_error", Denominator: "dm_sent",
			Direction: experiment.Decrease, Margin: 0.5},
	}
}

// withMetrics is the scenario's experiment naming the scenario's metrics.
func withMetrics() experiment.Experiment {
	e := dmExperiment(2000)
	e.Metrics = experiment.Metrics{Primary: "replies-per-user", Secondary: []string{"reply-rate"}, Guardrails: []string{"send-errors-per-message"}}
	return e
}

func TestValidateMetricsScenario(t *testing.T) {
	if ps := experiment.ValidateMetrics(scenarioMetrics(), []experiment.Experiment{withMetrics(), ttlExperiment()}); len(ps) != 0 {
		t.Errorf("the scenario's metrics have problems: %v", ps)
	}
	for _, m := range scenarioMetrics() {
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", m.Key, err)
		}
	}
}

// TestValidateMetricsProblems: each case changes the scenario's metrics or
// its experiment one way and expects one problem at one path, whose
// message says the words listed.
func TestValidateMetricsProblems(t *testing.T) {
	type change = func(ms []experiment.Metric, e *experiment.Experiment) []experiment.Metric
	tests := []struct {
		name   string
		change change
		path   string
		says   []string
	}{
		{"no kind", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric { ms[0].Kind = ""; return ms },
			"metrics[0].kind", []string{"kind is required", "conversion", "mean", "ratio"}},
		{"unknown kind", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[1].Kind = "count"
			return ms
		},
			"metrics[1].kind", []string{`unknown kind "count" (want conversion, mean or ratio)`}},
		{"a mean without an event", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[0].Event = ""
			return ms
		},
			"metrics[0].event", []string{"a mean metric needs the event it counts"}},
		{"a conversion with a numerator", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[1].Numerator = "dm_reply"
			return ms
		}, "metrics[1].numerator", []string{"a conversion metric has no numerator"}},
		{"a mean with a denominator", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[0].Denominator = "dm_sent"
			return ms
		}, "metrics[0].denominator", []string{"a mean metric has no denominator"}},
		{"a ratio with an event", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Event = "dm_sent"
			return ms
		},
			"metrics[2].event", []string{"a ratio metric has no event"}},
		{"a ratio without a numerator", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Numerator = ""
			return ms
		},
			"metrics[2].numerator", []string{"a ratio metric needs a numerator"}},
		{"a ratio without a denominator", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Denominator = ""
			return ms
		}, "metrics[2].denominator", []string{"a ratio metric needs a denominator"}},
		{"a ratio of an event over itself", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Denominator = ms[2].Numerator
			return ms
		}, "metrics[2].denominator", []string{"the same event (dm_send_error)", "always be 1"}},
		{"a window of hours", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[1].Window = rollout.Duration(36 * time.Hour)
			return ms
		}, "metrics[1].window", []string{"window 36h is not a whole number of days", "7d"}},
		{"a window under a day", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[1].Window = rollout.Duration(time.Hour)
			return ms
		}, "metrics[1].window", []string{"window 1h is not a whole number of days"}},
		{"a direction of 2", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[0].Direction = 2
			return ms
		},
			"metrics[0].direction", []string{"direction 2: want 1 (increase is better) or -1 (decrease is better)"}},
		{"a negative margin", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Margin = -0.5
			return ms
		},
			"metrics[2].margin", []string{"margin -0.5% is outside [0, 100)"}},
		{"a margin of 100", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Margin = 100
			return ms
		},
			"metrics[2].margin", []string{"margin 100% is outside [0, 100)"}},
		{"a margin that is not a number", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Margin = math.NaN()
			return ms
		}, "metrics[2].margin", []string{"outside [0, 100)"}},
		{"a covariate on a ratio", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Covariate = &experiment.Covariate{Window: days(14)}
			return ms
		}, "metrics[2].covariate", []string{"a ratio metric takes no covariate"}},
		{"a covariate window of hours", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[0].Covariate.Window = rollout.Duration(30 * time.Hour)
			return ms
		}, "metrics[0].covariate.window", []string{"covariate window 30h is not a whole number of days", "before first exposure"}},
		{"a covariate without a window on a metric without one", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[1].Covariate = &experiment.Covariate{}
			return ms
		}, "metrics[1].covariate.window", []string{"the covariate needs a window", "the metric has none"}},
		{"a covariate event with a control character", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[0].Covariate.Event = "dm\treply"
			return ms
		}, "metrics[0].covariate.event", []string{"holds a control character"}},
		{"an event name too long to track", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[1].Event = strings.Repeat("e", experiment.MaxEventNameLen+1)
			return ms
		}, "metrics[1].event", []string{"longer than 128 bytes"}},
		{"an event name that is not UTF-8", func(ms []experiment.Metric, _ *experiment.Experiment) []experiment.Metric {
			ms[2].Numerator = "dm\xffsend"
			return ms
		}, "metrics[2].numerator", []string{"not valid UTF-8"}},
		{"a malformed key, reported once", func(ms []experiment.Metric, e *experiment.Experiment) []experiment.Metric {
			ms[1].Key, e.Metrics.Secondary = "reply rate", []string{"reply rate"}
			return ms
		},
			"metrics[1].key", []string{"metric"}},
		{"a duplicate key", func(ms []experiment.Metric, e *experiment.Experiment) []experiment.Metric {
			ms[2].Key, e.Metrics.Guardrails = ms[0].Key, nil
			return ms
		},
			"metrics[2].key", []string{`duplicate metric "replies-per-user" (also metrics[0])`}},
		{"an unknown primary, misspelt", func(ms []experiment.Metric, e *experiment.Experiment) []experiment.Metric {
			e.Metrics.Primary = "replies-per-usr"
			return ms
		}, "experiments[0].metrics.primary", []string{`unknown metric "replies-per-usr"`, "did you mean replies-per-user?",
			"known metrics: replies-per-user, reply-rate, send-errors-per-message"}},
		{"an unknown secondary", func(ms []experiment.Metric, e *experiment.Experiment) []experiment.Metric {
			e.Metrics.Secondary = append(e.Metrics.Secondary, "crashes-per-user")
			return ms
		}, "experiments[0].metrics.secondary[1]", []string{`unknown metric "crashes-per-user" (known metrics:`}},
		{"an unknown guardrail when none are declared", func(_ []experiment.Metric, e *experiment.Experiment) []experiment.Metric {
			e.Metrics = experiment.Metrics{Guardrails: []string{"crashes-per-user"}}
			return nil
		}, "experiments[0].metrics.guardrails[0]", []string{`unknown metric "crashes-per-user" (no metrics are declared`}},
		{"a metric named twice", func(ms []experiment.Metric, e *experiment.Experiment) []experiment.Metric {
			e.Metrics.Guardrails = append(e.Metrics.Guardrails, "replies-per-user")
			return ms
		}, "experiments[0].metrics.guardrails[1]", []string{"metric replies-per-user is named twice (as primary and in guardrails)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := withMetrics()
			ms := tt.change(scenarioMetrics(), &e)
			ps := experiment.ValidateMetrics(ms, []experiment.Experiment{e})
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1 at %s: %v", len(ps), tt.path, ps)
			}
			if ps[0].Path != tt.path {
				t.Errorf("path %s, want %s (%s)", ps[0].Path, tt.path, ps[0].Message)
			}
			for _, s := range tt.says {
				if !strings.Contains(ps[0].Message, s) {
					t.Errorf("message %q does not say %q", ps[0].Message, s)
				}
			}
			// Metric.Validate finds the same problem of a metric on its
			// own, at the path relative to it.
			i := strings.Index(tt.path, "].")
			if !strings.HasPrefix(tt.path, "metrics[") || strings.HasSuffix(tt.path, ".key") {
				return
			}
			var n int
			if _, err := fmt.Sscanf(tt.path, "metrics[%d]", &n); err != nil {
				t.Fatal(err)
			}
			err := ms[n].Validate()
			var ve *flags.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != tt.path[i+2:] {
				t.Errorf("Validate() = %v, want one problem at %s", err, tt.path[i+2:])
			}
		})
	}
}

// TestGuardrailWithoutMargin: a guardrail metric without a margin is valid,
// judged on any significant regression (margin 0).
func TestGuardrailWithoutMargin(t *testing.T) {
	ms := scenarioMetrics()
	ms[2].Margin = 0
	if ps := experiment.ValidateMetrics(ms, []experiment.Experiment{withMetrics()}); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
	if got := ms[2].MarginFraction(); got != 0 {
		t.Errorf("MarginFraction() = %v, want 0", got)
	}
}

func TestMetricUnitValues(t *testing.T) {
	type values struct {
		Y    experiment.UnitValue
		X    experiment.UnitValue
		HasX bool
	}
	tests := []struct {
		name string
		m    experiment.Metric
		want values
	}{
		{"a mean over 7 days with a 14-day covariate", scenarioMetrics()[0], values{
			Y: experiment.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: 7},
			X: experiment.UnitValue{Event: "dm_reply", FromDay: -14, ToDay: 0}, HasX: true}},
		{"a conversion over the whole phase", scenarioMetrics()[1], values{
			Y: experiment.UnitValue{Event: "dm_reply", FromDay: 0, ToDay: experiment.EndOfPhase, Indicator: true}}},
		{"a ratio over the whole phase", scenarioMetrics()[2], values{
			Y: experiment.UnitValue{Event: "dm_send_error", FromDay: 0, ToDay: experiment.EndOfPhase},
			X: experiment.UnitValue{Event: "dm_sent", FromDay: 0, ToDay: experiment.EndOfPhase}, HasX: true}},
		{"a windowed ratio", experiment.Metric{Kind: experiment.Ratio, Numerator: "a", Denominator: "b", Window: days(3)}, values{
			Y: experiment.UnitValue{Event: "a", ToDay: 3}, X: experiment.UnitValue{Event: "b", ToDay: 3}, HasX: true}},
		{"a conversion whose covariate takes the metric's window and another event", experiment.Metric{Kind: experiment.Conversion,
			Event: "dm_reply", Window: days(7), Covariate: &experiment.Covariate{Event: "dm_open"}}, values{
			Y: experiment.UnitValue{Event: "dm_reply", ToDay: 7, Indicator: true},
			X: experiment.UnitValue{Event: "dm_open", FromDay: -7, ToDay: 0, Indicator: true}, HasX: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got values
			got.Y = tt.m.Y()
			got.X, got.HasX = tt.m.X()
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
		})
	}
}

func TestMetricHelpers(t *testing.T) {
	ms := scenarioMetrics()
	if from, to := ms[0].Days(); from != 0 || to != 7 {
		t.Errorf("Days() = %d, %d; want 0, 7", from, to)
	}
	if from, to, ok := ms[0].CovariateDays(); !ok || from != -14 || to != 0 {
		t.Errorf("CovariateDays() = %d, %d, %v; want -14, 0, true", from, to, ok)
	}
	if _, _, ok := ms[1].CovariateDays(); ok {
		t.Error("CovariateDays() of a metric without a covariate is ok")
	}
	if got := []int{ms[0].Sign(), ms[1].Sign(), ms[2].Sign()}; !cmp.Equal(got, []int{1, 1, -1}) {
		t.Errorf("Sign() = %v, want [1 1 -1] (no direction is increase)", got)
	}
	if got := ms[2].MarginFraction(); math.Abs(got-0.005) > 1e-15 {
		t.Errorf("MarginFraction() = %v, want 0.005", got)
	}
	if got := ms[2].Events(); !cmp.Equal(got, []string{"dm_send_error", "dm_sent"}) {
		t.Errorf("Events() = %v", got)
	}
	if got := ms[0].Events(); !cmp.Equal(got, []string{"dm_reply"}) {
		t.Errorf("Events() = %v (the covariate's event is the metric's)", got)
	}
	if m, ok := experiment.FindMetric(ms, "reply-rate"); !ok || m.Kind != experiment.Conversion {
		t.Errorf("FindMetric(reply-rate) = %v, %v", m, ok)
	}
	if _, ok := experiment.FindMetric(ms, "nope"); ok {
		t.Error("FindMetric found an undeclared metric")
	}
	if got := experiment.MetricKinds(); !cmp.Equal(got, []experiment.MetricKind{"conversion", "mean", "ratio"}) {
		t.Errorf("MetricKinds() = %v", got)
	}
}

// TestMaxEventNameLen: a metric names only events the tracking wire format
// accepts.
func TestMaxEventNameLen(t *testing.T) {
	if experiment.MaxEventNameLen != tracking.MaxNameLen {
		t.Errorf("MaxEventNameLen = %d, tracking.MaxNameLen = %d", experiment.MaxEventNameLen, tracking.MaxNameLen)
	}
}

// A metric's window becomes the day offsets of the per-unit totals: days 0
// to 6 after first exposure, and a covariate's days -14 to -1 before it.
func ExampleMetric_X() {
	m := experiment.Metric{Key: "replies-per-user", Kind: experiment.Mean, Event: "dm_reply",
		Window: rollout.Duration(7 * 24 * time.Hour), Covariate: &experiment.Covariate{Window: rollout.Duration(14 * 24 * time.Hour)}}
	if err := m.Validate(); err != nil {
		panic(err)
	}
	y := m.Y()
	x, _ := m.X()
	fmt.Printf("y: %s on days [%d, %d)\n", y.Event, y.FromDay, y.ToDay)
	fmt.Printf("x: %s on days [%d, %d)\n", x.Event, x.FromDay, x.ToDay)
	// Output:
	// y: dm_reply on days [0, 7)
	// x: dm_reply on days [-14, 0)
}

// ValidateMetrics checks that an experiment names declared metrics.
func ExampleValidateMetrics() {
	metrics := []experiment.Metric{{Key: "reply-rate", Kind: experiment.Conversion, Event: "dm_reply"}}
	exps := []experiment.Experiment{{Key: "dm-handoff-vs-inline", Metrics: experiment.Metrics{Primary: "reply-rte"}}}
	for _, p := range experiment.ValidateMetrics(metrics, exps) {
		fmt.Println(p)
	}
	// Output:
	// experiments[0].metrics.primary: unknown metric "reply-rte" (did you mean reply-rate?; known metrics: reply-rate)
}

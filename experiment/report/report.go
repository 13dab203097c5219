// Package report turns the numbers of one experiment phase into what a
// product team reads: the sample-ratio check first, then every metric's
// arms compared with the control, fixed-horizon and always-valid, with
// CUPED where a covariate is declared, corrected for multiple secondary
// metrics, and a verdict for each guardrail.
//
// It is pure: the per-arm sufficient statistics come in (the store
// computes them with one grouped query per metric), a Report comes out;
// the control plane (internal/admin) queries, the CLI renders. The
// statistics themselves are experiment/stats.
//
// The choices a reader should know, each documented where it is made:
//   - Outcomes (better, worse, inconclusive) are read from the always-valid
//     results, so that a team that looks every day is not fooled; the
//     fixed-horizon results are shown beside them for a team that looks
//     once, at the sample size it planned.
//   - Secondary metrics are corrected with Holm's method across every
//     (secondary metric, treatment arm) pair: the chance that any of the
//     "better" or "worse" read off them is wrong stays below 1 − Level.
//     Holm rather than Benjamini–Hochberg because a secondary result is
//     read one claim at a time, and Holm bounds the chance of any false
//     claim, not only their expected share. Intervals are not adjusted.
//   - Guardrails are judged one-sided on the always-valid interval of the
//     relative difference (stats.Guardrail), taken at 2·Level − 1 so that
//     each end is a one-sided bound at Level: "regressed" when the
//     treatment is worse than the metric's margin with confidence, "ok"
//     when it is not worse than the margin with confidence.
//   - Phases are analysed apart: a Report is one phase.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/stats"
)

// Defaults of Options.
const (
	DefaultLevel = 0.95
	// DefaultNStar is the confidence sequence's tuning: the units (both
	// arms of a comparison) at which it is tightest. 5,000 is GrowthBook's
	// default for the same parameter; set it to the sample the experiment
	// is planned to reach (see stats.Sequential).
	DefaultNStar = 5000
	// DefaultSRMThreshold: a sample-ratio p-value below it is a mismatch.
	DefaultSRMThreshold = 0.001
	// DefaultMultiArmWarning: above this share of units seen in two arms
	// the report warns.
	DefaultMultiArmWarning = 0.01
)

// Options tune a report; zero values mean the defaults.
type Options struct {
	Level           float64
	NStar           float64
	SRMThreshold    float64
	MultiArmWarning float64
}

func (o Options) withDefaults() Options {
	if o.Level <= 0 || o.Level >= 1 {
		o.Level = DefaultLevel
	}
	if o.NStar <= 0 {
		o.NStar = DefaultNStar
	}
	if o.SRMThreshold <= 0 {
		o.SRMThreshold = DefaultSRMThreshold
	}
	if o.MultiArmWarning <= 0 {
		o.MultiArmWarning = DefaultMultiArmWarning
	}
	return o
}

// Role is what a metric is to an experiment.
type Role string

// The roles of a metric.
const (
	Primary   Role = "primary"
	Secondary Role = "secondary"
	Guardrail Role = "guardrail"
)

// ArmCount is one arm's exposed units in the phase: Units whose first
// exposure was to the arm, of which MultiArm were later seen in another
// arm too (excluded from every result).
type ArmCount struct {
	Arm      string `json:"arm"`
	Units    int64  `json:"units"`
	MultiArm int64  `json:"multiArm"`
}

// ArmStats are one arm's sufficient statistics for a metric: N units
// (units seen in two arms excluded), and the sums of the per-unit value y
// (the metric's value; a ratio's numerator), of its square, and of a
// second value x (a ratio's denominator, or CUPED's covariate) with its
// square and its product with y.
type ArmStats struct {
	Arm                string  `json:"arm"`
	N                  int64   `json:"n"`
	SumY, SumY2        float64 `json:"-"`
	SumX, SumX2, SumXY float64 `json:"-"`
}

// Snapshot is a metric's per-arm statistics as they stood at a moment,
// for the estimate over time.
type Snapshot struct {
	At   time.Time
	Arms []ArmStats
}

// MetricData is what the store gave for one metric.
type MetricData struct {
	Metric experiment.Metric
	Role   Role
	Arms   []ArmStats
	// Series, optional, in time order, for the chart of the estimate over
	// time.
	Series []Snapshot
}

// Input is everything a report reads.
type Input struct {
	Experiment experiment.Experiment
	Phase      experiment.Phase
	Exposures  []ArmCount
	Metrics    []MetricData
}

// Report is one phase of one experiment, read.
type Report struct {
	Experiment string     `json:"experiment"`
	Flag       string     `json:"flag"`
	Phase      int        `json:"phase"`
	Started    time.Time  `json:"started"`
	Ended      *time.Time `json:"ended,omitempty"`
	Control    string     `json:"control"`
	Level      float64    `json:"level"`
	NStar      float64    `json:"nStar"`
	// SampleRatio comes first: when it fails, nothing below can be trusted.
	SampleRatio SampleRatio    `json:"sampleRatio"`
	Metrics     []MetricResult `json:"metrics"`
	// Warnings are the things a reader must know before the numbers.
	Warnings []string `json:"warnings,omitempty"`
}

// SampleRatio is the check that units reached the arms in the shares the
// phase's weights say.
type SampleRatio struct {
	Arms []ArmShare `json:"arms"`
	// Units counts the units in the check (seen in one arm only).
	Units int64   `json:"units"`
	Chi2  float64 `json:"chi2"`
	// P is the χ² test's p-value; Mismatch is P below the threshold.
	P        float64 `json:"p"`
	Mismatch bool    `json:"mismatch"`
	// MultiArm units were seen in two arms: excluded and counted.
	MultiArm      int64   `json:"multiArm"`
	MultiArmShare float64 `json:"multiArmShare"`
	// Problem says why the check could not run (no units yet).
	Problem string `json:"problem,omitempty"`
}

// ArmShare is one arm's expected and observed share of the units.
type ArmShare struct {
	Arm      string  `json:"arm"`
	Weight   float64 `json:"weight"` // percent
	Units    int64   `json:"units"`
	Expected float64 `json:"expected"` // share, 0..1
	Observed float64 `json:"observed"` // share, 0..1
}

// MetricResult is one metric, every arm, and each treatment arm against
// the control.
type MetricResult struct {
	Key       string                `json:"key"`
	Role      Role                  `json:"role"`
	Kind      experiment.MetricKind `json:"kind"`
	Direction string                `json:"direction"` // increase or decrease
	// Margin is a guardrail's margin, relative, as a fraction.
	Margin      float64      `json:"margin,omitempty"`
	WindowDays  int          `json:"windowDays,omitempty"`
	Arms        []ArmValue   `json:"arms"`
	Comparisons []Comparison `json:"comparisons"`
	Problem     string       `json:"problem,omitempty"`
}

// ArmValue is an arm's value of a metric: the conversion rate, the mean
// per unit, or the ratio.
type ArmValue struct {
	Arm   string  `json:"arm"`
	Units int64   `json:"units"`
	Value float64 `json:"value"`
}

// Outcome is what a comparison says.
type Outcome string

// The outcomes of a comparison. Better and Worse follow the metric's
// direction; for a guardrail they are OK, Regressed or Inconclusive.
const (
	Better       Outcome = "better"
	Worse        Outcome = "worse"
	Inconclusive Outcome = "inconclusive"
	OK           Outcome = "ok"
	Regressed    Outcome = "regressed"
)

// Comparison is one treatment arm against the control on one metric.
type Comparison struct {
	Arm string `json:"arm"`
	// Fixed is the fixed-horizon result: valid when read once, at a
	// sample size decided in advance.
	Fixed Result `json:"fixed"`
	// Sequential is the always-valid result (a confidence sequence): valid
	// however often it is read.
	Sequential Result `json:"sequential"`
	// CUPED is the result adjusted by the metric's pre-period covariate,
	// when it declares one (and the data allows).
	CUPED *Adjusted `json:"cuped,omitempty"`
	// AdjustedP is, for a secondary metric, the Holm-adjusted always-valid
	// p-value (and AdjustedFixedP the fixed-horizon one); 0 otherwise.
	AdjustedP      float64 `json:"adjustedP,omitempty"`
	AdjustedFixedP float64 `json:"adjustedFixedP,omitempty"`
	// Bound is, for a guardrail, the always-valid interval of the relative
	// difference whose ends are one-sided bounds at the report's level
	// (two-sided at 2·Level − 1: 90% for 95%), the interval its verdict
	// is read from.
	Bound   *Interval `json:"bound,omitempty"`
	Outcome Outcome   `json:"outcome"`
	Problem string    `json:"problem,omitempty"`
	// Series is the relative difference over time, when asked for.
	Series []Point `json:"series,omitempty"`
}

// Adjusted is a CUPED-adjusted result.
type Adjusted struct {
	Fixed      Result `json:"fixed"`
	Sequential Result `json:"sequential"`
	// VarianceReduction is the share of the variance the covariate
	// removed (0.49 for 49%).
	VarianceReduction float64 `json:"varianceReduction"`
}

// Point is the relative difference at a moment, with both intervals.
type Point struct {
	At         time.Time `json:"at"`
	Rel        float64   `json:"rel"`
	Fixed      Interval  `json:"fixed"`
	Sequential Interval  `json:"sequential"`
}

// Result is a treatment arm against the control: the arms' values, the
// absolute difference (Treatment − Control) and the relative one
// (Treatment/Control − 1, its interval by the delta method), each with a
// two-sided interval at the report's level and a p-value for "no
// difference".
type Result struct {
	Control   float64  `json:"control"`
	Treatment float64  `json:"treatment"`
	Abs       float64  `json:"abs"`
	AbsSE     float64  `json:"absSE"`
	AbsCI     Interval `json:"absCI"`
	AbsP      float64  `json:"absP"`
	Rel       float64  `json:"rel"`
	RelSE     float64  `json:"relSE"`
	RelCI     Interval `json:"relCI"`
	RelP      float64  `json:"relP"`
	// N counts the units of both arms.
	N int64 `json:"n"`
}

// Interval is a confidence interval. An unbounded end (an always-valid
// interval over very few units can be) is written null in JSON.
type Interval struct{ Low, High float64 }

// Contains reports whether x is in the interval.
func (i Interval) Contains(x float64) bool { return i.Low <= x && x <= i.High }

// MarshalJSON writes {"low":…,"high":…}, an infinite or undefined end as
// null.
func (i Interval) MarshalJSON() ([]byte, error) {
	end := func(x float64) any {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		return x
	}
	return json.Marshal(struct {
		Low  any `json:"low"`
		High any `json:"high"`
	}{end(i.Low), end(i.High)})
}

// result converts a stats.Difference.
func result(d stats.Difference) Result {
	return Result{Control: d.Control, Treatment: d.Treatment, Abs: d.Abs, AbsSE: d.AbsSE, AbsCI: Interval(d.AbsCI), AbsP: d.AbsP,
		Rel: d.Rel, RelSE: d.RelSE, RelCI: Interval(d.RelCI), RelP: d.RelP, N: d.N}
}

// Build reads an experiment phase. It fails only on input that cannot be
// a phase (no control arm); every metric or comparison that the data does
// not allow (too few units, no variance) says so in its Problem.
func Build(in Input, opt Options) (Report, error) {
	opt = opt.withDefaults()
	x, ph := &in.Experiment, &in.Phase
	weights, arms := phaseArms(x, ph)
	if !slices.Contains(arms, x.Control) {
		return Report{}, fmt.Errorf("report: control %q is not an arm of %s phase %d", x.Control, x.Key, ph.Number)
	}
	r := Report{Experiment: x.Key, Flag: x.Flag, Phase: ph.Number, Started: ph.Started, Ended: ph.Ended,
		Control: x.Control, Level: opt.Level, NStar: opt.NStar}
	r.SampleRatio = sampleRatio(weights, in.Exposures, opt)
	if sr := r.SampleRatio; sr.Mismatch {
		r.Warnings = append(r.Warnings, fmt.Sprintf(
			"SAMPLE RATIO MISMATCH (p = %.2g < %g): units did not reach the arms in the phase's shares; assignment or exposure recording is broken, and no result below can be trusted",
			sr.P, opt.SRMThreshold))
	}
	if sr := r.SampleRatio; sr.MultiArmShare > opt.MultiArmWarning {
		r.Warnings = append(r.Warnings, fmt.Sprintf(
			"%.1f%% of units were seen in two arms (%d; excluded): their bucketing attribute changed between evaluations, or services disagree on it",
			100*sr.MultiArmShare, sr.MultiArm))
	}
	for _, md := range in.Metrics {
		r.Metrics = append(r.Metrics, metricResult(md, arms, x.Control, opt))
	}
	holm(r.Metrics)
	for i := range r.Metrics {
		outcomes(&r.Metrics[i], opt)
	}
	return r, nil
}

// phaseArms returns the phase's arms and weights in declaration order
// (the experiment's when the phase records none), and their names.
func phaseArms(x *experiment.Experiment, ph *experiment.Phase) ([]experiment.Arm, []string) {
	arms := ph.Arms
	if len(arms) == 0 {
		arms = x.Arms
	}
	names := make([]string, len(arms))
	for i, a := range arms {
		names[i] = a.Variant
	}
	return arms, names
}

// sampleRatio runs the χ² check of the units seen in one arm only against
// the phase's weights.
func sampleRatio(arms []experiment.Arm, counts []ArmCount, opt Options) SampleRatio {
	var sr SampleRatio
	byArm := map[string]ArmCount{}
	var all int64
	for _, c := range counts {
		byArm[c.Arm] = c
		all += c.Units
		sr.MultiArm += c.MultiArm
	}
	observed := make([]int64, len(arms))
	weights := make([]float64, len(arms))
	var totalWeight float64
	for i, a := range arms {
		c := byArm[a.Variant]
		observed[i] = c.Units - c.MultiArm
		weights[i] = float64(a.Weight) / 100 // basis points to percent
		totalWeight += weights[i]
		sr.Units += observed[i]
	}
	for i, a := range arms {
		share := ArmShare{Arm: a.Variant, Weight: weights[i], Units: observed[i]}
		if totalWeight > 0 {
			share.Expected = weights[i] / totalWeight
		}
		if sr.Units > 0 {
			share.Observed = float64(observed[i]) / float64(sr.Units)
		}
		sr.Arms = append(sr.Arms, share)
	}
	if all > 0 {
		sr.MultiArmShare = float64(sr.MultiArm) / float64(all)
	}
	chi2, p, err := stats.SampleRatio(observed, weights)
	if err != nil {
		sr.Problem = problem(err)
		sr.P = 1 // no evidence of a mismatch; Problem says why
		return sr
	}
	sr.Chi2, sr.P, sr.Mismatch = chi2, p, p < opt.SRMThreshold
	return sr
}

// metricResult compares every treatment arm of one metric with the
// control.
func metricResult(md MetricData, arms []string, control string, opt Options) MetricResult {
	m := &md.Metric
	mr := MetricResult{Key: m.Key, Role: md.Role, Kind: m.Kind, Direction: direction(m), WindowDays: m.WindowDays()}
	if md.Role == Guardrail {
		mr.Margin = m.MarginFraction()
	}
	byArm := map[string]ArmStats{}
	for _, a := range md.Arms {
		byArm[a.Arm] = a
	}
	for _, a := range arms {
		s := byArm[a]
		mr.Arms = append(mr.Arms, ArmValue{Arm: a, Units: s.N, Value: value(m.Kind, s)})
	}
	seq := stats.Sequential{NStar: opt.NStar, Level: opt.Level}
	c := byArm[control]
	for _, a := range arms {
		if a == control {
			continue
		}
		cmp := Comparison{Arm: a}
		t := byArm[a]
		fixed, err := compare(m, c, t, opt.Level)
		if err != nil {
			cmp.Problem, cmp.Outcome = problem(err), Inconclusive
			mr.Comparisons = append(mr.Comparisons, cmp)
			continue
		}
		cmp.Fixed = result(fixed)
		sequential, err := seq.Difference(fixed)
		if err != nil {
			cmp.Problem = problem(err)
		}
		cmp.Sequential = result(sequential)
		if m.Covariate != nil && m.Kind != experiment.Ratio {
			cmp.CUPED = cuped(c, t, seq, opt.Level)
		}
		if md.Role == Guardrail {
			cmp.Bound = guardrailBound(m, c, t, opt)
		}
		for _, snap := range md.Series {
			if p, ok := point(m, snap, control, a, seq, opt.Level); ok {
				cmp.Series = append(cmp.Series, p)
			}
		}
		mr.Comparisons = append(mr.Comparisons, cmp)
	}
	if c.N == 0 {
		mr.Problem = "no exposed units in the control arm yet"
	}
	return mr
}

// compare runs the metric kind's test of treatment t against control c.
func compare(m *experiment.Metric, c, t ArmStats, level float64) (stats.Difference, error) {
	switch m.Kind {
	case experiment.Conversion:
		return stats.Proportions(moments(c), moments(t), level)
	case experiment.Ratio:
		return stats.Ratios(paired(c), paired(t), level)
	default:
		return stats.Means(moments(c), moments(t), level)
	}
}

// cuped adjusts by the covariate; nil when the data does not allow it.
func cuped(c, t ArmStats, seq stats.Sequential, level float64) *Adjusted {
	d, vr, err := stats.CUPED(paired(c), paired(t), level)
	if err != nil {
		return nil
	}
	s, err := seq.Difference(d)
	if err != nil {
		return nil
	}
	return &Adjusted{Fixed: result(d), Sequential: result(s), VarianceReduction: vr}
}

// guardrailBound is the always-valid relative interval at 2·Level − 1
// (CUPED-adjusted when the metric declares a covariate): each of its ends
// is a one-sided bound at Level, so a guardrail watched every day is
// judged at the report's level. nil when the data does not allow it.
func guardrailBound(m *experiment.Metric, c, t ArmStats, opt Options) *Interval {
	level := 2*opt.Level - 1
	seq := stats.Sequential{NStar: opt.NStar, Level: level}
	d, err := compare(m, c, t, level)
	if m.Covariate != nil && m.Kind != experiment.Ratio {
		if adj, _, cerr := stats.CUPED(paired(c), paired(t), level); cerr == nil {
			d, err = adj, nil
		}
	}
	if err != nil {
		return nil
	}
	s, err := seq.Difference(d)
	if err != nil {
		return nil
	}
	b := Interval(s.RelCI)
	return &b
}

// point is the comparison as it stood at one snapshot.
func point(m *experiment.Metric, snap Snapshot, control, arm string, seq stats.Sequential, level float64) (Point, bool) {
	var c, t ArmStats
	for _, a := range snap.Arms {
		switch a.Arm {
		case control:
			c = a
		case arm:
			t = a
		}
	}
	d, err := compare(m, c, t, level)
	if err != nil {
		return Point{}, false
	}
	s, err := seq.Difference(d)
	if err != nil {
		return Point{}, false
	}
	return Point{At: snap.At, Rel: d.Rel, Fixed: Interval(d.RelCI), Sequential: Interval(s.RelCI)}, true
}

// best returns the result a comparison's outcome is read from: the
// CUPED-adjusted always-valid one when there is one, else the plain.
func (c *Comparison) best() Result {
	if c.CUPED != nil {
		return c.CUPED.Sequential
	}
	return c.Sequential
}

// holm adjusts the p-values of every (secondary metric, treatment arm)
// comparison with Holm's method, fixed-horizon and always-valid apart.
func holm(ms []MetricResult) {
	var at []*Comparison
	var ps, fixed []float64
	for i := range ms {
		if ms[i].Role != Secondary {
			continue
		}
		for j := range ms[i].Comparisons {
			c := &ms[i].Comparisons[j]
			if c.Problem != "" {
				continue
			}
			at = append(at, c)
			ps = append(ps, c.best().AbsP)
			fixed = append(fixed, c.Fixed.AbsP)
		}
	}
	if len(at) == 0 {
		return
	}
	adj, err1 := stats.Holm(ps)
	adjFixed, err2 := stats.Holm(fixed)
	if err1 != nil || err2 != nil {
		return
	}
	for i, c := range at {
		c.AdjustedP, c.AdjustedFixedP = adj[i], adjFixed[i]
	}
}

// outcomes reads each comparison's outcome from its always-valid result.
func outcomes(mr *MetricResult, opt Options) {
	alpha := 1 - opt.Level
	sign := 1.0
	if mr.Direction == "decrease" {
		sign = -1
	}
	for i := range mr.Comparisons {
		c := &mr.Comparisons[i]
		if c.Problem != "" {
			c.Outcome = Inconclusive
			continue
		}
		d := c.best()
		if mr.Role == Guardrail {
			if c.Bound == nil {
				c.Outcome, c.Problem = Inconclusive, "no relative difference to judge yet"
				continue
			}
			v, err := stats.Guardrail(stats.Interval(*c.Bound), int(sign), mr.Margin)
			switch {
			case err != nil:
				c.Outcome, c.Problem = Inconclusive, problem(err)
			case v == stats.VerdictOK:
				c.Outcome = OK
			case v == stats.VerdictRegressed:
				c.Outcome = Regressed
			default:
				c.Outcome = Inconclusive
			}
			continue
		}
		p := d.AbsP
		if mr.Role == Secondary {
			p = c.AdjustedP
		}
		switch {
		case p >= alpha:
			c.Outcome = Inconclusive
		case sign*d.Abs > 0:
			c.Outcome = Better
		default:
			c.Outcome = Worse
		}
	}
}

func moments(a ArmStats) stats.Moments {
	return stats.Moments{N: a.N, Sum: a.SumY, SumSq: a.SumY2}
}

func paired(a ArmStats) stats.Paired {
	return stats.Paired{N: a.N, SumY: a.SumY, SumY2: a.SumY2, SumX: a.SumX, SumX2: a.SumX2, SumXY: a.SumXY}
}

// value is an arm's value of the metric: rate, mean or ratio (0 without
// units, or a ratio without denominator).
func value(k experiment.MetricKind, a ArmStats) float64 {
	if k == experiment.Ratio {
		if a.SumX == 0 {
			return 0
		}
		return a.SumY / a.SumX
	}
	if a.N == 0 {
		return 0
	}
	return a.SumY / float64(a.N)
}

func direction(m *experiment.Metric) string {
	if m.Sign() < 0 {
		return "decrease"
	}
	return "increase"
}

// problem words a statistics error for a reader.
func problem(err error) string {
	switch {
	case errors.Is(err, stats.ErrTooFewUnits):
		return "too few units yet"
	case errors.Is(err, stats.ErrZeroVariance):
		return "no variation in the data yet"
	case errors.Is(err, stats.ErrZeroControl):
		return "the control's value is 0: no relative difference"
	case errors.Is(err, stats.ErrZeroDenominator):
		return "the denominator is 0 in an arm"
	}
	return err.Error()
}

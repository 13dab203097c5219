package safety

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/stats"
	"github.com/ramp-flags/ramp/rollout"
)

// GuardLevel is the level of the always-valid intervals guardrails are
// judged with: 0.90. Each verdict reads one end of the interval, so a
// sequence at 0.90 judges one-sided at about 95%, and stays valid however
// often the controller looks (stats.Guardrail; experiment/stats' daily
// simulation declares a false regression at the margin in under 2% of
// runs).
const GuardLevel = 0.90

// DefaultGuardNStar tunes the guardrails' confidence sequence (stats.
// Sequential's NStar) when the stage sets no minimum sample: tightest at
// 20,000 units, both sides together. With a minimum sample the sequence is
// tightest where the stage may first advance: at twice MinSample. A NStar
// far off widens the intervals there, never invalidates them.
const DefaultGuardNStar = 20_000

// MinGuardUnits is the fewest exposed units each side of a split must
// hold before a guardrail is judged at all: below it the normal
// approximation the intervals rest on is not to be trusted, and the
// verdict is VerdictNoData.
const MinGuardUnits = 100

// The metric kinds a guardrail compares (experiment.MetricKind).
const (
	KindConversion = string(experiment.Conversion)
	KindMean       = string(experiment.Mean)
	KindRatio      = string(experiment.Ratio)
)

// Verdict is what a guardrail says of a live stage.
type Verdict string

// The verdicts: stats.Guardrail's, and one for too little data.
const (
	VerdictOK           Verdict = "ok"
	VerdictInconclusive Verdict = "inconclusive"
	VerdictRegressed    Verdict = "regressed"
	// VerdictNoData: too few units (MinGuardUnits) or values that cannot
	// be compared yet (no variance, a control of zero); Note says which.
	VerdictNoData Verdict = "no data"
)

// GuardInput is one guardrail metric's data on a live stage's split.
type GuardInput struct {
	// Metric is the metric's key; Kind one of KindConversion, KindMean,
	// KindRatio; Direction +1 when higher is better, -1 when lower is.
	Metric    string
	Kind      string
	Direction int
	// Margin is the non-inferiority margin, relative, in percent (0.5 for
	// 0.5%).
	Margin float64
	// Control (the default variant's side) and Treatment (the plan's
	// variant's) are the arms' sufficient statistics: Y is the metric's
	// per-unit value (an indicator for a conversion, a ratio's
	// numerator), X a ratio's denominator.
	Control, Treatment stats.Paired
	// NStar tunes the sequence; 0 means DefaultGuardNStar.
	NStar float64
}

// ArmValue is one side's units and value (rate, mean or ratio).
type ArmValue struct {
	Units int64   `json:"units"`
	Value float64 `json:"value"`
}

// GuardVerdict is one guardrail's verdict with the data behind it.
type GuardVerdict struct {
	Metric    string  `json:"metric"`
	Kind      string  `json:"kind"`
	Direction int     `json:"direction"`
	Margin    float64 `json:"margin"` // percent
	// Control and Treatment are the default's side and the variant's.
	Control   ArmValue `json:"control"`
	Treatment ArmValue `json:"treatment"`
	// Rel is the relative difference, Treatment/Control − 1, and Interval
	// its always-valid interval at GuardLevel (fractions: 0.01 is 1%);
	// both zero with VerdictNoData.
	Rel      float64        `json:"rel"`
	Interval stats.Interval `json:"interval"`
	Verdict  Verdict        `json:"verdict"`
	// Note says why there is no verdict yet.
	Note string `json:"note,omitempty"`
}

// JudgeGuardrail compares the two sides of a live stage's split for one
// guardrail metric: the relative difference (two-proportion for a
// conversion, Welch for a mean, the delta method for a ratio; stats), its
// always-valid interval at GuardLevel (stats.Sequential), and the
// one-sided verdict against the margin in the metric's bad direction
// (stats.Guardrail). It never fails: data that cannot be judged yet gives
// VerdictNoData with a Note.
func JudgeGuardrail(in GuardInput) GuardVerdict {
	v := GuardVerdict{Metric: in.Metric, Kind: in.Kind, Direction: in.Direction, Margin: in.Margin,
		Control: ArmValue{Units: in.Control.N}, Treatment: ArmValue{Units: in.Treatment.N}, Verdict: VerdictNoData}
	if v.Direction == 0 {
		v.Direction = 1
	}
	if in.Control.N < MinGuardUnits || in.Treatment.N < MinGuardUnits {
		v.Note = fmt.Sprintf("fewer than %d units on a side", MinGuardUnits)
		return v
	}
	var (
		d   stats.Difference
		err error
	)
	switch in.Kind {
	case KindConversion:
		d, err = stats.Proportions(in.Control.Y(), in.Treatment.Y(), GuardLevel)
	case KindMean:
		d, err = stats.Means(in.Control.Y(), in.Treatment.Y(), GuardLevel)
	case KindRatio:
		d, err = stats.Ratios(in.Control, in.Treatment, GuardLevel)
	default:
		v.Note = fmt.Sprintf("unknown metric kind %q", in.Kind)
		return v
	}
	v.Control.Value, v.Treatment.Value = d.Control, d.Treatment
	if err != nil {
		v.Note = noteOf(err)
		return v
	}
	nstar := in.NStar
	if nstar <= 0 {
		nstar = DefaultGuardNStar
	}
	seq, err := stats.Sequential{NStar: nstar, Level: GuardLevel}.Difference(d)
	if err != nil {
		v.Note = noteOf(err)
		return v
	}
	verdict, err := stats.Guardrail(seq.RelCI, v.Direction, in.Margin/100)
	if err != nil {
		v.Note = noteOf(err)
		return v
	}
	v.Rel, v.Interval = seq.Rel, seq.RelCI
	v.Verdict = map[stats.Verdict]Verdict{stats.VerdictOK: VerdictOK, stats.VerdictRegressed: VerdictRegressed}[verdict]
	if v.Verdict == "" {
		v.Verdict = VerdictInconclusive
	}
	return v
}

// noteOf says in words why a comparison could not be made yet.
func noteOf(err error) string {
	switch {
	case errors.Is(err, stats.ErrZeroVariance):
		return "no variation yet (every unit has the same value)"
	case errors.Is(err, stats.ErrZeroControl), errors.Is(err, stats.ErrZeroDenominator):
		return "the default's side has no events yet"
	case errors.Is(err, stats.ErrTooFewUnits):
		return "too few units"
	}
	return err.Error()
}

// Words describes the verdict for status and the audit log:
// "+3.20% (always-valid 90% interval +1.10% to +5.30%; margin 1%, lower is
// better): regressed".
func (v *GuardVerdict) Words() string {
	if v.Verdict == VerdictNoData {
		return "no data: " + v.Note
	}
	better := "higher is better"
	if v.Direction < 0 {
		better = "lower is better"
	}
	return fmt.Sprintf("%s (always-valid %g%% interval %s to %s; margin %g%%, %s): %s",
		signed(v.Rel), 100*GuardLevel, signed(v.Interval.Low), signed(v.Interval.High), v.Margin, better, v.Verdict)
}

// signed writes a fraction as a signed percentage: "+3.20%".
func signed(x float64) string { return fmt.Sprintf("%+.2f%%", 100*x) }

// StageInput is a live guarded stage's data for StageJudgement.
type StageInput struct {
	Flag  string
	Stage *rollout.Stage
	// Sample is the exposed units each side of the stage's split holds.
	Sample rollout.Sample
	// Verdicts are the stage's guardrails' verdicts (JudgeGuardrail).
	Verdicts []GuardVerdict
	// At is when the judgement is made, for the reason.
	At time.Time
}

// StageJudgement is what the controller does with a live guarded stage.
type StageJudgement struct {
	Verdicts []GuardVerdict `json:"guardrails"`
	// Sample is the exposed units each side holds; Enough says both sides
	// hold the stage's MinSample (always, without one).
	Sample    rollout.Sample `json:"sample"`
	MinSample int64          `json:"minSample,omitempty"`
	Enough    bool           `json:"enough"`
	// Halt says a guardrail regressed: the controller halts the plan
	// (rollout.Rollout.Halt) with Reason, pausing it or rolling it back
	// (Reaction).
	Halt     bool             `json:"halt"`
	Reaction rollout.Reaction `json:"reaction"`
	Reason   string           `json:"reason,omitempty"`
}

// JudgeStage decides what to do with a live guarded stage: halt it when
// any guardrail regressed, with a reason that names each regressed metric,
// by how much, with its interval and margin, the stage, when, and the
// sides' units.
func JudgeStage(in StageInput) StageJudgement {
	j := StageJudgement{Verdicts: in.Verdicts, Sample: in.Sample, MinSample: in.Stage.MinSample, Reaction: in.Stage.Reaction()}
	j.Enough = in.Stage.MinSample <= 0 || (in.Sample.Treatment >= in.Stage.MinSample && in.Sample.Control >= in.Stage.MinSample)
	var regressed []string
	for i := range in.Verdicts {
		v := &in.Verdicts[i]
		if v.Verdict == VerdictRegressed {
			regressed = append(regressed, fmt.Sprintf("%s %s", v.Metric, v.Words()))
		}
	}
	if len(regressed) == 0 {
		return j
	}
	j.Halt = true
	what := "paused"
	if j.Reaction == rollout.ReactRollback {
		what = "rolled back to the previous stage"
	}
	v := &in.Verdicts[0]
	for i := range in.Verdicts {
		if in.Verdicts[i].Verdict == VerdictRegressed {
			v = &in.Verdicts[i]
			break
		}
	}
	j.Reason = fmt.Sprintf("guardrail regression in stage %s at %s: %s; %s units without the variant, %s with it; %s by the controller",
		in.Stage.Name, in.At.UTC().Format(time.RFC3339), strings.Join(regressed, "; "),
		Thousands(v.Control.Units), Thousands(v.Treatment.Units), what)
	return j
}

package safety

import (
	"fmt"
	"strings"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/stats"
	"github.com/ramp-flags/ramp/flags"
)

// DefaultMinSample is the sample the sample-ratio check waits for before
// it may pause: every arm must be expected to hold at least this many
// exposed units (the phase's exposed units times the arm's weight). A
// count of zero in an arm therefore pauses too, once the others have
// arrived. 1,000 units per arm keep a handful of early exposures (a
// provider a moment behind a start) from deciding anything.
const DefaultMinSample int64 = 1000

// SampleRatioAlpha is the p-value below which the check pauses an
// experiment: 0.001.
const SampleRatioAlpha = 0.001

// ArmCount is one arm of a running phase as the sample-ratio check reads
// it: its weight in the phase and its exposed units, those seen in
// another arm too left out.
type ArmCount struct {
	Arm    string        `json:"arm"`
	Weight flags.Percent `json:"weight"`
	Units  int64         `json:"units"`
}

// PhaseCounts pairs a phase's arms, in declaration order, with the
// exposed units per arm (missing arms have none). Arms exposed that the
// phase does not have are left out: the server refuses such exposures
// before they are stored (tracking.ExposureCheck).
func PhaseCounts(p *experiment.Phase, units map[string]int64) []ArmCount {
	out := make([]ArmCount, len(p.Arms))
	for i, a := range p.Arms {
		out[i] = ArmCount{Arm: a.Variant, Weight: a.Weight, Units: units[a.Variant]}
	}
	return out
}

// SampleRatioInput is what one sample-ratio check of a running phase
// reads.
type SampleRatioInput struct {
	// Experiment and Phase name what is checked, for the reason.
	Experiment string
	Phase      int
	Arms       []ArmCount
	// MinSample is the units every arm must be expected to hold before
	// the check may pause; 0 means DefaultMinSample.
	MinSample int64
	// PriorMinP is the least p-value of the phase's earlier checks; 0
	// when there were none.
	PriorMinP float64
}

// ArmShare is one arm's observed and expected share of the phase's
// exposed units.
type ArmShare struct {
	Arm   string `json:"arm"`
	Units int64  `json:"units"`
	// Observed and Expected are shares of the phase's units, 0.5 for 50%.
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
}

// SampleRatio is the outcome of one sample-ratio check: the shares, the
// p-value, and whether to pause.
type SampleRatio struct {
	Experiment string     `json:"experiment"`
	Phase      int        `json:"phase"`
	Arms       []ArmShare `json:"arms"`
	Units      int64      `json:"units"`
	// P is the anytime-valid p-value of the counts as they are now
	// (stats.SequentialSampleRatio); MinP the least of P and the phase's
	// earlier checks: the sequential p-value, which is what decides.
	P    float64 `json:"p"`
	MinP float64 `json:"minP"`
	// Enough says every arm is expected to hold MinSample units.
	Enough    bool  `json:"enough"`
	MinSample int64 `json:"minSample"`
	// Pause says to pause the experiment: Enough, and MinP below
	// SampleRatioAlpha. Reason says why, with the counts and p-values, in
	// words a person reads in the audit log and `experiments get`.
	Pause  bool   `json:"pause"`
	Reason string `json:"reason,omitempty"`
}

// CheckSampleRatio decides whether a running phase's assignment looks
// broken: the phase's exposed units per arm are tested against its weights
// with the anytime-valid sample-ratio test of Lindon and Malek
// (stats.SequentialSampleRatio), whose p-value may be recomputed at every
// pass of the controller, for as long as the phase runs, without raising
// false alarms: the chance that a phase with sound assignment is ever
// paused is at most SampleRatioAlpha. The sequential p-value is the
// running minimum over the checks (MinP), so the caller keeps it between
// checks (PriorMinP). The check pauses once every arm is expected to hold
// MinSample units and MinP is below SampleRatioAlpha.
//
// Arms of weight 0 without units do not count. It returns an error
// wrapping stats' when the counts cannot be tested (fewer than two arms of
// positive weight); no units at all is not an error (P 1, not Enough).
func CheckSampleRatio(in SampleRatioInput) (SampleRatio, error) {
	out := SampleRatio{Experiment: in.Experiment, Phase: in.Phase, MinSample: in.MinSample, P: 1, MinP: 1}
	if out.MinSample <= 0 {
		out.MinSample = DefaultMinSample
	}
	var weights float64
	for _, a := range in.Arms {
		out.Units += a.Units
		weights += float64(a.Weight)
	}
	observed := make([]int64, 0, len(in.Arms))
	ws := make([]float64, 0, len(in.Arms))
	out.Enough = out.Units > 0 && weights > 0
	for _, a := range in.Arms {
		if a.Weight <= 0 && a.Units == 0 {
			continue
		}
		sh := ArmShare{Arm: a.Arm, Units: a.Units}
		if weights > 0 {
			sh.Expected = float64(a.Weight) / weights
		}
		if out.Units > 0 {
			sh.Observed = float64(a.Units) / float64(out.Units)
		}
		if a.Weight > 0 && float64(out.Units)*sh.Expected < float64(out.MinSample) {
			out.Enough = false
		}
		out.Arms = append(out.Arms, sh)
		observed = append(observed, a.Units)
		ws = append(ws, float64(a.Weight))
	}
	if out.Units > 0 {
		p, err := stats.SequentialSampleRatio(observed, ws)
		if err != nil {
			return out, fmt.Errorf("experiment %s phase %d: %w", in.Experiment, in.Phase, err)
		}
		out.P, out.MinP = p, p
	}
	if in.PriorMinP > 0 && in.PriorMinP < out.MinP {
		out.MinP = in.PriorMinP
	}
	if out.Enough && out.MinP < SampleRatioAlpha {
		out.Pause = true
		out.Reason = out.words()
	}
	return out, nil
}

// words says what the check found: "sample ratio mismatch in phase 1:
// off 5,600 units (56.00%, expected 50.00%), on 4,400 (44.00%, expected
// 50.00%); anytime-valid p = 3.1e-32 < 0.001".
func (s *SampleRatio) words() string {
	var b strings.Builder
	b.WriteString(MismatchPrefix(s.Phase))
	for i, a := range s.Arms {
		if i > 0 {
			b.WriteString(", ")
		}
		unit := ""
		if i == 0 {
			unit = " units"
		}
		fmt.Fprintf(&b, "%s %s%s (%s, expected %s)", a.Arm, Thousands(a.Units), unit, Share(a.Observed), Share(a.Expected))
	}
	fmt.Fprintf(&b, "; anytime-valid p = %s < %g", PValue(s.MinP), SampleRatioAlpha)
	if s.MinP < s.P {
		fmt.Fprintf(&b, " (the least of the phase's checks; now %s)", PValue(s.P))
	}
	return b.String()
}

// MismatchPrefix is how the reason of a pause the sample-ratio check
// decided for a phase begins: "sample ratio mismatch in phase 2: ".
func MismatchPrefix(phase int) string {
	return fmt.Sprintf("sample ratio mismatch in phase %d: ", phase)
}

// Share writes a share as a percentage with two decimals: "50.05%".
func Share(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }

// PValue writes a p-value with three significant digits: "0.0421",
// "3.1e-32", "1".
func PValue(p float64) string { return fmt.Sprintf("%.3g", p) }

// Thousands writes n with a comma every three digits: "10,000,000".
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// srmInput validates units per arm against the arms' weights and returns
// the weights as probabilities. Weights need not sum to 1 (arm weights in
// percent or basis points do); an arm with weight 0 expects no units.
func srmInput(observed []int64, weights []float64) (probs []float64, total int64, err error) {
	if len(observed) != len(weights) {
		return nil, 0, fmt.Errorf("%d counts for %d weights: %w", len(observed), len(weights), ErrInvalid)
	}
	var sum float64
	positive := 0
	for i, w := range weights {
		if !(w >= 0) || math.IsInf(w, 1) {
			return nil, 0, fmt.Errorf("weight %d = %v: %w: weights are finite and not negative", i, w, ErrInvalid)
		}
		if w > 0 {
			positive++
		}
		sum += w
	}
	if positive < 2 {
		return nil, 0, fmt.Errorf("%d arms with a positive weight: %w: a sample ratio needs two", positive, ErrInvalid)
	}
	for i, o := range observed {
		if o < 0 {
			return nil, 0, fmt.Errorf("arm %d: %d units: %w: a count cannot be negative", i, o, ErrInvalid)
		}
		total += o
	}
	if total == 0 {
		return nil, 0, fmt.Errorf("no units: %w", ErrTooFewUnits)
	}
	probs = make([]float64, len(weights))
	for i, w := range weights {
		probs[i] = w / sum
	}
	return probs, total, nil
}

// SampleRatio is Pearson's χ² goodness-of-fit test of the units per arm
// against the arms' weights: χ² = Σ (observed − expected)²/expected with
// expected = total·weight/Σweights, on (arms − 1) degrees of freedom. A
// small p-value says assignment or exposure recording is broken (a sample
// ratio mismatch), which biases every metric of the experiment. It is a
// fixed-horizon test: checked again and again as units arrive, its false
// alarms add up; SequentialSampleRatio may be checked any number of times.
//
// Units in an arm of weight 0 are a certain mismatch: χ² is +Inf and p is
// 0. Arms of weight 0 without units do not count as arms.
func SampleRatio(observed []int64, weights []float64) (chi2, p float64, err error) {
	probs, total, err := srmInput(observed, weights)
	if err != nil {
		return 0, 0, fmt.Errorf("sample ratio: %w", err)
	}
	arms := 0
	for i, o := range observed {
		if probs[i] == 0 {
			if o > 0 {
				return math.Inf(1), 0, nil
			}
			continue
		}
		arms++
		e := float64(total) * probs[i]
		dev := float64(o) - e
		chi2 += dev * dev / e
	}
	return chi2, chi2Survival(chi2, arms-1), nil
}

// chi2Survival is P(χ²(k) > x). For the common one and two degrees of
// freedom it uses the closed forms erfc(sqrt(x/2)) and exp(−x/2), exact and
// far faster than gonum's incomplete gamma function, used for the rest.
func chi2Survival(x float64, k int) float64 {
	switch k {
	case 1:
		return math.Erfc(math.Sqrt(x / 2))
	case 2:
		return math.Exp(-x / 2)
	}
	return distuv.ChiSquared{K: float64(k)}.Survival(x)
}

// DefaultConcentration is the concentration of the Dirichlet prior
// SequentialSampleRatio uses: 10,000, GrowthBook's default for the same
// test. Larger values put the prior closer to the weights, which detects
// small mismatches sooner and large ones a little later.
const DefaultConcentration = 10000

// SequentialSampleRatio is the anytime-valid sample-ratio test of Lindon
// and Malek ("Anytime-Valid Inference for Multinomial Count Data", NeurIPS
// 2022): a Bayes factor of "the arms' shares are drawn from a Dirichlet
// prior centred on the weights, with DefaultConcentration" against "the
// shares are the weights", with
//
//	ln BF = ln B(α + x) − ln B(α) − Σ xᵢ ln pᵢ,  α = c·p,
//	B(a) = Π Γ(aᵢ) / Γ(Σ aᵢ),
//
// (the multinomial coefficients cancel). The prior is conjugate, so
// updating it unit by unit or day by day ends at the same BF: it depends
// only on the current counts, which is why this function needs no history.
// Under the weights BF is a nonnegative martingale with mean 1, so by
// Ville's inequality the chance that 1/BF is EVER below α is at most α:
// the p-value min(1, 1/BF) may be checked after every unit or every day,
// for as long as the experiment runs, without inflating false alarms.
//
// The p-value returned is the one for the counts given. The paper's
// sequential p-value is the running minimum of these over time, which is
// also valid and can only be smaller: a caller that re-checks daily should
// keep the smallest p-value seen in the phase, or use a SampleRatioMonitor,
// which does. Units in an arm of weight 0 give p = 0.
func SequentialSampleRatio(observed []int64, weights []float64) (p float64, err error) {
	p, err = sequentialSampleRatio(observed, weights, DefaultConcentration)
	if err != nil {
		return 0, fmt.Errorf("sequential sample ratio: %w", err)
	}
	return p, nil
}

func sequentialSampleRatio(observed []int64, weights []float64, concentration float64) (float64, error) {
	if !(concentration > 0) || math.IsInf(concentration, 1) {
		return 0, fmt.Errorf("concentration %v: %w: a positive number", concentration, ErrInvalid)
	}
	probs, _, err := srmInput(observed, weights)
	if err != nil {
		return 0, err
	}
	var logBF, sumA, sumAX float64
	for i, o := range observed {
		if probs[i] == 0 {
			if o > 0 {
				return 0, nil
			}
			continue
		}
		a := concentration * probs[i]
		x := float64(o)
		sumA += a
		sumAX += a + x
		logBF += lgamma(a+x) - lgamma(a) - x*math.Log(probs[i])
	}
	logBF += lgamma(sumA) - lgamma(sumAX)
	if logBF <= 0 {
		return 1, nil
	}
	return math.Exp(-logBF), nil
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// SampleRatioMonitor keeps the running minimum of SequentialSampleRatio
// over the checks of one phase: the sequential p-value of Lindon and Malek.
// Its zero value is ready to use (DefaultConcentration); a caller that
// persists it between runs (a controller restarted daily) stores P and
// Checks. Start a new monitor for each phase: the weights, and the units,
// start afresh. A monitor is not safe for concurrent use.
type SampleRatioMonitor struct {
	// Concentration of the Dirichlet prior; 0 means DefaultConcentration.
	// Keep it fixed for the life of the monitor.
	Concentration float64
	// P is the smallest p-value seen; meaningful once Checks > 0.
	P float64
	// Checks counts the checks made.
	Checks int
}

// Check computes the p-value of the current counts (cumulative since the
// phase began) and returns the smallest seen so far, including this one.
// A failed check leaves the monitor unchanged.
func (m *SampleRatioMonitor) Check(observed []int64, weights []float64) (float64, error) {
	c := m.Concentration
	if c == 0 {
		c = DefaultConcentration
	}
	p, err := sequentialSampleRatio(observed, weights, c)
	if err != nil {
		return 0, fmt.Errorf("sample ratio monitor: %w", err)
	}
	if m.Checks == 0 || p < m.P {
		m.P = p
	}
	m.Checks++
	return m.P, nil
}

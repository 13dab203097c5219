package chart

import (
	"math"
	"strconv"
	"strings"
)

// minus is the typographic minus sign, as wide as the plus sign, so that
// signed numbers line up.
const minus = "\u2212"

// percent formats a fraction as a signed percentage with d decimals and
// no unit: 0.032 → "+3.2", −0.005 → "−0.5", 0 → "0.0", −∞ → "−∞". A value
// that rounds to zero has no sign.
func percent(v float64, d int) string {
	switch {
	case math.IsInf(v, +1):
		return "+∞"
	case math.IsInf(v, -1):
		return minus + "∞"
	}
	s := strconv.FormatFloat(math.Abs(v)*100, 'f', d, 64)
	if strings.Trim(s, "0.") == "" {
		return s
	}
	if v < 0 {
		return minus + s
	}
	return "+" + s
}

// decimalsFor returns how many decimals show a percentage step exactly:
// 0.05 (5%) → 0, 0.002 (0.2%) → 1, 0.0005 → 2.
func decimalsFor(step float64) int {
	p := step * 100
	for d := 0; d < 6; d++ {
		scaled := p * math.Pow10(d)
		if math.Abs(scaled-math.Round(scaled)) < 1e-6*math.Max(1, scaled) {
			return d
		}
	}
	return 6
}

// niceStep returns the smallest "nice" step (1, 2 or 5 times a power of
// ten) that is at least raw. (2.5 is left out: its multiples need mixed
// decimals, "+2.5%" beside "+5%".)
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	mag := math.Pow10(int(math.Floor(math.Log10(raw))))
	for _, m := range []float64{1, 2, 5, 10} {
		if s := m * mag; s >= raw*(1-1e-9) {
			return s
		}
	}
	return 10 * mag
}

// nextStep returns the nice step after step.
func nextStep(step float64) float64 { return niceStep(step * 1.0001) }

// ticksIn returns the multiples of step within [lo, hi].
func ticksIn(lo, hi, step float64) []float64 {
	var out []float64
	first := math.Ceil(lo/step - 1e-9)
	for i := first; ; i++ {
		v := i * step
		if v > hi+step*1e-9 {
			break
		}
		if math.Abs(v) < step*1e-9 {
			v = 0 // no "−0"
		}
		out = append(out, v)
		if len(out) > 1000 { // unreachable for sane steps; a guard, not a limit
			break
		}
	}
	return out
}

// valueDecimals picks the decimals of the numbers printed beside the rows:
// enough that the narrowest interval shows about two significant digits,
// between one and three.
func valueDecimals(widths []float64) int {
	narrowest := math.Inf(1)
	for _, w := range widths {
		if w > 0 && !math.IsInf(w, 0) && w < narrowest {
			narrowest = w
		}
	}
	if math.IsInf(narrowest, 1) {
		return 1
	}
	d := 1 - int(math.Floor(math.Log10(narrowest*100)+1e-9))
	return min(max(d, 1), 3)
}

// levelText formats a confidence level: 0.95 → "95%", 0.975 → "97.5%".
func levelText(level float64) string {
	return strconv.FormatFloat(level*100, 'f', -1, 64) + "%"
}

package stats

import (
	"fmt"
	"math"
	"sort"
)

// Holm returns Holm's step-down adjusted p-values ("A Simple Sequentially
// Rejective Multiple Test Procedure", Scand. J. Statistics 1979), in the
// order given: sorted ascending, the i-th of m (from 1) becomes
// max over j ≤ i of min(1, (m − j + 1)·p₍ⱼ₎). Rejecting the hypotheses whose
// adjusted p-value is below α keeps the chance of any false positive among
// them (the family-wise error rate) at most α, under any dependence.
func Holm(p []float64) ([]float64, error) {
	order, err := sortedIndex(p)
	if err != nil {
		return nil, fmt.Errorf("holm: %w", err)
	}
	m := len(p)
	adj := make([]float64, m)
	running := 0.0
	for rank, i := range order {
		v := math.Min(1, float64(m-rank)*p[i])
		running = math.Max(running, v)
		adj[i] = running
	}
	return adj, nil
}

// BenjaminiHochberg returns the Benjamini–Hochberg adjusted p-values
// ("Controlling the False Discovery Rate", J. R. Statist. Soc. B 1995), in
// the order given: sorted ascending, the i-th of m becomes
// min over j ≥ i of min(1, m·p₍ⱼ₎/j). Rejecting those below q keeps the
// expected share of false discoveries among the rejections at most q when
// the tests are independent or positively dependent (Benjamini and
// Yekutieli 2001) — less strict than Holm, so more powerful.
func BenjaminiHochberg(p []float64) ([]float64, error) {
	order, err := sortedIndex(p)
	if err != nil {
		return nil, fmt.Errorf("benjamini-hochberg: %w", err)
	}
	m := len(p)
	adj := make([]float64, m)
	running := 1.0
	for rank := m - 1; rank >= 0; rank-- {
		i := order[rank]
		v := math.Min(1, float64(m)*p[i]/float64(rank+1))
		running = math.Min(running, v)
		adj[i] = running
	}
	return adj, nil
}

func sortedIndex(p []float64) ([]int, error) {
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("p-value %d = %v: %w: p-values are in [0, 1]", i, v, ErrInvalid)
		}
	}
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return p[order[a]] < p[order[b]] })
	return order, nil
}

package chart

import (
	"math"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
)

func TestPercent(t *testing.T) {
	cases := []struct {
		v    float64
		d    int
		want string
	}{
		{0.032, 1, "+3.2"},
		{-0.005, 1, minus + "0.5"},
		{0, 1, "0.0"},
		{-0.0004, 1, "0.0"}, // rounds to zero: no sign
		{0.05, 0, "+5"},
		{-0.1, 0, minus + "10"},
		{0.00123, 2, "+0.12"},
		{math.Inf(1), 1, "+∞"},
		{math.Inf(-1), 1, minus + "∞"},
	}
	for _, tc := range cases {
		if got := percent(tc.v, tc.d); got != tc.want {
			t.Errorf("percent(%v, %d) = %q, want %q", tc.v, tc.d, got, tc.want)
		}
	}
}

func TestNiceStepsAndTicks(t *testing.T) {
	for raw, want := range map[float64]float64{0.013: 0.02, 0.02: 0.02, 0.021: 0.05, 0.07: 0.1, 0.0003: 0.0005, 3: 5} {
		if got := niceStep(raw); math.Abs(got-want) > 1e-12 {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
	for step, want := range map[float64]int{0.05: 0, 0.01: 0, 0.002: 1, 0.0005: 2, 1: 0} {
		if got := decimalsFor(step); got != want {
			t.Errorf("decimalsFor(%v) = %d, want %d", step, got, want)
		}
	}
	got := ticksIn(-0.1, 0.1, 0.05)
	want := []float64{-0.1, -0.05, 0, 0.05, 0.1}
	if len(got) != len(want) {
		t.Fatalf("ticksIn = %v, want %v", got, want)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-12 || math.Signbit(got[i]) && got[i] == 0 {
			t.Errorf("ticksIn[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if d := valueDecimals([]float64{0.062, 0.3}); d != 1 {
		t.Errorf("valueDecimals(6.2 points) = %d, want 1", d)
	}
	if d := valueDecimals([]float64{0.004}); d != 2 {
		t.Errorf("valueDecimals(0.4 points) = %d, want 2", d)
	}
	if d := valueDecimals([]float64{math.Inf(1)}); d != 1 {
		t.Errorf("valueDecimals(∞) = %d, want 1", d)
	}
}

func TestTimeTicks(t *testing.T) {
	at := func(s string) float64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return unix(tm)
	}
	labels := func(ts []plot.Tick) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Label)
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		lo, hi string
		max    int
		want   string
	}{
		// Three weeks: Mondays.
		{"2025-03-04T00:00:00Z", "2025-03-24T00:00:00Z", 4, "Mar 10,Mar 17,Mar 24"},
		// Three weeks with room: every other day (even days since 1970).
		{"2025-03-04T00:00:00Z", "2025-03-24T00:00:00Z", 10, "Mar 5,Mar 7,Mar 9,Mar 11,Mar 13,Mar 15,Mar 17,Mar 19,Mar 21,Mar 23"},
		// One day: hours, the date at midnight.
		{"2025-03-04T00:00:00Z", "2025-03-05T00:00:00Z", 5, "Mar 4,06:00,12:00,18:00,Mar 5"},
	}
	for _, tc := range cases {
		if got := labels(timeTicker{maxTicks: tc.max}.Ticks(at(tc.lo), at(tc.hi))); got != tc.want {
			t.Errorf("ticks %s..%s (≤%d) = %s, want %s", tc.lo, tc.hi, tc.max, got, tc.want)
		}
	}
}

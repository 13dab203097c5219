package safety_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/experiment/stats"
	"github.com/ramp-flags/ramp/flags"
)

func arms(pairs ...any) []safety.ArmCount {
	var out []safety.ArmCount
	for i := 0; i < len(pairs); i += 3 {
		out = append(out, safety.ArmCount{Arm: pairs[i].(string), Weight: flags.Percent(pairs[i+1].(int) * 100), Units: int64(pairs[i+2].(int))})
	}
	return out
}

func TestCheckSampleRatio(t *testing.T) {
	tests := []struct {
		name      string
		in        safety.SampleRatioInput
		pause     bool
		enough    bool
		reason    []string // fragments of the reason, when pausing
		minPAbove float64  // MinP must be above this (0: no bound)
	}{
		{name: "no units", in: safety.SampleRatioInput{Arms: arms("off", 50, 0, "on", 50, 0)}},
		{name: "balanced 50/50", in: safety.SampleRatioInput{Arms: arms("off", 50, 5000, "on", 50, 5000)}, enough: true, minPAbove: 0.5},
		{name: "balanced three arms", in: safety.SampleRatioInput{Arms: arms("off", 34, 3400, "handoff", 33, 3300, "inline", 33, 3300)}, enough: true, minPAbove: 0.5},
		// A harmless deviation on a large sample: 50.05% is not a mismatch.
		{name: "harmless deviation", in: safety.SampleRatioInput{Arms: arms("off", 50, 500_500, "on", 50, 499_500)}, enough: true, minPAbove: SampleRatioAlphaTimes(10)},
		{name: "planted 45/55", in: safety.SampleRatioInput{Phase: 1, Arms: arms("off", 50, 9000, "on", 50, 11000)}, enough: true, pause: true,
			reason: []string{"sample ratio mismatch in phase 1", "off 9,000 units (45.00%, expected 50.00%)", "on 11,000 (55.00%, expected 50.00%)", "< 0.001"}},
		{name: "biased but below the minimum sample", in: safety.SampleRatioInput{Arms: arms("off", 50, 600, "on", 50, 400)}},
		// The same 60/40 split: too few units for the anytime-valid test
		// to be sure (the price of checking every pass), then enough.
		{name: "biased, minimum sample lowered", in: safety.SampleRatioInput{Arms: arms("off", 50, 600, "on", 50, 400), MinSample: 100}, enough: true, minPAbove: 0.1},
		{name: "biased, more units", in: safety.SampleRatioInput{Arms: arms("off", 50, 1800, "on", 50, 1200), MinSample: 100}, enough: true, pause: true},
		// An arm that receives nothing is the worst mismatch: the minimum
		// sample counts what each arm should have, not what it has.
		{name: "an empty arm", in: safety.SampleRatioInput{Phase: 2, Arms: arms("off", 50, 2500, "on", 50, 0)}, enough: true, pause: true,
			reason: []string{"phase 2", "on 0 (0.00%, expected 50.00%)"}},
		// A small arm is expected to hold its share: 10% of 5,000 is 500.
		{name: "small arm short of its minimum", in: safety.SampleRatioInput{Arms: arms("off", 90, 4000, "on", 10, 1000)}},
		// The sequential p-value is the running minimum: evidence seen by
		// an earlier check still pauses.
		{name: "earlier evidence", in: safety.SampleRatioInput{Arms: arms("off", 50, 5000, "on", 50, 5000), PriorMinP: 1e-5}, enough: true, pause: true,
			reason: []string{"p = 1e-05 < 0.001 (the least of the phase's checks; now 1)"}},
		{name: "earlier evidence, not enough", in: safety.SampleRatioInput{Arms: arms("off", 50, 50, "on", 50, 50), PriorMinP: 1e-5}},
		{name: "zero-weight arm without units", in: safety.SampleRatioInput{Arms: arms("off", 50, 5000, "on", 50, 5000, "old", 0, 0)}, enough: true, minPAbove: 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := safety.CheckSampleRatio(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Pause != tt.pause || got.Enough != tt.enough {
				t.Fatalf("pause %v, enough %v (p %g, min p %g); want pause %v, enough %v", got.Pause, got.Enough, got.P, got.MinP, tt.pause, tt.enough)
			}
			if got.MinP > got.P || (tt.in.PriorMinP > 0 && got.MinP > tt.in.PriorMinP) {
				t.Errorf("min p %g is not the least of p %g and the prior %g", got.MinP, got.P, tt.in.PriorMinP)
			}
			if got.MinP <= tt.minPAbove {
				t.Errorf("min p %g; want above %g", got.MinP, tt.minPAbove)
			}
			if (got.Reason != "") != tt.pause {
				t.Errorf("reason %q with pause %v", got.Reason, got.Pause)
			}
			for _, frag := range tt.reason {
				if !strings.Contains(got.Reason, frag) {
					t.Errorf("reason %q lacks %q", got.Reason, frag)
				}
			}
			var sum float64
			for _, a := range got.Arms {
				sum += a.Expected
			}
			if len(got.Arms) > 0 && (sum < 0.999999 || sum > 1.000001) {
				t.Errorf("expected shares sum to %g", sum)
			}
		})
	}
}

func SampleRatioAlphaTimes(k float64) float64 { return k * safety.SampleRatioAlpha }

// TestCheckSampleRatioOneArm: counts that cannot be tested are an error.
func TestCheckSampleRatioOneArm(t *testing.T) {
	_, err := safety.CheckSampleRatio(safety.SampleRatioInput{Arms: arms("off", 100, 10, "on", 0, 0)})
	if !errors.Is(err, stats.ErrInvalid) {
		t.Fatalf("one arm of positive weight: %v; want stats.ErrInvalid", err)
	}
}

func TestPhaseCounts(t *testing.T) {
	p := &experiment.Phase{Arms: []experiment.Arm{{Variant: "off", Weight: 5000}, {Variant: "on", Weight: 5000}}}
	got := safety.PhaseCounts(p, map[string]int64{"on": 7, "stray": 3})
	want := []safety.ArmCount{{Arm: "off", Weight: 5000}, {Arm: "on", Weight: 5000, Units: 7}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("PhaseCounts = %+v; want %+v", got, want)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 10_000_000: "10,000,000", -12345: "-12,345"} {
		if got := safety.Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestSampleRatioAutoPauseSimulation runs the controller's rule as it runs
// in production, a check every day with the running minimum carried from
// check to check, over seeded simulated experiments with a known truth:
//
//   - A/A (sound 50/50 assignment), 2,000 units a day for 30 days: the
//     check pauses at most 0.1% of runs (Ville's inequality bounds it by
//     SampleRatioAlpha however often it looks).
//   - A planted 45/55 split, 2,000 units a day: every run is paused by the
//     time it has 20,000 units.
func TestSampleRatioAutoPauseSimulation(t *testing.T) {
	runs := 10_000
	if testing.Short() {
		runs = 2_000
	}
	const perDay, days = 2_000, 30
	rng := rand.New(rand.NewPCG(13, 2022))
	simulate := func(share float64, days int) (pausedOn int) {
		day := distuv.Binomial{N: perDay, P: share, Src: rng}
		var off, on int64
		var minP float64
		for d := 1; d <= days; d++ {
			a := int64(day.Rand())
			off, on = off+a, on+perDay-a
			got, err := safety.CheckSampleRatio(safety.SampleRatioInput{Arms: []safety.ArmCount{
				{Arm: "off", Weight: 5000, Units: off}, {Arm: "on", Weight: 5000, Units: on}}, PriorMinP: minP})
			if err != nil {
				t.Fatal(err)
			}
			minP = got.MinP
			if got.Pause {
				return d
			}
		}
		return 0
	}
	falseAlarms := 0
	for range runs {
		if simulate(0.5, days) > 0 {
			falseAlarms++
		}
	}
	if limit := runs / 1000; falseAlarms > limit {
		t.Errorf("A/A: %d of %d runs paused; want at most %d (0.1%%)", falseAlarms, runs, limit)
	}
	t.Logf("A/A: %d of %d runs paused over %d daily checks", falseAlarms, runs, days)
	missed := 0
	for range 500 {
		if d := simulate(0.45, days); d == 0 || d*perDay > 20_000 {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("planted 45/55: %d of 500 runs not paused by 20,000 units", missed)
	}
}

package flags_test

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ramp-flags/ramp/flags"
)

// The engine's published guarantees, each checked over at least 100,000
// generated users.
const population = 100_000

// TestDeterministic: the same state compiled twice gives identical decisions,
// and the digest of 100,000 decisions is pinned, so any process, build or
// platform that disagrees fails here.
func TestDeterministic(t *testing.T) {
	a, b := mustCompile(t, scenario()), mustCompile(t, scenario())
	h := sha256.New()
	regions := []string{"US", "CA", "BR", "FR", "MX"}
	for i := range population {
		ctx := map[string]any{
			"targetingKey":    fmt.Sprintf("user-%d", i),
			"region":          regions[i%len(regions)],
			"appVersion":      fmt.Sprintf("%d.%d.0", 290+i%20, i%3),
			"accountCenterId": fmt.Sprintf("ac-%d", i/2),
		}
		for _, key := range a.Keys() {
			da, db := a.Evaluate(key, ctx), b.Evaluate(key, ctx)
			if da.Variant != db.Variant || da.Reason != db.Reason {
				t.Fatalf("%s %v: %s/%s vs %s/%s", key, ctx, da.Variant, da.Reason, db.Variant, db.Reason)
			}
			fmt.Fprintf(h, "%s %d %s %s\n", key, i, da.Variant, da.Reason)
		}
	}
	got := fmt.Sprintf("%x", h.Sum(nil))
	if got != deterministicDigest {
		t.Errorf("digest of %d users' decisions = %s, want %s: assignments changed (see docs/bucketing.md)", population, got, deterministicDigest)
	}
}

// deterministicDigest pins the decisions of TestDeterministic. Changing it
// means real users change variant: only an intended change of the scenario
// in helpers_test.go may do that, never a change of the engine.
const deterministicDigest = "825aec31b45e9624ae396b49d20b174b428b4f6f5640628b2bae07b1b86551d0"

// TestUniform: each variant's share is within 0.5 percentage points of its
// weight, for splits from a 0.01% canary to a 50/50 test.
func TestUniform(t *testing.T) {
	tests := []struct {
		name   string
		splits []flags.Split
	}{
		{"three-way", []flags.Split{{Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}, {Variant: "off", Weight: 5000}}},
		{"50/50", []flags.Split{{Variant: "a", Weight: 5000}, {Variant: "b", Weight: 5000}}},
		{"1% stage", []flags.Split{{Variant: "on", Weight: 100}, {Variant: "off", Weight: 9900}}},
		{"0.01% canary", []flags.Split{{Variant: "on", Weight: 1}, {Variant: "off", Weight: 9999}}},
		{"uneven", []flags.Split{{Variant: "a", Weight: 3333}, {Variant: "b", Weight: 3333}, {Variant: "c", Weight: 3334}}},
	}
	us := users(population)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("uniform-%d", i)
			snap := mustCompile(t, flags.State{Flags: []flags.Flag{split(key, tt.splits...)}})
			counts := map[string]int{}
			for _, u := range us {
				counts[snap.Evaluate(key, u).Variant]++
			}
			for _, s := range tt.splits {
				share := 100 * float64(counts[s.Variant]) / population
				want := float64(s.Weight) / 100
				if math.Abs(share-want) > 0.5 {
					t.Errorf("%s: %.3f%%, want %.2f%% ± 0.5", s.Variant, share, want)
				}
			}
		})
	}
}

// TestMonotonic: raising a variant's percentage from p to q keeps every user
// who had it at p. The contract (docs/bucketing.md): a variant keeps its
// users when it grows, as long as the variants declared before it keep their
// weights — true of every two-variant rollout, whichever is first.
func TestMonotonic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	us := users(population)
	for trial := range 20 {
		p := flags.Percent(rng.IntN(int(flags.Hundred)))
		q := p + flags.Percent(rng.IntN(int(flags.Hundred-p)+1))
		var before, after flags.Flag
		if trial%2 == 0 { // rollout variant first, as plans write it
			before = split("m", flags.Split{Variant: "on", Weight: p}, flags.Split{Variant: "off", Weight: flags.Hundred - p})
			after = split("m", flags.Split{Variant: "on", Weight: q}, flags.Split{Variant: "off", Weight: flags.Hundred - q})
		} else { // rollout variant last
			before = split("m", flags.Split{Variant: "off", Weight: flags.Hundred - p}, flags.Split{Variant: "on", Weight: p})
			after = split("m", flags.Split{Variant: "off", Weight: flags.Hundred - q}, flags.Split{Variant: "on", Weight: q})
		}
		// A third variant between them must not matter either.
		sb, sa := mustCompile(t, flags.State{Flags: []flags.Flag{before}}), mustCompile(t, flags.State{Flags: []flags.Flag{after}})
		kept, had := 0, 0
		for _, u := range us {
			if sb.Evaluate("m", u).Variant == "on" {
				had++
				if sa.Evaluate("m", u).Variant != "on" {
					t.Fatalf("trial %d: %s had on at %s%% and lost it at %s%%", trial, u["targetingKey"], p, q)
				}
				kept++
			}
		}
		if kept != had {
			t.Fatalf("trial %d: kept %d of %d", trial, kept, had)
		}
	}
	// Multi-variant: grow the middle variant at the expense of the last.
	for trial := range 10 {
		a := flags.Percent(rng.IntN(3000))
		p := flags.Percent(rng.IntN(3000))
		q := p + flags.Percent(rng.IntN(int(flags.Hundred-a-p)+1))
		sb := mustCompile(t, flags.State{Flags: []flags.Flag{split("m", flags.Split{Variant: "a", Weight: a}, flags.Split{Variant: "b", Weight: p}, flags.Split{Variant: "c", Weight: flags.Hundred - a - p})}})
		sa := mustCompile(t, flags.State{Flags: []flags.Flag{split("m", flags.Split{Variant: "a", Weight: a}, flags.Split{Variant: "b", Weight: q}, flags.Split{Variant: "c", Weight: flags.Hundred - a - q})}})
		for _, u := range us {
			if sb.Evaluate("m", u).Variant == "b" && sa.Evaluate("m", u).Variant != "b" {
				t.Fatalf("multi trial %d: user lost b growing %s → %s", trial, p, q)
			}
		}
	}
}

// TestIndependent: two flags split 50/50 give four cells of 25% ± 1, because
// each flag's key salts its hash.
func TestIndependent(t *testing.T) {
	half := []flags.Split{{Variant: "a", Weight: 5000}, {Variant: "b", Weight: 5000}}
	snap := mustCompile(t, flags.State{Flags: []flags.Flag{split("exp-one", half...), split("exp-two", half...)}})
	cells := map[[2]string]int{}
	for _, u := range users(population) {
		cells[[2]string{snap.Evaluate("exp-one", u).Variant, snap.Evaluate("exp-two", u).Variant}]++
	}
	if len(cells) != 4 {
		t.Fatalf("cells = %v", cells)
	}
	for cell, n := range cells {
		if share := 100 * float64(n) / population; math.Abs(share-25) > 1 {
			t.Errorf("cell %v: %.2f%%, want 25 ± 1", cell, share)
		}
	}
}

// TestLinkedAccountsAgree: with bucketBy accountCenterId, the Instagram and
// WhatsApp accounts of one person get the same variant whatever their
// targetingKey or app.
func TestLinkedAccountsAgree(t *testing.T) {
	snap := mustCompile(t, scenario())
	on := 0
	for i := range population {
		ac := fmt.Sprintf("ac-%d", i)
		ig := map[string]any{"targetingKey": fmt.Sprintf("ig-%d", i), "app": "instagram", "region": "US", "accountCenterId": ac}
		wa := map[string]any{"targetingKey": fmt.Sprintf("wa-%d", i*31+7), "app": "whatsapp", "region": "US", "accountCenterId": ac}
		a, b := snap.Evaluate("messenger-ig-interop", ig), snap.Evaluate("messenger-ig-interop", wa)
		if a.Variant != b.Variant || a.IsError() {
			t.Fatalf("account centre %s: instagram %s, whatsapp %s (%s)", ac, a.Variant, b.Variant, a.ErrorDetails)
		}
		if a.Variant == "on" {
			on++
		}
	}
	if share := 100 * float64(on) / population; math.Abs(share-10) > 0.5 {
		t.Errorf("US 10%% rollout gave %.2f%%", share)
	}
}

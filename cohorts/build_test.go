package cohorts

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSetBuilderMatchesNewSetFromHashes(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 8, 9, 31, 32, 33, 100, 1000, 100_000} {
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		hashes := make([]uint64, n)
		for i := range hashes {
			hashes[i] = rng.Uint64() | 1
		}
		want := NewSetFromHashes(slices.Clone(hashes))
		sorted := want.Hashes()
		b, err := NewSetBuilder(len(sorted))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range sorted {
			if err := b.Add(h); err != nil {
				t.Fatalf("n=%d: Add: %v", n, err)
			}
		}
		got, err := b.Set()
		if err != nil {
			t.Fatalf("n=%d: Set: %v", n, err)
		}
		if got.Len() != want.Len() || got.buckets != want.buckets || !slices.Equal(got.slots, want.slots) {
			t.Fatalf("n=%d: built table differs from NewSetFromHashes' (len %d/%d, buckets %d/%d)", n, len(got.slots), len(want.slots), got.buckets, want.buckets)
		}
		for _, h := range hashes[:min(len(hashes), 50)] {
			if !got.ContainsHash(h) {
				t.Fatalf("n=%d: member %#x not found", n, h)
			}
		}
		var each []uint64
		got.Each(func(h uint64) bool { each = append(each, h); return true })
		if !slices.Equal(each, sorted) {
			t.Fatalf("n=%d: Each differs from Hashes", n)
		}
	}
}

// Hashes crowded at the top of the range overflow the home buckets: the
// builder grows its table as NewSetFromHashes sizes it.
func TestSetBuilderOverflow(t *testing.T) {
	hashes := make([]uint64, 200)
	for i := range hashes {
		hashes[i] = ^uint64(0) - uint64(len(hashes)-i)
	}
	want := NewSetFromHashes(slices.Clone(hashes))
	b, _ := NewSetBuilder(len(hashes))
	for _, h := range hashes {
		if err := b.Add(h); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Set()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.slots, want.slots) {
		t.Fatalf("table of %d slots, want %d", len(got.slots), len(want.slots))
	}
}

func TestSetBuilderRefusals(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		hashes []uint64
	}{
		{"descending", 2, []uint64{5, 4}},
		{"repeated", 2, []uint64{5, 5}},
		{"zero", 1, []uint64{0}},
		{"more than announced", 1, []uint64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := NewSetBuilder(tt.n)
			var err error
			for _, h := range tt.hashes {
				if err = b.Add(h); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("Add accepted every hash")
			}
		})
	}
	b, _ := NewSetBuilder(3)
	_ = b.Add(1)
	if _, err := b.Set(); !errors.Is(err, ErrSetOrder) {
		t.Fatalf("Set with too few hashes: %v, want ErrSetOrder", err)
	}
}

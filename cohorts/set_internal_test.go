package cohorts

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// checkLayout verifies the invariants ContainsHash relies on: buckets on
// cache lines, members in ascending order, each in the slot after the
// previous one or at the start of its home bucket, whichever is later, and
// an empty slot at the end of the table.
func checkLayout(t *testing.T, s *Set) {
	t.Helper()
	if s.n == 0 {
		if len(s.slots) != 0 || s.size != 0 {
			t.Errorf("empty set: %d slots, %d bytes; want none", len(s.slots), s.size)
		}
		return
	}
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(s.slots))); p%cacheLine != 0 {
		t.Errorf("n=%d: table at %#x, not on a %d-byte boundary", s.n, p, cacheLine)
	}
	if len(s.slots)%bucketLen != 0 || len(s.slots) < int(s.buckets)*bucketLen {
		t.Errorf("n=%d: %d slots for %d home buckets", s.n, len(s.slots), s.buckets)
	}
	if s.size < len(s.slots)*8 || s.size > len(s.slots)*8+cacheLine-8 {
		t.Errorf("n=%d: size %d bytes for %d slots", s.n, s.size, len(s.slots))
	}
	if last := s.slots[len(s.slots)-1]; last != 0 {
		t.Errorf("n=%d: last slot holds %#x, want empty", s.n, last)
	}
	next, count := 0, 0
	var prev uint64
	for i, h := range s.slots {
		if h == 0 {
			continue
		}
		if h <= prev {
			t.Fatalf("n=%d: slot %d holds %#x after %#x", s.n, i, h, prev)
		}
		if want := max(next, s.home(h)); i != want {
			t.Fatalf("n=%d: %#x (home slot %d) in slot %d, want %d", s.n, h, s.home(h), i, want)
		}
		prev, next = h, i+1
		count++
	}
	if count != s.n {
		t.Errorf("table holds %d hashes, n = %d", count, s.n)
	}
}

func TestSetLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 2, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 4096, 100_000} {
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = r.Uint64()
		}
		checkLayout(t, NewSetFromHashes(hs))
	}
	// Skewed values crowd a few home buckets and overflow far.
	hs := make([]uint64, 5000)
	for i := range hs {
		hs[i] = r.Uint64() >> r.IntN(64)
	}
	checkLayout(t, NewSetFromHashes(hs))
}

// Members crowded into the last home bucket overflow into spare buckets
// after it rather than wrapping around to the first.
func TestSetOverflowsPastLastBucket(t *testing.T) {
	for _, n := range []int{8, 9, 16, 40} {
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = math.MaxUint64 - 1 - 2*uint64(i) // odd gaps for non-members
		}
		s := NewSetFromHashes(hs)
		checkLayout(t, s)
		if home := s.home(math.MaxUint64); home != int(s.buckets-1)*bucketLen {
			t.Fatalf("n=%d: MaxUint64 has home slot %d, want the last home bucket", n, home)
		}
		if spare := len(s.slots)/bucketLen - int(s.buckets); spare < n/bucketLen {
			t.Errorf("n=%d: %d spare buckets, want at least %d", n, spare, n/bucketLen)
		}
		for i := range uint64(n) {
			if h := math.MaxUint64 - 1 - 2*i; !s.ContainsHash(h) {
				t.Errorf("n=%d: ContainsHash(%#x) = false, want true", n, h)
			}
			if h := math.MaxUint64 - 2*i; s.ContainsHash(h) {
				t.Errorf("n=%d: ContainsHash(%#x) = true, want false", n, h)
			}
		}
		if h := math.MaxUint64 - 2*uint64(n); s.ContainsHash(h) {
			t.Errorf("n=%d: ContainsHash(%#x) = true, want false", n, h)
		}
	}
}

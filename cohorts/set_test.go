package cohorts_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ramp-flags/ramp/cohorts"
)

func TestNewSet(t *testing.T) {
	s := cohorts.NewSet([]string{"emp-1", "emp-2", "emp-1", "", "emp-3", "emp-2"})
	if got := s.Len(); got != 4 {
		t.Errorf("Len() = %d, want 4 (duplicates count once)", got)
	}
	for _, id := range []string{"emp-1", "emp-2", "emp-3", ""} {
		if !s.Contains(id) {
			t.Errorf("Contains(%q) = false, want true", id)
		}
		if !s.ContainsHash(cohorts.HashID(id)) {
			t.Errorf("ContainsHash(HashID(%q)) = false, want true", id)
		}
	}
	for _, id := range []string{"emp-4", "EMP-1", "emp-1 ", "emp"} {
		if s.Contains(id) {
			t.Errorf("Contains(%q) = true, want false", id)
		}
	}
}

func TestEmptySets(t *testing.T) {
	sets := map[string]*cohorts.Set{
		"NewSet(nil)":           cohorts.NewSet(nil),
		"NewSet([]string{})":    cohorts.NewSet([]string{}),
		"NewSetFromHashes(nil)": cohorts.NewSetFromHashes(nil),
		"zero value":            new(cohorts.Set),
		"nil":                   nil,
	}
	for name, s := range sets {
		if got := s.Len(); got != 0 {
			t.Errorf("%s: Len() = %d, want 0", name, got)
		}
		for _, id := range []string{"", "x"} {
			if s.Contains(id) {
				t.Errorf("%s: Contains(%q) = true, want false", name, id)
			}
		}
		for _, h := range []uint64{0, 1, math.MaxUint64} {
			if s.ContainsHash(h) {
				t.Errorf("%s: ContainsHash(%#x) = true, want false", name, h)
			}
		}
		if got := s.Hashes(); len(got) != 0 {
			t.Errorf("%s: Hashes() = %v, want none", name, got)
		}
	}
	if got := (*cohorts.Set)(nil).SizeBytes(); got != 0 {
		t.Errorf("nil set: SizeBytes() = %d, want 0", got)
	}
}

// HashID is part of the published contract: XXH64 with seed 0 of the id's
// UTF-8 bytes (0 replaced by 1). Sets built by other programs depend on it.
func TestHashID(t *testing.T) {
	golden := map[string]uint64{
		"":    0xef46db3751d8e999,
		"a":   0xd24ec4f1a98c6e5b,
		"abc": 0x44bc2cf5ad770999,
	}
	for id, want := range golden {
		if got := cohorts.HashID(id); got != want {
			t.Errorf("HashID(%q) = %#x, want %#x", id, got, want)
		}
	}
	seen := make(map[uint64]string)
	for i := range 200_000 {
		id := "user-" + strconv.Itoa(i)
		h := cohorts.HashID(id)
		if h == 0 {
			t.Fatalf("HashID(%q) = 0", id)
		}
		if other, dup := seen[h]; dup {
			t.Fatalf("HashID(%q) = HashID(%q)", id, other)
		}
		seen[h] = id
	}
}

// ContainsHash(0) must not take an empty slot for a member: a caller that
// passes a zero hash (HashID never returns one) matches nobody.
func TestContainsHashZero(t *testing.T) {
	for _, n := range []int{1, 5, 6, 1000} {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = "m" + strconv.Itoa(i)
		}
		if s := cohorts.NewSet(ids); s.ContainsHash(0) {
			t.Errorf("%d members: ContainsHash(0) = true, want false", n)
		}
	}
	// A zero given to NewSetFromHashes is stored as 1, as HashID would.
	s := cohorts.NewSetFromHashes([]uint64{0, 1, 7})
	if s.Len() != 2 || !s.ContainsHash(1) || !s.ContainsHash(7) {
		t.Errorf("NewSetFromHashes(0, 1, 7): Len() = %d, hashes %v; want 2, [1 7]", s.Len(), s.Hashes())
	}
}

func TestSetHashesRoundTrip(t *testing.T) {
	ids := make([]string, 5000)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(i%4000) // 1000 duplicates
	}
	s := cohorts.NewSet(ids)
	hashes := s.Hashes()
	if len(hashes) != s.Len() || s.Len() != 4000 {
		t.Fatalf("len(Hashes()) = %d, Len() = %d; want 4000", len(hashes), s.Len())
	}
	if !slices.IsSorted(hashes) {
		t.Errorf("Hashes() is not sorted")
	}
	if c := slices.Compact(slices.Clone(hashes)); len(c) != len(hashes) {
		t.Errorf("Hashes() has duplicates")
	}
	want := make([]uint64, 4000)
	for i := range want {
		want[i] = cohorts.HashID("user-" + strconv.Itoa(i))
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, hashes); diff != "" {
		t.Errorf("Hashes() (-want +got):\n%s", diff)
	}

	// NewSetFromHashes sorts its argument in place: give it a shuffled copy.
	shuffled := slices.Clone(hashes)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	back := cohorts.NewSetFromHashes(append(shuffled, shuffled[:100]...))
	if diff := cmp.Diff(hashes, back.Hashes()); diff != "" {
		t.Errorf("NewSetFromHashes(Hashes()).Hashes() (-want +got):\n%s", diff)
	}
	if back.Len() != s.Len() {
		t.Errorf("round trip: Len() = %d, want %d", back.Len(), s.Len())
	}
	for i := range 4000 {
		if id := "user-" + strconv.Itoa(i); !back.Contains(id) {
			t.Fatalf("round trip lost %q", id)
		}
	}
	// Hashes returns the caller's own slice.
	hashes[0] = 0
	if s.Hashes()[0] == 0 {
		t.Errorf("changing the slice Hashes returned changed the set")
	}
}

// Hashes at the very top of the range start their search in the last home
// bucket and overflow past it; hashes at the bottom start in bucket 0.
func TestSetWrapsAround(t *testing.T) {
	var hs []uint64
	for i := range uint64(20) {
		hs = append(hs, math.MaxUint64-i, 1+i)
	}
	s := cohorts.NewSetFromHashes(slices.Clone(hs))
	if s.Len() != len(hs) {
		t.Fatalf("Len() = %d, want %d", s.Len(), len(hs))
	}
	for _, h := range hs {
		if !s.ContainsHash(h) {
			t.Errorf("ContainsHash(%#x) = false, want true", h)
		}
	}
	for _, h := range []uint64{math.MaxUint64 - 20, 21, 1 << 63} {
		if s.ContainsHash(h) {
			t.Errorf("ContainsHash(%#x) = true, want false", h)
		}
	}
}

func TestSetAgreesWithMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 5, 6, 7, 8, 9, 100, 1023, 1024, 1025, 4096} {
		want := make(map[uint64]bool)
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = r.Uint64()>>r.IntN(64) | 1 // small and large values, never 0
			want[hs[i]] = true
		}
		s := cohorts.NewSetFromHashes(hs)
		if s.Len() != len(want) {
			t.Errorf("n=%d: Len() = %d, want %d", n, s.Len(), len(want))
		}
		for h := range want {
			if !s.ContainsHash(h) {
				t.Errorf("n=%d: ContainsHash(%#x) = false, want true", n, h)
			}
		}
		for range 10 * n {
			if h := r.Uint64()>>r.IntN(64) | 1; s.ContainsHash(h) != want[h] {
				t.Errorf("n=%d: ContainsHash(%#x) = %v, want %v", n, h, !want[h], want[h])
			}
		}
	}
}

// Random sets of many sizes, including those around a bucket (8 slots):
// every member is found, no non-member is, Hashes gives back the members in
// order, and a set rebuilt from them is the same.
func TestSetRandomSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	sizes := []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 5333, 5334, 65536, 200_000}
	for n := 34; n < 400; n += 7 {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = r.Uint64() | 1
		}
		want := slices.Clone(hs)
		slices.Sort(want)
		want = slices.Compact(want)
		s := cohorts.NewSetFromHashes(hs)
		if s.Len() != len(want) {
			t.Errorf("n=%d: Len() = %d, want %d", n, s.Len(), len(want))
		}
		for _, h := range want {
			if !s.ContainsHash(h) {
				t.Fatalf("n=%d: ContainsHash(%#x) = false for a member", n, h)
			}
		}
		for range max(1000, n) {
			// Even values are never members here.
			if h := r.Uint64() &^ 1; s.ContainsHash(h) {
				t.Fatalf("n=%d: ContainsHash(%#x) = true for a non-member", n, h)
			}
		}
		got := s.Hashes()
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("n=%d: Hashes() (-want +got):\n%s", n, diff)
		}
		back := cohorts.NewSetFromHashes(got)
		if diff := cmp.Diff(want, back.Hashes(), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("n=%d: NewSetFromHashes(Hashes()).Hashes() (-want +got):\n%s", n, diff)
		}
		if back.SizeBytes() != s.SizeBytes() {
			t.Errorf("n=%d: rebuilt set takes %d bytes, the original %d", n, back.SizeBytes(), s.SizeBytes())
		}
		switch per := float64(s.SizeBytes()) / float64(max(1, s.Len())); {
		case n >= 32 && per > 16:
			t.Errorf("n=%d: %.2f bytes per member, want at most 16", n, per)
		case n > 0 && s.SizeBytes() < 64:
			t.Errorf("n=%d: SizeBytes() = %d, want at least one 64-byte bucket", n, s.SizeBytes())
		}
	}
}

func TestSetLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-member set")
	}
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(i)
	}
	s := cohorts.NewSet(ids)
	if s.Len() != n {
		t.Fatalf("Len() = %d, want %d", s.Len(), n)
	}
	for _, id := range ids {
		if !s.Contains(id) {
			t.Fatalf("Contains(%q) = false for a member", id)
		}
	}
	// With 64-bit hashes a false positive among 10^5 lookups in a 10^5
	// set has probability about 5e-10.
	falsePositives := 0
	for i := range n {
		if s.Contains("visitor-" + strconv.Itoa(i)) {
			falsePositives++
		}
	}
	if falsePositives > 0 {
		t.Errorf("%d false positives among %d non-members", falsePositives, n)
	}
}

// The documented cost: at most 16 bytes per member from 32 members on,
// whatever the exact size (a table rounded up to a power of two would take
// up to 21).
func TestSetSizeBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{32, 33, 100, 1000, 1 << 16, 100_000, 786_433, 1_000_000, 1 << 20, 1<<20 + 1} {
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = r.Uint64() | 1
		}
		s := cohorts.NewSetFromHashes(hs)
		if per := float64(s.SizeBytes()) / float64(s.Len()); per > 16 {
			t.Errorf("%d members: %.2f bytes per member, want at most 16", s.Len(), per)
		} else {
			t.Logf("%d members: %.2f bytes per member", s.Len(), per)
		}
	}
}

func TestSetContainsDoesNotAllocate(t *testing.T) {
	s := cohorts.NewSet([]string{"a", "b", "c"})
	n := testing.AllocsPerRun(100, func() {
		s.Contains("a")
		s.Contains("not a member, and a rather long id at that")
		s.ContainsHash(12345)
	})
	if n != 0 {
		t.Errorf("Contains allocates %v times per run, want 0", n)
	}
}

func TestSetConcurrentReads(t *testing.T) {
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	s := cohorts.NewSet(ids)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 2000 {
				if got, want := s.Contains(strconv.Itoa(i)), i < 1000; got != want {
					t.Errorf("Contains(%d) = %v, want %v", i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// setOf returns a set of n members "user-0" … "user-(n-1)", built from their
// hashes so that no id strings are kept.
func setOf(n int) *cohorts.Set {
	hs := make([]uint64, n)
	buf := []byte("user-")
	for i := range hs {
		hs[i] = cohorts.HashID(string(strconv.AppendInt(buf[:5], int64(i), 10)))
	}
	return cohorts.NewSetFromHashes(hs)
}

// The 10-million-member set takes about 120 MB; it is built once, on first
// use, outside the timed loops.
var (
	set1k  = sync.OnceValue(func() *cohorts.Set { return setOf(1000) })
	set10M = sync.OnceValue(func() *cohorts.Set { return setOf(10_000_000) })
)

func BenchmarkSetContains(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
		set  func() *cohorts.Set
	}{{"1k", 1000, set1k}, {"10M", 10_000_000, set10M}} {
		// Look ids up in a pool large enough (64 MB of slots touched) that,
		// for the big set, they are not all in cache.
		const pool = 1 << 20
		members, others := make([]string, pool), make([]string, pool)
		r := rand.New(rand.NewPCG(7, 8))
		for i := range pool {
			members[i] = "user-" + strconv.Itoa(r.IntN(size.n))
			others[i] = "visitor-" + strconv.Itoa(i)
		}
		for _, q := range []struct {
			name string
			ids  []string
			want bool
		}{{"member", members, true}, {"non-member", others, false}} {
			b.Run(size.name+"/"+q.name, func(b *testing.B) {
				s := size.set()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if s.Contains(q.ids[i&(pool-1)]) != q.want {
						b.Fatalf("Contains(%q) != %v", q.ids[i&(pool-1)], q.want)
					}
					i++
				}
				b.ReportMetric(float64(s.SizeBytes())/float64(s.Len()), "B/member")
			})
		}
	}
}

func BenchmarkNewSetFromHashes1M(b *testing.B) {
	src := make([]uint64, 1_000_000)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range src {
		src[i] = r.Uint64() | 1
	}
	hs := make([]uint64, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(hs, src)
		cohorts.NewSetFromHashes(hs)
	}
}

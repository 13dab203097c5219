package cohorts

import (
	"math/bits"
	"slices"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Set is an immutable membership set of user ids, sized for cohorts of
// millions. It stores the 64-bit xxHash (XXH64, seed 0) of each id, never the
// id itself.
//
// The hashes sit in a table of buckets of 8 slots: 64 bytes, one cache line,
// aligned to 64 bytes in memory. A hash's home bucket is its high bits scaled
// to the number of home buckets, h*buckets/2^64, so hashes in ascending order
// have home buckets in ascending order, and the count need not be a power of
// two. There is a home bucket for every 16/3 members (the table is 2/3 full).
// The members are laid out in ascending order across the whole table: each
// in the slot after the previous member, or at the start of its home bucket
// if that comes later. A member is therefore in its home bucket unless
// smaller members have filled it; then it is in the next one (or, rarely, one
// further). Empty slots hold 0 and come at the end of a bucket. Spare buckets
// after the home buckets take what overflows the last home bucket, so the
// search never wraps around, and the table always ends with an empty slot.
//
// A lookup reads the home bucket and stops there unless the bucket is full
// and its last hash is smaller than the one sought: only then can the hash
// be further on. For random hashes that happens to about 5% of lookups,
// members and non-members alike, and those read the adjacent cache line;
// the rest read one. The table takes 12 bytes per member plus the rounding
// up to whole buckets and any spare buckets (one or two at most in practice
// for random hashes): at most 16 bytes per member from 32 members on, and 64
// bytes at least unless the set is empty. Hashes reads the members back in
// order, without sorting.
//
// Two distinct ids share a hash with probability 2^-64 per pair, so a
// non-member of a 10-million-member set is taken for a member about once in
// 1.8 trillion lookups.
//
// Because a Set holds hashes only, it can be shipped to in-process providers
// without handing them the raw list of user ids.
type Set struct {
	slots   []uint64 // buckets of bucketLen hashes; 0 marks an empty slot
	buckets uint64   // home buckets; len(slots)/bucketLen may be more
	n       int
	size    int // bytes allocated, alignment included
}

const (
	bucketLen = 8 // hashes per bucket: 64 bytes, one cache line
	cacheLine = 64
)

// HashID returns the hash under which a Set stores an id.
func HashID(id string) uint64 {
	h := xxhash.Sum64String(id)
	if h == 0 {
		h = 1 // 0 marks empty slots
	}
	return h
}

// HashIDBytes is HashID of an id held in a byte slice (as a database driver
// returns it), without converting it to a string.
func HashIDBytes(id []byte) uint64 {
	h := xxhash.Sum64(id)
	if h == 0 {
		h = 1
	}
	return h
}

// NewSet builds a set from ids. Duplicates are stored once.
func NewSet(ids []string) *Set {
	hashes := make([]uint64, len(ids))
	for i, id := range ids {
		hashes[i] = HashID(id)
	}
	return NewSetFromHashes(hashes)
}

// NewSetFromHashes builds a set from values returned by HashID. It sorts and
// deduplicates hashes in place.
func NewSetFromHashes(hashes []uint64) *Set {
	slices.Sort(hashes)
	hashes = slices.Compact(hashes)
	if len(hashes) > 0 && hashes[0] == 0 {
		hashes[0] = 1 // as HashID would have it
		if len(hashes) > 1 && hashes[1] == 1 {
			hashes = hashes[1:]
		}
	}
	s := &Set{n: len(hashes)}
	if s.n == 0 {
		return s
	}
	// 2/3 full: a home bucket for every 16/3 members, rounded up.
	s.buckets = uint64((3*s.n + 15) / 16)

	// Place the sorted hashes one after the other, each no earlier than
	// the start of its home bucket; a first pass finds the table's length.
	next := 0
	for _, h := range hashes {
		next = max(next, s.home(h)) + 1
	}
	// Every home bucket, and room past the last hash so that the last
	// bucket has an empty slot.
	s.slots, s.size = alignedSlots(max(int(s.buckets), next/bucketLen+1) * bucketLen)
	next = 0
	for _, h := range hashes {
		next = max(next, s.home(h))
		s.slots[next] = h
		next++
	}
	return s
}

// alignedSlots returns n zeroed slots starting on a cache line, and the bytes
// it allocated for them. Go's allocator places blocks of a multiple of 64
// bytes on a 64-byte boundary in practice (large ones on a page); the
// language does not promise it, hence the check and the padded copy.
func alignedSlots(n int) ([]uint64, int) {
	slots := make([]uint64, n)
	if uintptr(unsafe.Pointer(unsafe.SliceData(slots)))%cacheLine == 0 {
		return slots, n * 8
	}
	mem := make([]uint64, n+cacheLine/8-1)
	skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(mem))) % cacheLine / 8)
	return mem[skip : skip+n : skip+n], len(mem) * 8
}

// home returns the first slot of h's home bucket.
func (s *Set) home(h uint64) int {
	b, _ := bits.Mul64(h, s.buckets)
	return int(b) * bucketLen
}

// Len returns the number of distinct members.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Contains reports whether id is a member. It does not allocate.
func (s *Set) Contains(id string) bool { return s.ContainsHash(HashID(id)) }

// ContainsHash reports whether the id with hash h (from HashID) is a member.
// A hash of 0, which HashID never returns, is read as 1, as
// NewSetFromHashes stores it; it never matches the empty slots.
func (s *Set) ContainsHash(h uint64) bool {
	if s == nil || s.n == 0 {
		return false
	}
	if h == 0 {
		h = 1
	}
	for i := s.home(h); ; i += bucketLen {
		b := (*[bucketLen]uint64)(s.slots[i : i+bucketLen])
		// Without a branch per slot: where h sits in the bucket is random,
		// and a mispredicted branch would keep the processor from
		// overlapping this cache miss with the next lookup's.
		if min(b[0]^h, b[1]^h, b[2]^h, b[3]^h, b[4]^h, b[5]^h, b[6]^h, b[7]^h) == 0 {
			return true
		}
		// Hashes are in ascending order: h could only be further on if
		// this bucket is full of smaller ones. last-1 >= h-1 (h > 0, and
		// h != last here) is last == 0 || last > h in one comparison.
		if last := b[bucketLen-1]; last-1 >= h-1 {
			return false
		}
	}
}

// Hashes returns the member hashes in ascending order, the form in which a
// set is serialised.
func (s *Set) Hashes() []uint64 {
	if s == nil {
		return nil
	}
	out := make([]uint64, 0, s.n)
	for _, h := range s.slots {
		if h != 0 {
			out = append(out, h)
		}
	}
	return out
}

// SizeBytes returns the memory the set's table occupies.
func (s *Set) SizeBytes() int {
	if s == nil {
		return 0
	}
	return s.size
}

package cohorts

import (
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Set is an immutable membership set of user ids, sized for cohorts of
// millions. It stores the 64-bit xxHash (XXH64, seed 0) of each id, never the
// id itself, in an open-addressing table (linear probing) sized to be 2/3
// full: 12 bytes per member whatever the count (64 bytes at least); a lookup
// costs one hash and usually one cache line. A hash's home slot is its high
// bits scaled to the table size (h*size/2^64), so the table need not be a
// power of two.
// Two distinct ids share a hash with probability 2^-64 per pair, so a
// non-member of a 10-million-member set is taken for a member about once in
// 1.8 trillion lookups.
//
// Because a Set holds hashes only, it can be shipped to in-process providers
// without handing them the raw list of user ids.
type Set struct {
	slots []uint64 // 0 marks an empty slot; always at least one is empty
	n     int
}

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
	size := max(8, len(hashes)+len(hashes)/2+1) // load below 2/3
	s := &Set{slots: make([]uint64, size)}
	for _, h := range hashes {
		if h == 0 {
			h = 1
		}
		s.insert(h)
	}
	return s
}

// home returns the slot where the search for h starts.
func (s *Set) home(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(s.slots)))
	return int(hi)
}

func (s *Set) insert(h uint64) {
	for i := s.home(h); ; {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return
		case h:
			return
		}
		if i++; i == len(s.slots) {
			i = 0
		}
	}
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
	for i := s.home(h); ; {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
		if i++; i == len(s.slots) {
			i = 0
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
	slices.Sort(out)
	return out
}

// SizeBytes returns the memory the set's table occupies.
func (s *Set) SizeBytes() int {
	if s == nil {
		return 0
	}
	return len(s.slots) * 8
}

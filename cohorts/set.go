package cohorts

import (
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Set is an immutable membership set of user ids, sized for cohorts of
// millions. It stores the 64-bit xxHash (XXH64, seed 0) of each id, never the
// id itself, in an open-addressing table kept at most 3/4 full: about 11 to
// 16 bytes per member, a lookup costs one hash and usually one cache line.
// Two distinct ids share a hash with probability 2^-64 per pair, so a
// non-member of a 10-million-member set is taken for a member about once in
// 1.8 trillion lookups.
//
// Because a Set holds hashes only, it can be shipped to in-process providers
// without handing them the raw list of user ids.
type Set struct {
	slots []uint64 // 0 marks an empty slot
	mask  uint64
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
	size := uint64(8)
	for size*3 < uint64(len(hashes))*4 { // keep load <= 3/4
		size <<= 1
	}
	s := &Set{slots: make([]uint64, size), mask: size - 1}
	for _, h := range hashes {
		if h == 0 {
			h = 1
		}
		s.insert(h)
	}
	return s
}

func (s *Set) insert(h uint64) {
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return
		case h:
			return
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
func (s *Set) ContainsHash(h uint64) bool {
	if s == nil || s.n == 0 {
		return false
	}
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
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

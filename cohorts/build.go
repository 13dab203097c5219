package cohorts

import (
	"errors"
	"fmt"
)

// SetBuilder fills a Set's table from hashes given in strictly ascending
// order, one at a time, without holding them in a slice first: a decoder
// of a serialised set writes each hash straight into the table, so that
// building a set of n members takes its table (about 12 bytes a member)
// and nothing proportional to n besides. The set is the one
// NewSetFromHashes builds from the same hashes.
//
// The number of members must be known in advance (it sizes the table).
// Spare buckets past the home buckets are added as the last ones overflow:
// for random hashes, one or two.
type SetBuilder struct {
	s    *Set
	next int    // the slot after the last hash placed
	last uint64 // the last hash added
	n    int    // hashes added
}

// ErrSetOrder is returned by SetBuilder.Add for a hash that is not greater
// than the previous one, and by Set when fewer hashes were added than
// announced.
var ErrSetOrder = errors.New("member hashes out of order")

// spareBuckets is the room NewSetBuilder leaves past the home buckets.
const spareBuckets = 2

// NewSetBuilder starts a set of n members.
func NewSetBuilder(n int) (*SetBuilder, error) {
	if n < 0 {
		return nil, fmt.Errorf("set of %d members", n)
	}
	s := &Set{n: n}
	if n > 0 {
		s.buckets = uint64((3*n + 15) / 16)
		s.slots, s.size = alignedSlots((int(s.buckets) + spareBuckets) * bucketLen)
	}
	return &SetBuilder{s: s}, nil
}

// Add places the next hash, which must be greater than the previous one
// and not 0 (HashID never returns 0).
func (b *SetBuilder) Add(h uint64) error {
	if h == 0 || (b.n > 0 && h <= b.last) {
		return fmt.Errorf("%w: %#x after %#x", ErrSetOrder, h, b.last)
	}
	if b.n == b.s.n {
		return fmt.Errorf("more than the %d members announced", b.s.n)
	}
	at := max(b.next, b.s.home(h))
	// The table must keep an empty slot after its last hash: grow when
	// this hash would fill the last one.
	if at+1 >= len(b.s.slots) {
		grown, size := alignedSlots(len(b.s.slots) + 4*bucketLen)
		copy(grown, b.s.slots)
		b.s.slots, b.s.size = grown, size
	}
	b.s.slots[at] = h
	b.next, b.last = at+1, h
	b.n++
	return nil
}

// Set returns the set built, once as many hashes as announced were added.
// The builder must not be used afterwards.
func (b *SetBuilder) Set() (*Set, error) {
	if b.n != b.s.n {
		return nil, fmt.Errorf("%w: %d members added of %d announced", ErrSetOrder, b.n, b.s.n)
	}
	s := b.s
	if s.n > 0 {
		// As NewSetFromHashes sizes it: every home bucket, and room
		// after the last hash for an empty slot in its bucket.
		want := max(int(s.buckets), b.next/bucketLen+1) * bucketLen
		s.slots = s.slots[:want:want]
	}
	b.s = nil
	return s, nil
}

// Each calls fn with each member hash in ascending order, without
// allocating, until fn returns false.
func (s *Set) Each(fn func(h uint64) bool) {
	if s == nil {
		return
	}
	for _, h := range s.slots {
		if h != 0 && !fn(h) {
			return
		}
	}
}

package tracking

import (
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/ramp-flags/ramp/flags"
)

// ways is the associativity of the deduplication table: a set is eight
// 64-bit words, one cache line.
const ways = 8

// hotEntries is the size of the deduplication table's front: 32,768
// words, 256 KiB, which stays in a core's L2 cache and in its TLB's reach.
const hotEntries = 1 << 15

// dedup remembers the exposures already recorded, as 64-bit hashes of
// (experiment, phase, unit attribute, unit), in two tables of fixed size:
// a large set-associative table that remembers, and a small direct-mapped
// front that remembers the hashes looked up lately. A hash in the large
// table may sit only in the eight words of its set, and a full set forgets
// one of them for a new hash. A look-up reads the front, and on a miss one
// cache line of the large table; the large table is big on purpose (a
// service's units), so that line is usually in no cache and on a page the
// TLB does not map: the front makes the units a service sees again and
// again cost an L2 hit instead. Memory is 8 bytes an entry, plus the
// front, whatever comes, and nothing allocates. Readers and writers take
// no lock (each word is atomic): two callers recording one new unit at
// once may both see it as new, which costs a duplicate the store ignores.
// Forgetting also costs only that.
type dedup struct {
	hot   []atomic.Uint64
	words []atomic.Uint64
	mask  uint64 // sets - 1
}

// newDedup makes a table of at least entries words (rounded up to a power
// of two, at least one set).
func newDedup(entries int) *dedup {
	sets := max(entries/ways, 1)
	sets = 1 << bits.Len(uint(sets-1)) // round up to a power of two
	return &dedup{hot: make([]atomic.Uint64, min(hotEntries, sets*ways)), words: make([]atomic.Uint64, sets*ways), mask: uint64(sets - 1)}
}

// testAndSet reports whether h was in the table, and puts it there if not.
func (t *dedup) testAndSet(h uint64) bool {
	if h == 0 {
		h = 1 // 0 marks an empty word
	}
	// The front is indexed by the hash's high bits, the sets by its low
	// bits, so that units sharing a set do not share a front word too.
	front := &t.hot[(h>>32)&uint64(len(t.hot)-1)]
	if front.Load() == h {
		return true
	}
	seen := t.testAndSetSet(h)
	front.Store(h)
	return seen
}

// testAndSetSet is testAndSet on the large table alone.
func (t *dedup) testAndSetSet(h uint64) bool {
	base := (h & t.mask) * ways
	set := t.words[base : base+ways : base+ways]
	for i := range set {
		switch v := set[i].Load(); v {
		case h:
			return true
		case 0:
			if set[i].CompareAndSwap(0, h) {
				return false
			}
			if set[i].Load() == h {
				return true
			}
		}
	}
	// Full: replace the word the hash's top bits choose (random
	// replacement, since the hashes are).
	set[h>>61].Store(h)
	return false
}

// exposureKey hashes what makes an exposure the same as another: the
// experiment, its phase, and the unit (attribute and value). The unit is
// either str or num (its decimal form). Each part is hashed on its own
// (XXH64 of a short string is a few nanoseconds, and needs no buffer) and
// the parts are mixed with their positions, so that swapping two parts
// gives another key. The experiment, phase and attribute make a base
// (exposureBase) that the hot path caches per rule origin (originHashes).
func exposureKey(experiment string, phase int, attr, str string, num []byte) uint64 {
	return unitKey(exposureBase(experiment, phase, attr), str, num)
}

// exposureBase mixes the parts of an exposure's key that come from the
// rule (the experiment, its phase and the unit's attribute).
func exposureBase(experiment string, phase int, attr string) uint64 {
	return bits.RotateLeft64(xxhash.Sum64String(attr), 21) ^ bits.RotateLeft64(xxhash.Sum64String(experiment), 42) ^
		uint64(phase)*0x9e3779b97f4a7c15
}

// unitKey completes a base with the unit's value.
func unitKey(base uint64, str string, num []byte) uint64 {
	var u uint64
	if num != nil {
		u = xxhash.Sum64(num)
	} else {
		u = xxhash.Sum64String(str)
	}
	return mix(u ^ base)
}

// placedKey completes a base with the unit's bucketing hash under the
// experiment's salt (flags.Placement.Hash), the key of exposures whose
// decision carries the unit's placement. It differs from unitKey's key
// for the same unit, which costs at most one duplicate that the store
// ignores, when one recorder sees the unit both ways.
func placedKey(base, unitHash uint64) uint64 {
	return mix(unitHash ^ bits.RotateLeft64(base, 7))
}

// mix is splitmix64's finalizer: every input bit reaches every output bit.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// originBases is what originHashes keeps for one rule origin: the bases
// of its exposures' keys for units identified by its Unit attribute and
// for units identified by targetingKey (the fallback).
type originBases struct {
	origin         *flags.Origin
	byUnit, byTKey uint64
}

// originHashes caches the bases of the rule origins a recorder sees, so
// that recording an exposure hashes only the unit: a small direct-mapped
// table keyed by the origin's address (a snapshot's origins live as long
// as it does; a new snapshot's take their slots at their first exposure).
// A slot is replaced, never modified, so readers need no lock; a miss
// costs one small allocation.
type originHashes [64]atomic.Pointer[originBases]

// bases returns o's bases, computing and caching them on a miss.
func (c *originHashes) bases(o *flags.Origin) *originBases {
	slot := &c[(uintptr(unsafe.Pointer(o))>>4)%uintptr(len(c))]
	if b := slot.Load(); b != nil && b.origin == o {
		return b
	}
	b := &originBases{origin: o, byUnit: exposureBase(o.ExperimentKey(), o.Phase, o.Unit), byTKey: exposureBase(o.ExperimentKey(), o.Phase, TargetingKey)}
	slot.Store(b)
	return b
}

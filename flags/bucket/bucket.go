// Package bucket is ramp's published bucketing contract: how a user is placed
// on a percentage scale for a flag. It is versioned; a flag records the
// version it was created with, and a version, once published, never changes.
// docs/bucketing.md states the algorithm in integer arithmetic so that any
// language can reproduce it bit for bit; testdata/golden_v1.tsv pins sample
// outputs.
//
// Version 1:
//
//	h        = XXH64(utf8(salt) || ":" || utf8(key), seed 0)   64-bit unsigned
//	position = h >> 32                                          in [0, 2^32)
//	bucket   = (position * 10000) >> 32                         in [0, 10000)
//
// A percentage with two decimals is a count of basis points (1 = 0.01%). A
// split lists variants with their basis points in declaration order; the
// user gets the first variant whose cumulative basis points exceed the
// bucket.
package bucket

import (
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// Version identifies a bucketing algorithm.
type Version int

// The published algorithm versions.
const (
	V1 Version = 1
	// Latest is the version given to new flags.
	Latest = V1
)

// Scale is the number of buckets: percentages have two decimals.
const Scale = 10000

// Supported reports whether v is a published version.
func (v Version) Supported() bool { return v == V1 }

// Validate returns an error for an unpublished version.
func (v Version) Validate() error {
	if !v.Supported() {
		return fmt.Errorf("unknown bucketing version %d (this build knows version 1)", v)
	}
	return nil
}

// Position returns the user's 32-bit position for a flag. It does not
// allocate for salts and keys up to 240 bytes together. An unsupported
// version is treated as V1; callers validate versions when flags are loaded.
func Position(v Version, salt, key string) uint32 { return uint32(Sum(v, salt, key) >> 32) }

// Sum returns the 64-bit hash h the position is taken from (its high 32
// bits): a fingerprint of the unit under salt, which callers may use to
// tell units apart without hashing them again. Like Position, it does not
// allocate for salts and keys up to 240 bytes together.
func Sum(v Version, salt, key string) uint64 {
	var buf [256]byte
	if len(salt)+1+len(key) <= len(buf) {
		b := append(buf[:0], salt...)
		b = append(b, ':')
		b = append(b, key...)
		return xxhash.Sum64(b)
	}
	d := xxhash.New()
	_, _ = d.WriteString(salt)
	_, _ = d.WriteString(":")
	_, _ = d.WriteString(key)
	return d.Sum64()
}

// BucketOf scales a position to a bucket in [0, Scale).
func BucketOf(position uint32) uint32 {
	return uint32((uint64(position) * Scale) >> 32)
}

// Bucket returns the user's bucket in [0, Scale) for a flag.
func Bucket(v Version, salt, key string) uint32 {
	return BucketOf(Position(v, salt, key))
}

// PositionBytes is Position for a key held as bytes.
func PositionBytes(v Version, salt string, key []byte) uint32 {
	return uint32(SumBytes(v, salt, key) >> 32)
}

// SumBytes is Sum for a key held as bytes.
func SumBytes(v Version, salt string, key []byte) uint64 {
	var buf [256]byte
	if len(salt)+1+len(key) <= len(buf) {
		b := append(buf[:0], salt...)
		b = append(b, ':')
		b = append(b, key...)
		return xxhash.Sum64(b)
	}
	d := xxhash.New()
	_, _ = d.WriteString(salt)
	_, _ = d.WriteString(":")
	_, _ = d.Write(key)
	return d.Sum64()
}

package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/ramp-flags/ramp/cohorts"
)

// SetFormat names the binary form of one cohort's member set, as
// GET /v1/snapshot/sets/{id} serves it and a provider's cache file holds it:
//
//	"RSET" 0x01            magic and format version
//	uvarint n              members
//	byte k                 the Rice parameter, 0 to 63
//	bits                   each member hash in ascending order as the gap
//	                       from the previous one (the first from 0) less
//	                       one, Rice-coded: gap>>k in unary (that many 1
//	                       bits, then a 0), then its low k bits, most
//	                       significant bit first; zero bits to a byte
//	8 bytes                the set's digest (SetID), little-endian
//
// Member hashes are XXH64 of the ids (cohorts.HashID): uniformly spread,
// so each sorted gap is about 2^64/n and costs about log2(2^64/n)+1.5 bits:
// 5.3 bytes a member for 10 million members,
// against 8 raw and 10.7 as base64 in ramp.snapshot/v1. General-purpose
// compressors find nothing else to take out (docs/BENCHMARKS.md).
const SetFormat = "ramp.set/v1"

// SetContentType is the media type of a set in SetFormat.
const SetContentType = "application/vnd.ramp.set"

var setMagic = [5]byte{'R', 'S', 'E', 'T', 1}

// maxSetMembers bounds the member count a set header may announce.
const maxSetMembers = 1 << 31

// SetID names a set by its content: "<members>-<digest>", the digest being
// XXH64 of the member hashes as ascending little-endian 8-byte words, in
// hexadecimal. Two sets with the same ID hold the same members (but for a
// 2^-64 chance), whatever their cohort or version, so a provider keeps a
// set under its ID across renames and versions. An empty set's ID is "0-".
func SetID(set *cohorts.Set) string {
	if set.Len() == 0 {
		return "0-"
	}
	return setID(set.Len(), digest(set))
}

func setID(n int, sum uint64) string {
	return strconv.Itoa(n) + "-" + strconv.FormatUint(sum, 16)
}

func digest(set *cohorts.Set) uint64 {
	d := xxhash.New()
	var buf [512]byte
	i := 0
	set.Each(func(h uint64) bool {
		binary.LittleEndian.PutUint64(buf[i:], h)
		if i += 8; i == len(buf) {
			_, _ = d.Write(buf[:])
			i = 0
		}
		return true
	})
	_, _ = d.Write(buf[:i])
	return d.Sum64()
}

// ParseSetID splits a set ID into its member count and digest.
func ParseSetID(id string) (members int, sum uint64, err error) {
	n, hexSum, ok := strings.Cut(id, "-")
	members, err1 := strconv.Atoi(n)
	if !ok || err1 != nil || members < 0 || members > maxSetMembers || strconv.Itoa(members) != n {
		return 0, 0, fmt.Errorf("set id %q: want <members>-<digest>", id)
	}
	if members == 0 {
		if hexSum != "" {
			return 0, 0, fmt.Errorf("set id %q: an empty set has no digest", id)
		}
		return 0, 0, nil
	}
	sum, err = strconv.ParseUint(hexSum, 16, 64)
	if err != nil || hexSum != strconv.FormatUint(sum, 16) {
		return 0, 0, fmt.Errorf("set id %q: digest is not lowercase hexadecimal", id)
	}
	return members, sum, nil
}

// riceParameter is the k that makes gaps of uniformly spread hashes cost
// least: log2 of ln 2 times the mean gap (last/n), rounded down, for gaps
// that are close to geometrically distributed. Whatever the hashes, the
// unary parts then sum to at most 3n bits.
func riceParameter(n int, last uint64) uint {
	if n == 0 {
		return 0
	}
	m := last / uint64(n)
	m -= m / 16 * 5 // × 11/16 ≈ ln 2
	if m <= 1 {
		return 0
	}
	return uint(bits.Len64(m) - 1)
}

// EncodeSet writes set to w in SetFormat and returns the bytes written.
// It allocates nothing in proportion to the set.
func EncodeSet(w io.Writer, set *cohorts.Set) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	n := set.Len()
	var last uint64
	set.Each(func(h uint64) bool { last = h; return true }) // ascending: the last is the largest
	k := riceParameter(n, last)
	hdr := append(setMagic[:], make([]byte, 0, binary.MaxVarintLen64+1)...)
	hdr = binary.AppendUvarint(hdr, uint64(n))
	hdr = append(hdr, byte(k))
	_, _ = bw.Write(hdr)
	b := bitWriter{w: bw}
	prev := uint64(0)
	set.Each(func(h uint64) bool {
		g := h - prev - 1
		prev = h
		b.unary(g >> k)
		b.bits(g&(1<<k-1), k)
		return true
	})
	b.align()
	var word [8]byte
	binary.LittleEndian.PutUint64(word[:], digest(set))
	_, _ = bw.Write(word[:])
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("encode set: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// bitWriter writes bits most significant first. Write errors are kept by
// the bufio.Writer and reported by its Flush.
type bitWriter struct {
	w   *bufio.Writer
	acc uint64 // the pending bits, in the low n
	n   uint
}

// bits writes the low width bits of v; width is at most 63.
func (b *bitWriter) bits(v uint64, width uint) {
	for width > 0 {
		take := min(width, 32)
		width -= take
		b.acc = b.acc<<take | (v>>width)&(1<<take-1)
		b.n += take
		for b.n >= 8 {
			b.n -= 8
			_ = b.w.WriteByte(byte(b.acc >> b.n))
		}
	}
}

// unary writes q one bits and a zero.
func (b *bitWriter) unary(q uint64) {
	for ; q >= 32; q -= 32 {
		b.bits(1<<32-1, 32)
	}
	b.bits((1<<q-1)<<1, uint(q)+1)
}

// align pads the last byte with zero bits.
func (b *bitWriter) align() {
	if b.n > 0 {
		b.bits(0, 8-b.n)
	}
}

// ErrSetMismatch is returned by DecodeSet for a set that is not the one
// asked for: another member count or digest.
var ErrSetMismatch = errors.New("set is not the one referenced")

// DecodeSet reads a set in SetFormat from r straight into the set's table
// (cohorts.SetBuilder): no slice of hashes, no copy of the input. want is
// the set's ID, from the snapshot that references it; a set with other
// members is refused with ErrSetMismatch. size is how many bytes r holds
// (a Content-Length), or -1 if unknown: a header that announces more
// members than size bytes can hold is refused before anything is
// allocated. DecodeSet reads exactly the set's bytes when r is an
// io.ByteReader (so that sets can follow each other in one stream), and
// may read ahead otherwise.
func DecodeSet(r io.Reader, size int64, want string) (*cohorts.Set, error) {
	wantN, wantSum, err := ParseSetID(want)
	if err != nil {
		return nil, fmt.Errorf("decode set: %w", err)
	}
	br, ok := r.(io.ByteReader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	set, sum, err := decodeSet(br, size)
	if err != nil {
		return nil, fmt.Errorf("decode set %s: %w", want, err)
	}
	if set.Len() != wantN || (wantN > 0 && sum != wantSum) {
		return nil, fmt.Errorf("decode set: got %s, want %s: %w", setID(set.Len(), sum), want, ErrSetMismatch)
	}
	return set, nil
}

func decodeSet(br io.ByteReader, size int64) (*cohorts.Set, uint64, error) {
	for i, c := range setMagic {
		got, err := br.ReadByte()
		if err != nil {
			return nil, 0, noEOF(err)
		}
		if got != c {
			if i == len(setMagic)-1 {
				return nil, 0, fmt.Errorf("set format version %d, want %d (a newer ramp?)", got, c)
			}
			return nil, 0, fmt.Errorf("not a %s set", SetFormat)
		}
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, 0, fmt.Errorf("member count: %w", noEOF(err))
	}
	kb, err := br.ReadByte()
	if err != nil {
		return nil, 0, noEOF(err)
	}
	k := uint(kb)
	switch {
	case n > maxSetMembers:
		return nil, 0, fmt.Errorf("%d members: more than a set may hold", n)
	case k > 63:
		return nil, 0, fmt.Errorf("rice parameter %d: more than 63", k)
	case size >= 0 && n*uint64(k+1) > 8*uint64(size):
		return nil, 0, fmt.Errorf("%d members cannot fit in %d bytes", n, size)
	}
	b, err := cohorts.NewSetBuilder(int(n))
	if err != nil {
		return nil, 0, err
	}
	rd := bitReader{r: br}
	d := xxhash.New()
	var word [8]byte
	var words [512]byte // digested 64 hashes at a time
	fill := 0
	prev := uint64(0)
	for range n {
		q, err := rd.unary(64 - k)
		if err != nil {
			return nil, 0, err
		}
		low, err := rd.bits(k)
		if err != nil {
			return nil, 0, err
		}
		g := q<<k | low
		h := prev + g + 1
		if h <= prev { // past 2^64
			return nil, 0, fmt.Errorf("member hashes overflow 64 bits")
		}
		if err := b.Add(h); err != nil {
			return nil, 0, err
		}
		binary.LittleEndian.PutUint64(words[fill:], h)
		if fill += 8; fill == len(words) {
			_, _ = d.Write(words[:])
			fill = 0
		}
		prev = h
	}
	_, _ = d.Write(words[:fill])
	set, err := b.Set()
	if err != nil {
		return nil, 0, err
	}
	// Padding to the byte, then the digest the encoder computed.
	if rd.acc&(1<<rd.n-1) != 0 {
		return nil, 0, fmt.Errorf("padding bits are not zero")
	}
	for i := range word {
		if word[i], err = br.ReadByte(); err != nil {
			return nil, 0, fmt.Errorf("digest: %w", noEOF(err))
		}
	}
	sum := d.Sum64()
	if binary.LittleEndian.Uint64(word[:]) != sum {
		return nil, 0, fmt.Errorf("digest %#x, but the members decoded hash to %#x (corrupt)", binary.LittleEndian.Uint64(word[:]), sum)
	}
	return set, sum, nil
}

// bitReader reads bits most significant first, a byte at a time and no
// byte earlier than needed, so that what follows the bits can be read from
// r after them.
type bitReader struct {
	r   io.ByteReader
	acc uint64 // the unread bits, in the low n
	n   uint
}

func (b *bitReader) fill() error {
	c, err := b.r.ReadByte()
	if err != nil {
		return noEOF(err)
	}
	b.acc = b.acc<<8 | uint64(c)
	b.n += 8
	return nil
}

// bits reads width bits, at most 63.
func (b *bitReader) bits(width uint) (uint64, error) {
	var v uint64
	for width > 0 {
		take := min(width, 32)
		width -= take
		for b.n < take {
			if err := b.fill(); err != nil {
				return 0, err
			}
		}
		b.n -= take
		v = v<<take | (b.acc>>b.n)&(1<<take-1)
		b.acc &= 1<<b.n - 1
	}
	return v, nil
}

// unary reads one bits up to a zero and returns how many; more than limit
// is an error.
func (b *bitReader) unary(limit uint) (uint64, error) {
	var q uint64
	for {
		if b.n == 0 {
			if err := b.fill(); err != nil {
				return 0, err
			}
		}
		left := ^(b.acc << (64 - b.n)) // the unread bits, left-aligned, inverted
		ones := uint(bits.LeadingZeros64(left))
		if ones >= b.n {
			q += uint64(b.n)
			b.acc, b.n = 0, 0
		} else {
			q += uint64(ones)
			b.n -= ones + 1
			b.acc &= 1<<b.n - 1
			return q, nil
		}
		if limit < 64 && q >= 1<<limit {
			return 0, fmt.Errorf("a gap overflows 64 bits")
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

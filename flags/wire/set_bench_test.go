//go:build unix

package wire_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/flags/wire"
)

// benchMembers is RAMP_BENCH_MEMBERS, 1,000,000 by default.
func benchMembers(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("RAMP_BENCH_MEMBERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("RAMP_BENCH_MEMBERS=%q: %v", v, err)
		}
	}
	return n
}

// BenchmarkSetSizes reports what a set of random member hashes (as XXH64
// of ids are) costs on the wire, in bytes a member: as ramp.snapshot/v1
// sends it (base64 of 8-byte words), raw, in ramp.set/v1 (Rice-coded
// gaps), and each of the last two through gzip (the standard library's,
// default and best levels). One op encodes the set once.
//
//	RAMP_BENCH_MEMBERS=10000000 go test -run '^$' -bench SetSizes -benchtime 1x ./flags/wire/
func BenchmarkSetSizes(b *testing.B) {
	n := benchMembers(b)
	set := randomSet(n, 5)
	raw := make([]byte, 0, 8*n)
	set.Each(func(h uint64) bool { raw = binary.LittleEndian.AppendUint64(raw, h); return true })
	var rice bytes.Buffer
	for b.Loop() {
		rice.Reset()
		if _, err := wire.EncodeSet(&rice, set); err != nil {
			b.Fatal(err)
		}
	}
	gz := func(p []byte, level int) float64 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, level)
		_, _ = zw.Write(p)
		_ = zw.Close()
		return float64(buf.Len()) / float64(n)
	}
	b.ReportMetric(float64(base64.StdEncoding.EncodedLen(len(raw)))/float64(n), "v1-base64-B/member")
	b.ReportMetric(float64(len(raw))/float64(n), "raw-B/member")
	b.ReportMetric(float64(rice.Len())/float64(n), "rice-B/member")
	b.ReportMetric(gz(raw, gzip.DefaultCompression), "gzip6-raw-B/member")
	b.ReportMetric(gz(raw, gzip.BestCompression), "gzip9-raw-B/member")
	b.ReportMetric(gz(rice.Bytes(), gzip.DefaultCompression), "gzip6-rice-B/member")
}

// BenchmarkDecodeSet decodes a set of RAMP_BENCH_MEMBERS members from its
// ramp.set/v1 bytes into its table: the bytes allocated per op are the
// table's (set-bytes) and nothing in proportion to the members besides.
func BenchmarkDecodeSet(b *testing.B) {
	n := benchMembers(b)
	set := randomSet(n, 6)
	var buf bytes.Buffer
	if _, err := wire.EncodeSet(&buf, set); err != nil {
		b.Fatal(err)
	}
	id := wire.SetID(set)
	b.ReportAllocs()
	b.SetBytes(int64(buf.Len()))
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := wire.DecodeSet(bytes.NewReader(buf.Bytes()), int64(buf.Len()), id); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time as well as the wall clock: on a shared machine the
	// second measures the other tenants too.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/member")
	b.ReportMetric(float64(set.SizeBytes()), "set-bytes")
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package bucket_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/flags/bucket"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_v1.tsv from the current implementation")

// goldenInputs cover short, long, Unicode and empty keys, keys beyond the
// stack buffer, and the scenario's flags.
func goldenInputs() [][2]string {
	in := [][2]string{
		{"messenger-ig-interop", "user-1"},
		{"messenger-ig-interop", "user-2"},
		{"messenger-ig-interop", "ac-1001"},
		{"ig-dm-via-whatsapp", "user-1"},
		{"ig-dm-via-whatsapp", "emp-1"},
		{"wa-link-code-ttl-seconds", "123456789"},
		{"common-mailbox", ""},
		{"", "user-1"},
		{"salt-with.dots_and-dashes", "ユーザー-42"},
		{"x", "😀"},
		{"exp-2026", strings.Repeat("k", 300)},
		{strings.Repeat("s", 200), strings.Repeat("k", 100)},
	}
	for i := 0; i < 20; i++ {
		in = append(in, [2]string{"ig-add-whatsapp-to-profile", fmt.Sprintf("user-%d", i*7919)})
	}
	return in
}

// TestGoldenV1 pins version 1 of the bucketing contract. A failure here means
// real users would be reassigned: never update the file for an existing
// version; publish a new version instead.
func TestGoldenV1(t *testing.T) {
	path := filepath.Join("testdata", "golden_v1.tsv")
	if *update {
		var b strings.Builder
		b.WriteString("# salt\tkey\tposition\tbucket  (bucketing v1; see docs/bucketing.md)\n")
		for _, in := range goldenInputs() {
			pos := bucket.Position(bucket.V1, in[0], in[1])
			fmt.Fprintf(&b, "%s\t%s\t%d\t%d\n", in[0], in[1], pos, bucket.BucketOf(pos))
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") || text == "" {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != 4 {
			t.Fatalf("%s:%d: want 4 tab-separated fields, got %d", path, line, len(fields))
		}
		wantPos, err1 := strconv.ParseUint(fields[2], 10, 32)
		wantBucket, err2 := strconv.ParseUint(fields[3], 10, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s:%d: bad numbers", path, line)
		}
		if got := bucket.Position(bucket.V1, fields[0], fields[1]); uint64(got) != wantPos {
			t.Errorf("%s:%d: Position(%q, %q) = %d, want %d", path, line, fields[0], fields[1], got, wantPos)
		}
		if got := bucket.PositionBytes(bucket.V1, fields[0], []byte(fields[1])); uint64(got) != wantPos {
			t.Errorf("%s:%d: PositionBytes(%q, %q) = %d, want %d", path, line, fields[0], fields[1], got, wantPos)
		}
		if got := bucket.Bucket(bucket.V1, fields[0], fields[1]); uint64(got) != wantBucket {
			t.Errorf("%s:%d: Bucket = %d, want %d", path, line, got, wantBucket)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("golden file has %d vectors; want at least 20", n)
	}
}

func TestBucketOfBounds(t *testing.T) {
	tests := []struct {
		pos  uint32
		want uint32
	}{
		{0, 0},
		{429496, 0}, // last position of bucket 0 (2^32/10000 = 429496.7296)
		{429497, 1}, // first position of bucket 1
		{1 << 31, 5000},
		{^uint32(0), 9999},
	}
	for _, tt := range tests {
		if got := bucket.BucketOf(tt.pos); got != tt.want {
			t.Errorf("BucketOf(%d) = %d, want %d", tt.pos, got, tt.want)
		}
	}
}

// TestBucketSizes checks that every bucket holds floor or ceil of 2^32/10000
// positions, so the scale itself adds no bias.
func TestBucketSizes(t *testing.T) {
	const lo, hi = 429496, 429497
	prev := uint64(0)
	for b := uint64(1); b <= bucket.Scale; b++ {
		// first position of bucket b = ceil(b * 2^32 / Scale)
		first := (b<<32 + bucket.Scale - 1) / bucket.Scale
		size := first - prev
		if size != lo && size != hi {
			t.Fatalf("bucket %d has %d positions", b-1, size)
		}
		if b < bucket.Scale && bucket.BucketOf(uint32(first)) != uint32(b) || bucket.BucketOf(uint32(first-1)) != uint32(b-1) {
			t.Fatalf("bucket boundary %d misplaced", b)
		}
		prev = first
	}
}

func TestPositionDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = bucket.Position(bucket.V1, "messenger-ig-interop", "user-123456")
	})
	if allocs != 0 {
		t.Errorf("Position allocates %v times per call", allocs)
	}
}

func TestVersions(t *testing.T) {
	if err := bucket.V1.Validate(); err != nil {
		t.Errorf("V1: %v", err)
	}
	for _, v := range []bucket.Version{0, 2, -1} {
		if bucket.Version(v).Validate() == nil {
			t.Errorf("version %d accepted", v)
		}
	}
}

func BenchmarkPosition(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = bucket.Position(bucket.V1, "messenger-ig-interop", "user-123456")
	}
}

func ExampleBucket() {
	// The bucket (0..9999) of user-1 for the messenger-ig-interop flag. In
	// a rollout {"on": 10, "off": 90} the user gets "on" iff bucket < 1000.
	b := bucket.Bucket(bucket.V1, "messenger-ig-interop", "user-1")
	fmt.Println(b, b < 1000)
	// Output: 224 true
}

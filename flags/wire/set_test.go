package wire_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
)

func randomSet(n int, seed uint64) *cohorts.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	hashes := make([]uint64, n)
	for i := range hashes {
		hashes[i] = rng.Uint64()
	}
	return cohorts.NewSetFromHashes(hashes)
}

func TestSetRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		set  *cohorts.Set
	}{
		{"empty", cohorts.NewSet(nil)},
		{"one", cohorts.NewSet([]string{"emp-1"})},
		{"smallest hashes", cohorts.NewSetFromHashes([]uint64{1, 2, 3})},
		{"largest hashes", cohorts.NewSetFromHashes([]uint64{1<<64 - 1, 1<<64 - 2, 1})},
		{"crowded", cohorts.NewSetFromHashes([]uint64{1 << 63, 1<<63 + 1, 1<<63 + 2, 5})},
		{"ids", cohorts.NewSet(strings.Fields("a b c d e f g h i j k l m n o p q r s t u v w x y z"))},
		{"random 100k", randomSet(100_000, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := wire.EncodeSet(&buf, tt.set)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Errorf("EncodeSet reported %d bytes, wrote %d", n, buf.Len())
			}
			id := wire.SetID(tt.set)
			size := int64(buf.Len())
			got, err := wire.DecodeSet(bytes.NewReader(buf.Bytes()), size, id)
			if err != nil {
				t.Fatalf("DecodeSet: %v", err)
			}
			if !slices.Equal(got.Hashes(), tt.set.Hashes()) {
				t.Fatalf("decoded %d members, want %d (or other hashes)", got.Len(), tt.set.Len())
			}
			if got.SizeBytes() > tt.set.SizeBytes()+2*64+64 {
				t.Errorf("decoded table of %d bytes, built one %d", got.SizeBytes(), tt.set.SizeBytes())
			}
			if tt.set.Len() >= 100_000 {
				// Rice coding of random gaps: about log2(2^64/n)+1.5 bits.
				perMember := float64(buf.Len()) / float64(tt.set.Len())
				if want := (64 - math.Log2(float64(tt.set.Len())) + 2) / 8; perMember > want {
					t.Errorf("%.2f bytes a member, want at most %.2f", perMember, want)
				}
			}
		})
	}
}

// Sets follow each other in one stream (a provider's cache file): an
// io.ByteReader is read no further than each set's end.
func TestSetsInOneStream(t *testing.T) {
	sets := []*cohorts.Set{randomSet(1000, 1), cohorts.NewSet(nil), randomSet(3, 2), randomSet(77, 4)}
	var buf bytes.Buffer
	for _, s := range sets {
		if _, err := wire.EncodeSet(&buf, s); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("trailer")
	r := bufio.NewReader(&buf)
	for i, s := range sets {
		got, err := wire.DecodeSet(r, -1, wire.SetID(s))
		if err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
		if !slices.Equal(got.Hashes(), s.Hashes()) {
			t.Fatalf("set %d differs", i)
		}
	}
	if rest, _ := r.ReadString(0); rest != "trailer" {
		t.Fatalf("after the sets: %q", rest)
	}
}

func TestDecodeSetRefuses(t *testing.T) {
	set := randomSet(50, 9)
	var buf bytes.Buffer
	if _, err := wire.EncodeSet(&buf, set); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	id := wire.SetID(set)
	corrupt := slices.Clone(good)
	corrupt[20] ^= 0x10
	tests := []struct {
		name string
		data []byte
		size int64
		id   string
		is   error
	}{
		{"other set", good, -1, wire.SetID(randomSet(50, 10)), wire.ErrSetMismatch},
		{"other count", good, -1, wire.SetID(randomSet(51, 9)), wire.ErrSetMismatch},
		{"bad id", good, -1, "fifty", nil},
		{"truncated", good[:len(good)-3], -1, id, nil},
		{"corrupt", corrupt, -1, id, nil},
		{"not a set", []byte(`{"format":"ramp.snapshot/v1"}`), -1, id, nil},
		{"newer format", append([]byte("RSET\x02"), good[5:]...), -1, id, nil},
		{"too many members for its size", []byte("RSET\x01\xff\xff\xff\x07\x28"), 10, "268435455-1", nil},
		{"empty", nil, 0, id, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wire.DecodeSet(bytes.NewReader(tt.data), tt.size, tt.id)
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v, want %v", err, tt.is)
			}
		})
	}
}

func TestParseSetID(t *testing.T) {
	for _, ok := range []string{"0-", "1-1", "10000000-ffffffffffffffff"} {
		if _, _, err := wire.ParseSetID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-", "0-1", "1-", "1-FF", "1-x", "-1-1", "1-10000000000000000", "99999999999-1"} {
		if _, _, err := wire.ParseSetID(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// FuzzDecodeSet: sets come from the network and from cache files.
// Whatever decodes must be a set with the members its ID says.
func FuzzDecodeSet(f *testing.F) {
	for i, s := range []*cohorts.Set{cohorts.NewSet(nil), randomSet(1, 1), randomSet(40, 2), cohorts.NewSetFromHashes([]uint64{1, 1<<64 - 1})} {
		var buf bytes.Buffer
		if _, err := wire.EncodeSet(&buf, s); err != nil {
			f.Fatalf("seed %d: %v", i, err)
		}
		if _, err := wire.DecodeSet(bytes.NewReader(buf.Bytes()), int64(buf.Len()), wire.SetID(s)); err != nil {
			f.Fatalf("seed %d does not decode: %v", i, err)
		}
		f.Add(buf.Bytes(), wire.SetID(s))
	}
	f.Fuzz(func(t *testing.T, data []byte, id string) {
		set, err := wire.DecodeSet(bytes.NewReader(data), int64(len(data)), id)
		if err != nil {
			return
		}
		if got := wire.SetID(set); got != id {
			t.Fatalf("decoded set %s, asked for %s", got, id)
		}
		hashes := set.Hashes()
		if !slices.IsSorted(hashes) {
			t.Fatal("members out of order")
		}
		for _, h := range hashes {
			if !set.ContainsHash(h) {
				t.Fatalf("member %#x not found", h)
			}
		}
	})
}

// manifestOf encodes st as a FormatV2 document and its sets.
func manifestOf(t testing.TB, st flags.State, version int64) ([]byte, map[string][]byte) {
	t.Helper()
	sets := make(map[string]*cohorts.Set)
	ids := make(map[string]string)
	blobs := make(map[string][]byte)
	for _, c := range st.Cohorts {
		var s *cohorts.Set
		if len(c.Members) > 0 {
			idsOf := make([]string, len(c.Members))
			for i, m := range c.Members {
				idsOf[i] = m.ID
			}
			s = cohorts.NewSet(idsOf)
			sets[c.Key] = s
			ids[c.Key] = wire.SetID(s)
			var buf bytes.Buffer
			if _, err := wire.EncodeSet(&buf, s); err != nil {
				t.Fatal(err)
			}
			blobs[ids[c.Key]] = buf.Bytes()
		}
	}
	st2 := st
	st2.MemberSets = sets
	st2.Cohorts = slices.Clone(st.Cohorts)
	for i := range st2.Cohorts {
		st2.Cohorts[i].Members = nil
	}
	b, err := wire.MarshalManifest(&st2, version, "e1", ids)
	if err != nil {
		t.Fatal(err)
	}
	return b, blobs
}

func TestManifestDecidesAlike(t *testing.T) {
	st := state()
	direct, err := flags.Compile(st, 42)
	if err != nil {
		t.Fatal(err)
	}
	doc, blobs := manifestOf(t, st, 42)
	if len(doc) > 8<<10 {
		t.Errorf("manifest of %d bytes: it should carry no member list", len(doc))
	}
	if f, err := wire.FormatOf(doc); err != nil || f != wire.FormatV2 {
		t.Fatalf("FormatOf = %q, %v", f, err)
	}
	if _, err := wire.Decode(doc); err == nil {
		t.Fatal("a v1 reader decoded a v2 document")
	}
	m, err := wire.DecodeManifest(doc)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 42 || m.Epoch != "e1" || len(m.Sets) != 1 {
		t.Fatalf("manifest: version %d epoch %q sets %v", m.Version, m.Epoch, m.Sets)
	}
	for key, id := range m.Sets {
		set, err := wire.DecodeSet(bytes.NewReader(blobs[id]), int64(len(blobs[id])), id)
		if err != nil {
			t.Fatal(err)
		}
		m.State.MemberSets[key] = set
	}
	got, err := flags.Compile(m.State, m.Version)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		ctx := map[string]any{"targetingKey": fmt.Sprintf("emp-%d", i%1000), "region": []string{"US", "FR"}[i%2],
			"accountType": []string{"business", "personal"}[i%3/2], "accountCenterId": fmt.Sprintf("ac-%d", i)}
		for _, key := range direct.Keys() {
			a, b := direct.Evaluate(key, ctx), got.Evaluate(key, ctx)
			if a.Variant != b.Variant || a.Reason != b.Reason || fmt.Sprint(a.Value) != fmt.Sprint(b.Value) || a.FlagVersion != b.FlagVersion {
				t.Fatalf("%s %v: direct %s/%s, manifest %s/%s", key, ctx, a.Variant, a.Reason, b.Variant, b.Reason)
			}
		}
	}
}

func TestDecodeManifestRejects(t *testing.T) {
	tests := map[string]string{
		"not json":        `{`,
		"v1":              `{"format":"ramp.snapshot/v1","version":1,"cohorts":[],"flags":[]}`,
		"hashes inline":   `{"format":"ramp.snapshot/v2","version":1,"cohorts":[{"key":"c","members":1,"memberHashes":"AQAAAAAAAAA="}],"flags":[]}`,
		"count mismatch":  `{"format":"ramp.snapshot/v2","version":1,"cohorts":[{"key":"c","members":2,"set":"1-ab"}],"flags":[]}`,
		"no set":          `{"format":"ramp.snapshot/v2","version":1,"cohorts":[{"key":"c","members":2}],"flags":[]}`,
		"bad id":          `{"format":"ramp.snapshot/v2","version":1,"cohorts":[{"key":"c","members":1,"set":"1-XY"}],"flags":[]}`,
		"cohort twice":    `{"format":"ramp.snapshot/v2","version":1,"cohorts":[{"key":"c","members":0},{"key":"c","members":0}],"flags":[]}`,
		"bad value":       `{"format":"ramp.snapshot/v2","version":1,"cohorts":[],"flags":[{"key":"f","type":"boolean","variants":[{"key":"on","value":"yes"}],"defaultVariant":"on","enabled":true,"bucketing":1}]}`,
		"set ref into v1": `{"format":"ramp.snapshot/v1","version":1,"cohorts":[{"key":"c","members":1,"set":"1-ab"}],"flags":[]}`,
	}
	for name, in := range tests {
		_, err := wire.DecodeManifest([]byte(in))
		if name == "set ref into v1" {
			_, err = wire.Decode([]byte(in))
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzDecodeManifest: manifests come from the network and cache files.
func FuzzDecodeManifest(f *testing.F) {
	doc, _ := manifestOf(f, state(), 7)
	f.Add(doc)
	f.Add([]byte(`{"format":"ramp.snapshot/v2","version":1,"cohorts":[{"key":"c","members":1,"set":"1-ab"}],"flags":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := wire.DecodeManifest(data)
		if err != nil {
			return
		}
		for key, id := range m.Sets {
			n, _, err := wire.ParseSetID(id)
			if err != nil || n == 0 {
				t.Fatalf("cohort %s: set %q accepted", key, id)
			}
		}
		snap, err := flags.Compile(m.State, m.Version)
		if err != nil {
			return
		}
		for _, key := range snap.Keys() {
			_ = snap.Evaluate(key, map[string]any{"targetingKey": "u", "region": "US"})
		}
	})
}

package tracking

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var decodeNow = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// oracleSeeds are bodies at the edges of what the fast decoder takes: each
// must be decided the same way by both decoders (FuzzDecodeBatchOracle).
var oracleSeeds = []string{
	`{"events":[{"id":"e1","event":"dm_reply","value":2.5,"time":"2026-11-24T09:00:00Z","context":{"targetingKey":"ig-12","accountCenterId":"ac-12","region":"US","n":[1,{"a":null}]}}]}`,
	`{"events":[{"id":"e2","event":"dm_sent","context":{"accountCenterId":42}}],"exposures":[{"experiment":"x","phase":2,"unitAttribute":"accountCenterId","unit":"9","arm":"on","flag":"","time":"2026-11-24T09:59:58.123+01:00"}]}`,
	`{"events":null,"exposures":null,"other":{"deep":[true,false,null,-0.5e+3]}}`,
	`{"events":[{"id":"e3","event":"caf\u00e9","context":{"targetingKey":"\u00fc\/\"","accountCenterId":-0}}]}`,
	`{"events":[{"ID":"e4","event":"x","context":{"targetingKey":"u"}}]}`,
	`{"events":[{"id":"e5","event":"x","context":{"targetingKey":"u"}}],"Events":[]}`,
	`{"events":[{"id":"e6","id":null,"event":"x","context":{"targetingKey":"u"}}]}`,
	`{"events":[{"id":"e7","event":"x","value":null,"context":{"targetingKey":null,"targetingKey":"u"}}]}`,
	`{"events":[{"id":"e8","event":"x","context":{"targetingKey":"u","targetingKey":null}}]}`,
	`{"events":[{"id":"e9","event":"x","context":{"targetingKey":"\ud83d\ude00"}}]}`,
	`{"events":[{"id":"e10","event":"x","value":1e400,"context":{"targetingKey":"u"}}]}`,
	`{"events":[{"id":"e11","event":"x","context":{"accountCenterId":9007199254740993}}]}`,
	`{"exposures":[{"experiment":"e","phase":1.0,"unitAttribute":"targetingKey","unit":"u","arm":"a"}]}`,
	`{"exposures":[{"experiment":"e","phase":-0,"unitAttribute":"targetingKey","unit":"u","arm":"a"}]}`,
	"\v{\"events\":[]}\u00a0",
	`{"events":[{"id":"e15","event":"a\n","context":{"targetingKey":"u"}}]}`,
	"{\"events\":[{\"id\":\"e12\",\"event\":\"\xff\",\"context\":{\"targetingKey\":\"u\"}}]}",
	`{"events":[{"id":"e13","event":"x","time":"2026-11-24T10:59:59.999999999Z","context":{"targetingKey":"u","eventſ":1}}],"eventſ":[]}`,
	`{"events":[] , "exposures" : [ ] } `,
	`{"events":[{"id":"e14","event":"x","context":{"t\u0061rgetingKey":"u"}}]}`,
}

// FuzzDecodeBatchOracle holds the fast decoder to encoding/json's: a body
// it accepts must be accepted by decodeBatchStd with the same batch (it
// may leave any body to decodeBatchStd, which then decides alone).
func FuzzDecodeBatchOracle(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "batch-*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed bodies in testdata/batch-*.json (%v)", err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatalf("seed %s: %v", s, err)
		}
		f.Add(b)
	}
	for _, s := range oracleSeeds {
		f.Add([]byte(s))
	}
	attrs := []string{"accountCenterId"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d decoder
		fast, ok := d.batch(body, decodeNow, attrs)
		if !ok {
			return
		}
		std, err := decodeBatchStd(body, decodeNow, attrs)
		if err != nil {
			t.Fatalf("the fast decoder accepts what encoding/json refuses (%v):\n%q", err, body)
		}
		if diff := cmp.Diff(std, fast); diff != "" {
			t.Fatalf("fast decoder (-std +fast):\n%s\nbody %q", diff, body)
		}
	})
}

// TestDecoderTakesCommonBodies checks that what clients send is read by the
// fast decoder, not left to encoding/json: the bodies ramp's own encoders
// write and the documented examples.
func TestDecoderTakesCommonBodies(t *testing.T) {
	evs := []Event{{ID: NewEventID(), Name: "dm_reply", Value: 3, Time: decodeNow.Add(-time.Minute),
		Units: map[string]string{"targetingKey": "ig-1", "accountCenterId": "ac-1"}}}
	exps := []Exposure{{Experiment: "x", Phase: 3, UnitAttr: "accountCenterId", Unit: "9", Arm: "on", Flag: "f", Time: decodeNow}}
	b1, err := AppendEvents(nil, evs)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := AppendExposures(nil, exps)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{"AppendEvents": b1, "AppendExposures": b2}
	for i, s := range oracleSeeds[:4] {
		bodies[fmt.Sprint("seed ", i)] = []byte(s)
	}
	for name, body := range bodies {
		var d decoder
		if _, ok := d.batch(body, decodeNow, []string{"accountCenterId"}); !ok {
			t.Errorf("%s: the fast decoder leaves %s to encoding/json", name, body)
		}
	}
}

// TestDecodeBatchAllocs pins what a batch of 1,000 events costs: the
// strings share blocks, so each event costs its Units map (two
// allocations) and the batch a few more.
func TestDecodeBatchAllocs(t *testing.T) {
	body := benchBody(1000)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := DecodeBatch(body, decodeNow, []string{"accountCenterId"}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2000+60 {
		t.Errorf("DecodeBatch of 1,000 events: %v allocations, want at most 2,060", allocs)
	}
}

// benchBody is a batch of n events of two identifiers and one other
// attribute, as services send them.
func benchBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%032x","event":"dm_reply","value":1,"time":"2026-11-24T09:00:00.%06dZ","context":{"targetingKey":"ig-%d","accountCenterId":"ac-%d","region":"US"}}`, i*7919, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkDecodeBatch decodes a batch of 1,000 events, by the fast
// decoder and by encoding/json (the reference).
func BenchmarkDecodeBatch(b *testing.B) {
	body := benchBody(1000)
	attrs := []string{"accountCenterId"}
	for _, c := range []struct {
		name   string
		decode func([]byte, time.Time, []string) (Batch, error)
	}{{"fast", DecodeBatch}, {"encoding_json", decodeBatchStd}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(body, decodeNow, attrs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestValidIDIsCheckID holds the decoder's table of id bytes to checkID,
// the rule decodeBatchStd applies, byte by byte and at the length limits.
func TestValidIDIsCheckID(t *testing.T) {
	for c := range 256 {
		id := []byte{'a', byte(c), 'z'}
		if got, want := validID(id), checkID(string(id), "id") == nil; got != want {
			t.Errorf("byte %#x: validID %v, checkID accepts %v", c, got, want)
		}
	}
	for _, n := range []int{0, 1, MaxIDLen, MaxIDLen + 1} {
		id := []byte(strings.Repeat("a", n))
		if got, want := validID(id), checkID(string(id), "id") == nil; got != want {
			t.Errorf("%d bytes: validID %v, checkID accepts %v", n, got, want)
		}
	}
}

// TestDecodeBatchSizesEventsOnce checks that a batch's events slice is
// made once for the body, from the size of its first event (not grown as
// events are read), when the events are of about one size; and that a
// large body does not make it larger than the batch limit.
func TestDecodeBatchSizesEventsOnce(t *testing.T) {
	b, err := DecodeBatch(benchBody(1000), decodeNow, []string{"accountCenterId"})
	if err != nil {
		t.Fatal(err)
	}
	// The first event, of unit 0, is a few bytes shorter than the others.
	if len(b.Events) != 1000 || cap(b.Events) < 1000 || cap(b.Events) > 1050 {
		t.Errorf("got %d events in a slice of capacity %d, want 1,000 in 1,000 to 1,050", len(b.Events), cap(b.Events))
	}
	ids := strings.Repeat(`"id",`, 12000)
	body := `{"events":[{"id":"e1","event":"x","context":{"targetingKey":"u","other":[` + ids + `"id"]}}]}`
	b, err = DecodeBatch([]byte(body), decodeNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 1 || cap(b.Events) > MaxBatchItems {
		t.Errorf("got %d events in a slice of capacity %d, want 1 in at most %d", len(b.Events), cap(b.Events), MaxBatchItems)
	}
}

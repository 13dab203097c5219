package clickhouse_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/clickhouse"
	"github.com/ramp-flags/ramp/internal/clickhouse/chtest"
)

// BenchmarkServeIngest posts batches of 5,000 events from 16 clients on
// loopback to a real `ramp serve --events clickhouse://…` (in process),
// each answered once its events are inserted into ClickHouse. Every event
// is new (a random id, a later time) with two identifiers (targetingKey,
// accountCenterId) over a million units and an attribute not kept; a body
// is about 950 kB. The clients share the process and the two cores with
// the server and with ClickHouse: events/s is what the machine does with
// all three.
//
//	eval "$(.ci/clickhouse.sh start)"
//	go test -run '^$' -bench ServeIngest -benchtime 20s ./internal/clickhouse/
func BenchmarkServeIngest(b *testing.B) {
	for _, clients := range []int{8, 16} {
		b.Run(fmt.Sprintf("batch=5000/clients=%d", clients), func(b *testing.B) { benchIngest(b, 5000, clients) })
	}
}

func benchIngest(b *testing.B, batch, clients int) {
	b.Setenv("RAMP_ACTOR", "bench")
	b.Setenv("RAMP_EVENTS", "")
	events := chtest.DSN(b)
	args := []string{"--db", filepath.Join(b.TempDir(), "ramp.db"), "--events", events}
	rampCmd(b, append(args, "apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))...)
	url, stop := serve(b, args...)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	bodies := make(chan *ingestBody, clients)
	for i := range clients {
		bodies <- newIngestBody(batch, i)
	}
	var posted atomic.Int64
	b.SetParallelism((clients + 1) / 2)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		body := <-bodies
		defer func() { bodies <- body }()
		for pb.Next() {
			body.renew()
			resp, err := hc.Post(url+"/v1/track", "application/json", bytes.NewReader(body.buf))
			if err != nil {
				b.Error(err)
				return
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("POST /v1/track: %d %s", resp.StatusCode, msg)
				return
			}
			posted.Add(int64(batch))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(posted.Load())/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
	stop()
	s, err := clickhouse.Open(context.Background(), events, clickhouse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, err := s.TrackingStats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if st.EventRows != posted.Load() {
		b.Fatalf("%d events answered 200, %d stored", posted.Load(), st.EventRows)
	}
}

// ingestBody is one client's body, its ids and times rewritten before
// each post.
type ingestBody struct {
	buf   []byte
	ids   []int
	times []int
	rng   *rand.Rand
}

const ingestTime = "2006-01-02T15:04:05.000000Z"

func newIngestBody(n, client int) *ingestBody {
	b := &ingestBody{rng: rand.New(rand.NewPCG(uint64(client), 42))}
	var buf bytes.Buffer
	buf.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		u := b.rng.IntN(1_000_000)
		buf.WriteString(`{"id":"`)
		b.ids = append(b.ids, buf.Len())
		buf.WriteString("00000000000000000000000000000000")
		buf.WriteString(`","event":"dm_reply","value":1,"time":"`)
		b.times = append(b.times, buf.Len())
		buf.WriteString(ingestTime)
		fmt.Fprintf(&buf, `","context":{"targetingKey":"ig-%d","accountCenterId":"ac-%d","region":"US"}}`, u, u)
	}
	buf.WriteString(`]}`)
	b.buf = buf.Bytes()
	return b
}

// ingestClock hands out increasing times from an hour ago (the server
// refuses times an hour ahead).
var ingestClock = struct {
	sync.Mutex
	t time.Time
}{t: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}

func (b *ingestBody) renew() {
	const hexdigits = "0123456789abcdef"
	ingestClock.Lock()
	t := ingestClock.t
	ingestClock.t = t.Add(time.Duration(len(b.ids)) * time.Microsecond)
	ingestClock.Unlock()
	for i, off := range b.ids {
		hi, lo := b.rng.Uint64(), b.rng.Uint64()
		for j := range 16 {
			b.buf[off+j] = hexdigits[hi>>(60-4*j)&15]
			b.buf[off+16+j] = hexdigits[lo>>(60-4*j)&15]
		}
		var ts [len(ingestTime) + 8]byte
		copy(b.buf[b.times[i]:], t.Add(time.Duration(i)*time.Microsecond).AppendFormat(ts[:0], ingestTime))
	}
}

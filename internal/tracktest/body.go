// Package tracktest makes POST /v1/track bodies for the ingest benchmarks
// (internal/server against the SQL store, internal/clickhouse against
// ClickHouse): batches of events that are new to the store at every post
// without being marshalled again. Only tests import it.
package tracktest

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Body is one client's request body: a batch of events whose ids and
// times Renew rewrites in place before each post.
type Body struct {
	buf   []byte
	ids   []int // offsets of each event's 32 hex digits of id
	times []int // offsets of each event's time (len(timeLayout) bytes)
	rng   *rand.Rand
}

// timeLayout is the layout of the events' times: fixed width, microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// NewBody returns a body of n dm_reply events of value 1, each with two
// identifiers (targetingKey ig-U and accountCenterId ac-U, U one of a
// million units drawn from seed) and an attribute the server does not
// keep (region). Call Renew before the first post.
func NewBody(n int, seed uint64) *Body {
	b := &Body{rng: rand.New(rand.NewPCG(seed, 42))}
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
		buf.WriteString(timeLayout)
		fmt.Fprintf(&buf, `","context":{"targetingKey":"ig-%d","accountCenterId":"ac-%d","region":"US"}}`, u, u)
	}
	buf.WriteString(`]}`)
	b.buf = buf.Bytes()
	return b
}

// Bytes returns the body as it stands (valid until the next Renew).
func (b *Body) Bytes() []byte { return b.buf }

// clock hands out increasing event times, a microsecond apart, from a
// point an hour before now (the server refuses times an hour ahead),
// shared by every body of the process.
var clock = struct {
	sync.Mutex
	t time.Time
}{t: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}

// Renew writes new random ids and increasing times into the body, so that
// every event is new to the store. A time is formatted whole only when its
// second differs from the previous event's; otherwise only its six digits
// of microseconds are written (formatting every time was half of the
// clients' CPU, which the benchmarks' clients share with the server).
func (b *Body) Renew() {
	const hexdigits = "0123456789abcdef"
	clock.Lock()
	t := clock.t
	clock.t = t.Add(time.Duration(len(b.ids)) * time.Microsecond)
	clock.Unlock()
	var stamp, scratch [len(timeLayout) + 16]byte
	sec := int64(math.MinInt64)
	for i, off := range b.ids {
		hi, lo := b.rng.Uint64(), b.rng.Uint64()
		for j := range 16 {
			b.buf[off+j] = hexdigits[hi>>(60-4*j)&15]
			b.buf[off+16+j] = hexdigits[lo>>(60-4*j)&15]
		}
		at := t.Add(time.Duration(i) * time.Microsecond)
		if s := at.Unix(); s != sec {
			sec = s
			copy(stamp[:], at.AppendFormat(scratch[:0], timeLayout))
		}
		us := at.Nanosecond() / 1000
		for j := microsAt + 5; j >= microsAt; j-- {
			stamp[j] = byte('0' + us%10)
			us /= 10
		}
		copy(b.buf[b.times[i]:], stamp[:len(timeLayout)])
	}
}

// microsAt is where the six digits of microseconds start in timeLayout.
const microsAt = len("2006-01-02T15:04:05.")

package server

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per caller (a key's name, or the client address
// when authentication is off). Buckets idle for longer than idleAfter are
// forgotten, so the map stays as small as the set of active callers. A
// request takes no lock but its own bucket's.
type limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	buckets   sync.Map     // caller → *bucket
	lastSweep atomic.Int64 // Unix nanoseconds
}

type bucket struct {
	lim  *rate.Limiter
	last atomic.Int64 // Unix nanoseconds of the last request
}

const idleAfter = 10 * time.Minute

// newLimiter allows perSecond requests a second to each caller, in bursts of
// as many. perSecond <= 0 means no limit (nil limiter).
func newLimiter(perSecond float64, now func() time.Time) *limiter {
	if perSecond <= 0 {
		return nil
	}
	burst := int(math.Ceil(perSecond))
	return &limiter{rate: rate.Limit(perSecond), burst: burst, now: now}
}

// allow takes a token from the caller's bucket. When there is none it
// returns false and how long until there will be one.
func (l *limiter) allow(caller string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.sweep(now)
	v, ok := l.buckets.Load(caller)
	if !ok {
		v, _ = l.buckets.LoadOrStore(caller, &bucket{lim: rate.NewLimiter(l.rate, l.burst)})
	}
	b := v.(*bucket)
	b.last.Store(now.UnixNano())

	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	d := r.DelayFrom(now)
	if d <= 0 { // a token came back in between
		return true, 0
	}
	r.CancelAt(now)
	return false, d
}

// sweep forgets the buckets idle for idleAfter, at most once a minute. A
// caller coming back just as its bucket is forgotten starts with a full
// one, as it would have a moment later.
func (l *limiter) sweep(now time.Time) {
	last := l.lastSweep.Load()
	if now.UnixNano()-last <= int64(time.Minute) || !l.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	l.buckets.Range(func(k, v any) bool {
		if now.UnixNano()-v.(*bucket).last.Load() > int64(idleAfter) {
			l.buckets.CompareAndDelete(k, v)
		}
		return true
	})
}

// retryAfter is the Retry-After header for a wait: whole seconds, at least 1.
func retryAfter(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// failures limits failed authentications by client address: a token bucket
// per address, which only failures draw on. A request whose key is refused
// past its address's limit is answered 429 rather than 401; a request with
// a valid key is never refused by it, whatever its address has done (see
// Config.AuthFailureLimit for why).
//
// Memory is bounded: an address whose bucket has refilled is forgotten (a
// full bucket is what a new address gets), and at most maxAddrs are kept,
// the one whose last failure is oldest going first. Every failure takes one
// mutex: failures are rare, or an attack, and then it is the point.
type failures struct {
	rate     float64 // tokens a second
	burst    float64
	maxAddrs int
	now      func() time.Time

	mu    sync.Mutex
	addrs map[string]*list.Element // address → element of recent, holding a *failBucket
	// recent orders the buckets by their last failure, most recent first.
	recent list.List
}

type failBucket struct {
	addr   string
	tokens float64
	last   time.Time
}

// maxFailureAddrs is how many client addresses failures keeps: 1.6 MB
// at most.
const maxFailureAddrs = 10_000

// minFailureBurst is the smallest burst of failures an address is allowed,
// however low the rate: someone pasting a key may get it wrong a few times.
const minFailureBurst = 5

// newFailures allows perSecond failed authentications a second to each
// address, in bursts of twice as many (at least minFailureBurst), keeping
// at most maxAddrs addresses. perSecond <= 0 means no limit (nil).
func newFailures(perSecond float64, maxAddrs int, now func() time.Time) *failures {
	if perSecond <= 0 {
		return nil
	}
	return &failures{rate: perSecond, burst: math.Max(minFailureBurst, math.Ceil(2*perSecond)), maxAddrs: max(1, maxAddrs), now: now,
		addrs: make(map[string]*list.Element)}
}

// fail records a failed authentication from addr. It reports whether the
// address is still within its limit; when it is not, how long until it is.
func (f *failures) fail(addr string) (bool, time.Duration) {
	if f == nil {
		return true, 0
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgetRefilled(now)
	var b *failBucket
	if e, ok := f.addrs[addr]; ok {
		b = e.Value.(*failBucket)
		b.tokens = f.refilled(b, now)
		b.last = now
		f.recent.MoveToFront(e)
	} else {
		b = &failBucket{addr: addr, tokens: f.burst, last: now}
		f.addrs[addr] = f.recent.PushFront(b)
		if len(f.addrs) > f.maxAddrs {
			f.remove(f.recent.Back())
		}
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / f.rate * float64(time.Second))
}

// tracked is the number of addresses held.
func (f *failures) tracked() int {
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.addrs)
}

// refilled is the tokens b has at now.
func (f *failures) refilled(b *failBucket, now time.Time) float64 {
	return math.Min(f.burst, b.tokens+now.Sub(b.last).Seconds()*f.rate)
}

// forgetRefilled drops, from the least recent failure on, the buckets that
// are full again. It stops at the first that is not: a more recent one may
// be full too, and goes at a later call.
func (f *failures) forgetRefilled(now time.Time) {
	for e := f.recent.Back(); e != nil && f.refilled(e.Value.(*failBucket), now) >= f.burst; e = f.recent.Back() {
		f.remove(e)
	}
}

func (f *failures) remove(e *list.Element) {
	delete(f.addrs, f.recent.Remove(e).(*failBucket).addr)
}

// failureKey is the address a request's failures count against: the
// connection's IP address (never X-Forwarded-For, which any client can
// write), IPv6 addresses by their /64, which one host may hold whole.
func failureKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return host
	}
	return p.String()
}

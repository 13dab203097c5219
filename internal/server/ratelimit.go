package server

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ramp-flags/ramp/internal/auth"
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

// maxFailureAddrs is how many client addresses the authenticator keeps
// count of failures for.
const maxFailureAddrs = auth.MaxFailureAddrs

// Package ratelimit limits how many requests each caller makes: a token
// bucket per caller, forgotten once idle. ramp serve's data plane (per
// key) and its admin API (per principal) share it.
package ratelimit

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket per caller (a credential's name, or a client
// address). Buckets idle for longer than idleAfter are
// forgotten, so the map stays as small as the set of active callers. A
// request takes no lock but its own bucket's.
type Limiter struct {
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

// New allows perSecond requests a second to each caller, in bursts of
// as many. perSecond <= 0 means no limit (a nil Limiter, which allows
// everything). now is the clock (time.Now when nil).
func New(perSecond float64, now func() time.Time) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	burst := int(math.Ceil(perSecond))
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, now: now}
}

// Allow takes a token from the caller's bucket. When there is none it
// returns false and how long until there will be one.
func (l *Limiter) Allow(caller string) (bool, time.Duration) {
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
func (l *Limiter) sweep(now time.Time) {
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

// RetryAfter is the Retry-After header for a wait: whole seconds, at least 1.
func RetryAfter(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

package auth

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// failures limits failed authentications by client address: a token bucket
// per address, which only failures draw on. An address whose bucket is
// empty is throttled: its requests are refused before their secret is
// looked at (see Checker.Authenticate).
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
	addrs map[addrKey]*list.Element // address → element of recent, holding a *failBucket
	// recent orders the buckets by their last failure, most recent first.
	recent list.List
}

type failBucket struct {
	addr   addrKey
	tokens float64
	last   time.Time
}

// MaxFailureAddrs is how many client addresses a Checker keeps count of
// failures for: 1.6 MB at most.
const MaxFailureAddrs = 10_000

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
		addrs: make(map[addrKey]*list.Element)}
}

// throttled reports whether addr has no failure left, and if so how long
// until it has one. It records nothing.
func (f *failures) throttled(addr addrKey) (bool, time.Duration) {
	if f == nil {
		return false, 0
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.addrs[addr]
	if !ok {
		return false, 0
	}
	b := e.Value.(*failBucket)
	if t := f.refilled(b, now); t < 1 {
		return true, time.Duration((1 - t) / f.rate * float64(time.Second))
	}
	return false, 0
}

// fail records a failed authentication from addr. It reports whether the
// address is still within its limit; when it is not, how long until it is.
func (f *failures) fail(addr addrKey) (bool, time.Duration) {
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

// addrKey is a client address as failures count it: an IPv4 address, an
// IPv6 /64, or the raw RemoteAddr when it is no IP address (a Unix
// socket). It is comparable and built without allocating.
type addrKey struct {
	prefix netip.Prefix
	raw    string
}

func (k addrKey) String() string {
	switch {
	case !k.prefix.IsValid():
		return k.raw
	case k.prefix.Addr().Is4():
		return k.prefix.Addr().String()
	}
	return k.prefix.String()
}

// ClientAddress returns the address a request's failures count against:
// the connection's IP address; or, when that address is one of trusted
// (the reverse proxies in front of the server), the last address of
// X-Forwarded-For that is not one of them. IPv6 addresses count by their
// /64, which one host may hold whole.
func ClientAddress(r *http.Request, trusted []netip.Prefix) string {
	return clientKey(r, trusted).String()
}

func clientKey(r *http.Request, trusted []netip.Prefix) addrKey {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return addrKey{raw: host}
	}
	ip = ip.Unmap().WithZone("")
	if len(trusted) > 0 && isTrusted(ip, trusted) {
		ip = forwardedFor(r, ip, trusted)
	}
	bits := 64
	if ip.Is4() {
		bits = 32
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return addrKey{raw: ip.String()}
	}
	return addrKey{prefix: p}
}

// forwardedFor walks X-Forwarded-For from its end (the address the nearest
// proxy saw) past the trusted proxies, and returns the first address that
// is not one: everything before it was written by the client, and proves
// nothing. A malformed entry ends the walk at the last good address.
func forwardedFor(r *http.Request, peer netip.Addr, trusted []netip.Prefix) netip.Addr {
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	got := peer
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return got
		}
		got = ip.Unmap().WithZone("")
		if !isTrusted(got, trusted) {
			return got
		}
	}
	return got
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseProxies reads a list of trusted proxies: addresses or prefixes
// ("10.0.0.0/8", "127.0.0.1", "::1") separated by commas.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(f)
		if err != nil {
			return nil, invalidf("trusted proxy %q: not an address or a prefix such as 10.0.0.0/8", f)
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Credential is an active key or personal token as a Source lists it: the
// SHA-256 of its secret (never the secret) and who it acts for.
type Credential struct {
	Hash      [sha256.Size]byte
	Principal Principal
	// Kind and ID name the credential for Source.Touch.
	Kind string
	ID   int64
}

// SessionRecord is a dashboard session as a Source reads it.
type SessionRecord struct {
	Principal Principal
	ID        int64
	LastSeen  time.Time
	Idle      time.Duration
	Expires   time.Time
}

// Use is a credential a Checker admitted, and when it last did.
type Use struct {
	Kind string // KindKey, KindToken or KindSession
	ID   int64
	At   time.Time
}

// Source is where a Checker reads credentials: admin.Service is one.
type Source interface {
	// CredentialsVersion changes whenever a credential is created or
	// revoked, or a session ended: a Checker polls it.
	CredentialsVersion(ctx context.Context) (int64, error)
	// Credentials lists every key and personal token not revoked.
	Credentials(ctx context.Context) ([]Credential, error)
	// Session returns the session whose secret has this hash; an error
	// matching ramp.ErrNotFound if there is none.
	Session(ctx context.Context, hash [sha256.Size]byte) (SessionRecord, error)
	// Touch records when credentials were last used, in one batch.
	Touch(ctx context.Context, uses []Use) error
}

// Defaults of Options.
const (
	DefaultPoll         = 250 * time.Millisecond
	DefaultTouchEvery   = 10 * time.Second
	DefaultFailureLimit = 10 // failed authentications a second per client address
)

// Options tunes a Checker; zero values mean the defaults.
type Options struct {
	// Poll is how often the credentials version is read (default 250 ms):
	// a revocation takes effect on every server within Poll and a reload.
	Poll time.Duration
	// TouchEvery is how often last-used times are written, in one batch
	// (default 10 s), and at Close.
	TouchEvery time.Duration
	// FailureLimit is the failed authentications a second each client
	// address may cause, in bursts of twice as many (at least 5); past it
	// the address is throttled: its requests get a *ThrottledError before
	// their secret is looked at, but for credentials this process already
	// admitted from it in the last 10 minutes (see Checker.Authenticate). Negative
	// means no limit, zero DefaultFailureLimit.
	FailureLimit float64
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client's address (see ClientAddress); without them the
	// connection's address is the client's, and X-Forwarded-For, which
	// any client may write, is ignored.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	Now            func() time.Time
}

// recentUse is how long a credential this process admitted stays admitted
// from a throttled address.
const recentUse = 10 * time.Minute

// Checker is the Authenticator of ramp serve: it admits the keys and
// personal tokens of a Source, which it holds in memory, and dashboard
// sessions (Sessions), which it reads once and then holds. It polls the
// credentials version and reloads when it changes, so that a revocation
// takes effect within a poll on every server sharing the database, with no
// change to the configuration version; it records last-used times in
// batches; and it throttles client addresses that fail too often. It is
// safe for concurrent use.
type Checker struct {
	src   Source
	opt   Options
	log   *slog.Logger
	fails *failures

	set atomic.Pointer[credSet]
	// marks holds, for the credentials admitted since the last batch of
	// last-used times, when they last were; recent when each credential
	// was last admitted from each client address, for throttled
	// addresses. Plain maps under a read-write lock: a request takes the
	// read lock, and the write lock only the first time in a batch that it
	// sees a credential, or an address once a second.
	marksMu sync.RWMutex
	marks   map[useKey]*atomic.Int64
	recent  map[recentKey]int64

	mu      sync.Mutex // serializes reloads
	changed chan struct{}
	chMu    sync.Mutex
	// checkedAt is when the version was last read (Unix nanoseconds), so
	// that unknown secrets read it at most every minRecheck.
	checkedAt atomic.Int64

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	lastWarn  atomic.Int64
}

// credSet is one load of the credentials.
type credSet struct {
	version int64
	byHash  map[[sha256.Size]byte]*Credential
	byID    map[string]*Credential
	// sessions holds the sessions looked up since this load, by hash of
	// their secret: *sessionEntry. Ending a session bumps the version,
	// which drops them all.
	sessions sync.Map
}

type sessionEntry struct {
	rec      SessionRecord
	lastSeen atomic.Int64 // Unix nanoseconds, the latest of the store's and this process's
}

// minRecheck is how often an unknown secret may make a Checker read the
// credentials version before its poll does: a credential just created on
// another server works here at once, and unknown secrets cost at most one
// read of one row every 50 ms.
const minRecheck = 50 * time.Millisecond

// NewChecker loads the credentials of src and starts polling them until
// ctx is done or Close is called.
func NewChecker(ctx context.Context, src Source, opt Options) (*Checker, error) {
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if opt.TouchEvery <= 0 {
		opt.TouchEvery = DefaultTouchEvery
	}
	if opt.FailureLimit == 0 {
		opt.FailureLimit = DefaultFailureLimit
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	c := &Checker{src: src, opt: opt, log: opt.Logger, fails: newFailures(opt.FailureLimit, MaxFailureAddrs, opt.Now),
		changed: make(chan struct{}), done: make(chan struct{}),
		marks: make(map[useKey]*atomic.Int64), recent: make(map[recentKey]int64)}
	if err := c.reload(ctx, true); err != nil {
		return nil, err
	}
	loop, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = stop
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-loop.Done():
		}
	}()
	go c.run(loop)
	return c, nil
}

// Close stops polling and writes the last-used times not yet written.
func (c *Checker) Close() error {
	c.closeOnce.Do(func() { c.stop() })
	<-c.done
	return nil
}

func (c *Checker) run(ctx context.Context) {
	defer close(c.done)
	poll := time.NewTicker(c.opt.Poll)
	defer poll.Stop()
	touch := time.NewTicker(c.opt.TouchEvery)
	defer touch.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.flush(fctx)
			cancel()
			return
		case <-poll.C:
			if err := c.reload(ctx, false); err != nil && ctx.Err() == nil {
				c.warn("cannot reload credentials: keeping the ones loaded", err)
			}
		case <-touch.C:
			c.flush(ctx)
		}
	}
}

// warn logs at most once a minute.
func (c *Checker) warn(msg string, err error) {
	now, last := c.opt.Now().UnixNano(), c.lastWarn.Load()
	if now-last >= int64(time.Minute) && c.lastWarn.CompareAndSwap(last, now) {
		c.log.Warn(msg, "err", err)
	}
}

// reload reads the credentials version and, when it changed (or always),
// the credentials.
func (c *Checker) reload(ctx context.Context, always bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloadLocked(ctx, always)
}

// reloadLocked is reload with c.mu held.
func (c *Checker) reloadLocked(ctx context.Context, always bool) error {
	c.checkedAt.Store(c.opt.Now().UnixNano())
	v, err := c.src.CredentialsVersion(ctx)
	if err != nil {
		return fmt.Errorf("read credentials version: %w", err)
	}
	if cur := c.set.Load(); cur != nil && cur.version == v && !always {
		return nil
	}
	creds, err := c.src.Credentials(ctx)
	if err != nil {
		return fmt.Errorf("load credentials: %w", err)
	}
	set := &credSet{version: v, byHash: make(map[[sha256.Size]byte]*Credential, len(creds)), byID: make(map[string]*Credential, len(creds))}
	for i := range creds {
		cr := &creds[i]
		set.byHash[cr.Hash] = cr
		set.byID[cr.Principal.CredentialID] = cr
	}
	c.set.Store(set)
	c.chMu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.chMu.Unlock()
	return nil
}

// recheck reloads if the credentials version was not read in the last
// minRecheck: for a secret that matches nothing, which may be a credential
// created a moment ago on another server. It never waits for a reload in
// progress (nor makes other requests wait for its own longer than the
// read takes): a slow database does not hold requests up.
func (c *Checker) recheck(ctx context.Context) {
	if c.opt.Now().UnixNano()-c.checkedAt.Load() < int64(minRecheck) || !c.mu.TryLock() {
		return
	}
	defer c.mu.Unlock()
	if err := c.reloadLocked(ctx, false); err != nil {
		c.warn("cannot reload credentials: keeping the ones loaded", err)
	}
}

// Changed returns a channel closed at the next reload of the credentials:
// ramp serve then asks Active about the credential behind each open event
// stream.
func (c *Checker) Changed() <-chan struct{} {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	return c.changed
}

// Active reports whether the credential a principal was admitted with is
// still active (not revoked, not expired, for a session not ended) as of
// the last reload.
func (c *Checker) Active(p Principal) bool {
	if !p.Expires.IsZero() && !c.opt.Now().Before(p.Expires) {
		return false
	}
	set := c.set.Load()
	if p.Kind == KindSession {
		var found bool
		set.sessions.Range(func(_, v any) bool {
			if e := v.(*sessionEntry); e.rec.Principal.CredentialID == p.CredentialID {
				found = c.sessionLive(e, c.opt.Now())
				return false
			}
			return true
		})
		return found
	}
	cr, ok := set.byID[p.CredentialID]
	return ok && cr.Principal.Name == p.Name && cr.Principal.Role == p.Role
}

// FailedAddresses is how many client addresses have failed recently (for
// a metric).
func (c *Checker) FailedAddresses() int { return c.fails.tracked() }

// Authenticate returns the principal a request's credential acts for
// (Authorization: Bearer, or X-API-Key). In order:
//
//   - a credential in the URL's query string is refused (ErrSecretInQuery),
//     whatever else the request holds;
//   - a throttled client address (one past Options.FailureLimit) gets a
//     *ThrottledError before its secret is looked at, unless the secret is
//     that of a credential this process admitted from that address in the
//     last 10 minutes:
//     guesses cost nothing and teach nothing, while the clients that were
//     working behind the same address (a NAT, a proxy) keep working;
//   - the secret's SHA-256 is looked up among the credentials in memory:
//     unknown or revoked is ErrUnknownCredential, expired
//     ErrExpiredCredential.
//
// Every refusal counts against the client address; the one that passes
// its limit is answered with a *ThrottledError. Errors never hold the
// secret.
func (c *Checker) Authenticate(r *http.Request) (Principal, error) {
	addr := clientKey(r, c.opt.TrustedProxies)
	if SecretInQuery(r.URL) {
		return Principal{}, c.refuse(addr, ErrSecretInQuery)
	}
	secret, err := ParseCredential(r.Header)
	if err != nil {
		return Principal{}, c.refuse(addr, err)
	}
	return c.check(r.Context(), addr, secret)
}

// check admits a secret presented from addr.
func (c *Checker) check(ctx context.Context, addr addrKey, secret string) (Principal, error) {
	hash := hashSecret(secret)
	throttled, wait := c.fails.throttled(addr)
	cr := c.set.Load().byHash[hash]
	if throttled && (cr == nil || !c.recentlyAdmitted(addr, cr.Principal.CredentialID)) {
		return Principal{}, &ThrottledError{RetryAfter: wait}
	}
	if cr == nil {
		c.recheck(ctx)
		cr = c.set.Load().byHash[hash]
	}
	if cr == nil {
		return Principal{}, c.refuse(addr, ErrUnknownCredential)
	}
	now := c.opt.Now()
	if e := cr.Principal.Expires; !e.IsZero() && !now.Before(e) {
		return Principal{}, c.refuse(addr, ErrExpiredCredential)
	}
	c.admitted(addr, cr.Kind, cr.ID, cr.Principal.CredentialID, now)
	return cr.Principal, nil
}

// refuse counts a failure against addr and returns err, or a
// *ThrottledError once addr is past its limit.
func (c *Checker) refuse(addr addrKey, err error) error {
	if ok, wait := c.fails.fail(addr); !ok {
		return &ThrottledError{RetryAfter: wait}
	}
	return err
}

// Refuse counts a failed authentication from the request's client address
// that the caller found on its own (ramp serve's event-stream tokens), and
// returns err or a *ThrottledError once the address is past its limit.
func (c *Checker) Refuse(r *http.Request, err error) error {
	return c.refuse(clientKey(r, c.opt.TrustedProxies), err)
}

// hashSecret is the SHA-256 of a secret, without allocating for the
// secrets ramp makes (about 41 bytes).
func hashSecret(secret string) [sha256.Size]byte {
	var buf [80]byte
	return sha256.Sum256(append(buf[:0], secret...))
}

// recentKey is a credential admitted from a client address.
type recentKey struct {
	addr         addrKey
	credentialID string
}

// useKey names a credential for Source.Touch.
type useKey struct {
	kind string
	id   int64
}

func (c *Checker) recentlyAdmitted(addr addrKey, id string) bool {
	c.marksMu.RLock()
	at, ok := c.recent[recentKey{addr, id}]
	c.marksMu.RUnlock()
	return ok && c.opt.Now().UnixNano()-at < int64(recentUse)
}

// admitted notes a use from addr, for the next batch of last-used times
// and for throttled addresses.
func (c *Checker) admitted(addr addrKey, kind string, id int64, credentialID string, now time.Time) {
	ns := now.UnixNano()
	uk, rk := useKey{kind, id}, recentKey{addr, credentialID}
	c.marksMu.RLock()
	mark := c.marks[uk]
	at, seen := c.recent[rk]
	c.marksMu.RUnlock()
	if mark != nil {
		mark.Store(ns)
	}
	// Most requests find the address's time within a second of now:
	// they skip the write lock.
	if mark != nil && seen && ns-at <= int64(time.Second) {
		return
	}
	c.marksMu.Lock()
	defer c.marksMu.Unlock()
	if c.marks[uk] == nil {
		c.marks[uk] = new(atomic.Int64)
	}
	c.marks[uk].Store(ns)
	c.recent[rk] = ns
}

// flush writes the last-used times noted since the last flush, in one
// batch.
func (c *Checker) flush(ctx context.Context) {
	cutoff := c.opt.Now().UnixNano() - int64(recentUse)
	c.marksMu.Lock()
	marks := c.marks
	c.marks = make(map[useKey]*atomic.Int64, len(marks))
	// Forget what throttled addresses no longer need.
	for k, at := range c.recent {
		if at < cutoff {
			delete(c.recent, k)
		}
	}
	c.marksMu.Unlock()
	if len(marks) == 0 {
		return
	}
	uses := make([]Use, 0, len(marks))
	for k, at := range marks {
		uses = append(uses, Use{Kind: k.kind, ID: k.id, At: time.Unix(0, at.Load())})
	}
	if err := c.src.Touch(ctx, uses); err != nil {
		c.warn("cannot record when credentials were last used", err)
	}
}

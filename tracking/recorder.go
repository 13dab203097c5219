package tracking

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ramp-flags/ramp/flags"
)

// Defaults of Options.
const (
	DefaultQueueSize = 1 << 16
	// DefaultBatchSize: batches of 5,000 events (about 1 MB on the wire with
	// two identifiers each; HTTPSink posts a larger body in parts) are what
	// the store ingests fastest: see docs/BENCHMARKS.md, "Ingest end to end".
	DefaultBatchSize     = 5000
	DefaultFlushInterval = time.Second
	DefaultDedupEntries  = 1 << 20 // 8 MiB
	DefaultRetryMin      = 100 * time.Millisecond
	DefaultRetryMax      = 30 * time.Second
	// sendTimeout bounds one attempt to write a batch to the sink.
	sendTimeout = 30 * time.Second
)

// Options tune a Recorder; zero values mean the defaults above.
type Options struct {
	// QueueSize is how many exposures, and as many events, may wait to be
	// sent. Past it new ones are dropped and counted: recording never
	// waits. Each waiting item holds about 150 bytes plus its strings.
	QueueSize int
	// BatchSize is the most items one write to the sink carries; a batch
	// is sent when it is full or FlushInterval after its first item.
	BatchSize     int
	FlushInterval time.Duration
	// DedupEntries is the capacity of the table of exposures already
	// recorded (8 bytes each, rounded up to a power of two): a unit seen
	// again costs a look-up, not a write. A unit forgotten to make room is
	// recorded again, and the sink ignores the duplicate.
	DedupEntries int
	// RetryMin and RetryMax bound the delay between attempts to write a
	// failed batch (doubling, with jitter; a sink's RetryAfter hint is
	// honoured up to RetryMax).
	RetryMin, RetryMax time.Duration
	// Now stamps exposures and events recorded without a time.
	Now    func() time.Time
	Logger *slog.Logger
}

// Stats are a Recorder's counters since it was made. Every exposure
// offered is deduplicated, dropped or recorded; every recorded one is
// eventually sent or dropped (counted then); likewise events.
type Stats struct {
	// ExposuresRecorded were new, and queued to be sent.
	ExposuresRecorded uint64
	// ExposuresDeduplicated were already recorded (the unit seen before in
	// that experiment phase) and cost nothing more.
	ExposuresDeduplicated uint64
	// ExposuresDropped were lost: the queue was full, the recorder closed,
	// or the sink refused their batch for good.
	ExposuresDropped uint64
	ExposuresSent    uint64

	EventsRecorded uint64
	// EventsDropped: as ExposuresDropped, and events that identify no
	// unit.
	EventsDropped uint64
	EventsSent    uint64

	// FailedBatches counts failed attempts to write a batch (each retry
	// that fails counts again).
	FailedBatches uint64
	// Queued is how many items wait to be sent now.
	Queued int
}

// counter is an atomic counter alone on its cache line, so that counting
// on one path does not slow another.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

// Recorder records exposures and tracking events without ever blocking or
// slowing the evaluation that makes them: exposures pass a fixed-size
// deduplication table (a unit seen before costs a look-up and allocates
// nothing), then wait in a bounded queue, as events do; one goroutine
// sends them to a Sink in batches, retrying failures with backoff. What
// cannot be queued or sent is dropped and counted (Stats), never silently.
// Close flushes. A Recorder is safe for concurrent use.
type Recorder struct {
	sink Sink
	opt  Options
	log  *slog.Logger
	seen *dedup
	// origins caches the key bases of the experiment rules exposed.
	origins originHashes

	exposures chan Exposure
	events    chan Event

	// mu orders records against Close: records hold it shared, Close
	// exclusively to mark the recorder closed, so that no record lands in
	// a queue after the last drain.
	mu      sync.RWMutex
	closed  bool
	closing chan struct{} // closed by Close: flush and stop
	done    chan struct{} // closed when the loop has returned
	// runCtx is the sink writes' context: canceled when Close's context
	// ends, to give up retrying.
	runCtx context.Context
	abort  context.CancelFunc

	expRecorded, expDeduped, expDropped, expSent counter
	evRecorded, evDropped, evSent                counter
	failed                                       counter
}

// NewRecorder starts a recorder that writes to sink.
func NewRecorder(sink Sink, opt Options) *Recorder {
	if opt.QueueSize <= 0 {
		opt.QueueSize = DefaultQueueSize
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = DefaultFlushInterval
	}
	if opt.DedupEntries <= 0 {
		opt.DedupEntries = DefaultDedupEntries
	}
	if opt.RetryMin <= 0 {
		opt.RetryMin = DefaultRetryMin
	}
	if opt.RetryMax < opt.RetryMin {
		opt.RetryMax = max(DefaultRetryMax, opt.RetryMin)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{
		sink: sink, opt: opt, log: opt.Logger, seen: newDedup(opt.DedupEntries),
		exposures: make(chan Exposure, opt.QueueSize), events: make(chan Event, opt.QueueSize),
		closing: make(chan struct{}), done: make(chan struct{}), runCtx: ctx, abort: cancel,
	}
	go r.run()
	return r
}

// Expose records the exposure a decision makes, if it makes one: a
// decision served by a rule of a running experiment phase or of a guarded
// rollout stage (Origin.Exposes: Phase >= 1) for the unit the context
// identifies (the attribute Origin.Unit names, else targetingKey), under
// Origin.ExperimentKey. Decisions of other rules, errors and stopped
// experiments (phase 0) record nothing. ctx is
// the context the decision was made from; it is read, never kept. Expose
// never blocks; for a unit already recorded in that phase it allocates
// nothing.
func (r *Recorder) Expose(d *flags.Decision, ctx map[string]any) {
	o := d.Origin
	if !o.Exposes() || d.ErrorCode != "" {
		return
	}
	b := r.origins.bases(o)
	if p := d.Unit; p.Attr != "" && (p.Attr == o.Unit || p.Attr == TargetingKey) {
		// The engine placed the unit: its bucketing hash under the
		// experiment's salt tells the experiment's units apart, so the
		// context is read only for a unit not seen before.
		base := b.byTKey
		if p.Attr == o.Unit {
			base = b.byUnit
		}
		if r.seen.testAndSet(placedKey(base, p.Hash)) {
			r.expDeduped.Add(1)
			return
		}
	} else if r.seenInContext(b, o.Unit, ctx) {
		return
	}
	var buf [24]byte
	attr, str, num, ok := unitOf(o.Unit, ctx, buf[:0])
	if !ok {
		return
	}
	if num != nil {
		str = string(num)
	}
	r.queueExposure(Exposure{Experiment: o.ExperimentKey(), Phase: o.Phase, UnitAttr: attr, Unit: str,
		Arm: d.Variant, Flag: d.Key, Time: r.opt.Now()})
}

// seenInContext reports whether the exposure of the unit that ctx holds
// (attribute attr, else targetingKey) was recorded, for a decision that
// does not carry the unit's placement, and marks it recorded.
func (r *Recorder) seenInContext(b *originBases, attr string, ctx map[string]any) bool {
	var buf [24]byte
	name, str, num, ok := unitOf(attr, ctx, buf[:0])
	if !ok {
		return true // nobody to record
	}
	base := b.byTKey
	if name == attr {
		base = b.byUnit
	}
	if r.seen.testAndSet(unitKey(base, str, num)) {
		r.expDeduped.Add(1)
		return true
	}
	return false
}

// RecordExposure records an exposure made elsewhere, deduplicated as
// Expose does. A zero Time is stamped now.
func (r *Recorder) RecordExposure(e Exposure) {
	if r.seen.testAndSet(exposureKey(e.Experiment, e.Phase, e.UnitAttr, e.Unit, nil)) {
		r.expDeduped.Add(1)
		return
	}
	if e.Time.IsZero() {
		e.Time = r.opt.Now()
	}
	r.queueExposure(e)
}

func (r *Recorder) queueExposure(e Exposure) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.expDropped.Add(1)
		return
	}
	select {
	case r.exposures <- e:
		r.expRecorded.Add(1)
	default:
		r.expDropped.Add(1)
	}
}

// Track records an event. An empty ID is given a new one (NewEventID), a
// zero Time now. An event whose Units are empty identifies nobody and is
// dropped (counted). Track never blocks.
func (r *Recorder) Track(e Event) {
	if len(e.Units) == 0 {
		r.evDropped.Add(1)
		return
	}
	if e.ID == "" {
		e.ID = NewEventID()
	}
	if e.Time.IsZero() {
		e.Time = r.opt.Now()
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.evDropped.Add(1)
		return
	}
	select {
	case r.events <- e:
		r.evRecorded.Add(1)
	default:
		r.evDropped.Add(1)
	}
}

// Stats returns the recorder's counters.
func (r *Recorder) Stats() Stats {
	return Stats{
		ExposuresRecorded: r.expRecorded.Load(), ExposuresDeduplicated: r.expDeduped.Load(),
		ExposuresDropped: r.expDropped.Load(), ExposuresSent: r.expSent.Load(),
		EventsRecorded: r.evRecorded.Load(), EventsDropped: r.evDropped.Load(), EventsSent: r.evSent.Load(),
		FailedBatches: r.failed.Load(), Queued: len(r.exposures) + len(r.events),
	}
}

// Close stops recording (later records are dropped and counted), sends
// everything queued, and returns when it is sent, or when ctx ends: then
// what is left is dropped, counted, and reported in the error. Close is
// idempotent; later calls wait for the first to finish.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	first := !r.closed
	r.closed = true
	r.mu.Unlock()
	if first {
		close(r.closing)
	}
	stop := context.AfterFunc(ctx, r.abort)
	defer stop()
	<-r.done
	if ctx.Err() != nil {
		s := r.Stats()
		return fmt.Errorf("tracking: closed before everything was sent (%d exposures and %d events dropped in all): %w",
			s.ExposuresDropped, s.EventsDropped, ctx.Err())
	}
	return nil
}

// run is the recorder's one goroutine: it gathers batches and writes them.
func (r *Recorder) run() {
	defer close(r.done)
	defer r.abort()
	tick := time.NewTicker(r.opt.FlushInterval)
	defer tick.Stop()
	var exps []Exposure
	var evs []Event
	var expSince, evSince time.Time // when the batch's first item came
	for {
		select {
		case e := <-r.exposures:
			if len(exps) == 0 {
				expSince = time.Now()
			}
			if exps = append(exps, e); len(exps) >= r.opt.BatchSize {
				exps = r.sendExposures(exps)
			}
		case e := <-r.events:
			if len(evs) == 0 {
				evSince = time.Now()
			}
			if evs = append(evs, e); len(evs) >= r.opt.BatchSize {
				evs = r.sendEvents(evs)
			}
		case <-tick.C:
			if len(exps) > 0 && time.Since(expSince) >= r.opt.FlushInterval/2 {
				exps = r.sendExposures(exps)
			}
			if len(evs) > 0 && time.Since(evSince) >= r.opt.FlushInterval/2 {
				evs = r.sendEvents(evs)
			}
		case <-r.closing:
			r.drain(exps, evs)
			return
		}
	}
}

// drain sends every item queued, in batches, after Close.
func (r *Recorder) drain(exps []Exposure, evs []Event) {
	for {
		select {
		case e := <-r.exposures:
			if exps = append(exps, e); len(exps) >= r.opt.BatchSize {
				exps = r.sendExposures(exps)
			}
			continue
		case e := <-r.events:
			if evs = append(evs, e); len(evs) >= r.opt.BatchSize {
				evs = r.sendEvents(evs)
			}
			continue
		default:
		}
		break
	}
	if len(exps) > 0 {
		r.sendExposures(exps)
	}
	if len(evs) > 0 {
		r.sendEvents(evs)
	}
}

func (r *Recorder) sendExposures(b []Exposure) []Exposure {
	if r.deliver("exposures", len(b), func(ctx context.Context) error { return r.sink.WriteExposures(ctx, b) }) {
		r.expSent.Add(uint64(len(b)))
	} else {
		r.expDropped.Add(uint64(len(b)))
	}
	clear(b)
	return b[:0]
}

func (r *Recorder) sendEvents(b []Event) []Event {
	if r.deliver("events", len(b), func(ctx context.Context) error { return r.sink.WriteEvents(ctx, b) }) {
		r.evSent.Add(uint64(len(b)))
	} else {
		r.evDropped.Add(uint64(len(b)))
	}
	clear(b)
	return b[:0]
}

// deliver writes one batch, retrying with backoff until it is written, the
// sink refuses it for good (ErrRejected), or Close's context ends. It
// reports whether the batch was written.
func (r *Recorder) deliver(what string, n int, write func(context.Context) error) bool {
	delay := r.opt.RetryMin
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.runCtx, sendTimeout)
		err := write(ctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				r.log.Info("tracking: batch written after retries", "kind", what, "items", n, "attempts", attempt)
			}
			return true
		}
		r.failed.Add(1)
		if errors.Is(err, ErrRejected) {
			r.log.Error("tracking: the sink refused a batch; dropped", "kind", what, "items", n, "err", err)
			return false
		}
		if r.runCtx.Err() != nil {
			r.log.Error("tracking: gave up a batch at close", "kind", what, "items", n, "err", err)
			return false
		}
		wait := delay
		if ra, ok := errors.AsType[retryAfter](err); ok {
			wait = max(wait, min(ra.RetryAfter(), r.opt.RetryMax))
		}
		wait -= time.Duration(rand.Int64N(int64(wait)/2 + 1)) // jitter: a fleet does not retry in step
		lvl := slog.LevelDebug
		if attempt == 1 {
			lvl = slog.LevelWarn
		}
		r.log.Log(context.Background(), lvl, "tracking: writing a batch failed; will retry", "kind", what, "items", n,
			"attempt", attempt, "retry_in", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.runCtx.Done():
			t.Stop()
			r.log.Error("tracking: gave up a batch at close", "kind", what, "items", n, "err", err)
			return false
		}
		delay = min(2*delay, r.opt.RetryMax)
	}
}

// retryAfter is implemented by sink errors that know when to try again (an
// HTTP 429 or 503 with Retry-After).
type retryAfter interface {
	error
	RetryAfter() time.Duration
}

// ErrRejected marks a sink error that retrying cannot fix (the batch
// itself was refused): the recorder drops the batch, counted.
var ErrRejected = errors.New("batch rejected")

// NewEventID returns a new random event id: 128 bits in 32 hex digits.
// Ids are made where the event is tracked, so that a batch retried after
// a lost answer is stored once.
func NewEventID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package clickhouse

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/go-faster/city"

	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

// The Store is a tracking.Sink.
var _ tracking.Sink = (*Store)(nil)

// dayMicros is a UTC day in microseconds.
const dayMicros = int64(24 * time.Hour / time.Microsecond)

// utcDay is the UTC day of t (Unix microseconds), rounded down also before
// 1970: the day the SQL store's compaction computes.
func utcDay(t int64) int32 {
	d := t / dayMicros
	if t%dayMicros < 0 {
		d--
	}
	return int32(d)
}

// reversed maps an exposure time to the version of its row: the earlier
// the time, the higher the version, so that ReplacingMergeTree keeps the
// earliest exposure of a unit to an arm.
func reversed(at int64) uint64 { return math.MaxUint64 - (uint64(at) ^ 1<<63) }

// WriteExposures stores a batch of exposures (the tracking.Sink method):
// one row per exposure, in the next shared insert (see the package
// comment), returning once that insert is done. Exposures stored already,
// by this server or another, are folded by the queries and by merges: a
// unit's first exposure is its earliest, and a unit exposed to two arms is
// multi-arm. An invalid exposure rejects the batch, before anything is
// sent, with an error matching ramp.ErrInvalid.
func (s *Store) WriteExposures(ctx context.Context, batch []tracking.Exposure) error {
	if len(batch) == 0 {
		return nil
	}
	for i := range batch {
		if err := store.ValidateExposure(&batch[i]); err != nil {
			return err
		}
	}
	err := s.exposures.write(ctx, func(b block) {
		c := b.(*exposureBlock)
		c.grow(len(batch))
		for i := range batch {
			x := &batch[i]
			at := x.Time.UnixMicro()
			c.experiment = append(c.experiment, x.Experiment)
			c.phase = append(c.phase, uint32(x.Phase))
			c.attr = append(c.attr, x.UnitAttr)
			c.unit = append(c.unit, x.Unit)
			c.arm = append(c.arm, x.Arm)
			c.flag = append(c.flag, x.Flag)
			c.at = append(c.at, at)
			c.rev = append(c.rev, reversed(at))
		}
	})
	if err != nil {
		return fmt.Errorf("write exposures to ClickHouse: %w", err)
	}
	return nil
}

// WriteEvents stores a batch of events (the tracking.Sink method): one row
// per event and identifying attribute, each with the event's hash (h, of
// its time and id: the id itself is not stored), the first of them the
// one counted, in the next shared insert, returning once that insert is
// done. An event stored already (the same time and id) is
// stored again and counted once: the queries fold the copies they find
// (see armStatsSQL), and merges remove them. An invalid event rejects the
// batch, before anything is sent, with an error matching ramp.ErrInvalid.
func (s *Store) WriteEvents(ctx context.Context, batch []tracking.Event) error {
	if len(batch) == 0 {
		return nil
	}
	// The rows are made here, outside the block's lock, in one pass that
	// also checks each event (store.ValidateEvent says what is wrong);
	// the block then only copies them, in one move.
	rs := eventRowsPool.Get().(*eventRows)
	defer func() {
		clear(rs.rows)
		rs.rows = rs.rows[:0]
		eventRowsPool.Put(rs)
	}()
	for i := range batch {
		e := &batch[i]
		if !quickValid(e) {
			if err := store.ValidateEvent(e); err != nil {
				return err
			}
		}
		at := e.Time.UnixMicro()
		h, day := eventHash(at, e.ID), utcDay(at)
		first := len(rs.rows)
		for a, u := range e.Units {
			if !quickText(a) || !quickText(u) {
				if err := store.ValidateEvent(e); err != nil {
					return err
				}
			}
			rs.rows = append(rs.rows, eventRow{name: e.Name, attr: a, unit: u, at: at, value: e.Value, h: h, day: day, bucket: unitBucket(u)})
		}
		// An event's rows in the order of their attributes: the first is
		// the one counted (first = 1).
		attrs := rs.rows[first:]
		if len(attrs) == 2 {
			if attrs[1].attr < attrs[0].attr {
				attrs[0], attrs[1] = attrs[1], attrs[0]
			}
		} else {
			slices.SortFunc(attrs, func(x, y eventRow) int { return strings.Compare(x.attr, y.attr) })
		}
		attrs[0].first = 1
	}
	err := s.events.write(ctx, func(b block) {
		c := b.(*eventBlock)
		c.rows = append(c.rows, rs.rows...)
	})
	if err != nil {
		return fmt.Errorf("write events to ClickHouse: %w", err)
	}
	return nil
}

// eventRow is one row of the events table (eventColumns), and its bucket.
// A block holds its rows as structs: sorting them reads each row's
// fields at once, where columns would be read at a random place each.
type eventRow struct {
	name, attr, unit string
	at               int64
	value            float64
	h                uint64
	day              int32
	// bucket is the row's bucket (unitBucket). It is not sent (the
	// server computes the column): the rows are sent in the table's
	// order, (name, bucket, h, attr), which ClickHouse then need not sort.
	bucket uint16
	first  uint8
}

// eventRows is WriteEvents' scratch, pooled.
type eventRows struct{ rows []eventRow }

var eventRowsPool = sync.Pool{New: func() any { return &eventRows{} }}

// quickValid reports whether store.ValidateEvent surely accepts e, its
// units aside: false asks ValidateEvent, which decides. It is the same
// test without the errors: id and name present, of at most
// maxTrackingText bytes, ASCII without NUL (anything else is left to
// ValidateEvent), a finite value, a time, and units.
func quickValid(e *tracking.Event) bool {
	return e.ID != "" && quickText(e.ID) && e.Name != "" && quickText(e.Name) &&
		!math.IsNaN(e.Value) && !math.IsInf(e.Value, 0) && !e.Time.IsZero() && len(e.Units) > 0
}

// quickText reports whether s is surely valid text for the store: not
// empty, at most maxTrackingText bytes of ASCII without NUL. False asks
// store.ValidateEvent.
func quickText(s string) bool {
	if s == "" || len(s) > maxTrackingText {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

// maxTrackingText is the store's limit on a text's length (store's
// maxTrackingText, checked by store.ValidateEvent).
const maxTrackingText = 1024

// block is the columns of one insert.
type block interface {
	len() int
	// columns returns rows lo to hi of the block, in the order to send
	// them, one slice per column; it is called for consecutive ranges from
	// 0, and its slices are valid until the next call.
	columns(lo, hi int) []any
	// reset empties the block, keeping its memory (the driver copies the
	// columns it is given).
	reset()
}

type exposureBlock struct {
	experiment, attr, unit, arm, flag []string
	phase                             []uint32
	at                                []int64
	rev                               []uint64
}

const exposureColumns = "exposures (experiment, phase, unit_attr, unit, arm, flag, at, rev)"

func (b *exposureBlock) len() int { return len(b.at) }
func (b *exposureBlock) grow(n int) {
	b.experiment, b.attr, b.unit = slices.Grow(b.experiment, n), slices.Grow(b.attr, n), slices.Grow(b.unit, n)
	b.arm, b.flag, b.phase = slices.Grow(b.arm, n), slices.Grow(b.flag, n), slices.Grow(b.phase, n)
	b.at, b.rev = slices.Grow(b.at, n), slices.Grow(b.rev, n)
}
func (b *exposureBlock) reset() {
	clear(b.experiment)
	clear(b.attr)
	clear(b.unit)
	clear(b.arm)
	clear(b.flag)
	*b = exposureBlock{b.experiment[:0], b.attr[:0], b.unit[:0], b.arm[:0], b.flag[:0], b.phase[:0], b.at[:0], b.rev[:0]}
}
func (b *exposureBlock) columns(lo, hi int) []any {
	return []any{b.experiment[lo:hi], b.phase[lo:hi], b.attr[lo:hi], b.unit[lo:hi], b.arm[lo:hi], b.flag[lo:hi], b.at[lo:hi], b.rev[lo:hi]}
}

type eventBlock struct {
	rows []eventRow // in the order they came

	// The piece of rows being sent, in the table's order, as columns.
	name, attr, unit []string
	at               []int64
	day              []int32
	value            []float64
	first            []uint8
	h                []uint64

	// sortRows' scratch.
	keys               []rowKey
	ranks              map[string]uint32
	names              []string
	rank, order, remap []uint32
	start, next        []uint32
}

const eventColumns = "events (name, attr, unit, at, day, value, first, h)"

func (b *eventBlock) len() int { return len(b.rows) }
func (b *eventBlock) reset() {
	clear(b.rows)
	b.rows = b.rows[:0]
	b.resetPiece()
	clear(b.names)
	clear(b.ranks)
}

// resetPiece empties the columns of the piece being sent.
func (b *eventBlock) resetPiece() {
	clear(b.name)
	clear(b.attr)
	clear(b.unit)
	b.name, b.attr, b.unit = b.name[:0], b.attr[:0], b.unit[:0]
	b.at, b.day, b.value, b.first, b.h = b.at[:0], b.day[:0], b.value[:0], b.first[:0], b.h[:0]
}

// columns returns rows lo to hi of the block in the table's order (see
// eventRow.bucket): ClickHouse checks whether an inserted block is sorted
// already and, when it is, skips sorting it and permuting its columns,
// which was most of an insert's cost on the server. The block is sorted
// when lo is 0; the rows are copied in that order into the piece's
// columns, which the driver then copies while they are in the cache.
func (b *eventBlock) columns(lo, hi int) []any {
	if lo == 0 {
		b.sortRows()
	}
	b.resetPiece()
	n := hi - lo
	b.name, b.attr, b.unit = slices.Grow(b.name, n), slices.Grow(b.attr, n), slices.Grow(b.unit, n)
	b.at, b.day, b.value = slices.Grow(b.at, n), slices.Grow(b.day, n), slices.Grow(b.value, n)
	b.first, b.h = slices.Grow(b.first, n), slices.Grow(b.h, n)
	for _, k := range b.keys[lo:hi] {
		r := &b.rows[k.i]
		b.name = append(b.name, r.name)
		b.attr = append(b.attr, r.attr)
		b.unit = append(b.unit, r.unit)
		b.at = append(b.at, r.at)
		b.day = append(b.day, r.day)
		b.value = append(b.value, r.value)
		b.first = append(b.first, r.first)
		b.h = append(b.h, r.h)
	}
	return []any{b.name, b.attr, b.unit, b.at, b.day, b.value, b.first, b.h}
}

// sortRows sets b.keys to the rows in the table's order. A block holds
// few event names, so the rows are first counted into groups of one name
// and bucket (a counting sort), each of which holds a few hundred rows at
// most under load, and each group is then sorted by h (and attr, for the
// rare rows that share their h): a comparison sort of the whole block,
// comparing names, cost the server's saving again on ramp's side.
func (b *eventBlock) sortRows() {
	n := len(b.rows)
	// Rank the names, in their order: a batch's rows share one string per
	// name (the decoder keeps each once), and consecutive rows mostly
	// have the same.
	if b.ranks == nil {
		b.ranks = make(map[string]uint32)
	}
	clear(b.ranks)
	b.names = b.names[:0]
	b.rank = slices.Grow(b.rank[:0], n)
	var prev string
	var prevRank uint32
	for i := range b.rows {
		name := b.rows[i].name
		if i == 0 || name != prev {
			r, ok := b.ranks[name]
			if !ok {
				r = uint32(len(b.names))
				b.ranks[name] = r
				b.names = append(b.names, name)
			}
			prev, prevRank = name, r
		}
		b.rank = append(b.rank, prevRank)
	}
	groups := len(b.names) * Buckets
	b.keys = slices.Grow(b.keys[:0], n)[:n]
	if groups > 4*n+Buckets {
		// Names nearly as many as rows: one comparison sort.
		for i := range n {
			b.keys[i] = rowKey{h: b.rows[i].h, i: uint32(i)}
		}
		slices.SortFunc(b.keys, func(x, y rowKey) int {
			rx, ry := &b.rows[x.i], &b.rows[y.i]
			return cmp.Or(strings.Compare(rx.name, ry.name), cmp.Compare(rx.bucket, ry.bucket), b.compareInGroup(x, y))
		})
		return
	}
	// The names' ranks in sorted order.
	order := slices.Grow(b.order[:0], len(b.names))[:len(b.names)]
	for r := range order {
		order[r] = uint32(r)
	}
	slices.SortFunc(order, func(x, y uint32) int { return strings.Compare(b.names[x], b.names[y]) })
	remap := slices.Grow(b.remap[:0], len(order))[:len(order)]
	for sorted, r := range order {
		remap[r] = uint32(sorted)
	}
	b.order, b.remap = order, remap
	// Count the rows of each (name, bucket) group, then place them.
	start := slices.Grow(b.start[:0], groups+1)[:groups+1]
	clear(start)
	for i := range n {
		b.rank[i] = remap[b.rank[i]]*Buckets + uint32(b.rows[i].bucket)
		start[b.rank[i]+1]++
	}
	for g := range groups {
		start[g+1] += start[g]
	}
	next := slices.Grow(b.next[:0], groups)[:groups]
	copy(next, start[:groups])
	for i := range n {
		g := b.rank[i]
		b.keys[next[g]] = rowKey{h: b.rows[i].h, i: uint32(i)}
		next[g]++
	}
	b.start, b.next = start, next
	for g := range groups {
		if run := b.keys[start[g]:start[g+1]]; len(run) > 1 {
			slices.SortFunc(run, b.compareInGroup)
		}
	}
}

// compareInGroup orders two rows of one name and bucket: by h, then attr.
func (b *eventBlock) compareInGroup(x, y rowKey) int {
	if x.h != y.h {
		return cmp.Compare(x.h, y.h)
	}
	return strings.Compare(b.rows[x.i].attr, b.rows[y.i].attr)
}

// rowKey is a row (i) and its h, sorted by sortRows.
type rowKey struct {
	h uint64
	i uint32
}

// unitBucket is the bucket of a unit, as the tables compute it:
// cityHash64(unit) % Buckets, ClickHouse's CityHash64 (version 1.0.2).
func unitBucket(unit string) uint16 {
	return uint16(city.CH64(unsafe.Slice(unsafe.StringData(unit), len(unit))) % Buckets)
}

// eventHash identifies an event by its time and id: what makes a retried
// event's copies one (see ArmStats).
func eventHash(at int64, id string) uint64 {
	var d xxhash.Digest
	d.Reset()
	var t [8]byte
	binary.LittleEndian.PutUint64(t[:], uint64(at))
	_, _ = d.Write(t[:])
	_, _ = d.WriteString(id)
	return d.Sum64()
}

// blockWriter gathers the rows of concurrent writes into shared blocks
// and inserts each block once (group commit): a block is sent as soon as
// an insert may start — fewer than maxSends in flight, and MinInterval
// since the last one started, unless the block holds BlockRows already —
// and the rows written meanwhile wait in the next block. Under load the
// blocks grow with the load; idle, a write waits for nothing.
type blockWriter struct {
	s        *Store
	insert   string
	newBlock func() block
	opt      Options

	mu        sync.Mutex
	cur       *pending
	inflight  int
	lastStart time.Time
	// free holds emptied blocks, their memory kept, up to maxFree: a
	// sync.Pool let the collector take them, and each new block grew
	// again, copying its rows at every step.
	free   []block
	timer  *time.Timer // armed while the next block waits for MinInterval
	closed bool
	wg     sync.WaitGroup // inserts in flight
}

// pending is a block being filled or sent, and its outcome.
type pending struct {
	b    block
	done chan struct{}
	err  error
}

// maxSends is how many inserts of one table may be in flight at once.
const maxSends = 2

// maxFree is how many emptied blocks a blockWriter keeps for reuse: one
// being filled while maxSends are sent. A block is as large as the writes
// that wait on it (bounded by the server's concurrent writers).
const maxFree = maxSends + 1

// sendTimeout bounds one insert. It does not follow the callers'
// contexts: a block holds the rows of several.
const sendTimeout = time.Minute

func newBlockWriter(s *Store, columns string, opt Options) *blockWriter {
	w := &blockWriter{s: s, insert: "INSERT INTO " + s.db + "." + columns, opt: opt}
	if columns == exposureColumns {
		w.newBlock = func() block { return &exposureBlock{} }
	} else {
		w.newBlock = func() block { return &eventBlock{} }
	}
	return w
}

// errClosed is the error of a write after Close.
var errClosed = fmt.Errorf("the events store is closed")

// write adds rows to the current block with fill, and waits for the block's
// insert (or ctx: the rows may then still be stored).
func (w *blockWriter) write(ctx context.Context, fill func(block)) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errClosed
	}
	if w.cur == nil {
		var b block
		if n := len(w.free); n > 0 {
			b, w.free[n-1] = w.free[n-1], nil
			w.free = w.free[:n-1]
		} else {
			b = w.newBlock()
		}
		w.cur = &pending{b: b, done: make(chan struct{})}
	}
	p := w.cur
	fill(p.b)
	w.kick()
	w.mu.Unlock()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kick starts the current block's insert if one may start now, or arms
// the timer for when it may. w.mu is held.
func (w *blockWriter) kick() {
	p := w.cur
	if p == nil || w.inflight >= maxSends {
		return // an insert that ends kicks again
	}
	if wait := w.opt.MinInterval - time.Since(w.lastStart); wait > 0 && p.b.len() < w.opt.BlockRows {
		if w.timer == nil {
			w.timer = time.AfterFunc(wait, func() {
				w.mu.Lock()
				w.timer = nil
				w.kick()
				w.mu.Unlock()
			})
		}
		return
	}
	w.cur = nil
	w.inflight++
	w.lastStart = time.Now()
	w.wg.Add(1)
	go w.send(p)
}

// send inserts p's block, wakes its writers, and kicks the next block.
func (w *blockWriter) send(p *pending) {
	defer w.wg.Done()
	p.err = w.insertBlock(p.b)
	p.b.reset()
	b := p.b
	p.b = nil
	close(p.done)
	w.mu.Lock()
	if len(w.free) < maxFree {
		w.free = append(w.free, b)
	}
	w.inflight--
	if !w.closed {
		w.kick()
	}
	w.mu.Unlock()
}

// insertBlock sends one block, column by column, in pieces of
// insertChunkRows rows within one insert.
func (w *blockWriter) insertBlock(b block) error {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	batch, err := w.s.conn.PrepareBatch(ctx, w.insert)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	n := b.len()
	for lo := 0; lo < n; lo += insertChunkRows {
		hi := min(lo+insertChunkRows, n)
		if lo > 0 {
			if err := batch.Flush(); err != nil {
				_ = batch.Abort()
				return fmt.Errorf("insert rows %d to %d of %d: %w", lo-insertChunkRows, lo, n, err)
			}
		}
		for i, col := range b.columns(lo, hi) {
			if err := batch.Column(i).Append(col); err != nil {
				_ = batch.Abort()
				return fmt.Errorf("insert column %d: %w", i, err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows: %w", n, err)
	}
	return nil
}

// insertChunkRows is how many rows of a block the driver holds at once:
// it copies the rows into columns of its own, sends them (Flush) and
// reuses their memory for the next rows. The server joins the pieces of
// one insert into one block (min_insert_block_size_rows, a million rows
// by default), and so into one part, sorted when each piece is and they
// follow in order. The driver's columns are still allocated anew for each
// insert (PrepareBatch), growing to a piece's rows: without pieces, a
// tenth of ramp's CPU went to the garbage they made, and pieces of 16,384
// rows still made a third of the bytes the ingest benchmark allocated
// (2,048: 4.0 MB allocated per batch of 5,000 events fell to 2.8 MB).
const insertChunkRows = 2048

// close sends the block being filled and waits for every insert.
func (w *blockWriter) close() {
	w.mu.Lock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if p := w.cur; p != nil {
		w.cur = nil
		w.inflight++
		w.wg.Add(1)
		go w.send(p)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

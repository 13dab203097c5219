package tracking

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// decoder reads a tracking body of the known schema in one pass, without
// building values for what it does not keep and without allocating per
// field: the strings it keeps (ids, names, units) are copied into shared
// blocks of arenaBlock bytes, each string a view of its block, so that a
// batch costs a few blocks, its slices and one map per event (Event.Units).
// Blocks are never written again once a string views them, and they are
// not pooled, so a batch's strings stay valid for as long as anything
// holds them, whatever happens to the body's buffer afterwards.
//
// It is strict on purpose: it accepts a body only when it is sure that
// decodeBatchStd (encoding/json) accepts it with the same result, and
// reports ok false on anything else — malformed JSON, an item that fails a
// check, a duplicate field, a key that differs from a field's name only in
// case (encoding/json matches those), a string with invalid UTF-8 or a
// surrogate escape (encoding/json replaces those), numbers out of range —
// and DecodeBatch then asks decodeBatchStd, which accepts or explains.
type decoder struct {
	buf   []byte
	i     int
	depth int
	arena []byte
	tmp   []byte            // an escaped string, unescaped
	names map[string]string // event names of the batch, kept once each
	now   time.Time
	attrs []string
	ids   [8]ident // the identifiers of the event being read
	nids  int
}

// ident is one identifier of an event's context: the attribute (one of
// the decoder's attrs, not copied) and its value.
type ident struct{ attr, unit string }

// arenaBlock is the size of the blocks kept strings are copied into.
const arenaBlock = 64 << 10

// maxSkipDepth bounds the nesting of values skipped (encoding/json refuses
// beyond 10,000; the decoder leaves such bodies to it).
const maxSkipDepth = 1000

// batch decodes body; ok is false when decodeBatchStd must decide.
func (d *decoder) batch(body []byte, now time.Time, attrs []string) (b Batch, ok bool) {
	d.buf, d.i, d.now, d.attrs = body, 0, now, attrs
	if len(attrs)+1 > len(d.ids) {
		return Batch{}, false
	}
	d.ws()
	if !d.eat('{') {
		return Batch{}, false
	}
	var sawEvents, sawExposures bool
	b.Events, b.Exposures = []Event{}, []Exposure{}
	ok = d.object(func(key []byte) bool {
		switch string(key) {
		case "events":
			if sawEvents {
				return false
			}
			sawEvents = true
			if d.null() {
				return true
			}
			return d.array(func() bool {
				if len(b.Events)+len(b.Exposures) == MaxBatchItems {
					return false
				}
				start := d.i
				e, ok := d.event()
				if cap(b.Events) == 0 {
					// Room for as many more events as the rest of the
					// body holds if they are the size of the first (a
					// batch's events mostly are), so that the slice is
					// not grown step by step; counting the items first
					// cost a tenth of the decoding.
					b.Events = make([]Event, 0, min(1+(len(d.buf)-d.i)/max(d.i-start, 1), MaxBatchItems))
				}
				b.Events = append(b.Events, e)
				return ok
			})
		case "exposures":
			if sawExposures {
				return false
			}
			sawExposures = true
			if d.null() {
				return true
			}
			return d.array(func() bool {
				if len(b.Events)+len(b.Exposures) == MaxBatchItems {
					return false
				}
				x, ok := d.exposure()
				b.Exposures = append(b.Exposures, x)
				return ok
			})
		}
		return !foldsTo(key, "events", "exposures") && d.skip()
	})
	if !ok {
		return Batch{}, false
	}
	d.ws()
	if d.i != len(d.buf) {
		return Batch{}, false
	}
	return b, true
}

// event reads one event object and checks it as decodeEvent does.
func (d *decoder) event() (Event, bool) {
	d.ws()
	if !d.eat('{') {
		return Event{}, false
	}
	e := Event{Time: d.now}
	var hasValue bool
	var seen uint8
	d.nids = 0
	ok := d.object(func(key []byte) bool {
		var bit uint8
		switch string(key) {
		case "id":
			bit = 1
		case "event":
			bit = 2
		case "value":
			bit = 4
		case "time":
			bit = 8
		case "context":
			bit = 16
		default:
			return !foldsTo(key, "id", "event", "value", "time", "context") && d.skip()
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.null() {
			return true
		}
		switch bit {
		case 1:
			s, ok := d.str()
			if !ok || !validID(s) {
				return false
			}
			e.ID = d.keep(s)
		case 2:
			s, ok := d.str()
			if !ok || !validName(s, MaxNameLen) {
				return false
			}
			e.Name = d.name(s)
		case 4:
			lit, ok := d.number()
			if !ok {
				return false
			}
			v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
			if err != nil {
				return false
			}
			e.Value, hasValue = v, true
		case 8:
			s, ok := d.str()
			if !ok {
				return false
			}
			if len(s) > 0 {
				if e.Time, ok = d.time(s); !ok {
					return false
				}
			}
		case 16:
			return d.context()
		}
		return true
	})
	if !ok || e.ID == "" || e.Name == "" {
		return Event{}, false
	}
	if !hasValue {
		e.Value = 1
	}
	if d.nids == 0 {
		return Event{}, false
	}
	e.Units = make(map[string]string, d.nids)
	for _, id := range d.ids[:d.nids] {
		e.Units[id.attr] = id.unit
	}
	return e, true
}

// context reads an event's context, keeping its identifiers in d.ids.
func (d *decoder) context() bool {
	d.ws()
	if !d.eat('{') {
		return false
	}
	return d.object(func(key []byte) bool {
		attr, ok := d.identifierAttr(key)
		if !ok {
			return false
		}
		if attr == "" {
			return d.skip()
		}
		for _, id := range d.ids[:d.nids] {
			if id.attr == attr {
				return false // a repeated identifier: the last would win
			}
		}
		if d.null() {
			return true
		}
		var unit string
		switch d.peek() {
		case '"':
			s, ok := d.str()
			if !ok {
				return false
			}
			if len(s) == 0 {
				return true
			}
			if len(s) > MaxUnitLen {
				return false
			}
			unit = d.keep(s)
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			lit, ok := d.number()
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
			if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<53 {
				return false
			}
			var n [24]byte
			unit = d.keep(strconv.AppendInt(n[:0], int64(f), 10))
		default:
			return false
		}
		d.ids[d.nids] = ident{attr, unit}
		d.nids++
		return true
	})
}

// identifierAttr returns the attribute of attrs (or targetingKey) that key
// names, "" for another attribute; ok is false for a key the decoder
// leaves to encoding/json (escaped or not valid UTF-8).
func (d *decoder) identifierAttr(key []byte) (string, bool) {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			if !utf8.Valid(key) {
				return "", false
			}
			break
		}
	}
	if string(key) == TargetingKey {
		return TargetingKey, true
	}
	for _, a := range d.attrs {
		if string(key) == a {
			return a, true
		}
	}
	return "", true
}

// exposure reads one exposure object and checks it as decodeExposure does.
func (d *decoder) exposure() (Exposure, bool) {
	d.ws()
	if !d.eat('{') {
		return Exposure{}, false
	}
	x := Exposure{Time: d.now}
	var hasPhase bool
	var seen uint8
	ok := d.object(func(key []byte) bool {
		var bit uint8
		var dst *string
		limit := MaxNameLen
		switch string(key) {
		case "experiment":
			bit, dst = 1, &x.Experiment
		case "phase":
			bit = 2
		case "unitAttribute":
			bit, dst = 4, &x.UnitAttr
		case "unit":
			bit, dst, limit = 8, &x.Unit, MaxUnitLen
		case "arm":
			bit, dst = 16, &x.Arm
		case "flag":
			bit, dst = 32, &x.Flag
		case "time":
			bit = 64
		default:
			return !foldsTo(key, "experiment", "phase", "unitAttribute", "unit", "arm", "flag", "time") && d.skip()
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.null() {
			return true
		}
		switch bit {
		case 2:
			lit, ok := d.number()
			if !ok {
				return false
			}
			p, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(lit), len(lit)), 10, 0)
			if err != nil || p < 1 {
				return false
			}
			x.Phase, hasPhase = int(p), true
		case 64:
			s, ok := d.str()
			if !ok {
				return false
			}
			if len(s) > 0 {
				if x.Time, ok = d.time(s); !ok {
					return false
				}
			}
		case 32:
			s, ok := d.str()
			if !ok || len(s) > 0 && !validName(s, limit) {
				return false
			}
			x.Flag = d.name(s)
		case 8:
			s, ok := d.str()
			if !ok || !validName(s, limit) {
				return false
			}
			x.Unit = d.keep(s)
		default:
			s, ok := d.str()
			if !ok || !validName(s, limit) {
				return false
			}
			*dst = d.name(s)
		}
		return true
	})
	if !ok || !hasPhase || x.Experiment == "" || x.UnitAttr == "" || x.Unit == "" || x.Arm == "" {
		return Exposure{}, false
	}
	return x, true
}

// time parses an item's time as decodeTime does.
func (d *decoder) time(raw []byte) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, unsafe.String(unsafe.SliceData(raw), len(raw)))
	if err != nil || t.After(d.now.Add(MaxAhead)) {
		return time.Time{}, false
	}
	return t, true
}

// validID is checkID's test without the error.
func validID(id []byte) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for _, c := range id {
		if !idByte[c] {
			return false
		}
	}
	return true
}

// idByte tells the bytes an id may hold (checkID's): letters, digits, '-',
// '_', '.' and ':'.
var idByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
	}
	return t
}()

// validName is checkName's test without the error: present, at most limit
// bytes, no control character (below 0x20, or 0x7f: in valid UTF-8, which
// str has checked, those bytes are those runes).
func validName(s []byte, limit int) bool {
	if len(s) == 0 || len(s) > limit {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// keep returns a string holding s, copied into the arena.
func (d *decoder) keep(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	if cap(d.arena)-len(d.arena) < len(s) {
		d.arena = make([]byte, 0, max(arenaBlock, len(s)))
	}
	start := len(d.arena)
	d.arena = append(d.arena, s...)
	return unsafe.String(&d.arena[start], len(s))
}

// name returns s kept once per batch: event names, experiments and arms
// repeat from item to item.
func (d *decoder) name(s []byte) string {
	if v, ok := d.names[string(s)]; ok {
		return v
	}
	if d.names == nil {
		d.names = make(map[string]string, 8)
	}
	v := d.keep(s)
	if len(d.names) < 256 {
		d.names[v] = v
	}
	return v
}

// The JSON grammar, strictly: any doubt reports false.

func (d *decoder) ws() {
	for d.i < len(d.buf) {
		switch d.buf[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.buf) {
		return d.buf[d.i]
	}
	return 0
}

func (d *decoder) eat(c byte) bool {
	if d.i < len(d.buf) && d.buf[d.i] == c {
		d.i++
		return true
	}
	return false
}

// null consumes a null and reports whether there was one.
func (d *decoder) null() bool {
	d.ws()
	if len(d.buf)-d.i >= 4 && string(d.buf[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// object reads the members of an object whose '{' is consumed, calling
// member with each key (unescaped keys only) with the value next.
func (d *decoder) object(member func(key []byte) bool) bool {
	d.ws()
	if d.eat('}') {
		return true
	}
	for {
		d.ws()
		if d.i >= len(d.buf) || d.buf[d.i] != '"' {
			return false
		}
		key, escaped, ok := d.rawString()
		if !ok || escaped {
			return false
		}
		d.ws()
		if !d.eat(':') || !member(key) {
			return false
		}
		d.ws()
		if d.eat('}') {
			return true
		}
		if !d.eat(',') {
			return false
		}
	}
}

// array reads '[' elements ']', calling elem before each element.
func (d *decoder) array(elem func() bool) bool {
	d.ws()
	if !d.eat('[') {
		return false
	}
	d.ws()
	if d.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		d.ws()
		if d.eat(']') {
			return true
		}
		if !d.eat(',') {
			return false
		}
	}
}

// str reads a string value: its bytes, unescaped (into d.tmp when it has
// escapes), valid UTF-8.
func (d *decoder) str() ([]byte, bool) {
	d.ws()
	if d.i >= len(d.buf) || d.buf[d.i] != '"' {
		return nil, false
	}
	raw, escaped, ok := d.rawString()
	if !ok {
		return nil, false
	}
	if escaped {
		if raw, ok = d.unescape(raw); !ok {
			return nil, false
		}
	}
	for _, c := range raw {
		if c >= utf8.RuneSelf {
			return raw, utf8.Valid(raw)
		}
	}
	return raw, true
}

// rawString reads a string at d.i (its '"'), returning the bytes between
// the quotes as they are and whether they hold escapes. Control
// characters are refused, as JSON does.
func (d *decoder) rawString() (raw []byte, escaped, ok bool) {
	start := d.i + 1
	for i := start; i < len(d.buf); i++ {
		// Most bytes are plain: one table look-up each.
		for i < len(d.buf) && !stringStop[d.buf[i]] {
			i++
		}
		if i == len(d.buf) {
			break
		}
		switch c := d.buf[i]; {
		case c == '"':
			d.i = i + 1
			return d.buf[start:i], escaped, true
		case c == '\\':
			escaped = true
			i++
			if i >= len(d.buf) {
				return nil, false, false
			}
			switch d.buf[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d.buf) {
					return nil, false, false
				}
				for _, h := range d.buf[i+1 : i+5] {
					if unhex(h) < 0 {
						return nil, false, false
					}
				}
				i += 4
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		}
	}
	return nil, false, false
}

// stringStop marks the bytes rawString stops at: the closing quote, an
// escape, and the control characters JSON refuses in a string.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// unescape writes raw (checked by rawString) unescaped into d.tmp. A
// surrogate escape is left to encoding/json.
func (d *decoder) unescape(raw []byte) ([]byte, bool) {
	out := d.tmp[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(unhex(raw[i+1])<<12 | unhex(raw[i+2])<<8 | unhex(raw[i+3])<<4 | unhex(raw[i+4]))
			if r >= 0xd800 && r < 0xe000 {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
	}
	d.tmp = out
	return out, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// number reads a number literal, checked against JSON's grammar.
func (d *decoder) number() ([]byte, bool) {
	d.ws()
	b, start, i := d.buf, d.i, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return b[start:i], true
}

// skip reads any JSON value, keeping nothing.
func (d *decoder) skip() bool {
	switch d.peek() {
	case '"':
		_, _, ok := d.rawString()
		return ok
	case '{':
		if d.depth++; d.depth > maxSkipDepth {
			return false
		}
		d.i++
		ok := d.object(func([]byte) bool { return d.skip() })
		d.depth--
		return ok
	case '[':
		if d.depth++; d.depth > maxSkipDepth {
			return false
		}
		ok := d.array(d.skip)
		d.depth--
		return ok
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, ok := d.number()
	return ok
}

func (d *decoder) literal(lit string) bool {
	if len(d.buf)-d.i >= len(lit) && string(d.buf[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// foldsTo reports whether an unknown key might be matched to one of
// fields by encoding/json, which compares names without regard to case
// (Unicode's folding included, so any key with a byte past ASCII is
// suspect).
func foldsTo(key []byte, fields ...string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, f := range fields {
		if len(f) != len(key) {
			continue
		}
		same := true
		for i := range len(f) {
			if f[i]|0x20 != key[i]|0x20 {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

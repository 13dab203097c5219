package admin

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/internal/store"
)

// Limits of an events file, by default.
const (
	DefaultEventMaxLineBytes = 64 << 10
	DefaultEventMaxRows      = 100_000_000
	// maxEventName is the longest event name accepted, in bytes.
	maxEventName = 256
)

// EventCSVOptions say how to read an events file. The zero value reads
// it with the delimiter detected and the default limits.
type EventCSVOptions struct {
	// Delimiter separates fields; 0 detects it from the first line:
	// Excel's "sep=X" hint line, else whichever of , ; tab and | it has
	// most of (',' when none).
	Delimiter rune
	// MaxLineBytes is the longest row accepted (its physical lines
	// together, when a quoted field spans several); 0 means
	// DefaultEventMaxLineBytes.
	MaxLineBytes int
	// MaxRows is the most data rows accepted; 0 means DefaultEventMaxRows.
	MaxRows int
}

// EventFileError is a problem with an events file: where it is (the file,
// the line, the column when one is to blame) and what. It matches
// ramp.ErrInvalid.
type EventFileError struct {
	File   string
	Line   int    // 0 when the problem is the file as a whole
	Column string // the column's header name, when a field is to blame
	Msg    string
}

// Error reads like `events.csv:12: column "time": "yesterday" is neither
// RFC 3339 nor Unix seconds`.
func (e *EventFileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ramp.ErrInvalid) true.
func (e *EventFileError) Is(target error) bool { return target == ramp.ErrInvalid }

// EventReader reads tracking events from a CSV file with a header row
// naming its columns (in any order, any case): `unit` (or `user_id`),
// `event`, `value` (optional: 1 when absent or empty) and `time` (RFC 3339,
// or Unix seconds, possibly with a fraction). Other columns are ignored.
// The file may be gzip-compressed (detected by its magic bytes) and start
// with a UTF-8 byte-order mark; lines end in LF or CRLF; blank lines are
// skipped. It holds one row at a time: memory is bounded by
// MaxLineBytes, whatever the file's size.
type EventReader struct {
	file    string
	opt     EventCSVOptions
	csv     *csv.Reader
	lim     *rowBytes
	skipped int // lines before the CSV proper (a "sep=" hint)
	// lastLine is the line the last row read ended on.
	lastLine int
	width    int
	unit     int
	event    int
	value    int // -1 without
	time     int
	header   []string
	rows     int
}

// NewEventReader reads the header of the events file r holds; file names
// it in errors.
func NewEventReader(r io.Reader, file string, opt EventCSVOptions) (*EventReader, error) {
	if opt.MaxLineBytes <= 0 {
		opt.MaxLineBytes = DefaultEventMaxLineBytes
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = DefaultEventMaxRows
	}
	bad := func(line int, format string, args ...any) error {
		return &EventFileError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if d := opt.Delimiter; d != 0 && (d == '"' || d == '\r' || d == '\n' || !utf8.ValidRune(d) || d == utf8.RuneError) {
		return nil, bad(0, "invalid delimiter %q", d)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, bad(0, "read gzip header: %v", err)
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	rd := &EventReader{file: file, opt: opt, value: -1}
	if opt.Delimiter == 0 {
		first, _ := br.Peek(min(opt.MaxLineBytes, br.Size()))
		if i := bytes.IndexByte(first, '\n'); i >= 0 {
			first = first[:i]
		}
		line := strings.TrimRight(string(first), "\r")
		if d, ok := strings.CutPrefix(strings.ToLower(line), "sep="); ok && utf8.RuneCountInString(d) == 1 {
			opt.Delimiter, _ = utf8.DecodeRuneInString(d)
			_, _ = br.Discard(len(first) + 1)
			rd.skipped, rd.lastLine = 1, 1
		} else {
			opt.Delimiter = ','
			best := 0
			for _, c := range []rune{',', ';', '\t', '|'} {
				if n := strings.Count(line, string(c)); n > best {
					opt.Delimiter, best = c, n
				}
			}
		}
		rd.opt.Delimiter = opt.Delimiter
	}
	rd.lim = &rowBytes{r: br, max: int64(opt.MaxLineBytes) + 2*4096}
	rd.csv = csv.NewReader(rd.lim)
	rd.csv.Comma = opt.Delimiter
	rd.csv.FieldsPerRecord = -1
	rd.csv.ReuseRecord = true
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

// rowBytes counts the bytes read since the last row began, and fails once
// they pass max: a row's length bounds what the CSV reader holds.
type rowBytes struct {
	r    io.Reader
	n    int64
	max  int64
	read int64 // in all
}

var errRowTooLong = errors.New("row too long")

func (l *rowBytes) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, errRowTooLong
	}
	if room := l.max - l.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	l.read += int64(n)
	return n, err
}

// BytesRead returns how many bytes of the (decompressed) file were read.
func (rd *EventReader) BytesRead() int64 { return rd.lim.read }

// Rows returns how many data rows were read.
func (rd *EventReader) Rows() int { return rd.rows }

// Header returns the header's column names.
func (rd *EventReader) Header() []string { return rd.header }

// read reads one record, turning the reader's errors into EventFileErrors.
func (rd *EventReader) read() ([]string, int, error) {
	for {
		rd.lim.n = 0
		rec, err := rd.csv.Read()
		// The line a failed row starts on is not known: the one after the
		// last row read, but for blank lines between them.
		line := rd.lastLine + 1
		if err == nil && len(rec) > 0 {
			line, _ = rd.csv.FieldPos(0)
			line += rd.skipped
			end, _ := rd.csv.FieldPos(len(rec) - 1)
			rd.lastLine = end + rd.skipped
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil, 0, io.EOF
		case errors.Is(err, errRowTooLong):
			return nil, 0, &EventFileError{File: rd.file, Line: line, Msg: fmt.Sprintf("row longer than %d bytes; raise the limit or check the file is CSV", rd.opt.MaxLineBytes)}
		case err != nil:
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, &EventFileError{File: rd.file, Line: pe.StartLine + rd.skipped, Msg: "malformed CSV: " + pe.Err.Error()}
			}
			var corrupt flate.CorruptInputError
			if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt) {
				return nil, 0, &EventFileError{File: rd.file, Msg: "read compressed file: " + err.Error()}
			}
			return nil, 0, fmt.Errorf("%s: read line %d: %w", rd.file, line, err)
		}
		if n := sumLen(rec); n > rd.opt.MaxLineBytes {
			return nil, 0, &EventFileError{File: rd.file, Line: line, Msg: fmt.Sprintf("row longer than %d bytes; raise the limit or check the file is CSV", rd.opt.MaxLineBytes)}
		}
		blank := true
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
			blank = blank && rec[i] == ""
		}
		if !blank {
			return rec, line, nil
		}
	}
}

func sumLen(rec []string) int {
	n := 0
	for _, f := range rec {
		n += len(f) + 1
	}
	return n
}

func (rd *EventReader) readHeader() error {
	rec, line, err := rd.read()
	if errors.Is(err, io.EOF) {
		return &EventFileError{File: rd.file, Msg: "the file is empty: a header row naming the columns (unit,event,value,time) is required"}
	}
	if err != nil {
		return err
	}
	rd.header = append([]string(nil), rec...)
	rd.width = len(rec)
	find := func(names ...string) (int, error) {
		col := -1
		for i, h := range rd.header {
			for _, n := range names {
				if !strings.EqualFold(h, n) {
					continue
				}
				if col >= 0 {
					return -1, &EventFileError{File: rd.file, Line: line, Msg: fmt.Sprintf("the header names the %s column twice (%q in column %d, %q in column %d): rename or remove one",
						names[0], rd.header[col], col+1, h, i+1)}
				}
				col = i
			}
		}
		return col, nil
	}
	for _, c := range []struct {
		col      *int
		names    []string
		required bool
	}{
		{&rd.unit, []string{"unit", "user_id"}, true},
		{&rd.event, []string{"event"}, true},
		{&rd.value, []string{"value"}, false},
		{&rd.time, []string{"time"}, true},
	} {
		col, err := find(c.names...)
		if err != nil {
			return err
		}
		if col < 0 && c.required {
			return &EventFileError{File: rd.file, Line: line, Msg: fmt.Sprintf("no %s column: the header (%s) has no column named %s",
				c.names[0], strings.Join(rd.header, string(rd.opt.Delimiter)), strings.Join(c.names, " or "))}
		}
		*c.col = col
	}
	return nil
}

// Next returns the next row, or io.EOF after the last. A row that cannot
// be imported is an *EventFileError naming the line and the column.
func (rd *EventReader) Next() (store.ImportedEvent, error) {
	rec, line, err := rd.read()
	if err != nil {
		return store.ImportedEvent{}, err
	}
	rd.rows++
	if rd.rows > rd.opt.MaxRows {
		return store.ImportedEvent{}, &EventFileError{File: rd.file, Line: line, Msg: fmt.Sprintf("more than %d rows; raise the limit or split the file", rd.opt.MaxRows)}
	}
	bad := func(col int, format string, args ...any) error {
		return &EventFileError{File: rd.file, Line: line, Column: rd.header[col], Msg: fmt.Sprintf(format, args...)}
	}
	if len(rec) != rd.width {
		return store.ImportedEvent{}, &EventFileError{File: rd.file, Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), rd.width)}
	}
	e := store.ImportedEvent{Line: line, Value: 1}
	e.Unit = csvfile.UnescapeFormula(rec[rd.unit])
	if err := cohorts.ValidateID(e.Unit); err != nil {
		return e, bad(rd.unit, "unit %v", strings.TrimPrefix(err.Error(), "user id "))
	}
	e.Name = rec[rd.event]
	if err := validEventName(e.Name); err != nil {
		return e, bad(rd.event, "%v", err)
	}
	if rd.value >= 0 && rec[rd.value] != "" {
		v, err := strconv.ParseFloat(rec[rd.value], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return e, bad(rd.value, "%q is not a finite number", truncate(rec[rd.value]))
		}
		e.Value = v
	}
	if e.Time, err = parseEventTime(rec[rd.time]); err != nil {
		return e, bad(rd.time, "%v", err)
	}
	return e, nil
}

// validEventName accepts a name of printable UTF-8 up to maxEventName
// bytes.
func validEventName(s string) error {
	switch {
	case s == "":
		return errors.New("empty event name")
	case len(s) > maxEventName:
		return fmt.Errorf("event name longer than %d bytes", maxEventName)
	case !utf8.ValidString(s):
		return errors.New("event name is not valid UTF-8")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("event name %q contains %U, which does not print", truncate(s), r)
		}
	}
	return nil
}

// parseEventTime reads RFC 3339 (with or without fractions of a second)
// or Unix seconds (an integer, or a decimal fraction).
func parseEventTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	if sec, err := strconv.ParseInt(whole, 10, 64); err == nil && sec > -1e11 && sec < 1e11 {
		var ns int64
		if hasFrac {
			if frac == "" || len(frac) > 9 || strings.TrimLeft(frac, "0123456789") != "" {
				return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds", truncate(s))
			}
			ns, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
			if sec < 0 || strings.HasPrefix(whole, "-") {
				ns = -ns
			}
		}
		return time.Unix(sec, ns).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-03-01T12:00:00Z) nor Unix seconds", truncate(s))
}

// truncate shortens a field for a message.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

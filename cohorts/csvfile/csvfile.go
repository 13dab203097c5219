// Package csvfile reads cohort member lists from CSV files as spreadsheets
// and exports produce them: a header row naming the columns (any order,
// case-insensitive), UTF-8 with or without a byte-order mark or UTF-16 with
// one (Excel's "Unicode Text"), CRLF, LF or lone-CR line ends (Excel's "CSV
// (Macintosh)"), quoted fields, the delimiter given or detected (Excel's
// "sep=;" hint line; , ; tab or |), optionally gzip-compressed (detected by
// its magic bytes, whatever the file is called).
//
// It is a package of its own, apart from cohorts, so that the evaluation
// engine and the providers services embed do not carry CSV and gzip code.
//
// A Reader streams: it holds one record at a time, whatever the file's size.
// Rows that cannot be imported (an id cohorts.ValidateID refuses: empty,
// over-long, invalid UTF-8, with control, bidirectional or zero-width
// characters; an unknown region; the wrong number of fields) are
// not returned by Next but recorded as Problems with their line numbers;
// limits on a row's length (however many lines its quoted fields span) and
// on the number of rows stop the reading with an error.
//
// A Writer writes member lists back as CSV that is safe to open in a
// spreadsheet: an id that would start a formula gets a single quote before
// it (EscapeFormula), which the Reader takes off again (UnescapeFormula),
// so that a file written and read back holds the same ids.
package csvfile

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ramp-flags/ramp/cohorts"
)

// Defaults of Options.
const (
	DefaultMaxLineBytes = 64 << 10
	DefaultMaxRows      = 50_000_000
	// MaxReported is how many problems an *InvalidError lists.
	MaxReported = 20
)

// Options configure a Reader. The zero value reads comma-separated files
// with the default columns and limits.
type Options struct {
	// IDColumn names the column of user ids; empty means "user_id", else
	// "id".
	IDColumn string
	// RegionColumn names the column of home regions; empty means "region",
	// which may then be absent. A column named explicitly must exist.
	RegionColumn string
	// Delimiter separates fields; 0 means detected from the first line:
	// Excel's "sep=X" hint line, else whichever of , ; tab and | it has
	// most of (',' when it has none).
	Delimiter rune
	// MaxLineBytes is the longest row accepted, in bytes: a row's physical
	// lines count together when a quoted field spans several (the line
	// feeds inside it included), so that no row, however it is laid out,
	// makes the Reader hold more than about this much. 0 means
	// DefaultMaxLineBytes. (The name is the flag's, --max-line-bytes.)
	MaxLineBytes int
	// MaxRows is the most data rows accepted; 0 means DefaultMaxRows.
	MaxRows int
	// OnInvalid, when set, is called with each invalid row (its Record is
	// only valid during the call). Returning an error stops the reading.
	OnInvalid func(Problem) error
}

// Row is one valid data row.
type Row struct {
	Line   int // the line the row starts on, from 1 (the header is line 1 or more)
	Member cohorts.Member
}

// Problem is a row that cannot be imported.
type Problem struct {
	Line   int
	Reason string
	// Record is the row's fields as read (trimmed); nil when the row could
	// not be parsed.
	Record []string
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// InvalidError reports the invalid rows of a file: the first MaxReported and
// how many there were in all.
type InvalidError struct {
	Problems []Problem
	Total    int
	// Hint, when set, suggests what is wrong with the file as a whole.
	Hint string
}

// notUTF8Hint is the Hint of a file with rows that are not UTF-8: usually a
// spreadsheet saved in its legacy encoding.
const notUTF8Hint = "the file is not UTF-8 (a spreadsheet's plain \"CSV\" is often Windows-1252): save it as \"CSV UTF-8\", or convert it with iconv -f WINDOWS-1252 -t UTF-8"

// NotUTF8 reports whether some invalid row was not valid UTF-8, so that
// callers that skip invalid rows can give the same hint.
func (rd *Reader) NotUTF8() bool { return rd.notUTF8 }

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invalid row", e.Total)
	if e.Total != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	if e.Total > len(e.Problems) {
		fmt.Fprintf(&b, "\n  … and %d more", e.Total-len(e.Problems))
	}
	if e.Hint != "" {
		b.WriteString("\nhint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// LimitError reports a file that exceeds one of the Reader's limits.
type LimitError struct {
	// Line is the line the offending row starts on.
	Line int
	// LastLine, for "row length", is the line reading stopped on: after
	// Line when a quoted field spans lines.
	LastLine int
	Limit    string // "row length" (Options.MaxLineBytes) or "rows"
	Max      int
}

func (e *LimitError) Error() string {
	if e.Limit == "rows" {
		return fmt.Sprintf("line %d: more than %d rows; raise the limit or split the file", e.Line, e.Max)
	}
	spans := ""
	if e.LastLine > e.Line {
		spans = fmt.Sprintf(" (a quoted field runs on to line %d: a quote that never closes?)", e.LastLine)
	}
	return fmt.Sprintf("line %d: row longer than %d bytes%s; raise the limit or check the file is CSV", e.Line, e.Max, spans)
}

// FormatError reports a file that is not a usable CSV file at all: no header,
// no id column, a corrupt gzip stream.
type FormatError struct{ Err error }

func (e *FormatError) Error() string { return e.Err.Error() }
func (e *FormatError) Unwrap() error { return e.Err }

// Reader reads rows from a CSV file.
type Reader struct {
	opt        Options
	csv        *csv.Reader
	lines      *rowLimiter
	width      int // fields in the header
	idCol      int
	regCol     int // -1 without a region column
	header     []string
	rows       int // data rows seen, valid or not
	valid      int
	problems   []Problem
	total      int
	done       bool
	skipped    int  // lines before the CSV proper (Excel's "sep=" hint)
	headerLine int  // the header's line, from 1
	notUTF8    bool // some row was not valid UTF-8
}

// NewReader reads the header of the file r holds and returns a Reader of
// its rows. A gzip stream is decompressed; a UTF-8 byte-order mark skipped.
func NewReader(r io.Reader, opt Options) (*Reader, error) {
	if opt.MaxLineBytes <= 0 {
		opt.MaxLineBytes = DefaultMaxLineBytes
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = DefaultMaxRows
	}
	if opt.Delimiter != 0 && (opt.Delimiter == '"' || opt.Delimiter == '\r' || opt.Delimiter == '\n' || !utf8.ValidRune(opt.Delimiter) || opt.Delimiter == utf8.RuneError) {
		return nil, fmt.Errorf("invalid delimiter %q", opt.Delimiter)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FormatError{fmt.Errorf("read gzip header: %w", err)}
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	br = decode(br)
	firstLine := 1
	if opt.Delimiter == 0 {
		d, hinted, err := sniffDelimiter(br)
		if err != nil {
			if err = compressedErr(err); errors.As(err, new(*FormatError)) {
				return nil, err
			}
			return nil, &FormatError{fmt.Errorf("read header: %w", err)}
		}
		opt.Delimiter = d
		if hinted {
			firstLine = 2
		}
	}
	lr := newRowLimiter(br, opt.MaxLineBytes, opt.Delimiter, firstLine)
	cr := csv.NewReader(lr)
	cr.Comma = opt.Delimiter
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = false
	cr.ReuseRecord = true
	rd := &Reader{opt: opt, csv: cr, lines: lr, regCol: -1, skipped: firstLine - 1}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

func (rd *Reader) readHeader() error {
	for {
		rec, err := rd.csv.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return &FormatError{errors.New("the file is empty: a header row naming the columns (user_id,region) is required")}
			}
			if le := rd.limitError(err); le != nil {
				return le
			}
			return &FormatError{fmt.Errorf("read header: %w", err)}
		}
		if blank(rec) {
			continue
		}
		rd.header = make([]string, len(rec))
		for i, h := range rec {
			rd.header[i] = strings.TrimSpace(h)
		}
		line, _ := rd.csv.FieldPos(0)
		rd.headerLine = line + rd.skipped
		break
	}
	rd.width = len(rd.header)
	// find returns the column named name, or -1; a name given twice is
	// refused rather than its first column taken silently.
	find := func(name, what string) (int, error) {
		col := -1
		for i, h := range rd.header {
			if !strings.EqualFold(h, name) {
				continue
			}
			if col >= 0 {
				return -1, &FormatError{fmt.Errorf("line %d: the header names the %s column %q twice, in columns %d and %d: rename or remove one",
					rd.headerLine, what, name, col+1, i+1)}
			}
			col = i
		}
		return col, nil
	}
	names := []string{"user_id", "id"}
	if rd.opt.IDColumn != "" {
		names = []string{rd.opt.IDColumn}
	}
	rd.idCol = -1
	for _, n := range names {
		col, err := find(n, "id")
		if err != nil {
			return err
		}
		if rd.idCol = col; col >= 0 {
			break
		}
	}
	if rd.idCol < 0 {
		return &FormatError{fmt.Errorf("line %d: no id column: the header (%s) has no column named %s", rd.headerLine, strings.Join(rd.header, ","), strings.Join(names, " or "))}
	}
	region := rd.opt.RegionColumn
	if region == "" {
		region = "region"
	}
	col, err := find(region, "region")
	if err != nil {
		return err
	}
	if col < 0 && rd.opt.RegionColumn != "" {
		return &FormatError{fmt.Errorf("line %d: the header (%s) has no column named %s", rd.headerLine, strings.Join(rd.header, ","), rd.opt.RegionColumn)}
	}
	rd.regCol = col
	return nil
}

// Header returns the header's column names.
func (rd *Reader) Header() []string { return rd.header }

// HasRegion reports whether the file has a region column.
func (rd *Reader) HasRegion() bool { return rd.regCol >= 0 }

// Next returns the next valid row, skipping invalid ones (see Problems), or
// io.EOF after the last. At the end of a file with invalid rows and no
// OnInvalid it returns an *InvalidError instead of io.EOF.
func (rd *Reader) Next() (Row, error) {
	for {
		if rd.done {
			return Row{}, rd.endErr()
		}
		rec, err := rd.csv.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				rd.done = true
				return Row{}, rd.endErr()
			}
			if le := rd.limitError(err); le != nil {
				rd.done = true
				return Row{}, le
			}
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				rd.done = true
				var fe *FormatError
				if errors.As(err, &fe) {
					return Row{}, err
				}
				return Row{}, fmt.Errorf("read line %d: %w", rd.lines.line, err)
			}
			if err := rd.countRow(pe.StartLine + rd.skipped); err != nil {
				return Row{}, err
			}
			if err := rd.problem(Problem{Line: pe.StartLine + rd.skipped, Reason: "malformed CSV: " + pe.Err.Error()}); err != nil {
				return Row{}, err
			}
			continue
		}
		if blank(rec) {
			continue
		}
		line, _ := rd.csv.FieldPos(0)
		line += rd.skipped
		if err := rd.countRow(line); err != nil {
			return Row{}, err
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) != rd.width {
			if err := rd.problem(Problem{Line: line, Reason: fmt.Sprintf("%d fields, the header has %d", len(rec), rd.width), Record: rec}); err != nil {
				return Row{}, err
			}
			continue
		}
		// A quote that keeps a spreadsheet from running the id as a formula
		// is not part of it (see EscapeFormula).
		id := UnescapeFormula(rec[rd.idCol])
		if err := cohorts.ValidateID(id); err != nil {
			rd.notUTF8 = rd.notUTF8 || !utf8.ValidString(id)
			if err := rd.problem(Problem{Line: line, Reason: err.Error(), Record: rec}); err != nil {
				return Row{}, err
			}
			continue
		}
		var region cohorts.Region
		if rd.regCol >= 0 && rec[rd.regCol] != "" {
			if region, err = cohorts.ParseMemberRegion(rec[rd.regCol]); err != nil {
				reason := err.Error()
				if !utf8.ValidString(rec[rd.regCol]) {
					reason = "region is not valid UTF-8"
					rd.notUTF8 = true
				}
				if err := rd.problem(Problem{Line: line, Reason: reason, Record: rec}); err != nil {
					return Row{}, err
				}
				continue
			}
		}
		rd.valid++
		// The id is copied out of the reused record.
		return Row{Line: line, Member: cohorts.Member{ID: strings.Clone(id), Region: region}}, nil
	}
}

// Rows returns how many data rows were read so far, valid or not.
func (rd *Reader) Rows() int { return rd.rows }

// Valid returns how many valid rows Next returned so far.
func (rd *Reader) Valid() int { return rd.valid }

// Problems returns the first MaxReported invalid rows and how many there
// were in all.
func (rd *Reader) Problems() ([]Problem, int) { return rd.problems, rd.total }

func (rd *Reader) countRow(line int) error {
	rd.rows++
	if rd.rows > rd.opt.MaxRows {
		rd.done = true
		return &LimitError{Line: line, Limit: "rows", Max: rd.opt.MaxRows}
	}
	return nil
}

func (rd *Reader) problem(p Problem) error {
	rd.total++
	if len(rd.problems) < MaxReported {
		kept := p
		kept.Record = append([]string(nil), p.Record...)
		rd.problems = append(rd.problems, kept)
	}
	if rd.opt.OnInvalid != nil {
		if err := rd.opt.OnInvalid(p); err != nil {
			rd.done = true
			return err
		}
	}
	return nil
}

func (rd *Reader) endErr() error {
	if rd.total > 0 && rd.opt.OnInvalid == nil {
		e := &InvalidError{Problems: rd.problems, Total: rd.total}
		if rd.notUTF8 {
			e.Hint = notUTF8Hint
		}
		return e
	}
	return io.EOF
}

func (rd *Reader) limitError(err error) *LimitError {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	return nil
}

// blank reports whether a record has only empty or blank fields.
func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// compressedErr turns an error of a corrupt or truncated gzip stream into a
// *FormatError that says so; other errors pass unchanged.
func compressedErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	var fe *FormatError
	var corrupt flate.CorruptInputError
	if !errors.As(err, &fe) && (errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt)) {
		return &FormatError{fmt.Errorf("read compressed file: %w", err)}
	}
	return err
}

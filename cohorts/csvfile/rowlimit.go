package csvfile

import "io"

// rowState is where a rowLimiter stands in a row, as encoding/csv (with
// LazyQuotes off) parses it.
type rowState uint8

const (
	fieldStart      rowState = iota // at the start of a field: a quote here opens a quoted field
	unquoted                        // in a field that does not start with a quote
	quoted                          // in a quoted field, where line feeds do not end the row
	quoteInQuoted                   // after a quote in a quoted field: "" or the field's end
	delimAfterQuote                 // part way through a multi-byte delimiter after a closing quote
	lineRest                        // after a malformed field: encoding/csv drops the rest of the line
)

// rowLimiter passes bytes through to encoding/csv and fails with a sticky
// *LimitError as soon as a row is longer than max bytes, however many
// physical lines its quoted fields span, so that neither encoding/csv nor
// anything below it holds more than about max bytes of one row.
//
// It follows the rows' boundaries as encoding/csv draws them: a line feed
// ends the row unless it falls inside a quoted field (one whose first byte
// is a quote), which ends at a quote followed by the delimiter or the line
// end, "" standing for a quote. A bare quote in an unquoted field, or a quote
// followed by anything else, is malformed and ends the row at the line's
// end, where encoding/csv resumes. FuzzRowBounds checks the two agree.
type rowLimiter struct {
	r     io.Reader
	max   int
	delim []byte // the delimiter, UTF-8 encoded
	state rowState
	dm    int   // bytes of a multi-byte delimiter matched so far
	size  int   // bytes of the current row so far, its final line feed excluded
	line  int   // the current physical line
	start int   // the line the current row started on
	err   error // the *LimitError, once returned
}

func newRowLimiter(r io.Reader, max int, delim rune, line int) *rowLimiter {
	return &rowLimiter{r: r, max: max, delim: []byte(string(delim)), line: line, start: line}
}

func (l *rowLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	if i := l.scan(p[:n]); i < n {
		l.err = &LimitError{Line: l.start, LastLine: l.line, Limit: "row length", Max: l.max}
		return i, l.err
	}
	return n, compressedErr(err)
}

// scan follows p through the rows and returns len(p), or the offset of the
// first byte over the limit.
func (l *rowLimiter) scan(p []byte) int {
	for i, b := range p {
		if b == '\n' {
			l.line++
			if l.state != quoted {
				l.state, l.dm, l.size, l.start = fieldStart, 0, 0, l.line
				continue
			}
		}
		if l.size++; l.size > l.max {
			return i
		}
		switch l.state {
		case fieldStart:
			if b == '"' {
				l.state = quoted
				continue
			}
			l.state = unquoted
			l.matchDelim(b)
		case unquoted:
			if b == '"' {
				l.state = lineRest // encoding/csv: bare " in non-quoted-field
				continue
			}
			l.matchDelim(b)
		case quoted:
			if b == '"' {
				l.state = quoteInQuoted
			}
		case quoteInQuoted:
			switch {
			case b == '"':
				l.state = quoted
			case b == l.delim[0] && len(l.delim) == 1:
				l.state = fieldStart
			case b == l.delim[0]:
				l.state, l.dm = delimAfterQuote, 1
			default:
				// A CR before the line feed, or a malformed field: either
				// way the row ends with the line.
				l.state = lineRest
			}
		case delimAfterQuote:
			if b != l.delim[l.dm] {
				l.state, l.dm = lineRest, 0
			} else if l.dm++; l.dm == len(l.delim) {
				l.state, l.dm = fieldStart, 0
			}
		case lineRest:
		}
	}
	return len(p)
}

// matchDelim follows an unquoted field's bytes through the delimiter: its
// last byte starts a new field. A UTF-8 sequence cannot overlap itself, so
// a mismatch restarts the match.
func (l *rowLimiter) matchDelim(b byte) {
	if b == l.delim[l.dm] {
		if l.dm++; l.dm == len(l.delim) {
			l.state, l.dm = fieldStart, 0
		}
		return
	}
	l.dm = 0
	if b == l.delim[0] {
		l.dm = 1 // the delimiter has more than one byte, or it would have matched
	}
}

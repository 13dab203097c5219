package csvfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// csvRowStarts returns the line each record encoding/csv reads from in
// starts on, malformed ones included.
func csvRowStarts(t *testing.T, in []byte, delim rune) []int {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(in))
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var starts []int
	for {
		_, err := cr.Read()
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			return starts
		case errors.As(err, &pe):
			starts = append(starts, pe.StartLine)
		case err != nil:
			t.Fatalf("encoding/csv: %v", err)
		default:
			line, _ := cr.FieldPos(0)
			starts = append(starts, line)
		}
	}
}

// limiterRowStarts returns the line each row a rowLimiter sees in starts
// on, leaving out the empty lines encoding/csv skips ("\n" and "\r\n").
func limiterRowStarts(in []byte, delim rune) []int {
	l := newRowLimiter(nil, math.MaxInt, delim, 1)
	var (
		starts      []int
		inRow       bool
		start, size int
		first       byte
	)
	end := func() {
		if inRow && (size != 1 || first != '\r') {
			starts = append(starts, start)
		}
		inRow = false
	}
	for _, b := range in {
		ends := b == '\n' && l.state != quoted
		if !inRow && !ends {
			inRow, start, size, first = true, l.line, 0, b
		}
		l.scan([]byte{b})
		if ends {
			end()
		} else {
			size++
		}
	}
	end()
	return starts
}

// FuzzRowBounds checks that rowLimiter draws the rows' boundaries where
// encoding/csv does, for well-formed and malformed files, with one-byte
// and multi-byte delimiters: were it to disagree, it would cut a row short
// (a false limit error) or let one grow past the limit.
func FuzzRowBounds(f *testing.F) {
	for _, s := range []string{
		"a,b\nc,d\n",
		"a,\"b\nc\",d\ne\n",
		"\"a\"\"b\nc\"\"\",d\n",
		"a\"b,\"c\nd\n",                  // a bare quote: the row ends with the line
		"\"a\"x,\"b\nc\nd\"\n",           // a quote followed by x: the same
		"\"a\"\r\nb\n\r\n\nc\r",          // CRLF after a quote, empty lines, a lone CR at the end
		"\"never closed\nx\ny",           // to the end of the file
		"a§\"b\nc\"§d\n\"e\"§\"f\ng\"\n", // multi-byte delimiter
		"\"a\"\xc2x\n\"b\n\"\n",          // a quote then half a delimiter
		"a\xc2\"b\nc\n",
	} {
		f.Add([]byte(s), int32(','))
		f.Add([]byte(s), int32('§'))
	}
	f.Add([]byte("a;\"b\n\";c\n"), int32(';'))
	f.Add([]byte("a😀\"b\n\"😀c\n"), int32('😀'))
	f.Fuzz(func(t *testing.T, in []byte, delim int32) {
		d := rune(delim)
		if d == 0 || d == '"' || d == '\r' || d == '\n' || !utf8.ValidRune(d) || d == utf8.RuneError {
			return
		}
		want := csvRowStarts(t, in, d)
		if diff := cmp.Diff(want, limiterRowStarts(in, d)); diff != "" {
			t.Errorf("row starts of %q with delimiter %q (-encoding/csv +rowLimiter):\n%s", in, d, diff)
		}
	})
}

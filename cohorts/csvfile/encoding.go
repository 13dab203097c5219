package csvfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// utf16Reader transcodes UTF-16 (as Excel's "Unicode Text" export writes
// it, after its byte-order mark) to UTF-8. Unpaired surrogates become
// U+FFFD, which row validation then reports.
type utf16Reader struct {
	r        *bufio.Reader
	bigEnd   bool
	pending  []byte // UTF-8 bytes decoded but not yet returned
	finished bool
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.pending) == 0 {
		if u.finished {
			return 0, io.EOF
		}
		u.fill()
	}
	n := copy(p, u.pending)
	u.pending = u.pending[n:]
	return n, nil
}

// fill decodes up to 2048 code units into pending, keeping a surrogate
// pair together across fills.
func (u *utf16Reader) fill() {
	units := make([]uint16, 0, 2049)
	for len(units) < 2048 {
		unit, ok := u.unit()
		if !ok {
			u.finished = true
			break
		}
		units = append(units, unit)
	}
	if n := len(units); n > 0 && units[n-1] >= 0xd800 && units[n-1] < 0xdc00 {
		if next, ok := u.unit(); ok {
			units = append(units, next)
		}
	}
	out := make([]byte, 0, len(units)*2)
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	u.pending = out
}

func (u *utf16Reader) unit() (uint16, bool) {
	var b [2]byte
	if _, err := io.ReadFull(u.r, b[:]); err != nil {
		return 0, false // an odd trailing byte is dropped
	}
	if u.bigEnd {
		return uint16(b[0])<<8 | uint16(b[1]), true
	}
	return uint16(b[1])<<8 | uint16(b[0]), true
}

// crReader turns line ends written as a lone CR (classic Mac, and Excel's
// "CSV (Macintosh)" export) into LF, leaving CRLF alone, so that such a
// file reads as rows instead of one long header line.
type crReader struct {
	r *bufio.Reader
}

func (c *crReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] != '\r' {
			continue
		}
		var next byte
		if i+1 < n {
			next = p[i+1]
		} else if b, perr := c.r.Peek(1); perr == nil {
			next = b[0]
		}
		if next != '\n' {
			p[i] = '\n'
		}
	}
	return n, err
}

// decode returns a reader of the file's text as UTF-8 with LF or CRLF line
// ends: a UTF-8 byte-order mark is skipped, UTF-16 (with its mark) is
// transcoded, lone CRs become LFs.
func decode(br *bufio.Reader) *bufio.Reader {
	bom, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(bom, []byte("\xef\xbb\xbf")):
		_, _ = br.Discard(3)
	case bytes.HasPrefix(bom, []byte("\xff\xfe")), bytes.HasPrefix(bom, []byte("\xfe\xff")):
		big := bom[0] == 0xfe
		_, _ = br.Discard(2)
		br = bufio.NewReaderSize(&utf16Reader{r: br, bigEnd: big}, 64<<10)
	}
	return bufio.NewReaderSize(&crReader{r: br}, 64<<10)
}

// sniffDelimiter picks the delimiter of a file whose options do not name
// one, from its first line: Excel's "sep=X" hint line (which it then
// skips), else whichever of , ; tab and | occurs most often outside quotes
// (',' when none does). It reports whether it consumed a hint line.
func sniffDelimiter(br *bufio.Reader) (rune, bool, error) {
	head, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return 0, false, err
	}
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line = head[:i]
	}
	text := strings.TrimRight(string(line), "\r")
	if hint, ok := strings.CutPrefix(strings.ToLower(text), "sep="); ok {
		if r, size := utf8.DecodeRuneInString(hint); size > 0 && size == len(hint) && r != '"' {
			_, _ = br.Discard(len(line) + 1)
			return r, true, nil
		}
	}
	best, bestCount := ',', 0
	for _, cand := range []rune{',', ';', '\t', '|'} {
		count, quoted := 0, false
		for _, r := range text {
			switch {
			case r == '"':
				quoted = !quoted
			case r == cand && !quoted:
				count++
			}
		}
		if count > bestCount {
			best, bestCount = cand, count
		}
	}
	return best, false, nil
}

package csvfile_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
)

// readAll reads every row and returns them with the final error (nil for
// io.EOF).
func readAll(t *testing.T, in []byte, opt csvfile.Options) ([]csvfile.Row, error) {
	t.Helper()
	rd, err := csvfile.NewReader(bytes.NewReader(in), opt)
	if err != nil {
		return nil, err
	}
	var rows []csvfile.Row
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, r)
	}
}

func m(id string, region cohorts.Region) cohorts.Member {
	return cohorts.Member{ID: id, Region: region}
}

func members(rows []csvfile.Row) []cohorts.Member {
	out := make([]cohorts.Member, len(rows))
	for i, r := range rows {
		out[i] = r.Member
	}
	return out
}

// utf16LE encodes s as UTF-16LE with a byte-order mark, as Excel's
// "Unicode Text" export does.
func utf16LE(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func utf16BE(s string) []byte {
	out := []byte{0xfe, 0xff}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// TestLongUTF16 reads a UTF-16 file longer than the decoder's chunk, with
// surrogate pairs (emoji) at every position, so that some straddle chunks.
func TestLongUTF16(t *testing.T) {
	var b strings.Builder
	b.WriteString("user_id\n")
	var want []cohorts.Member
	for i := range 3000 {
		id := strings.Repeat("x", i%3) + "😀" + strconv.Itoa(i)
		b.WriteString(id + "\n")
		want = append(want, m(id, ""))
	}
	rows, err := readAll(t, utf16LE(b.String()), csvfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, members(rows)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestNotUTF8Hint: a Windows-1252 file is refused with a hint to save it as
// UTF-8.
func TestNotUTF8Hint(t *testing.T) {
	_, err := readAll(t, []byte("user_id,region\nJos\xe9,ES\nu2,FR\n"), csvfile.Options{})
	var ie *csvfile.InvalidError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "line 2: user id is not valid UTF-8") ||
		!strings.Contains(err.Error(), `hint: the file is not UTF-8`) {
		t.Errorf("err = %v", err)
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestReadShapes(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		opt   csvfile.Options
		want  []cohorts.Member
		lines []int
	}{
		{name: "plain LF", in: []byte("user_id,region\nu1,US\nu2,fr\n"),
			want: []cohorts.Member{m("u1", "US"), m("u2", "FR")}, lines: []int{2, 3}},
		{name: "Excel: BOM and CRLF", in: []byte("\xef\xbb\xbfUser_ID,Region\r\nu1,US\r\nu2,DE\r\n"),
			want: []cohorts.Member{m("u1", "US"), m("u2", "DE")}},
		{name: "Google Sheets: no final newline, extra columns", in: []byte("Name,id,Region,Email\nAda,u1,GB,a@x\nBob,u2,,b@x"),
			want: []cohorts.Member{m("u1", "GB"), m("u2", "")}},
		{name: "semicolon", in: []byte("user_id;region\nu1;US\n\"a;b\";FR\n"), opt: csvfile.Options{Delimiter: ';'},
			want: []cohorts.Member{m("u1", "US"), m("a;b", "FR")}},
		{name: "tab", in: []byte("user_id\tregion\nu1\tUS\n"), opt: csvfile.Options{Delimiter: '\t'},
			want: []cohorts.Member{m("u1", "US")}},
		{name: "quoted commas and quotes", in: []byte("user_id,region\n\"a,b\",US\n\"say \"\"hi\"\"\",US\n"),
			want: []cohorts.Member{m("a,b", "US"), m(`say "hi"`, "US")}},
		{name: "blank lines and trailing spaces", in: []byte("user_id,region\n\nu1 ,US  \n   \n,\nu2,FR\n"),
			want: []cohorts.Member{m("u1", "US"), m("u2", "FR")}, lines: []int{3, 6}},
		{name: "no region column", in: []byte("id\nu1\nu2\n"),
			want: []cohorts.Member{m("u1", ""), m("u2", "")}},
		{name: "columns named", in: []byte("uid,country,id\nu1,US,x\n"), opt: csvfile.Options{IDColumn: "UID", RegionColumn: "country"},
			want: []cohorts.Member{m("u1", "US")}},
		{name: "user_id preferred to id", in: []byte("id,user_id\nx,u1\n"),
			want: []cohorts.Member{m("u1", "")}},
		{name: "gzip without .gz", in: gz("user_id,region\nu1,US\n"),
			want: []cohorts.Member{m("u1", "US")}},
		{name: "header only", in: []byte("user_id,region\n"), want: []cohorts.Member{}},
		{name: "duplicates kept for the store", in: []byte("user_id\nu1\nu1\n"),
			want: []cohorts.Member{m("u1", ""), m("u1", "")}},
		{name: "Excel CSV (Macintosh): lone CR line ends", in: []byte("user_id,note,region\ru1,\"two\rlines\",US\ru3,,DE\r"),
			want: []cohorts.Member{m("u1", "US"), m("u3", "DE")}, lines: []int{2, 4}},
		{name: "Excel Unicode Text: UTF-16LE with BOM, tabs", in: utf16LE("User ID\tCountry\r\nJosé\tES\r\n😀-1\tFR\r\n"),
			opt:  csvfile.Options{IDColumn: "user id", RegionColumn: "country"},
			want: []cohorts.Member{m("José", "ES"), m("😀-1", "FR")}},
		{name: "UTF-16BE with BOM", in: utf16BE("id\nu1\n"), want: []cohorts.Member{m("u1", "")}},
		{name: "Excel sep= hint line", in: []byte("sep=;\r\nuser_id;region\r\nu1;US\r\nu2;FR\r\n"),
			want: []cohorts.Member{m("u1", "US"), m("u2", "FR")}, lines: []int{3, 4}},
		{name: "semicolon detected", in: []byte("user_id;region\nu1;US\n\"a,b\";FR\n"),
			want: []cohorts.Member{m("u1", "US"), m("a,b", "FR")}},
		{name: "tab detected", in: []byte("user_id\tregion\tnote\nu1\tUS\ta, b; c\n"),
			want: []cohorts.Member{m("u1", "US")}},
		{name: "other columns may repeat", in: []byte("user_id,note,Note,region\nu1,a,b,US\n"),
			want: []cohorts.Member{m("u1", "US")}},
		{name: "user_id and id are different columns", in: []byte("id,user_id,ID\nx,u1,y\n"),
			want: []cohorts.Member{m("u1", "")}},
		{name: "comma wins over a quoted semicolon", in: []byte("\"user;id\",user_id,region\nx,u1,US\n"),
			want: []cohorts.Member{m("u1", "US")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := readAll(t, tt.in, tt.opt)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if diff := cmp.Diff(tt.want, members(rows)); len(tt.want)+len(rows) > 0 && diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if tt.lines != nil {
				var got []int
				for _, r := range rows {
					got = append(got, r.Line)
				}
				if diff := cmp.Diff(tt.lines, got); diff != "" {
					t.Errorf("lines (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestQuotedMultiline(t *testing.T) {
	rows, err := readAll(t, []byte("user_id,note,region\r\nu1,\"two\r\nlines\",US\r\nu2,x,FR\r\n"), csvfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []cohorts.Member{m("u1", "US"), m("u2", "FR")}
	if diff := cmp.Diff(want, members(rows)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if rows[1].Line != 4 {
		t.Errorf("u2 on line %d, want 4", rows[1].Line)
	}
}

func TestInvalidRows(t *testing.T) {
	long := strings.Repeat("x", cohorts.MaxIDLength+1)
	tests := []struct {
		name   string
		row    string
		reason string
	}{
		{"empty id", ",US", "empty user id"},
		{"long id", long + ",US", "257 bytes long"},
		{"invalid UTF-8", "u\xff,US", "not valid UTF-8"},
		{"control character", "\"u\x01\",US", "control character"},
		{"unknown region", "u1,XX", "unknown region"},
		{"invalid UTF-8 region", "u1,\xff\xfe", "region is not valid UTF-8"},
		{"too many fields", "u1,US,extra", "3 fields, the header has 2"},
		{"too few fields", "u1", "1 fields, the header has 2"},
		{"bare quote", "u\"1,US", "malformed CSV"},
		{"bidi override", "admin\u202egnp.exe,US", `user id "admin\u202egnp.exe" contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional control character`},
		{"bidi isolate, quoted", "\"\u2067u1\",US", "U+2067 RIGHT-TO-LEFT ISOLATE"},
		{"zero-width space", "u\u200b1,US", "U+200B ZERO WIDTH SPACE, a zero-width character"},
		{"byte-order mark in a row", "\ufeffu1,US", "U+FEFF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "user_id,region\nok1,US\n" + tt.row + "\nok2,FR\n"
			rows, err := readAll(t, []byte(in), csvfile.Options{})
			var ie *csvfile.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *InvalidError", err)
			}
			if ie.Total != 1 || len(ie.Problems) != 1 {
				t.Fatalf("problems %v (total %d), want 1", ie.Problems, ie.Total)
			}
			p := ie.Problems[0]
			if p.Line != 3 || !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("problem = %v, want line 3: …%s…", p, tt.reason)
			}
			if len(rows) != 2 {
				t.Errorf("got %d valid rows, want 2", len(rows))
			}
			// With OnInvalid, the end is io.EOF and the handler sees it.
			var seen []csvfile.Problem
			_, err = readAll(t, []byte(in), csvfile.Options{OnInvalid: func(p csvfile.Problem) error {
				seen = append(seen, p)
				return nil
			}})
			if err != nil || len(seen) != 1 {
				t.Errorf("with OnInvalid: err %v, %d problems seen", err, len(seen))
			}
		})
	}
}

func TestManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("user_id,region\n")
	for range 30 {
		b.WriteString(",US\n")
	}
	_, err := readAll(t, []byte(b.String()), csvfile.Options{})
	var ie *csvfile.InvalidError
	if !errors.As(err, &ie) || ie.Total != 30 || len(ie.Problems) != csvfile.MaxReported {
		t.Fatalf("err = %v, want 30 problems, %d listed", err, csvfile.MaxReported)
	}
	if !strings.Contains(err.Error(), "… and 10 more") || ie.Problems[19].Line != 21 {
		t.Errorf("error text:\n%v", err)
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		opt  csvfile.Options
		ok   func(error) bool
		text string
	}{
		{"empty", nil, csvfile.Options{}, isFormat, "header row"},
		{"only blank lines", []byte("\n\n"), csvfile.Options{}, isFormat, "header row"},
		{"no id column", []byte("name,region\nx,US\n"), csvfile.Options{}, isFormat, "no id column"},
		{"named region column missing", []byte("id\nx\n"), csvfile.Options{RegionColumn: "country"}, isFormat, "country"},
		{"corrupt gzip", []byte{0x1f, 0x8b, 0, 0}, csvfile.Options{}, isFormat, "gzip"},
		{"truncated gzip", gz("user_id\n" + strings.Repeat("u1\n", 1000))[:40], csvfile.Options{}, isFormat, "compressed"},
		{"corrupt deflate", corruptGzip(), csvfile.Options{}, isFormat, "compressed"},
		{"line too long", []byte("id\nu1\n" + strings.Repeat("x", 100) + "\n"), csvfile.Options{MaxLineBytes: 50}, isLimit, "longer than 50 bytes"},
		{"too many rows", []byte("id\nu1\nu2\nu3\n"), csvfile.Options{MaxRows: 2}, isLimit, "line 4: more than 2 rows"},
		{"bad delimiter", []byte("id\n"), csvfile.Options{Delimiter: '"'}, func(error) bool { return true }, "delimiter"},
		{"id column twice", []byte("user_id,region,User_ID \nu1,US,u2\n"), csvfile.Options{}, isFormat,
			`line 1: the header names the id column "user_id" twice, in columns 1 and 3: rename or remove one`},
		{"id column twice, without user_id", []byte("id,name,ID\nu1,x,u2\n"), csvfile.Options{}, isFormat,
			`names the id column "id" twice, in columns 1 and 3`},
		{"named id column twice", []byte("\n\nUID,x,uid\nu1,x,u2\n"), csvfile.Options{IDColumn: "uid"}, isFormat,
			`line 3: the header names the id column "uid" twice, in columns 1 and 3`},
		{"region column twice", []byte("sep=;\nuser_id;Region;region\nu1;US;FR\n"), csvfile.Options{}, isFormat,
			`line 2: the header names the region column "region" twice, in columns 2 and 3`},
		{"named region column twice", []byte("user_id,country,Country\nu1,US,FR\n"), csvfile.Options{RegionColumn: "country"}, isFormat,
			`the region column "country" twice, in columns 2 and 3`},
		{"no id column, after a sep= line", []byte("sep=,\nname\nx\n"), csvfile.Options{}, isFormat, "line 2: no id column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, tt.in, tt.opt)
			if err == nil || !tt.ok(err) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("err = %v, want one containing %q", err, tt.text)
			}
		})
	}
}

// corruptGzip returns a gzip stream whose deflate data is damaged.
func corruptGzip() []byte {
	b := gz("user_id\n" + strings.Repeat("u1\n", 1000))
	for i := 12; i < 20; i++ {
		b[i] = 0xff
	}
	return b
}

func isFormat(err error) bool { var e *csvfile.FormatError; return errors.As(err, &e) }
func isLimit(err error) bool  { var e *csvfile.LimitError; return errors.As(err, &e) }

// FuzzReadCSV checks that the reader never panics, and that what it accepts
// survives a write (as ramp cohorts export writes it) and a second read
// unchanged.
func FuzzReadCSV(f *testing.F) {
	seeds := []string{
		"user_id,region\nu1,US\n",
		"\xef\xbb\xbfid;Region\r\n\"a;b\";fr\r\n",
		"user_id,note,region\n\"x\n\"\"y\",n,US\n\n",
		"user_id,region\n,US\nu\xff,XX\n\"bad\n",
		"id\n" + strings.Repeat("a", 300) + "\n",
		// Quoted fields of many short lines, over the fuzz limit of 4096
		// bytes in all: refused as one row, and one that never closes.
		"user_id,note,region\nu1,\"" + strings.Repeat("x\n", 2100) + "\",US\nu2,,FR\n",
		"user_id\n\"u1" + strings.Repeat("\r\n", 2100) + "\n",
		"user_id,note\nu1,\"a\"\"b\nc\"\nu2,x\"y\nu3,\"" + strings.Repeat("\n", 5000),
		// Formulas, raw and escaped, and ids of quotes before them.
		"user_id,region\n=1+1,US\n'-2,FR\n''@x,\n\"'''+x\",DE\n'a,\n",
		"user_id,region\nu\u202e1,US\n\u200bu2,FR\n",
		"user_id,region,USER_ID\nu1,US,u2\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), byte(','))
	}
	f.Add([]byte("user_id;region\nu1;US\n"), byte(';'))
	f.Add([]byte("sep=|\ruser_id|region\ru1|US\r"), byte(0))
	f.Add(utf16LE("id\tregion\r\nu😀\tUS\r\n"), byte(0))
	f.Fuzz(func(t *testing.T, in []byte, delim byte) {
		opt := csvfile.Options{Delimiter: rune(delim), MaxLineBytes: 4096, MaxRows: 1000,
			OnInvalid: func(csvfile.Problem) error { return nil }}
		rows, err := readAll(t, in, opt)
		if err != nil {
			return
		}
		var b bytes.Buffer
		w := csvfile.NewWriter(&b, csvfile.WriterOptions{})
		for _, r := range rows {
			if err := cohorts.ValidateID(r.Member.ID); err != nil {
				t.Fatalf("accepted an invalid id %q: %v", r.Member.ID, err)
			}
			if r.Member.ID != strings.TrimSpace(r.Member.ID) {
				t.Fatalf("id %q not trimmed", r.Member.ID)
			}
			if err := w.Write(r.Member); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		again, err := readAll(t, b.Bytes(), csvfile.Options{MaxLineBytes: 1 << 20})
		if err != nil {
			t.Fatalf("re-read of %q: %v", b.String(), err)
		}
		if diff := cmp.Diff(members(rows), members(again)); len(rows) > 0 && diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// repeatReader returns unit over and over, n times, then EOF.
type repeatReader struct {
	unit []byte
	n    int
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 && r.n > 0 {
		c := copy(p, r.unit[r.off:])
		p, total, r.off = p[c:], total+c, r.off+c
		if r.off == len(r.unit) {
			r.off, r.n = 0, r.n-1
		}
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// TestRowLimit: --max-line-bytes bounds a row however many physical lines
// its quoted fields span, so that a huge quoted field of short lines is
// refused after reading about the limit, with the line the row started on.
func TestRowLimit(t *testing.T) {
	const limit = 64 << 10
	// Past what the reader may hold ahead of encoding/csv: its two 64 KiB
	// buffers and encoding/csv's own, plus the header.
	const slack = 3*64<<10 + 4<<10
	tests := []struct {
		name     string
		head     string
		unit     string
		n        int
		tail     string
		wantLine int
		wantText string
	}{
		{name: "quoted id of short lines", head: "user_id,region\nu1,US\n\"", unit: "x\n", n: 4 << 20, tail: "\",US\n",
			wantLine: 3, wantText: "line 3: row longer than 65536 bytes"},
		{name: "quoted note of empty lines", head: "user_id,note,region\nu1,,US\nu2,\"", unit: "\n", n: 8 << 20, tail: "\",US\n",
			wantLine: 3, wantText: "runs on to line"},
		{name: "CRLF lines after a sep= hint", head: "sep=;\r\nuser_id;note\r\nu1;\"", unit: "abc\r\n", n: 2 << 20, tail: "\"\r\n",
			wantLine: 3, wantText: "line 3: row longer"},
		{name: "quote never closed", head: "user_id\nok\n\"u2\n", unit: "u3,US\n", n: 2 << 20,
			wantLine: 3, wantText: "a quote that never closes?"},
		{name: "one long physical line", head: "user_id\n", unit: "x", n: 8 << 20, tail: "\n",
			wantLine: 2, wantText: "line 2: row longer than 65536 bytes;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingReader{r: io.MultiReader(strings.NewReader(tt.head),
				&repeatReader{unit: []byte(tt.unit), n: tt.n}, strings.NewReader(tt.tail))}
			rd, err := csvfile.NewReader(src, csvfile.Options{MaxLineBytes: limit})
			if err == nil {
				for err == nil {
					_, err = rd.Next()
				}
			}
			var le *csvfile.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LimitError", err)
			}
			if le.Line != tt.wantLine || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("err = %q (line %d), want line %d and %q", err, le.Line, tt.wantLine, tt.wantText)
			}
			if src.n > limit+slack {
				t.Errorf("read %d bytes of the file before refusing it, want at most %d", src.n, limit+slack)
			}
		})
	}
}

// TestRowLimitAllows: rows up to the limit pass, whatever their shape, and
// the limit restarts with each row.
func TestRowLimitAllows(t *testing.T) {
	note := strings.Repeat("ab\n", 30) // 90 bytes over 31 lines
	in := "user_id,note,region\n" +
		"u1,\"" + note + "\",US\n" + // 3+1+90+1+3 = 98 bytes
		"u2,\"" + note + "\",US\n" +
		"\"u3\",\"a \"\"quoted\"\" word\",FR\n" +
		"u4,x\"y,US\n" + // a bare quote: one malformed row, not the start of a quoted field
		"u5,\"" + strings.Repeat("z", 80) + "\",DE\n"
	var seen []csvfile.Problem
	rows, err := readAll(t, []byte(in), csvfile.Options{MaxLineBytes: 98, OnInvalid: func(p csvfile.Problem) error {
		seen = append(seen, p)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []cohorts.Member{m("u1", "US"), m("u2", "US"), m("u3", "FR"), m("u5", "DE")}
	if diff := cmp.Diff(want, members(rows)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if len(seen) != 1 || seen[0].Line != 65 || !strings.Contains(seen[0].Reason, "malformed CSV") {
		t.Errorf("problems = %v, want line 65: malformed CSV", seen)
	}
	_, err = readAll(t, []byte(in), csvfile.Options{MaxLineBytes: 97})
	if !isLimit(err) || !strings.Contains(err.Error(), "line 2: row longer than 97 bytes") {
		t.Errorf("with a limit of 97: err = %v", err)
	}
}

// BenchmarkRead reads 100,000 rows as an export writes them, with a quoted
// column, to measure the Reader's cost per row (the row limit included).
func BenchmarkRead(b *testing.B) {
	var buf strings.Builder
	buf.WriteString("user_id,name,region\n")
	for i := range 100_000 {
		buf.WriteString("user-" + strconv.Itoa(1_000_000+i) + ",\"Doe, Jane\",US\n")
	}
	in := []byte(buf.String())
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := csvfile.NewReader(bytes.NewReader(in), csvfile.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rd.Next(); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

package csvfile_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
)

func TestEscapeFormula(t *testing.T) {
	tests := []struct {
		value, cell string
	}{
		{"u1", "u1"},
		{"", ""},
		{"=1+1", "'=1+1"},
		{`=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
		{"+4915112345678", "'+4915112345678"},
		{"-123", "'-123"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"},
		{" =1", " =1"},
		{"'", "'"},
		{"''", "''"},
		{"'abc", "'abc"},   // a quote before anything else is the value's own
		{"'=x", "''=x"},    // a quote before a formula character gets another
		{"''-x", "'''-x"},  // and so do several
		{"'x=1", "'x=1"},   // only a leading run of quotes counts
		{"＝1", "＝1"},       // a fullwidth equals sign is not a formula
		{"emp-7", "emp-7"}, // a formula character after the first is harmless
		{"用户-42", "用户-42"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if got := csvfile.EscapeFormula(tt.value); got != tt.cell {
				t.Errorf("EscapeFormula(%q) = %q, want %q", tt.value, got, tt.cell)
			}
			if got := csvfile.UnescapeFormula(tt.cell); got != tt.value {
				t.Errorf("UnescapeFormula(%q) = %q, want %q", tt.cell, got, tt.value)
			}
			// A cell as read is made safe without changing its value.
			if got := csvfile.SafeCell(tt.cell); got != tt.cell {
				t.Errorf("SafeCell(%q) = %q, want it unchanged", tt.cell, got)
			}
		})
	}
	for cell, want := range map[string]string{"=1": "'=1", "-x": "'-x", "'=1": "'=1", "''@x": "''@x", "x": "x"} {
		if got := csvfile.SafeCell(cell); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", cell, got, want)
		}
	}
}

// TestReadFormulaCells: the Reader takes the quote EscapeFormula adds off
// ids, in quoted and unquoted cells, and leaves others alone.
func TestReadFormulaCells(t *testing.T) {
	in := "user_id,region\n'=1+1,US\n\"'-123\",FR\n''=x,\n'abc,\n'+49 ,DE\n=raw,\n'@x,US\n"
	rows, err := readAll(t, []byte(in), csvfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []cohorts.Member{m("=1+1", "US"), m("-123", "FR"), m("'=x", ""), m("'abc", ""), m("+49", "DE"), m("=raw", ""), m("@x", "US")}
	if diff := cmp.Diff(want, members(rows)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestWriter(t *testing.T) {
	list := []cohorts.Member{m("=1+1", "US"), m("-123", ""), m("'=x", "FR"), m("a,b", ""), m(`say "hi"`, "DE"), m("u1", "")}
	tests := []struct {
		name string
		opt  csvfile.WriterOptions
		want string
	}{
		{"safe", csvfile.WriterOptions{}, "user_id,region\n'=1+1,US\n'-123,\n''=x,FR\n\"a,b\",\n\"say \"\"hi\"\"\",DE\nu1,\n"},
		{"raw", csvfile.WriterOptions{Raw: true}, "user_id,region\n=1+1,US\n-123,\n'=x,FR\n\"a,b\",\n\"say \"\"hi\"\"\",DE\nu1,\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			w := csvfile.NewWriter(&b, tt.opt)
			for _, mem := range list {
				if err := w.Write(mem); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
	var b bytes.Buffer
	if err := csvfile.NewWriter(&b, csvfile.WriterOptions{}).Flush(); err != nil || b.String() != "user_id,region\n" {
		t.Errorf("an empty list: %q, %v; want the header alone", b.String(), err)
	}
}

// FuzzWriterRoundTrip checks that what a Writer writes, a Reader reads back
// to the same members, and that no cell of it starts as a formula.
func FuzzWriterRoundTrip(f *testing.F) {
	for _, id := range []string{"u1", "=1+1", "-123", "+49", "@x", "'=x", "''+y", "'", "'abc", "a,b", `"q"`, "'-", "用户-42", "=" + strings.Repeat("'", 10)} {
		f.Add(id, "US")
	}
	f.Add("x", "")
	f.Fuzz(func(t *testing.T, id string, region string) {
		// Ids the Reader can read back: valid, and without white space
		// around them, which it trims (see Writer).
		if cohorts.ValidateID(id) != nil || strings.TrimSpace(id) != id {
			return
		}
		if region != "" {
			r, err := cohorts.ParseRegion(region)
			if err != nil {
				return
			}
			region = string(r)
		}
		want := []cohorts.Member{m(id, cohorts.Region(region)), m("other", "")}
		var b bytes.Buffer
		w := csvfile.NewWriter(&b, csvfile.WriterOptions{})
		for _, mem := range want {
			if err := w.Write(mem); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		cells, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
		if err != nil {
			t.Fatalf("encoding/csv cannot read %q: %v", b.String(), err)
		}
		for _, rec := range cells {
			for _, c := range rec {
				if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
					t.Errorf("cell %q of %q starts as a formula", c, b.String())
				}
			}
		}
		rows, err := readAll(t, b.Bytes(), csvfile.Options{})
		if err != nil {
			t.Fatalf("read %q: %v", b.String(), err)
		}
		if diff := cmp.Diff(want, members(rows)); diff != "" {
			t.Errorf("round trip of %q (-written +read):\n%s", b.String(), diff)
		}
	})
}

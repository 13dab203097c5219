package csvfile

import (
	"encoding/csv"
	"fmt"
	"io"

	"github.com/ramp-flags/ramp/cohorts"
)

// Writer writes a member list as a CSV file that a Reader reads back to the
// same members: a header user_id,region, then a row per member, quoted where
// CSV needs it, each id through EscapeFormula unless Raw, so that the file
// is safe to open in a spreadsheet.
type Writer struct {
	csv *csv.Writer
	raw bool
	row [2]string
}

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Raw writes ids as they are, formulas included: for programs that read
	// the file, not for spreadsheets. A Reader reads back every id but one
	// that starts with single quotes before = + - or @, which loses a quote.
	Raw bool
}

// NewWriter returns a Writer to w and writes the header. Output is
// buffered: call Flush at the end.
func NewWriter(w io.Writer, opt WriterOptions) *Writer {
	mw := &Writer{csv: csv.NewWriter(w), raw: opt.Raw}
	_ = mw.csv.Write([]string{"user_id", "region"}) // an error is kept for Flush
	return mw
}

// Write writes one member.
func (w *Writer) Write(m cohorts.Member) error {
	w.row[0], w.row[1] = m.ID, cohorts.MemberRegionText(m.Region)
	if !w.raw {
		w.row[0] = EscapeFormula(m.ID)
	}
	if err := w.csv.Write(w.row[:]); err != nil {
		return fmt.Errorf("write member %q: %w", m.ID, err)
	}
	return nil
}

// Flush writes what is buffered and returns the first error of any write.
func (w *Writer) Flush() error {
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

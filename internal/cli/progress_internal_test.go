package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/admin"
)

func TestProgressOnlyOnATerminal(t *testing.T) {
	for _, tty := range []bool{false, true} {
		var errOut bytes.Buffer
		io := &IOStreams{ErrOut: &errOut, StderrTTY: tty}
		p := newProgress(io, 1000)
		for i := range 3 {
			p.update(admin.ImportProgress{Rows: (i + 1) * 4096, Bytes: int64(i+1) * 300})
		}
		p.update(admin.ImportProgress{Rows: 12345, Bytes: 1000, Done: true})
		p.finish()
		if got := errOut.String(); tty != (got != "") {
			t.Errorf("StderrTTY %v: wrote %q", tty, got)
		} else if tty && !strings.Contains(got, "rows/s") {
			t.Errorf("the bar lacks rows/s: %q", got)
		}
	}
}

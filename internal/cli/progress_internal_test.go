package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressOnlyOnATerminal(t *testing.T) {
	for _, tty := range []bool{false, true} {
		var errOut bytes.Buffer
		io := &IOStreams{ErrOut: &errOut, StderrTTY: tty}
		read := int64(0)
		p := newProgress(io, 1000, func() int64 { return read })
		for range 3 * progressEvery {
			read++
			p.add(true)
		}
		p.add(false)
		p.finish()
		if got := errOut.String(); tty != (got != "") {
			t.Errorf("StderrTTY %v: wrote %q", tty, got)
		} else if tty && !strings.Contains(got, "rows/s") {
			t.Errorf("the bar lacks rows/s: %q", got)
		}
	}
}

package cli

import (
	"context"
	"io"
)

// ExitInterrupted is the exit status of a command stopped by a signal
// (Ctrl-C, SIGTERM) before it finished: whatever it was writing was rolled
// back. It is the shell's 128 + SIGINT, whichever signal it was, so that a
// script sees one code for "interrupted" however far the command had got.
const ExitInterrupted = 130

// cancelableReader reads from r until ctx is done, then returns ctx's
// error at once, even from a Read that r has not answered yet (standard
// input waiting for a pipe that sends nothing). Each Read is done by a
// goroutine into a buffer of its own, so that a Read abandoned on
// cancellation never writes into the caller's slice.
type cancelableReader struct {
	ctx     context.Context
	r       io.Reader
	buf     []byte
	pending chan readResult // the Read in flight, if any
}

type readResult struct {
	n   int
	err error
}

func newCancelableReader(ctx context.Context, r io.Reader) io.Reader {
	return &cancelableReader{ctx: ctx, r: r}
}

// Read implements io.Reader.
func (c *cancelableReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if c.pending == nil {
		if cap(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		buf := c.buf[:len(p)]
		ch := make(chan readResult, 1)
		go func() {
			n, err := c.r.Read(buf)
			ch <- readResult{n, err}
		}()
		c.pending = ch
	}
	select {
	case res := <-c.pending:
		c.pending = nil
		n := copy(p, c.buf[:res.n])
		return n, res.err
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}

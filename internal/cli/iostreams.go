package cli

import (
	"bytes"
	"context"
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// IOStreams are the command's standard streams and what is known about
// them: data goes to Out, status, prompts and progress to ErrOut, and both
// are formatted for people only when they are terminals.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	StdinTTY  bool
	StdoutTTY bool
	StderrTTY bool

	// interrupt is the context of the running command (set by Execute):
	// reads that may wait forever (stdin, pipes) stop when it is done.
	interrupt context.Context
}

// cancelable returns r read through the command's interrupt context (see
// cancelableReader), or r itself outside Execute.
func (s *IOStreams) cancelable(r io.Reader) io.Reader {
	if s.interrupt == nil {
		return r
	}
	return newCancelableReader(s.interrupt, r)
}

// System returns the process's streams. RAMP_FORCE_TTY=1 makes ramp format
// stdout and stderr for people even when they are pipes (prompts still need
// a real terminal on stdin).
func System() *IOStreams {
	tty := func(f *os.File) bool { return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()) }
	force := os.Getenv("RAMP_FORCE_TTY") != "" && os.Getenv("RAMP_FORCE_TTY") != "0"
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		StdinTTY: tty(os.Stdin), StdoutTTY: force || tty(os.Stdout), StderrTTY: force || tty(os.Stderr),
	}
}

// Test returns streams backed by buffers, none of them a terminal, and the
// buffers for stdin, stdout and stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ramp-flags/ramp"
)

// inputFile is a file a command reads: a path, or "-" for stdin.
type inputFile struct {
	io.ReadCloser
	name string
	size int64 // -1 when unknown (stdin, a pipe)
}

// openInput opens the input file name, "-" meaning stdin, by the CLI's one
// policy for input files: a file that does not exist, cannot be opened, or
// is not a regular file (a directory, a device) is invalid input (exit 3)
// naming the path, as is one over maxBytes (when maxBytes > 0); a failure
// while reading it afterwards is an I/O error (exit 1). Named pipes are
// accepted, so that a shell's <(…) works.
//
// Standard input and pipes are read through streams' interrupt context, so
// that a Ctrl-C stops a read that waits for a writer that sends nothing.
func openInput(streams *IOStreams, name string, maxBytes int64) (*inputFile, error) {
	if name == "-" {
		return &inputFile{ReadCloser: io.NopCloser(streams.In), name: name, size: -1}, nil
	}
	fh, err := os.Open(name)
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, ramp.Errorf(ramp.KindInvalid, "%s: no such file", name)
		case errors.As(err, &pe):
			return nil, ramp.Errorf(ramp.KindInvalid, "%s: cannot open: %w", name, pe.Err)
		}
		return nil, ramp.Errorf(ramp.KindInvalid, "%w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	in := &inputFile{ReadCloser: fh, name: name, size: -1}
	switch mode := st.Mode(); {
	case mode.IsRegular():
		in.size = st.Size()
		if maxBytes > 0 && in.size > maxBytes {
			fh.Close()
			return nil, ramp.Errorf(ramp.KindInvalid, "%s: file too large: %s, over the limit of %s", name, byteSize(in.size), byteSize(maxBytes))
		}
	case mode&fs.ModeNamedPipe != 0:
		in.ReadCloser = struct {
			io.Reader
			io.Closer
		}{streams.cancelable(fh), fh}
	case mode.IsDir():
		fh.Close()
		return nil, ramp.Errorf(ramp.KindInvalid, "%s: is a directory, not a file", name)
	default:
		fh.Close()
		return nil, ramp.Errorf(ramp.KindInvalid, "%s is not a regular file (%s)", name, fileKind(mode))
	}
	return in, nil
}

// fileKind names a file's type for people.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a device"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return mode.Type().String()
}

// byteSize renders a size in bytes, KiB or MiB for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

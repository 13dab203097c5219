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
func openInput(stdin io.Reader, name string, maxBytes int64) (*inputFile, error) {
	if name == "-" {
		return &inputFile{ReadCloser: io.NopCloser(stdin), name: name, size: -1}, nil
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
			return nil, ramp.Errorf(ramp.KindInvalid, "%s: %d bytes, over the limit of %d", name, in.size, maxBytes)
		}
	case mode&fs.ModeNamedPipe != 0:
	case mode.IsDir():
		fh.Close()
		return nil, ramp.Errorf(ramp.KindInvalid, "%s: is a directory, not a file", name)
	default:
		fh.Close()
		return nil, ramp.Errorf(ramp.KindInvalid, "%s: not a regular file (%s)", name, mode.Type())
	}
	return in, nil
}

package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
)

// Problem is one thing wrong with a configuration file, located in the file.
type Problem struct {
	// Line and Column are 1-based; 0 when the problem concerns the whole
	// file (or, for Column, when the YAML parser did not report one).
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Path   string `json:"path,omitempty"` // e.g. flags[1].rules[0].rollout.on, as in flags.Problem
	// Message says what is wrong, without the location.
	Message string `json:"message"`
}

// String renders the problem without the file name: "LINE:COL: PATH: MESSAGE".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Column))
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error reports every problem found in a configuration file: YAML syntax
// errors, fields of the wrong kind, unknown or duplicate keys (from Parse),
// and the problems flags.State.Validate finds (from Document.Validate).
type Error struct {
	File     string    `json:"file"`
	Problems []Problem `json:"problems"`
}

// Error renders a header counting the problems, then one problem per line as
// "FILE:LINE:COL: PATH: MESSAGE", the form editors and CI annotations jump to.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration %s: %d problem", e.File, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteByte('s')
	}
	for _, p := range e.Problems {
		b.WriteByte('\n')
		b.WriteString(e.File)
		if p.Line > 0 {
			b.WriteByte(':')
		} else {
			b.WriteString(": ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes a configuration's problems match ramp.ErrInvalid: nothing was
// written, and the input is what must change.
func (e *Error) Is(target error) bool { return target == ramp.ErrInvalid }

// newError sorts problems by position, keeping the order of problems at the
// same position, and returns nil when there are none.
func newError(file string, ps []Problem) *Error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &Error{File: file, Problems: ps}
}

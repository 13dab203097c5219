package csvfile

import "strings"

// formulaStart reports whether a spreadsheet takes a cell starting with c
// for a formula (or, for tab and CR, may once the cell is trimmed): the
// characters OWASP's CSV injection guidance lists.
func formulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// escapes reports whether s is a value EscapeFormula changes: one that
// starts with a formula character, or with single quotes before one (which
// UnescapeFormula would otherwise read as an escaped value).
func escapes(s string) bool {
	s = strings.TrimLeft(s, "'")
	return s != "" && formulaStart(s[0])
}

// EscapeFormula returns the CSV cell ramp writes for the value s, so that a
// spreadsheet opening the file shows it as text instead of running it: a
// value starting with = + - @ tab or CR gets a single quote before it, as
// OWASP advises against CSV injection. That covers formulas and also
// legitimate ids such as -123 or +4915112345678, which a spreadsheet would
// otherwise turn into numbers or formulas. So that UnescapeFormula can undo
// it exactly, a value of single quotes before one of those characters gets
// one quote more. Other values are unchanged:
//
//	value                cell
//	=HYPERLINK("…")      '=HYPERLINK("…")
//	-123                 '-123
//	'=x                  ''=x
//	'abc                 'abc
//	emp-7                emp-7
//
// UnescapeFormula(EscapeFormula(s)) == s for every s, and no result starts
// with a formula character.
func EscapeFormula(s string) string {
	if escapes(s) {
		return "'" + s
	}
	return s
}

// UnescapeFormula returns the value of a cell EscapeFormula wrote: a cell of
// one or more single quotes before = + - @ tab or CR loses its first quote,
// and any other cell is its own value (see the table at EscapeFormula).
// Reader applies it to every id it reads.
func UnescapeFormula(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && escapes(cell[1:]) {
		return cell[1:]
	}
	return cell
}

// SafeCell returns a cell as read from a file (a Problem's Record), made
// safe to write into another: prefixed with a single quote when it starts
// with a formula character, and otherwise unchanged, so that a Reader reads
// the same value from both (a cell "'=x", already escaped, stays as it is).
func SafeCell(cell string) string {
	return EscapeFormula(UnescapeFormula(cell))
}

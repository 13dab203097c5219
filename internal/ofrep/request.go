package ofrep

import (
	"bytes"
	"net/http"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ramp-flags/ramp/flags"
)

// RequestError is a request body that cannot be evaluated: a PARSE_ERROR
// (not a JSON object) or an INVALID_CONTEXT (a "context" that is not an
// object).
type RequestError struct {
	Code    flags.ErrorCode
	Details string
}

func (e *RequestError) Error() string { return string(e.Code) + ": " + e.Details }

// DecodeRequest reads the body of an evaluation request, single or bulk:
// {"context": {…}}. It returns the context as encoding/json decodes it
// (numbers as float64, which is what SDKs send and what the engine expects).
//
// It is lenient where the protocol leaves room and strict where a guess would
// hide a client bug: an empty body, a missing "context" and "context": null
// all mean the empty context, and other top-level fields are ignored (they
// may be future protocol fields); a body that is not one JSON object is a
// PARSE_ERROR, and a "context" that is not an object an INVALID_CONTEXT. The
// returned map is never nil on success.
func DecodeRequest(body []byte) (map[string]any, *RequestError) {
	ctx := map[string]any{}
	if err := DecodeRequestInto(ctx, body); err != nil {
		return nil, err
	}
	return ctx, nil
}

// DecodeRequestInto is DecodeRequest filling ctx, which must be empty, so
// that a server can reuse its maps. After an error ctx may hold part of the
// context.
//
// The decoder is written for this one shape: it validates the whole body as
// encoding/json does (the same grammar, nesting limit, duplicate keys
// resolved to the last, strings coerced to valid UTF-8, numbers as float64
// that must be finite) and builds only the context, whose strings without
// escapes are substrings of one copy of it rather than copies each.
// FuzzDecodeRequest holds it to encoding/json's answers.
func DecodeRequestInto(ctx map[string]any, body []byte) *RequestError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return &RequestError{flags.ErrParse, "the request body must be a JSON object like {\"context\":{…}}"}
	}
	p := parser{data: body}
	start, end, err := p.request()
	if err != nil {
		if err == errTrailing {
			return &RequestError{flags.ErrParse, "the request body has data after its JSON object"}
		}
		return &RequestError{flags.ErrParse, "the request body is not valid JSON: " + err.Error()}
	}
	raw := body[start:end]
	switch {
	case len(raw) == 0 || raw[0] == 'n': // absent or null
		return nil
	case raw[0] != '{':
		return &RequestError{flags.ErrInvalidContext, "\"context\" must be a JSON object"}
	}
	// The syntax is known to be good: this pass builds the values. Every
	// string without escapes is a substring of text.
	p = parser{data: raw, text: string(raw), build: true}
	if err := p.objectInto(ctx); err != nil {
		// Only a number too large for a float64 gets here.
		return &RequestError{flags.ErrParse, "the context is not valid JSON: " + err.Error()}
	}
	return nil
}

// maxDepth is encoding/json's nesting limit: objects and arrays within one
// another, the request's own object included.
const maxDepth = 10000

// parser reads JSON from data. It always checks the syntax; with build set
// it also returns the values, as encoding/json decodes them into an any.
type parser struct {
	data  []byte
	i     int
	depth int

	build bool
	text  string // string(data), when building
	buf   []byte // scratch for unquoting
}

type syntaxError string

func (e syntaxError) Error() string { return string(e) }

var (
	errEnd      = syntaxError("unexpected end of input")
	errTrailing = syntaxError("data after the top-level value")
)

// unexpected is the error for the character at p.i, which cannot come
// where it is; context says what was wanted ("looking for beginning of
// value").
func (p *parser) unexpected(context string) error {
	if p.i >= len(p.data) {
		return errEnd
	}
	return syntaxError("invalid character " + quoteChar(p.data[p.i]) + " " + context + " at offset " + strconv.Itoa(p.i))
}

// quoteChar formats c for an error message, as encoding/json does.
func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return `'\x` + string(hex[c>>4]) + string(hex[c&0xf]) + `'`
	}
	return "'" + string(c) + "'"
}

func (p *parser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// request reads the request's top-level object, which must be all of data,
// and returns where the value of its last "context" member is (an empty
// range when there is none).
func (p *parser) request() (start, end int, err error) {
	if err := p.enter(); err != nil {
		return 0, 0, err
	}
	p.i++ // '{'
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
	} else {
		for {
			if p.i >= len(p.data) || p.data[p.i] != '"' {
				return 0, 0, p.unexpected("looking for beginning of object key string")
			}
			ks, ke, plain, err := p.scanString()
			if err != nil {
				return 0, 0, err
			}
			isContext := plain && string(p.data[ks:ke]) == "context" ||
				!plain && string(unquote(p.buf[:0], p.data[ks:ke])) == "context"
			if err := p.colon(); err != nil {
				return 0, 0, err
			}
			vs := p.i
			if _, err := p.value(); err != nil {
				return 0, 0, err
			}
			if isContext {
				start, end = vs, p.i
			}
			p.ws()
			if p.i < len(p.data) && p.data[p.i] == ',' {
				p.i++
				p.ws()
				continue
			}
			if p.i < len(p.data) && p.data[p.i] == '}' {
				p.i++
				break
			}
			return 0, 0, p.unexpected("after object key:value pair")
		}
	}
	p.depth--
	p.ws()
	if p.i < len(p.data) {
		return 0, 0, errTrailing
	}
	return start, end, nil
}

// enter counts one more level of nesting.
func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return syntaxError("exceeded max depth at offset " + strconv.Itoa(p.i))
	}
	return nil
}

// colon reads the colon after an object key, and the spaces around it.
func (p *parser) colon() error {
	p.ws()
	if p.i >= len(p.data) || p.data[p.i] != ':' {
		return p.unexpected("after object key")
	}
	p.i++
	p.ws()
	return nil
}

// value reads one value at p.i (where no space is).
func (p *parser) value() (any, error) {
	if p.i >= len(p.data) {
		return nil, errEnd
	}
	switch c := p.data[p.i]; {
	case c == '{':
		var m map[string]any
		if p.build {
			m = map[string]any{}
		}
		if err := p.objectInto(m); err != nil {
			return nil, err
		}
		if m == nil {
			return nil, nil
		}
		return m, nil
	case c == '[':
		return p.array()
	case c == '"':
		s, e, plain, err := p.scanString()
		if err != nil || !p.build {
			return nil, err
		}
		return p.str(s, e, plain), nil
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.unexpected("looking for beginning of value")
}

// objectInto reads an object at p.i into m (nil when not building).
func (p *parser) objectInto(m map[string]any) error {
	if err := p.enter(); err != nil {
		return err
	}
	p.i++ // '{'
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		p.depth--
		return nil
	}
	for {
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return p.unexpected("looking for beginning of object key string")
		}
		ks, ke, plain, err := p.scanString()
		if err != nil {
			return err
		}
		if err := p.colon(); err != nil {
			return err
		}
		v, err := p.value()
		if err != nil {
			return err
		}
		if p.build {
			m[p.str(ks, ke, plain)] = v
		}
		p.ws()
		if p.i < len(p.data) && p.data[p.i] == ',' {
			p.i++
			p.ws()
			continue
		}
		if p.i < len(p.data) && p.data[p.i] == '}' {
			p.i++
			p.depth--
			return nil
		}
		return p.unexpected("after object key:value pair")
	}
}

// array reads an array at p.i: []any, never nil, when building.
func (p *parser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // '['
	var a []any
	if p.build {
		a = make([]any, 0)
	}
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		p.depth--
		return build(p, a), nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if p.build {
			a = append(a, v)
		}
		p.ws()
		if p.i < len(p.data) && p.data[p.i] == ',' {
			p.i++
			p.ws()
			continue
		}
		if p.i < len(p.data) && p.data[p.i] == ']' {
			p.i++
			p.depth--
			return build(p, a), nil
		}
		return nil, p.unexpected("after array element")
	}
}

// build returns a as an any when building, else nil (not a nil []any).
func build(p *parser, a []any) any {
	if !p.build {
		return nil
	}
	return a
}

// scanString reads a string at p.i and returns where its contents are
// (between the quotes). plain says the contents are the string itself:
// no escapes and valid UTF-8.
func (p *parser) scanString() (start, end int, plain bool, err error) {
	data := p.data
	i := p.i + 1 // past '"'
	start = i
	plain = true
	ascii := true
	for {
		for i < len(data) && safeASCII[data[i]] {
			i++
		}
		if i >= len(data) {
			p.i = i
			return 0, 0, false, errEnd
		}
		switch c := data[i]; {
		case c == '"':
			p.i = i + 1
			if !ascii && plain {
				plain = utf8.Valid(data[start:i])
			}
			return start, i, plain, nil
		case c == '\\':
			plain = false
			i++
			if i >= len(data) {
				p.i = i
				return 0, 0, false, errEnd
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				i++
				for range 4 {
					if i >= len(data) || !isHex(data[i]) {
						p.i = i
						if i >= len(data) {
							return 0, 0, false, errEnd
						}
						return 0, 0, false, p.unexpected("in \\u hexadecimal character escape")
					}
					i++
				}
			default:
				p.i = i
				return 0, 0, false, p.unexpected("in string escape code")
			}
		case c < 0x20:
			p.i = i
			return 0, 0, false, p.unexpected("in string literal")
		default: // beyond ASCII: checked once the string ends
			ascii = false
			i++
		}
	}
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// str is the string whose contents scanString found at data[start:end].
func (p *parser) str(start, end int, plain bool) string {
	if plain {
		return p.text[start:end]
	}
	p.buf = unquote(p.buf[:0], p.data[start:end])
	return string(p.buf)
}

// unquote appends the contents of a string literal that scanString
// accepted, with escapes resolved and invalid UTF-8 replaced by U+FFFD, as
// encoding/json does (a \u escape of half a surrogate pair is U+FFFD too).
func unquote(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := getu4(s[i:])
				i += 6
				if utf16.IsSurrogate(r) {
					if r2 := getu4(s[i:]); r2 >= 0 {
						if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// number reads a number at p.i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// When building, it must fit a float64.
func (p *parser) number() (any, error) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case p.i < len(p.data) && '1' <= p.data[p.i] && p.data[p.i] <= '9':
		p.digits()
	default:
		return nil, p.unexpected("in numeric literal")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if p.i >= len(p.data) || !isDigit(p.data[p.i]) {
			return nil, p.unexpected("after decimal point in numeric literal")
		}
		p.digits()
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.data) || !isDigit(p.data[p.i]) {
			return nil, p.unexpected("in exponent of numeric literal")
		}
		p.digits()
	}
	if !p.build {
		return nil, nil
	}
	s := p.text[start:p.i]
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, syntaxError("cannot represent number " + s)
	}
	return f, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (p *parser) digits() {
	for p.i < len(p.data) && isDigit(p.data[p.i]) {
		p.i++
	}
}

// literal reads true, false or null.
func (p *parser) literal(word string) error {
	for j := range len(word) {
		if p.i >= len(p.data) {
			return errEnd
		}
		if p.data[p.i] != word[j] {
			return p.unexpected("in literal " + word)
		}
		p.i++
	}
	return nil
}

// Status is the HTTP status of a single-flag evaluation answer: 200 for a
// decision, 404 for FLAG_NOT_FOUND and 400 for every other error code, as
// OFREP's evaluationFailure lists them (PARSE_ERROR, TARGETING_KEY_MISSING,
// INVALID_CONTEXT, GENERAL). TYPE_MISMATCH cannot come from an untyped
// evaluation; it would be a 400 too.
func Status(code flags.ErrorCode) int {
	switch code {
	case "":
		return http.StatusOK
	case flags.ErrFlagNotFound:
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

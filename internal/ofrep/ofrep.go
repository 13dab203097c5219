// Package ofrep maps engine decisions to the JSON shapes of the OpenFeature
// Remote Evaluation Protocol (OFREP v1), in one place, for the HTTP server
// and for `ramp eval`, which prints the same shapes.
package ofrep

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/ramp-flags/ramp/flags"
)

// Success is OFREP's evaluation success body.
type Success struct {
	Key      string         `json:"key"`
	Value    any            `json:"value"`
	Variant  string         `json:"variant,omitempty"`
	Reason   flags.Reason   `json:"reason"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Failure is OFREP's evaluation failure body.
type Failure struct {
	Key          string          `json:"key"`
	ErrorCode    flags.ErrorCode `json:"errorCode"`
	ErrorDetails string          `json:"errorDetails,omitempty"`
}

// Body returns the OFREP body for a decision: a Failure when it carries an
// error code, else a Success (which always carries a value).
func Body(d *flags.Decision) any {
	if d.IsError() {
		return Failure{Key: d.Key, ErrorCode: d.ErrorCode, ErrorDetails: d.ErrorDetails}
	}
	return Success{Key: d.Key, Value: d.Value, Variant: d.Variant, Reason: d.Reason, Metadata: d.Metadata()}
}

// AppendJSON appends the decision's OFREP body as one line of JSON, the
// same document json.Marshal(Body(d)) gives, written by hand because
// `ramp eval --contexts` writes a million of them.
func AppendJSON(dst []byte, d *flags.Decision) ([]byte, error) {
	dst = append(dst, `{"key":`...)
	dst = appendString(dst, d.Key)
	if d.IsError() {
		dst = append(dst, `,"errorCode":`...)
		dst = appendString(dst, string(d.ErrorCode))
		if d.ErrorDetails != "" {
			dst = append(dst, `,"errorDetails":`...)
			dst = appendString(dst, d.ErrorDetails)
		}
		return append(dst, '}'), nil
	}
	dst = append(dst, `,"value":`...)
	switch v := d.Value.(type) {
	case bool:
		dst = strconv.AppendBool(dst, v)
	case string:
		dst = appendString(dst, v)
	case int64:
		dst = strconv.AppendInt(dst, v, 10)
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return dst, fmt.Errorf("flag %s: value: unsupported value %v", d.Key, v)
		}
		dst = appendFloat(dst, v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return dst, fmt.Errorf("flag %s: value: %w", d.Key, err)
		}
		dst = append(dst, b...)
	}
	if d.Variant != "" {
		dst = append(dst, `,"variant":`...)
		dst = appendString(dst, d.Variant)
	}
	dst = append(dst, `,"reason":`...)
	dst = appendString(dst, string(d.Reason))
	// The metadata keys of Decision.Metadata, in encoding/json's order.
	first := true
	field := func(name string) {
		if first {
			dst = append(dst, `,"metadata":{`...)
			first = false
		} else {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `":`...)
	}
	exp := d.Origin.Exposes() && !d.IsError()
	if exp {
		field("arm")
		dst = appendString(dst, d.Variant)
	}
	if d.SnapshotVersion != 0 {
		field("configVersion")
		dst = strconv.AppendInt(dst, d.SnapshotVersion, 10)
	}
	if exp {
		field("experiment")
		dst = appendString(dst, d.Origin.ExperimentKey())
	}
	if d.FlagVersion != 0 {
		field("flagVersion")
		dst = strconv.AppendInt(dst, d.FlagVersion, 10)
	}
	if exp {
		field("phase")
		dst = strconv.AppendInt(dst, int64(d.Origin.Phase), 10)
	}
	if d.Rule >= 0 {
		if d.RuleName != "" {
			field("rule")
			dst = appendString(dst, d.RuleName)
		}
		field("ruleIndex")
		dst = strconv.AppendInt(dst, int64(d.Rule), 10)
	}
	if !first {
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// appendFloat appends a finite float64 as encoding/json writes it: like
// ES6, plain below 1e21 and down to 1e-6, else in exponent form with no
// leading zero in the exponent.
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hex = "0123456789abcdef"

// safeASCII marks the bytes that stand for themselves in a JSON string,
// written or read: ASCII but for control characters, quotes and
// backslashes.
var safeASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, as encoding/json
// does (without its HTML escaping, which OFREP does not need).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && safeASCII[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

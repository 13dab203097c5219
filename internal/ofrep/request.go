package ofrep

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

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
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return map[string]any{}, nil
	}
	if body[0] != '{' {
		return nil, &RequestError{flags.ErrParse, "the request body must be a JSON object like {\"context\":{…}}"}
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		return nil, &RequestError{flags.ErrParse, "the request body is not valid JSON: " + jsonProblem(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &RequestError{flags.ErrParse, "the request body has data after its JSON object"}
	}
	raw := bytes.TrimSpace(top["context"])
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	if raw[0] != '{' {
		return nil, &RequestError{flags.ErrInvalidContext, "\"context\" must be a JSON object"}
	}
	var ctx map[string]any
	if err := json.Unmarshal(raw, &ctx); err != nil {
		// The decoder has already checked the syntax; kept for safety.
		return nil, &RequestError{flags.ErrParse, "the context is not valid JSON: " + jsonProblem(err)}
	}
	return ctx, nil
}

// jsonProblem says what encoding/json found wrong without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return syn.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return "cannot represent " + typ.Value // a number beyond float64
	}
	return "malformed"
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

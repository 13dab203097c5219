package ofrep_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/ofrep"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		body string
		want map[string]any
		code flags.ErrorCode
	}{
		{``, map[string]any{}, ""},
		{"  \n", map[string]any{}, ""},
		{`{}`, map[string]any{}, ""},
		{`{"context":null}`, map[string]any{}, ""},
		{`{"context":{}}`, map[string]any{}, ""},
		{`{"context":{"targetingKey":"u1","age":42,"beta":true,"tags":["a"]},"future":1}`,
			map[string]any{"targetingKey": "u1", "age": 42.0, "beta": true, "tags": []any{"a"}}, ""},
		{`{"context":"u1"}`, nil, flags.ErrInvalidContext},
		{`{"context":[1]}`, nil, flags.ErrInvalidContext},
		{`{"context":7}`, nil, flags.ErrInvalidContext},
		{`{"context":{"a":}}`, nil, flags.ErrParse},
		{`{"context":{}`, nil, flags.ErrParse},
		{`{"context":{}}}`, nil, flags.ErrParse},
		{`[]`, nil, flags.ErrParse},
		{`null`, nil, flags.ErrParse},
		{`"x"`, nil, flags.ErrParse},
		{"\xff", nil, flags.ErrParse},
	}
	for _, tt := range tests {
		got, err := ofrep.DecodeRequest([]byte(tt.body))
		var code flags.ErrorCode
		if err != nil {
			code = err.Code
			if err.Details == "" {
				t.Errorf("%q: %s without details", tt.body, code)
			}
		}
		if code != tt.code {
			t.Errorf("%q: error code %q, want %q (%v)", tt.body, code, tt.code, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q: context (-want +got):\n%s", tt.body, diff)
		}
	}
}

func TestStatus(t *testing.T) {
	for code, want := range map[flags.ErrorCode]int{
		"": 200, flags.ErrFlagNotFound: 404, flags.ErrParse: 400, flags.ErrTargetingKeyMissing: 400,
		flags.ErrInvalidContext: 400, flags.ErrGeneral: 400, flags.ErrTypeMismatch: 400,
	} {
		if got := ofrep.Status(code); got != want {
			t.Errorf("Status(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestAppendBulkJSON(t *testing.T) {
	ds := []flags.Decision{
		{Key: "a", Value: true, Variant: "on", Reason: flags.ReasonTargetingMatch, Rule: 0, SnapshotVersion: 3},
		{Key: "b", Reason: flags.ReasonError, ErrorCode: flags.ErrTargetingKeyMissing, ErrorDetails: "needs a key", Rule: -1},
	}
	got, err := ofrep.AppendBulkJSON(nil, ds, 3, []ofrep.EventStream{{Type: "sse", URL: "http://h/ofrep/v1/events?token=x", InactivityDelaySec: 120}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"flags":[{"key":"a","value":true,"variant":"on","reason":"TARGETING_MATCH","metadata":{"configVersion":3,"ruleIndex":0}},` +
		`{"key":"b","errorCode":"TARGETING_KEY_MISSING","errorDetails":"needs a key"}],"metadata":{"configVersion":3},` +
		`"eventStreams":[{"type":"sse","url":"http://h/ofrep/v1/events?token=x","inactivityDelaySec":120}]}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !json.Valid(got) {
		t.Error("invalid JSON")
	}
	empty, _ := ofrep.AppendBulkJSON(nil, nil, 0, nil)
	if string(empty) != `{"flags":[],"metadata":{"configVersion":0}}` {
		t.Errorf("empty bulk = %s", empty)
	}
}

// FuzzDecodeRequest: decoding never panics, it gives what encoding/json
// gives (the same context, or an error with the same code), and every
// body gets either a context (200 territory) or an error code OFREP allows
// on a 400 with details.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range decodeSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, err := ofrep.DecodeRequest(body)
		wantCtx, wantErr := decodeWithEncodingJSON(body)
		checkSameDecoding(t, body, ctx, err, wantCtx, wantErr)
		if err == nil {
			if ctx == nil {
				t.Fatal("no error and no context")
			}
			if _, merr := json.Marshal(ctx); merr != nil {
				t.Fatalf("decoded context does not encode: %v", merr)
			}
			return
		}
		if ctx != nil {
			t.Fatal("an error and a context")
		}
		if err.Code != flags.ErrParse && err.Code != flags.ErrInvalidContext {
			t.Fatalf("error code %q", err.Code)
		}
		if ofrep.Status(err.Code) != http.StatusBadRequest || err.Details == "" {
			t.Fatalf("%v: status %d", err, ofrep.Status(err.Code))
		}
		d := flags.Decision{Key: "k", Reason: flags.ReasonError, ErrorCode: err.Code, ErrorDetails: err.Details, Rule: -1}
		if b, aerr := ofrep.AppendJSON(nil, &d); aerr != nil || !json.Valid(b) {
			t.Fatalf("failure body %s: %v", b, aerr)
		}
	})
}

// decodeSeeds are the fuzzer's seeds, and TestDecodeRequestMatchesEncodingJSON's cases.
var decodeSeeds = []string{``, `{}`, `{"context":{"targetingKey":"u1","n":1.5e3}}`, `{"context":null}`,
	`{"context":[]}`, `{"context":"x"}`, `[{}]`, `{"context":{"a":{"b":[1,{"c":null}]}}}`, `{"context":{}} x`,
	`{"context":{"k":"\ud800"}}`, "{\"context\":{\"k\":\"\xff\"}}", `{"context":{},"context":5}`, `{"a":1e999}`,
	`{"context":5,"context":{"a":1}}`, `{"context":{"a":1e999},"context":{}}`, `{"context":{"a":1e999}}`,
	`{"con\u0074ext":{"a":"b"}}`, `{"context":{"a":"\ud83d\ude00 \ud83d\u0041 \udc00\ud800 \/\b\f\n\r\t\"\\"}}`,
	"{\"context\":{\"\xed\xa0\x80\":\"\xef\xbf\xbd \xc3\xa9 \xf0\x9f\x98\x80 \xc3\"}}", `{"context":{"a":1,"a":2,"b":{"c":1,"c":[]}}}`,
	`{"context":{"n":[-0,0.5,-1.25e-3,1E+2,123456789012345678901234567890,1e-400]}}`,
	`{"context":{"n":01}}`, `{"context":{"n":1.}}`, `{"context":{"n":.5}}`, `{"context":{"n":-}}`, `{"context":{"n":1e}}`, `{"context":{"n":+1}}`,
	`{"context":{"t":true,"f":false,"z":null}}`, `{"context":{"t":tru}}`, `{"context":{"t":nul}}`, `{"context":{"a":"\x"}}`, `{"context":{"a":"\u12"}}`,
	"{\"context\":{\"a\":\"\x01\"}}", "\v{\"context\":{}}\u00a0", "{ \"context\" : { \"a\" : [ 1 , 2 ] } }\n", `{"context":{"a":[1,]}}`,
	`{"context":{"a":1,}}`, `{"context":{,}}`, `{"context"}`, `{"context":}`, `{"context" 1}`, `{,}`, `{"a":1}}`, `{"a":1}{`, `{"a":[}`,
	`{"context":{"a":"b"}`, `{"`, `{"context":{"a":"b`, `{"context":{"a":"b\`, `{"context":{"a":"\u00`, "\ufeff{}", `{1:2}`,
}

// checkSameDecoding fails when DecodeRequest's answer differs from
// encoding/json's.
func checkSameDecoding(t *testing.T, body []byte, ctx map[string]any, err *ofrep.RequestError, wantCtx map[string]any, wantErr *ofrep.RequestError) {
	t.Helper()
	var code, wantCode flags.ErrorCode
	if err != nil {
		code = err.Code
	}
	if wantErr != nil {
		wantCode = wantErr.Code
	}
	if code != wantCode {
		t.Fatalf("%q: error %v, encoding/json says %v", body, err, wantErr)
	}
	// reflect.DeepEqual first: cmp.Diff is slow on deeply nested values.
	if reflect.DeepEqual(wantCtx, ctx) {
		return
	}
	if diff := cmp.Diff(wantCtx, ctx); diff != "" {
		t.Fatalf("%q: context differs from encoding/json's (-encoding/json +DecodeRequest):\n%s", body, diff)
	}
}

func TestDecodeRequestMatchesEncodingJSON(t *testing.T) {
	bodies := append([]string{}, decodeSeeds...)
	// encoding/json's nesting limit, 10000 levels with the request's object.
	for _, depth := range []int{9998, 9999, 10000} {
		bodies = append(bodies, `{"context":{"a":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}}`)
		bodies = append(bodies, `{"x":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}`)
	}
	for _, body := range bodies {
		ctx, err := ofrep.DecodeRequest([]byte(body))
		wantCtx, wantErr := decodeWithEncodingJSON([]byte(body))
		checkSameDecoding(t, []byte(body), ctx, err, wantCtx, wantErr)
	}
}

func TestDecodeRequestInto(t *testing.T) {
	ctx := map[string]any{}
	for range 2 {
		if err := ofrep.DecodeRequestInto(ctx, []byte(`{"context":{"targetingKey":"u1","n":2}}`)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"targetingKey": "u1", "n": 2.0}, ctx); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		clear(ctx)
	}
}

// decodeWithEncodingJSON is the reference DecodeRequest is held to: the
// request decoded by encoding/json, as ramp did before it had a decoder of
// its own.
func decodeWithEncodingJSON(body []byte) (map[string]any, *ofrep.RequestError) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return map[string]any{}, nil
	}
	if body[0] != '{' {
		return nil, &ofrep.RequestError{Code: flags.ErrParse, Details: "not an object"}
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		return nil, &ofrep.RequestError{Code: flags.ErrParse, Details: err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ofrep.RequestError{Code: flags.ErrParse, Details: "data after the object"}
	}
	raw := bytes.TrimSpace(top["context"])
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	if raw[0] != '{' {
		return nil, &ofrep.RequestError{Code: flags.ErrInvalidContext, Details: "not an object"}
	}
	var ctx map[string]any
	if err := json.Unmarshal(raw, &ctx); err != nil {
		return nil, &ofrep.RequestError{Code: flags.ErrParse, Details: err.Error()}
	}
	return ctx, nil
}

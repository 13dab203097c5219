package ofrep_test

import (
	"encoding/json"
	"net/http"
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

// FuzzDecodeRequest: decoding never panics, and every body gets either a
// context (200 territory) or an error code OFREP allows on a 400 with
// details.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"context":{"targetingKey":"u1","n":1.5e3}}`, `{"context":null}`,
		`{"context":[]}`, `{"context":"x"}`, `[{}]`, `{"context":{"a":{"b":[1,{"c":null}]}}}`, `{"context":{}} x`,
		`{"context":{"k":"\ud800"}}`, "{\"context\":{\"k\":\"\xff\"}}", `{"context":{},"context":5}`, `{"a":1e999}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, err := ofrep.DecodeRequest(body)
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

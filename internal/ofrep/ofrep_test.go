package ofrep_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/ofrep"
)

func TestBody(t *testing.T) {
	tests := []struct {
		name string
		d    flags.Decision
		want string
	}{
		{"success", flags.Decision{Key: "f", Value: false, Variant: "off", Reason: flags.ReasonDefault, Rule: -1},
			`{"key":"f","value":false,"variant":"off","reason":"DEFAULT"}`},
		{"success with metadata", flags.Decision{Key: "f", Value: "inline", Variant: "inline", Reason: flags.ReasonSplit, Rule: 1, RuleName: "us", FlagVersion: 3},
			`{"key":"f","value":"inline","variant":"inline","reason":"SPLIT","metadata":{"flagVersion":3,"rule":"us","ruleIndex":1}}`},
		{"failure", flags.Decision{Key: "g", Reason: flags.ReasonError, ErrorCode: flags.ErrFlagNotFound, ErrorDetails: "flag \"g\" not found", Rule: -1},
			`{"key":"g","errorCode":"FLAG_NOT_FOUND","errorDetails":"flag \"g\" not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ofrep.AppendJSON(nil, &tt.d)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			_ = json.Unmarshal(got, &g)
			_ = json.Unmarshal([]byte(tt.want), &w)
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s\ngot %s", diff, got)
			}
		})
	}
}

package ofrep_test

import (
	"bytes"
	"encoding/json"
	"math"
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

// TestAppendJSONMatchesEncodingJSON checks the hand-written encoder against
// encoding/json on awkward strings and every value kind.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\t\n\r", "bad utf8 \xff\xfe", "é ユ 😀", "\u2028\u2029", "<html>&"}
	values := []any{true, false, int64(-42), 1.5, 1e21, "s", map[string]any{"a": []any{1.0, "x"}}, []any{}}
	for _, s := range strs {
		for _, v := range values {
			for _, d := range []flags.Decision{
				{Key: s, Value: v, Variant: s, Reason: flags.ReasonSplit, Rule: 2, RuleName: s, FlagVersion: 7, SnapshotVersion: 9},
				{Key: s, Value: v, Variant: s, Reason: flags.ReasonSplit, Rule: 0, FlagVersion: 7, SnapshotVersion: 9,
					Origin: &flags.Origin{Kind: flags.OriginExperiment, Key: s, Phase: 3, Unit: "accountCenterId"}},
				{Key: s, Value: v, Reason: flags.ReasonStatic, Rule: -1},
				{Key: s, Reason: flags.ReasonError, ErrorCode: flags.ErrParse, ErrorDetails: s, Rule: -1},
			} {
				got, err := ofrep.AppendJSON(nil, &d)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := json.Marshal(ofrep.Body(&d))
				if d.Origin != nil && s == "plain" && !bytes.Equal(got, want) {
					t.Errorf("experiment metadata out of encoding/json's order:\ngot  %s\nwant %s", got, want)
				}
				var g, w any
				if err := json.Unmarshal(got, &g); err != nil {
					t.Fatalf("invalid JSON %s: %v", got, err)
				}
				_ = json.Unmarshal(want, &w)
				if diff := cmp.Diff(w, g); diff != "" {
					t.Errorf("AppendJSON differs from encoding/json (-want +got):\n%s\ngot  %s\nwant %s", diff, got, want)
				}
			}
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("key", "variant", "details")
	f.Add("\xff\x00\"", "\\", "\u2028")
	f.Fuzz(func(t *testing.T, key, variant, details string) {
		for _, d := range []flags.Decision{
			{Key: key, Value: variant, Variant: variant, Reason: flags.ReasonSplit, Rule: 0, RuleName: details},
			{Key: key, Reason: flags.ReasonError, ErrorCode: flags.ErrGeneral, ErrorDetails: details, Rule: -1},
		} {
			got, err := ofrep.AppendJSON(nil, &d)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(ofrep.Body(&d))
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("invalid JSON %q: %v", got, err)
			}
			_ = json.Unmarshal(want, &w)
			if !cmp.Equal(w, g) {
				t.Fatalf("got %s, want %s", got, want)
			}
		}
	})
}

// TestAppendJSONFloats checks number values byte for byte against
// encoding/json, whose formatting the hand-written encoder copies.
func TestAppendJSONFloats(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1.0 / 3, 1e20, 1e21, -1e21, 123456789e15, 1e-6, 9.99e-7,
		-1e-7, 2.5e-10, 5e-324, math.MaxFloat64, 1e100, 12345678.9} {
		checkFloat(t, f)
	}
}

func FuzzAppendJSONFloat(f *testing.F) {
	f.Add(1.5)
	f.Add(1e-7)
	f.Add(1e21)
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			d := flags.Decision{Key: "f", Value: v, Reason: flags.ReasonStatic, Rule: -1}
			if _, err := ofrep.AppendJSON(nil, &d); err == nil {
				t.Fatalf("%v encoded without an error", v)
			}
			return
		}
		checkFloat(t, v)
	})
}

func checkFloat(t *testing.T, f float64) {
	t.Helper()
	d := flags.Decision{Key: "f", Value: f, Variant: "v", Reason: flags.ReasonStatic, Rule: -1}
	got, err := ofrep.AppendJSON(nil, &d)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(ofrep.Body(&d))
	if string(got) != string(want) {
		t.Errorf("%v: got %s, want %s", f, got, want)
	}
}

package config_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/config"
)

func TestEncodeGolden(t *testing.T) {
	st := exampleState()
	st.Flags[0].Enabled = false // a killed flag exports as killed
	for _, format := range []string{config.YAML, config.JSON} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := config.Encode(&buf, &st, format); err != nil {
				t.Fatal(err)
			}
			golden(t, "example.golden."+format, buf.Bytes())
		})
	}
}

func TestEncodeDeterministic(t *testing.T) {
	st := exampleState()
	shuffled := exampleState()
	shuffled.Flags[0], shuffled.Flags[2] = shuffled.Flags[2], shuffled.Flags[0]
	shuffled.Cohorts[0], shuffled.Cohorts[1] = shuffled.Cohorts[1], shuffled.Cohorts[0]
	shuffled.Cohorts[1].Members[0], shuffled.Cohorts[1].Members[2] = shuffled.Cohorts[1].Members[2], shuffled.Cohorts[1].Members[0]
	for _, format := range []string{config.YAML, config.JSON} {
		var a, b bytes.Buffer
		if err := config.Encode(&a, &st, format); err != nil {
			t.Fatal(err)
		}
		if err := config.Encode(&b, &shuffled, format); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a.String(), b.String()); diff != "" {
			t.Errorf("%s: order of the state changes the output (-a +b):\n%s", format, diff)
		}
	}
}

// boolFlag is a minimal valid flag, for states about something else.
func boolFlag(key string) flags.Flag {
	return flags.Flag{Key: key, Type: flags.Boolean, Variants: []flags.Variant{{Key: "on", Value: true}},
		DefaultVariant: "on", Enabled: true, Bucketing: bucket.V1}
}

// roundTripCases are valid states in the order Encode writes them (cohorts
// and flags by key, members by id), so that parsing the export must give
// them back exactly.
var roundTripCases = []struct {
	name  string
	state flags.State
}{
	{"empty", flags.State{}},
	{"example", func() flags.State {
		st := exampleState()
		st.Cohorts[0], st.Cohorts[1] = st.Cohorts[1], st.Cohorts[0]
		st.Flags[0], st.Flags[1] = st.Flags[1], st.Flags[0]
		return st
	}()},
	{"boolean", flags.State{Flags: []flags.Flag{{
		Key: "b", Description: "a: b # not a comment", Owner: "team-messaging", Tags: []string{"mobile", "on", "2026"},
		Type: flags.Boolean, Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
		DefaultVariant: "off", Enabled: false, BucketBy: "accountCenterId", Salt: "b-2026", Bucketing: bucket.V1,
		Rules: []flags.Rule{
			{Name: "thirds", Rollout: []flags.Split{{Variant: "on", Weight: 3333}, {Variant: "off", Weight: 6667}}},
			{Name: "everyone else", Regions: []string{"*", "group:EU", "country:NA"}, Serve: "on"},
		},
	}}}},
	{"string", flags.State{Flags: []flags.Flag{{
		Key: "s", Description: "line one\nline two\n", Type: flags.String,
		Variants: []flags.Variant{
			{Key: "off", Value: "off"}, {Key: "number", Value: "300"}, {Key: "float", Value: "1e3"},
			{Key: "hex", Value: "0x1F"}, {Key: "yes", Value: "yes"}, {Key: "null", Value: "null"},
			{Key: "tilde", Value: "~"}, {Key: "empty", Value: ""}, {Key: "date", Value: "2026-01-31"},
			{Key: "true", Value: "true"}, {Key: "spaces", Value: "  padded  "}, {Key: "hash", Value: "#x"},
			{Key: "colon", Value: "a: b"}, {Key: "dash", Value: "- x"}, {Key: "multiline", Value: "a\n  b\n\n"},
			{Key: "unicode", Value: "héllo 世界 \u2028 \t tab"}, {Key: "quote", Value: `"'`}, {Key: "sexagesimal", Value: "1:20"},
			{Key: "space-break", Value: "a \nb"}, {Key: "newline", Value: "\n"}, {Key: "crlf", Value: "x\r\ny"},
			{Key: "nel", Value: "a\u0085b"}, {Key: "bom", Value: "\ufeffx"}, {Key: "trailing-newlines", Value: "t\n\n\n"},
			{Key: "leading-tab", Value: "\tstart"}, {Key: "leading-newline", Value: "\nx"}, {Key: "indented", Value: "  a\nb"},
			{Key: "octal", Value: "0777"}, {Key: "underscore", Value: "1_000"}, {Key: "dot-inf", Value: ".inf"}, {Key: "star", Value: "*a"},
			{Key: "amp", Value: "&a"}, {Key: "bang", Value: "!x"}, {Key: "percent", Value: "%x"}, {Key: "at", Value: "@x"},
			{Key: "backtick", Value: "`x"}, {Key: "brace", Value: "{x}"}, {Key: "doc", Value: "---"}, {Key: "merge", Value: "<<"},
			{Key: "long", Value: strings.Repeat("word ", 100)},
		},
		DefaultVariant: "off", Enabled: true, Bucketing: bucket.V1,
	}}}},
	{"integer", flags.State{Flags: []flags.Flag{{
		Key: "i", Type: flags.Integer,
		Variants: []flags.Variant{
			{Key: "zero", Value: int64(0)}, {Key: "neg", Value: int64(-42)},
			{Key: "max", Value: int64(math.MaxInt64)}, {Key: "min", Value: int64(math.MinInt64)},
		},
		DefaultVariant: "zero", Enabled: true, Bucketing: bucket.V1,
	}}}},
	{"float", flags.State{Flags: []flags.Flag{{
		Key: "f", Type: flags.Float,
		Variants: []flags.Variant{
			{Key: "tenth", Value: 0.1}, {Key: "whole", Value: 3.0}, {Key: "negzero", Value: math.Copysign(0, -1)},
			{Key: "huge", Value: 1e300}, {Key: "tiny", Value: 5e-324}, {Key: "big", Value: 1e21},
		},
		DefaultVariant: "tenth", Enabled: true, Bucketing: bucket.V1,
	}}}},
	{"object", flags.State{Flags: []flags.Flag{{
		Key: "o", Type: flags.Object,
		Variants: []flags.Variant{
			{Key: "config", Value: map[string]any{
				"limits":  map[string]any{"max": 10.0, "ratio": 0.25, "neg": math.Copysign(0, -1)},
				"names":   []any{"on", "300", "", nil, true, []any{}},
				"on":      map[string]any{},
				"":        "empty key",
				"a: b":    "colon key",
				"unicode": "日本",
			}},
			{Key: "list", Value: []any{1.0, 2.5, map[string]any{"x": nil}}},
		},
		DefaultVariant: "config", Enabled: true, Bucketing: bucket.V1,
	}}}},
	{"cohorts", flags.State{
		Cohorts: []cohorts.Cohort{
			{Key: "conditions", Description: "by attribute", When: []cohorts.Condition{
				{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}},
				{Attribute: "age", Op: cohorts.OpGte, Values: []string{"18"}},
				{Attribute: "beta", Op: cohorts.OpEq, Values: []string{"true", "yes", "on", ""}},
				{Attribute: "email", Op: cohorts.OpMatches, Values: []string{`^.*@example\.com$`, "[a-z]: x"}},
				{Attribute: "plan", Op: cohorts.OpExists},
			}},
			{Key: "empty", Members: []cohorts.Member{}},
			{Key: "listed", Members: []cohorts.Member{
				{ID: "0042"}, {ID: "12345"}, {ID: "emp-1", Region: "FR"}, {ID: "null"}, {ID: "user with spaces", Region: "US"},
				{ID: "~"},
			}},
			{Key: "unmanaged", Description: "members imported from CSV", MemberCount: 3},
		},
		Flags: []flags.Flag{func() flags.Flag {
			f := boolFlag("uses-cohorts")
			f.Rules = []flags.Rule{{Cohorts: []string{"listed", "empty"}, When: []cohorts.Condition{
				{Attribute: "country", Op: cohorts.OpIn, Values: []string{"NO", "Y"}}}, Serve: "on"}}
			return f
		}()},
	}},
	{"bucketing and enabled", flags.State{Flags: []flags.Flag{
		func() flags.Flag { f := boolFlag("disabled"); f.Enabled = false; return f }(),
		boolFlag("enabled"),
	}}},
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range roundTripCases {
		for _, format := range []string{config.YAML, config.JSON} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				st := tt.state
				if err := st.Validate(); err != nil {
					t.Fatalf("test state is invalid: %v", err)
				}
				var buf bytes.Buffer
				if err := config.Encode(&buf, &st, format); err != nil {
					t.Fatal(err)
				}
				doc, err := config.Parse("export."+format, buf.Bytes())
				if err != nil {
					t.Fatalf("Parse: %v\n%s", err, buf.String())
				}
				got := doc.Resolve(&st)
				if err := doc.Validate(&got); err != nil {
					t.Fatalf("Validate: %v\n%s", err, buf.String())
				}
				if plan := flags.Diff(&st, &got, true); !plan.Empty() {
					t.Errorf("Diff after round trip = %+v\n%s", plan.Changes, buf.String())
				}
				// Stricter than Diff: the state comes back exactly, except
				// for what Encode does not export.
				want := st
				want.Cohorts = nil
				for _, c := range st.Cohorts {
					c.MemberCount = 0
					want.Cohorts = append(want.Cohorts, c)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("round trip mismatch (-want +got):\n%s\n%s", diff, buf.String())
				}
				// Even when nothing is resolved from the store, enabled
				// and bucketing come from the file.
				if diff := cmp.Diff(want, doc.Resolve(nil)); diff != "" {
					t.Errorf("round trip without a store mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestEncodeQuoting(t *testing.T) {
	st := flags.State{Flags: []flags.Flag{{
		Key: "q", Type: flags.String, DefaultVariant: "on", Enabled: true, Bucketing: bucket.V1,
		Variants: []flags.Variant{{Key: "on", Value: "300"}, {Key: "off", Value: "yes"}},
	}}}
	var buf bytes.Buffer
	if err := config.Encode(&buf, &st, config.YAML); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"on": "300"`, `"off": "yes"`, `defaultVariant: "on"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, buf.String())
		}
	}
}

func TestEncodeUnmanagedMembers(t *testing.T) {
	st := flags.State{Cohorts: []cohorts.Cohort{{Key: "big", MemberCount: 2000000}}}
	var buf bytes.Buffer
	if err := config.Encode(&buf, &st, config.YAML); err != nil {
		t.Fatal(err)
	}
	want := "cohorts:\n  - key: big # 2000000 members, managed outside this file\n"
	if got := buf.String(); got != want {
		t.Errorf("Encode = %q, want %q", got, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	float := func(v any) *flags.State {
		return &flags.State{Flags: []flags.Flag{{Key: "f", Type: flags.Float, Variants: []flags.Variant{{Key: "a", Value: v}}}}}
	}
	tests := []struct {
		name   string
		state  *flags.State
		format string
		want   string
	}{
		{"unknown format", &flags.State{}, "toml", `unknown configuration format "toml"`},
		{"NaN", float(math.NaN()), config.YAML, "not a JSON number"},
		{"infinity in JSON", float(math.Inf(1)), config.JSON, "not a JSON number"},
		{"unsupported value", float(struct{}{}), config.YAML, "cannot encode a variant value of type struct {}"},
		{"invalid UTF-8", &flags.State{Cohorts: []cohorts.Cohort{{Key: "c", Description: "\xff"}}}, config.YAML, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := config.Encode(&buf, tt.state, tt.format)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode: got %v, want an error containing %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %q despite the error", buf.String())
			}
		})
	}
}

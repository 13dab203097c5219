package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// readFile reads a file under testdata, failing the test if it cannot.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func mustParse(t testing.TB, name string, data []byte) *config.Document {
	t.Helper()
	doc, err := config.Parse(name, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return doc
}

// exampleState is testdata/example.yaml resolved against an empty store.
func exampleState() flags.State {
	return flags.State{
		Cohorts: []cohorts.Cohort{
			{
				Key:         "employees",
				Description: "Internal dogfooders",
				Members:     []cohorts.Member{{ID: "emp-1"}, {ID: "emp-2"}, {ID: "emp-3"}},
			},
			{
				Key:  "business-accounts",
				When: []cohorts.Condition{{Attribute: "accountType", Op: cohorts.OpEq, Values: []string{"business"}}},
			},
		},
		Flags: []flags.Flag{
			{
				Key:            "messenger-ig-interop",
				Description:    "Chats between Messenger and Instagram users",
				Type:           flags.Boolean,
				Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
				DefaultVariant: "off",
				Enabled:        true,
				BucketBy:       "accountCenterId",
				Bucketing:      bucket.Latest,
				Rules: []flags.Rule{
					{Cohorts: []string{"employees"}, Serve: "on"},
					{Regions: []string{"US"}, Rollout: []flags.Split{{Variant: "on", Weight: 1000}, {Variant: "off", Weight: 9000}}},
				},
			},
			{
				Key:            "ig-dm-via-whatsapp",
				Type:           flags.String,
				Variants:       []flags.Variant{{Key: "off", Value: "off"}, {Key: "handoff", Value: "handoff"}, {Key: "inline", Value: "inline"}},
				DefaultVariant: "off",
				Enabled:        true,
				Bucketing:      bucket.Latest,
				Rules: []flags.Rule{{
					Regions: []string{"US", "CA"},
					When:    []cohorts.Condition{{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}}},
					Rollout: []flags.Split{{Variant: "handoff", Weight: 2500}, {Variant: "inline", Weight: 2500}, {Variant: "off", Weight: 5000}},
				}},
			},
			{
				Key:            "wa-link-code-ttl-seconds",
				Type:           flags.Integer,
				Variants:       []flags.Variant{{Key: "short", Value: int64(300)}, {Key: "long", Value: int64(600)}},
				DefaultVariant: "long",
				Enabled:        true,
				Bucketing:      bucket.Latest,
			},
		},
	}
}

func TestParseExample(t *testing.T) {
	for _, name := range []string{"example.yaml", "example.json"} {
		t.Run(name, func(t *testing.T) {
			doc := mustParse(t, name, readFile(t, name))
			got := doc.Resolve(nil)
			if diff := cmp.Diff(exampleState(), got); diff != "" {
				t.Errorf("Resolve(nil) mismatch (-want +got):\n%s", diff)
			}
			if err := doc.Validate(&got); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if doc.File() != name {
				t.Errorf("File() = %q, want %q", doc.File(), name)
			}

			// State is the file as declared: what it leaves out is zero.
			want := exampleState()
			for i := range want.Flags {
				want.Flags[i].Enabled, want.Flags[i].Bucketing = false, 0
			}
			if diff := cmp.Diff(want, doc.State()); diff != "" {
				t.Errorf("State() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	doc, st, err := config.Load("example.yaml", readFile(t, "example.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(exampleState(), st); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
	if doc == nil {
		t.Error("Load returned no document")
	}
}

func TestRead(t *testing.T) {
	doc, err := config.Read("example.yaml", bytes.NewReader(readFile(t, "example.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	got := doc.Resolve(nil)
	if diff := cmp.Diff(exampleState(), got); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
}

func TestTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte("#"), config.MaxSize+1)
	if _, err := config.Parse("big.yaml", big); !errors.Is(err, config.ErrTooLarge) {
		t.Errorf("Parse: got %v, want ErrTooLarge", err)
	}
	_, err := config.Read("big.yaml", bytes.NewReader(big))
	if !errors.Is(err, config.ErrTooLarge) {
		t.Errorf("Read: got %v, want ErrTooLarge", err)
	}
	if err != nil && !strings.Contains(err.Error(), "big.yaml") {
		t.Errorf("Read: error %q does not name the file", err)
	}
}

func TestResolve(t *testing.T) {
	const file = `
flags:
  - {key: a, type: boolean, variants: {on: true}, defaultVariant: "on"}
  - {key: b, type: boolean, variants: {on: true}, defaultVariant: "on", enabled: true, bucketing: 1}
  - {key: c, type: boolean, variants: {on: true}, defaultVariant: "on", enabled: false}
`
	stored := func(enabled bool, v bucket.Version) *flags.State {
		st := &flags.State{}
		for _, k := range []string{"a", "b", "c"} {
			st.Flags = append(st.Flags, flags.Flag{Key: k, Enabled: enabled, Bucketing: v})
		}
		return st
	}
	type got struct {
		Enabled   bool
		Bucketing bucket.Version
	}
	tests := []struct {
		name    string
		current *flags.State
		want    []got // for a, b, c
	}{
		{"new flags", nil, []got{{true, bucket.Latest}, {true, 1}, {false, bucket.Latest}}},
		{"empty store", &flags.State{}, []got{{true, bucket.Latest}, {true, 1}, {false, bucket.Latest}}},
		{"killed flags stay killed", stored(false, 1), []got{{false, 1}, {true, 1}, {false, 1}}},
		{"enabled flags stay enabled", stored(true, 1), []got{{true, 1}, {true, 1}, {false, 1}}},
		// A flag created under an older algorithm keeps it.
		{"stored bucketing kept", stored(true, 7), []got{{true, 7}, {true, 1}, {false, 7}}},
	}
	doc := mustParse(t, "resolve.yaml", []byte(file))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := doc.Resolve(tt.current)
			var out []got
			for _, f := range st.Flags {
				out = append(out, got{f.Enabled, f.Bucketing})
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("Resolve mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// Resolve must not leak into the document.
	if st := doc.State(); st.Flags[0].Enabled || st.Flags[0].Bucketing != 0 {
		t.Errorf("State() after Resolve = %+v, want the flag as declared", st.Flags[0])
	}
}

func TestMembers(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []cohorts.Member
	}{
		{"omitted", `{key: c}`, nil},
		{"empty", `{key: c, members: []}`, []cohorts.Member{}},
		{"plain and with region", `{key: c, members: [u1, {id: u2, region: fr}, {id: u3}, 12345]}`,
			[]cohorts.Member{{ID: "u1"}, {ID: "u2", Region: "FR"}, {ID: "u3"}, {ID: "12345"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustParse(t, "m.yaml", []byte("cohorts: ["+tt.yaml+"]"))
			got := doc.State().Cohorts[0].Members
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("members mismatch (-want +got):\n%s", diff)
			}
			if (got == nil) != (tt.want == nil) {
				t.Errorf("members nil = %v, want %v", got == nil, tt.want == nil)
			}
		})
	}
}

func TestConditionValues(t *testing.T) {
	tests := []struct {
		values string
		want   []string
	}{
		{`[300, "300.0.0", true, 1.50, 0x1F, "a b"]`, []string{"300", "300.0.0", "true", "1.50", "0x1F", "a b"}},
		{`300`, []string{"300"}},
		{`"x"`, []string{"x"}},
		{`[]`, []string{}},
		{`~`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.values, func(t *testing.T) {
			doc := mustParse(t, "v.yaml", []byte("cohorts: [{key: c, when: [{attribute: a, op: eq, values: "+tt.values+"}]}]"))
			got := doc.State().Cohorts[0].When[0].Values
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("values mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVariantValues(t *testing.T) {
	tests := []struct {
		name string
		typ  flags.Type
		yaml string
		want []any
	}{
		{"boolean", flags.Boolean, `{a: true, b: false}`, []any{true, false}},
		{"string", flags.String, `{a: "300", b: off, c: "", d: 2026-01-31, e: "true"}`, []any{"300", "off", "", "2026-01-31", "true"}},
		{"integer", flags.Integer, `{a: 300, b: -1, c: 0x10, d: 1_000, e: 9223372036854775807}`,
			[]any{int64(300), int64(-1), int64(16), int64(1000), int64(9223372036854775807)}},
		{"float", flags.Float, `{a: 0.1, b: 3, c: -2.5e3}`, []any{0.1, 3.0, -2500.0}},
		{"object", flags.Object, `{a: {x: 1, y: [true, "s", null, 2.5]}, b: [1, 2]}`,
			[]any{map[string]any{"x": 1.0, "y": []any{true, "s", nil, 2.5}}, []any{1.0, 2.0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustParse(t, "v.yaml", []byte("flags: [{key: f, type: "+string(tt.typ)+", defaultVariant: a, variants: "+tt.yaml+"}]"))
			st := doc.Resolve(nil)
			if err := doc.Validate(&st); err != nil {
				t.Fatal(err)
			}
			var got []any
			for _, v := range st.Flags[0].Variants {
				got = append(got, v.Value)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("values mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPercentagesExact(t *testing.T) {
	doc := mustParse(t, "p.yaml", []byte(`
flags:
  - key: f
    type: string
    variants: {a: a, b: b, c: c}
    defaultVariant: a
    rules:
      - rollout: {a: 33.33, b: 33.33, c: 33.34}
      - rollout: {a: "0.01", b: 99.99%, c: 0}
`))
	st := doc.Resolve(nil)
	if err := doc.Validate(&st); err != nil {
		t.Fatal(err)
	}
	want := [][]flags.Percent{{3333, 3333, 3334}, {1, 9999, 0}}
	for i, r := range st.Flags[0].Rules {
		var got []flags.Percent
		for _, s := range r.Rollout {
			got = append(got, s.Weight)
		}
		if diff := cmp.Diff(want[i], got); diff != "" {
			t.Errorf("rules[%d] mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestLocate(t *testing.T) {
	doc := mustParse(t, "example.yaml", readFile(t, "example.yaml"))
	tests := []struct {
		path      string
		line, col int
		whatItIs  string
	}{
		{"", 1, 1, "the top-level mapping"},
		{"cohorts[0]", 2, 5, "a list item"},
		{"cohorts[0].members[2]", 4, 29, "a member"},
		{"cohorts[0].members[2].region", 4, 29, "a field the member does not have: the member"},
		{"flags[0].variants.on", 12, 20, "a scalar value"},
		{"flags[0].variants", 12, 5, "a mapping: its key"},
		{"flags[0].rules[1].rollout.off", 19, 36, "a percentage"},
		{"flags[1].rules[0].when[0]", 27, 13, "a condition"},
		{"flags[2].salt", 29, 5, "a field the flag does not have: the flag"},
		{"flags[9].key", 8, 1, "a flag the file does not have: the list"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			line, col := doc.Locate(tt.path)
			if line != tt.line || col != tt.col {
				t.Errorf("Locate(%q) = %d:%d, want %d:%d (%s)", tt.path, line, col, tt.line, tt.col, tt.whatItIs)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	doc := mustParse(t, "aliases.yaml", []byte(`
cohorts:
  - key: mobile
    when: &mobile
      - {attribute: platform, op: in, values: [ios, android]}
flags:
  - key: f
    type: boolean
    variants: &onoff {on: true, off: false}
    defaultVariant: "off"
    rules:
      - when: *mobile
        serve: "on"
  - key: g
    type: boolean
    variants: *onoff
    defaultVariant: "off"
`))
	st := doc.Resolve(nil)
	if err := doc.Validate(&st); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st.Cohorts[0].When, st.Flags[0].Rules[0].When); diff != "" {
		t.Errorf("aliased conditions differ (-cohort +rule):\n%s", diff)
	}
	if diff := cmp.Diff(st.Flags[0].Variants, st.Flags[1].Variants); diff != "" {
		t.Errorf("aliased variants differ (-f +g):\n%s", diff)
	}
}

// TestAliasBomb checks that aliases cannot expand a small file into a huge
// state (the "billion laughs" attack).
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("flags:\n  - key: f\n    type: object\n    defaultVariant: l0\n    variants:\n")
	b.WriteString("      l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "      l%d: &l%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	_, err := config.Parse("bomb.yaml", []byte(b.String()))
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "aliases expand the document too much") {
		t.Fatalf("Parse: got %v, want an error about aliases", err)
	}
	if len(ce.Problems) != 1 {
		t.Errorf("got %d problems, want 1:\n%v", len(ce.Problems), err)
	}
}

// TestParsePartialReportsEverything: a file with both structural and
// semantic mistakes gets all of them in one error, without echoes of the
// structural ones.
func TestParsePartialReportsEverything(t *testing.T) {
	const file = `cohorts:
  - key: employees
    members: [emp-1, emp-1]
flags:
  - key: a
    type: boolean
    variants: {"on": true, "off": "no"}
    defaultVariant: maybe
    colour: blue
    rules:
      - cohorts: [employes]
        serve: "on"
  - key: b
    type: integer
    variants: [300, 600]
    defaultVariant: long
`
	doc, err := config.ParsePartial("f.yaml", []byte(file))
	if doc == nil || err == nil {
		t.Fatalf("ParsePartial = %v, %v; want a document and the structural error", doc, err)
	}
	st := doc.Resolve(nil)
	err = doc.Validate(&st)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Validate = %v", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, fmt.Sprintf("%d %s", p.Line, p.Path))
	}
	for _, w := range []string{"3 cohorts[0].members[1]", "7 flags[0].variants.off", "8 flags[0].defaultVariant", "9 flags[0]", "11 flags[0].rules[0].cohorts[0]", "15 flags[1].variants"} {
		if !slices.Contains(got, w) {
			t.Errorf("missing problem %q in %v\n%v", w, got, err)
		}
	}
	for _, g := range got {
		if strings.HasPrefix(g, "16 ") || strings.Contains(g, "flags[1].defaultVariant") {
			t.Errorf("echo of the undecodable variants reported: %s\n%v", g, err)
		}
	}
	if _, err := config.ParsePartial("f.yaml", []byte("flags: [")); err == nil {
		t.Errorf("syntax error accepted")
	}
}

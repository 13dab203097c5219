package config_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/rollout"
)

// fuzzSeeds returns the inputs FuzzParse starts from: every file under
// testdata, the error table and the exports of the round-trip table. A seed
// that cannot be read, or a valid one that does not load, fails the test
// rather than silently seeding nothing.
func fuzzSeeds(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	var files []string
	for _, pattern := range []string{"*.yaml", "*.json"} {
		m, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	// example.yaml, example.json, example.golden.yaml, example.golden.json, invalid.yaml
	if len(files) < 5 {
		t.Fatalf("found %d seed files under testdata, want at least 5: %v", len(files), files)
	}
	for _, path := range files {
		data := readFile(t, filepath.Base(path))
		if !strings.HasPrefix(filepath.Base(path), "invalid") {
			if _, _, err := config.Load(path, data, nil); err != nil {
				t.Fatalf("seed %s does not load: %v", path, err)
			}
		}
		seeds = append(seeds, data)
	}
	for _, tt := range errorCases {
		seeds = append(seeds, []byte(tt.data))
	}
	for _, tt := range roundTripCases {
		for _, format := range []string{config.YAML, config.JSON} {
			var buf bytes.Buffer
			if err := config.Encode(&buf, &tt.state, format); err != nil {
				t.Fatalf("seed %s/%s: %v", tt.name, format, err)
			}
			seeds = append(seeds, buf.Bytes())
		}
	}
	seeds = append(seeds, []byte(experimentsFile))
	for _, tt := range experimentStructuralCases {
		seeds = append(seeds, []byte(tt.data))
	}
	for _, tt := range experimentValidationCases {
		seeds = append(seeds, []byte(experimentPreamble+tt.data))
	}
	for _, tt := range metricStructuralCases {
		seeds = append(seeds, []byte(tt.data))
	}
	for _, tt := range metricValidationCases {
		seeds = append(seeds, []byte(experimentPreamble+tt.data))
	}
	for _, format := range []string{config.YAML, config.JSON} {
		var buf bytes.Buffer
		if err := config.Export(&buf, runningExperiments(), format, nil); err != nil {
			t.Fatalf("seed of running experiments/%s: %v", format, err)
		}
		seeds = append(seeds, buf.Bytes())
	}
	return seeds
}

// checkExperimentsRoundTrip exports a valid document's layers, metrics and
// experiments and parses them back: the same declarations, the same
// stated lifecycle, in both formats.
func checkExperimentsRoundTrip(t *testing.T, doc *config.Document) {
	t.Helper()
	if len(doc.Layers()) == 0 && len(doc.Experiments()) == 0 && len(doc.Metrics()) == 0 {
		return
	}
	cfg := &ramp.Config{Layers: doc.Layers(), Experiments: doc.Experiments(), Metrics: doc.Metrics()}
	for _, format := range []string{config.YAML, config.JSON} {
		var buf bytes.Buffer
		if err := config.Export(&buf, cfg, format, nil); err != nil {
			if format == config.JSON && strings.Contains(err.Error(), "too long to read back as JSON") {
				continue
			}
			t.Fatalf("Export(%s) of valid experiments: %v", format, err)
		}
		back, err := config.Parse("export."+format, buf.Bytes())
		if err != nil {
			t.Fatalf("Parse of the %s export of experiments: %v\n%s", format, err, clip(buf.Bytes()))
		}
		if diff := cmp.Diff(doc.Layers(), back.Layers(), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("layers differ after a %s round trip (-file +export):\n%s\n%s", format, diff, clip(buf.Bytes()))
		}
		if diff := cmp.Diff(doc.Experiments(), back.Experiments(), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("experiments differ after a %s round trip (-file +export):\n%s\n%s", format, diff, clip(buf.Bytes()))
		}
		if diff := cmp.Diff(doc.Metrics(), back.Metrics(), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("metrics differ after a %s round trip (-file +export):\n%s\n%s", format, diff, clip(buf.Bytes()))
		}
		for _, e := range doc.Experiments() {
			if back.NextPhase(e.Key) {
				t.Fatalf("the %s export of %s says phase: next", format, e.Key)
			}
		}
	}
}

// FuzzParse checks that Parse never panics, that every problem it or
// Validate reports is an *Error located in the file, and that a valid file
// survives export: Encode then Parse gives back the same state, in both
// formats, and encoding that state again gives the same bytes; Export then
// Parse gives back the same layers and experiments.
func FuzzParse(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			checkError(t, err, false)
			return
		}
		st := doc.Resolve(nil)
		if err := doc.Validate(&st); err != nil {
			checkError(t, err, true)
			return
		}
		checkExperimentsRoundTrip(t, doc)
		var first []byte
		for _, format := range []string{config.YAML, config.JSON} {
			var buf bytes.Buffer
			if err := config.Encode(&buf, &st, format, doc.Rollouts()...); err != nil {
				if format == config.JSON && strings.Contains(err.Error(), "too long to read back as JSON") {
					continue // an object key of over 1000 characters, written with "? " in YAML
				}
				t.Fatalf("Encode(%s) of a valid state: %v", format, err)
			}
			doc2, err := config.Parse("export."+format, buf.Bytes())
			if err != nil {
				t.Fatalf("Parse of the %s export: %v\n%s", format, err, clip(buf.Bytes()))
			}
			got := doc2.Resolve(&st)
			if err := doc2.Validate(&got); err != nil {
				t.Fatalf("Validate of the %s export: %v\n%s", format, err, clip(buf.Bytes()))
			}
			if plan := flags.Diff(&st, &got, true); !plan.Empty() {
				t.Fatalf("Diff after a %s round trip = %+v\n%s", format, plan.Changes, clip(buf.Bytes()))
			}
			var stored []rollout.Rollout
			for _, p := range doc.Rollouts() {
				stored = append(stored, rollout.Rollout{Plan: p})
			}
			if changes, _ := rollout.Diff(stored, doc2.Rollouts(), true); len(changes) > 0 {
				t.Fatalf("rollout plans differ after a %s round trip: %+v\n%s", format, changes, clip(buf.Bytes()))
			}
			var again bytes.Buffer
			if err := config.Encode(&again, &got, config.YAML, doc2.Rollouts()...); err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = again.Bytes()
			} else if !bytes.Equal(first, again.Bytes()) {
				t.Fatalf("the state read back from JSON encodes differently from the one read back from YAML:\n%s\n---\n%s", clip(first), clip(again.Bytes()))
			}
		}
	})
}

// checkError checks that err is an *Error with problems; validation
// problems must all be located.
func checkError(t *testing.T, err error, located bool) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	if len(ce.Problems) == 0 {
		t.Fatalf("*config.Error without problems")
	}
	for _, p := range ce.Problems {
		if p.Message == "" || located && p.Line <= 0 {
			t.Fatalf("problem %+v is not located or says nothing", p)
		}
	}
	_ = ce.Error()
}

// FuzzEncodeString checks that Encode quotes and escapes any string so that
// it reads back as the same string, wherever strings go: descriptions,
// string variants, object keys and values, condition values, tags, member
// ids.
func FuzzEncodeString(f *testing.F) {
	for _, tt := range roundTripCases {
		if tt.name != "string" {
			continue
		}
		for _, v := range tt.state.Flags[0].Variants {
			f.Add(v.Value.(string))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // Encode refuses it, and YAML input cannot produce it
		}
		f := flags.Flag{
			Key: "f", Description: s, Owner: s, Tags: []string{s}, Type: flags.String,
			Variants:       []flags.Variant{{Key: "a", Value: s}},
			DefaultVariant: "a", Enabled: true, Bucketing: bucket.V1, BucketBy: s,
			Rules: []flags.Rule{{Name: s, When: []cohorts.Condition{{Attribute: s, Op: cohorts.OpEq, Values: []string{s}}}, Serve: "a"}},
		}
		o := flags.Flag{
			Key: "o", Type: flags.Object, DefaultVariant: "a", Enabled: true, Bucketing: bucket.V1,
			Variants: []flags.Variant{{Key: "a", Value: map[string]any{s: s, "list": []any{s}}}},
		}
		c := cohorts.Cohort{Key: "c", Description: s, Members: []cohorts.Member{{ID: s}, {ID: s + "-r", Region: "FR"}}}
		want := flags.State{Cohorts: []cohorts.Cohort{c}, Flags: []flags.Flag{f, o}}
		for _, format := range []string{config.YAML, config.JSON} {
			var buf bytes.Buffer
			if err := config.Encode(&buf, &want, format); err != nil {
				if format == config.JSON && len(s) > 100 && strings.Contains(err.Error(), "too long to read back as JSON") {
					continue
				}
				t.Fatalf("Encode(%s): %v", format, err)
			}
			doc, err := config.Parse("export."+format, buf.Bytes())
			if err != nil {
				t.Fatalf("Parse of the %s export: %v\n%s", format, err, clip(buf.Bytes()))
			}
			got := doc.Resolve(nil)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%s round trip of %q mismatch (-want +got):\n%s\n%s", format, s, diff, clip(buf.Bytes()))
			}
		}
	})
}

// clip shortens output for failure messages.
func clip(b []byte) []byte {
	if len(b) > 4000 {
		return append(b[:4000:4000], "…"...)
	}
	return b
}

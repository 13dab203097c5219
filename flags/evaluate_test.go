package flags_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
)

func TestEvaluate(t *testing.T) {
	snap := mustCompile(t, scenario())
	tests := []struct {
		name        string
		flag        string
		ctx         map[string]any
		wantValue   any
		wantVariant string
		wantReason  flags.Reason
		wantCode    flags.ErrorCode
		wantRule    int
	}{
		{"employee gets dogfood", "messenger-ig-interop", map[string]any{"targetingKey": "emp-2", "region": "BR"}, true, "on", flags.ReasonTargetingMatch, "", 0},
		{"non-employee outside US gets default", "messenger-ig-interop", map[string]any{"targetingKey": "u1", "region": "BR"}, false, "off", flags.ReasonDefault, "", -1},
		{"US user is split", "messenger-ig-interop", map[string]any{"targetingKey": "u1", "region": "US"}, nil, "", flags.ReasonSplit, "", 1},
		{"lower-case region matches", "messenger-ig-interop", map[string]any{"targetingKey": "u1", "region": "us"}, nil, "", flags.ReasonSplit, "", 1},
		{"US split without any key", "messenger-ig-interop", map[string]any{"region": "US"}, nil, "", flags.ReasonError, flags.ErrTargetingKeyMissing, 1},
		{"US split by accountCenterId alone", "messenger-ig-interop", map[string]any{"region": "US", "accountCenterId": "ac-9"}, nil, "", flags.ReasonSplit, "", 1},
		{"bucketBy of a bad kind", "messenger-ig-interop", map[string]any{"region": "US", "accountCenterId": map[string]any{}}, nil, "", flags.ReasonError, flags.ErrInvalidContext, 1},
		{"bucketBy numeric id", "messenger-ig-interop", map[string]any{"region": "US", "accountCenterId": 12345.0}, nil, "", flags.ReasonSplit, "", 1},
		{"bucketBy fractional number", "messenger-ig-interop", map[string]any{"region": "US", "accountCenterId": 1.5}, nil, "", flags.ReasonError, flags.ErrInvalidContext, 1},
		{"old app version", "ig-dm-via-whatsapp", map[string]any{"targetingKey": "u1", "region": "US", "appVersion": "299.9.9"}, "off", "off", flags.ReasonDefault, "", -1},
		{"new app version in CA", "ig-dm-via-whatsapp", map[string]any{"targetingKey": "u1", "region": "CA", "appVersion": "300.0.0"}, nil, "", flags.ReasonSplit, "", 0},
		{"malformed app version", "ig-dm-via-whatsapp", map[string]any{"targetingKey": "u1", "region": "US", "appVersion": "three hundred"}, "off", "off", flags.ReasonDefault, "", -1},
		{"missing app version", "ig-dm-via-whatsapp", map[string]any{"targetingKey": "u1", "region": "US"}, "off", "off", flags.ReasonDefault, "", -1},
		{"region of wrong type", "ig-dm-via-whatsapp", map[string]any{"targetingKey": "u1", "region": 42, "appVersion": "301.0.0"}, "off", "off", flags.ReasonDefault, "", -1},
		{"static flag", "wa-link-code-ttl-seconds", nil, int64(600), "long", flags.ReasonStatic, "", -1},
		{"rule cohort matches", "ig-business-inbox-tools", map[string]any{"accountType": "business"}, true, "on", flags.ReasonTargetingMatch, "", 0},
		{"rule cohort misses", "ig-business-inbox-tools", map[string]any{"accountType": "personal"}, false, "off", flags.ReasonDefault, "", -1},
		{"float flag", "ranking-weight", map[string]any{"platform": "ios"}, 0.75, "boost", flags.ReasonTargetingMatch, "", 0},
		{"unknown flag", "nope", nil, nil, "", flags.ReasonError, flags.ErrFlagNotFound, -1},
		{"nil context", "messenger-ig-interop", nil, false, "off", flags.ReasonDefault, "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := snap.Evaluate(tt.flag, tt.ctx)
			if d.Reason != tt.wantReason || d.ErrorCode != tt.wantCode || d.Rule != tt.wantRule {
				t.Fatalf("Evaluate = reason %s code %q rule %d (%s), want %s %q %d", d.Reason, d.ErrorCode, d.Rule, d.ErrorDetails, tt.wantReason, tt.wantCode, tt.wantRule)
			}
			if tt.wantVariant != "" && (d.Variant != tt.wantVariant || !cmp.Equal(d.Value, tt.wantValue)) {
				t.Errorf("Evaluate = %s/%v, want %s/%v", d.Variant, d.Value, tt.wantVariant, tt.wantValue)
			}
			if d.Reason == flags.ReasonSplit && d.Variant == "" {
				t.Errorf("split decision without variant")
			}
			if d.IsError() && (d.Value != nil || d.ErrorDetails == "") {
				t.Errorf("error decision has value %v, details %q", d.Value, d.ErrorDetails)
			}
		})
	}
}

func TestKillSwitch(t *testing.T) {
	st := scenario()
	st.Flags[0].Enabled = false
	snap := mustCompile(t, st)
	d := snap.Evaluate("messenger-ig-interop", map[string]any{"targetingKey": "emp-1"})
	if d.Reason != flags.ReasonDisabled || d.Variant != "off" || d.Value != false {
		t.Errorf("disabled flag: got %s %s %v, want DISABLED off false", d.Reason, d.Variant, d.Value)
	}
}

func TestTypedLookups(t *testing.T) {
	snap := mustCompile(t, scenario())
	emp := map[string]any{"targetingKey": "emp-1"}

	if v, d := snap.Bool("messenger-ig-interop", false, emp); !v || d.IsError() {
		t.Errorf("Bool = %v %v", v, d)
	}
	if v, d := snap.String("messenger-ig-interop", "dflt", emp); v != "dflt" || d.ErrorCode != flags.ErrTypeMismatch || d.Reason != flags.ReasonError {
		t.Errorf("String on boolean flag = %q %s, want default and TYPE_MISMATCH", v, d.ErrorCode)
	}
	if v, d := snap.Int("wa-link-code-ttl-seconds", 1, nil); v != 600 || d.IsError() {
		t.Errorf("Int = %d %v", v, d.ErrorCode)
	}
	if v, d := snap.Float("wa-link-code-ttl-seconds", 1.5, nil); v != 1.5 || d.ErrorCode != flags.ErrTypeMismatch {
		t.Errorf("Float on integer flag = %v %s", v, d.ErrorCode)
	}
	if v, d := snap.Bool("missing", true, nil); !v || d.ErrorCode != flags.ErrFlagNotFound {
		t.Errorf("Bool(missing) = %v %s", v, d.ErrorCode)
	}
	if v, d := snap.Bool("messenger-ig-interop", true, map[string]any{"region": "US"}); !v || d.ErrorCode != flags.ErrTargetingKeyMissing {
		t.Errorf("Bool without key = %v %s, want caller default and TARGETING_KEY_MISSING", v, d.ErrorCode)
	}
	obj, d := snap.Object("inbox-layout", nil, nil)
	if d.IsError() {
		t.Fatalf("Object: %v", d.ErrorDetails)
	}
	obj.(map[string]any)["columns"] = 99.0 // the caller owns its copy
	again, _ := snap.Object("inbox-layout", nil, nil)
	if again.(map[string]any)["columns"] != 1.0 {
		t.Errorf("Object value shared with snapshot: mutation leaked")
	}
	var nilSnap *flags.Snapshot
	if v, d := nilSnap.Bool("x", true, nil); !v || d.ErrorCode != flags.ErrGeneral {
		t.Errorf("nil snapshot = %v %s", v, d.ErrorCode)
	}
}

func TestMetadataIsFlat(t *testing.T) {
	snap := mustCompile(t, scenario())
	d := snap.Evaluate("messenger-ig-interop", map[string]any{"targetingKey": "emp-1"})
	md := d.Metadata()
	if md["rule"] != "dogfood" || md["ruleIndex"] != 0 {
		t.Errorf("metadata = %v", md)
	}
	for k, v := range md {
		switch v.(type) {
		case string, int, int64, float64, bool:
		default:
			t.Errorf("metadata %s has type %T; OFREP allows strings, numbers and booleans", k, v)
		}
	}
}

func TestExplain(t *testing.T) {
	snap := mustCompile(t, scenario())
	ex := snap.Explain("messenger-ig-interop", map[string]any{"targetingKey": "u1", "region": "US", "accountCenterId": "ac-7"})
	if ex.Decision.Reason != flags.ReasonSplit {
		t.Fatalf("reason %s", ex.Decision.Reason)
	}
	if len(ex.Steps) != 2 || ex.Steps[0].Matched || !ex.Steps[1].Matched {
		t.Fatalf("steps = %+v", ex.Steps)
	}
	if ex.Bucketing == nil || ex.Bucketing.Attribute != "accountCenterId" || ex.Bucketing.Key != "ac-7" ||
		ex.Bucketing.Bucket != bucket.Bucket(bucket.V1, "messenger-ig-interop", "ac-7") {
		t.Fatalf("bucketing = %+v", ex.Bucketing)
	}
	plain := snap.Evaluate("messenger-ig-interop", map[string]any{"targetingKey": "u1", "region": "US", "accountCenterId": "ac-7"})
	if plain.Variant != ex.Decision.Variant {
		t.Errorf("Explain chose %s, Evaluate %s", ex.Decision.Variant, plain.Variant)
	}
	ex = snap.Explain("ig-dm-via-whatsapp", map[string]any{"targetingKey": "u1", "region": "US", "appVersion": "1.0.0"})
	if len(ex.Steps) != 1 || !strings.Contains(ex.Steps[0].Detail, "semver_gte") {
		t.Errorf("steps = %+v", ex.Steps)
	}
}

func TestZeroWeightVariantNeverServed(t *testing.T) {
	f := split("exp", flags.Split{Variant: "a", Weight: 0}, flags.Split{Variant: "b", Weight: flags.Hundred}, flags.Split{Variant: "c", Weight: 0})
	snap := mustCompile(t, flags.State{Flags: []flags.Flag{f}})
	for _, u := range users(10000) {
		if d := snap.Evaluate("exp", u); d.Variant != "b" {
			t.Fatalf("user %v got %s", u, d.Variant)
		}
	}
}

func TestPercentages(t *testing.T) {
	tests := []struct {
		in   string
		want flags.Percent
		err  bool
	}{
		{"10", 1000, false}, {"0.01", 1, false}, {"33.33", 3333, false}, {"100", 10000, false}, {"0", 0, false},
		{"5.5", 550, false}, {".5", 50, false}, {"12%", 1200, false}, {" 7 ", 700, false},
		{"100.01", 0, true}, {"0.001", 0, true}, {"-1", 0, true}, {"1e2", 0, true}, {"", 0, true}, {"abc", 0, true}, {"5.", 0, true}, {"1000", 0, true},
	}
	for _, tt := range tests {
		got, err := flags.ParsePercent(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil {
			back, err := flags.ParsePercent(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q via %q = %d, %v", tt.in, got.String(), back, err)
			}
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	st := scenario()
	st.Cohorts = append(st.Cohorts, cohorts.Cohort{Key: "employees"})
	f := &st.Flags[0]
	f.DefaultVariant = "maybe"
	f.Rules = append(f.Rules,
		flags.Rule{Regions: []string{"ZZ"}, Serve: "on"},
		flags.Rule{Cohorts: []string{"ghosts"}, Serve: "nope"},
		flags.Rule{Rollout: []flags.Split{{Variant: "on", Weight: 5000}, {Variant: "off", Weight: 4000}}},
		flags.Rule{When: []cohorts.Condition{{Attribute: "appVersion", Op: "semver_gte", Values: []string{"x"}}}, Serve: "on"},
		flags.Rule{},
	)
	st.Flags[2].Variants[0].Value = "three hundred"
	st.Flags = append(st.Flags, st.Flags[2])
	err := st.Validate()
	var ve *flags.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want *ValidationError", err)
	}
	want := []string{
		"cohorts[2].key: duplicate cohort key",
		"flags[0].defaultVariant: unknown variant \"maybe\"",
		"flags[0].rules[2].regions[0]: unknown region \"ZZ\"",
		"flags[0].rules[3].cohorts[0]: unknown cohort \"ghosts\"",
		"flags[0].rules[3].serve: unknown variant \"nope\"",
		"flags[0].rules[4].rollout: percentages sum to 90, not 100",
		"flags[0].rules[5].when[0]: operator semver_gte needs a semantic version",
		"flags[0].rules[6]: a rule needs serve",
		"flags[2].variants.short: value \"three hundred\" (a string) is not of type integer",
		"flags[6].key: duplicate flag key",
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing problem %q in:\n%s", w, got)
		}
	}
	if len(ve.Problems) != len(want)+1 { // the duplicated flag repeats its bad variant
		t.Errorf("got %d problems, want %d:\n%s", len(ve.Problems), len(want)+1, got)
	}
	if _, err := flags.Compile(st, 1); err == nil {
		t.Errorf("Compile accepted an invalid state")
	}
}

func TestDecisionJSONShape(t *testing.T) {
	// Metadata must marshal to a flat JSON object for OFREP.
	snap := mustCompile(t, scenario())
	d := snap.Evaluate("ig-business-inbox-tools", map[string]any{"accountType": "business"})
	b, err := json.Marshal(d.Metadata())
	if err != nil || !strings.Contains(string(b), `"rule":"business"`) {
		t.Errorf("metadata JSON = %s, %v", b, err)
	}
}

// TestEvaluateAtMatchesEvaluate: deciding the i-th flag by position gives
// exactly what deciding it by key gives.
func TestEvaluateAtMatchesEvaluate(t *testing.T) {
	snap := mustCompile(t, scenario())
	contexts := []map[string]any{
		{},
		{"targetingKey": "emp-1"},
		{"targetingKey": "u1", "region": "US", "accountCenterId": "ac-42", "appVersion": "301.0.0"},
		{"targetingKey": "u2", "region": "BR", "app": "instagram", "platform": "ios", "accountType": "business"},
	}
	for _, ctx := range contexts {
		for i, key := range snap.Keys() {
			if got, want := snap.EvaluateAt(i, ctx), snap.Evaluate(key, ctx); !reflect.DeepEqual(got, want) {
				t.Errorf("%s for %v: EvaluateAt %+v, Evaluate %+v", key, ctx, got, want)
			}
		}
	}
}

package flags_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ramp-flags/ramp/flags"
)

// FuzzEvaluate feeds arbitrary JSON evaluation contexts (as OFREP bodies
// carry them) to every scenario flag, and to an experiment's flag (a rule
// with a sample and an allocation), through every typed look-up: the engine
// must never panic, must answer every look-up with a reason, must return
// the caller's default whenever it reports an error, and must name the arm
// it served in an experiment decision's metadata.
func FuzzEvaluate(f *testing.F) {
	seeds := []string{
		`{"targetingKey":"u1","region":"US","appVersion":"301.0.0"}`,
		`{"targetingKey":"emp-1"}`,
		`{"region":"us","accountCenterId":12345}`,
		`{"region":"US","accountCenterId":1.5}`,
		`{"targetingKey":7,"region":["US"],"appVersion":{"major":300}}`,
		`{"targetingKey":null,"region":null,"appVersion":"300.0.0-rc.1+build.5"}`,
		`{"targetingKey":"","accountCenterId":"","accountType":"business","platform":"ios"}`,
		`{}`,
		`[]`,
		`null`,
		`{"targetingKey":"\u0000\uffff","region":"\u00dcS","appVersion":"v99999999999999999999.0.0"}`,
		`{"region":"CA","appVersion":"301.0.0","accountCenterId":"ac-3"}`,
		`{"region":"US","appVersion":"301.0.0","accountCenterId":33}`,
		`{"region":"US","appVersion":"301.0.0","accountCenterId":-9007199254740993}`,
		`{"region":"CA","appVersion":"301.0.0","accountCenterId":"","targetingKey":""}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	st := scenario()
	exp := experimentFlag(expBuckets, expTable)
	exp.Key = "dm-experiment"
	st.Flags = append(st.Flags, exp)
	snap, err := flags.Compile(st, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ctx map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		if dec.Decode(&ctx) != nil {
			ctx = nil // a malformed body still gets decisions (with a nil context)
		}
		for _, key := range append(snap.Keys(), "no-such-flag") {
			d := snap.Evaluate(key, ctx)
			if d.Reason == "" || d.Key != key {
				t.Fatalf("%s: empty decision %+v", key, d)
			}
			if d.IsError() != (d.Reason == flags.ReasonError) {
				t.Fatalf("%s: reason %s with code %q", key, d.Reason, d.ErrorCode)
			}
			if b, d := snap.Bool(key, true, ctx); d.IsError() && !b {
				t.Fatalf("%s: Bool error %s without the caller's default", key, d.ErrorCode)
			}
			if s, d := snap.String(key, "dflt", ctx); d.IsError() && s != "dflt" {
				t.Fatalf("%s: String error without the caller's default", key)
			}
			if n, d := snap.Int(key, -7, ctx); d.IsError() && n != -7 {
				t.Fatalf("%s: Int error without the caller's default", key)
			}
			if x, d := snap.Float(key, -7.5, ctx); d.IsError() && x != -7.5 {
				t.Fatalf("%s: Float error without the caller's default", key)
			}
			if o := d.Origin; o != nil && o.Kind == flags.OriginExperiment && !d.IsError() && d.Metadata()["arm"] != d.Variant {
				t.Fatalf("%s: experiment decision serves %s, metadata %v", key, d.Variant, d.Metadata())
			}
			_, _ = snap.Object(key, nil, ctx)
			ex := snap.Explain(key, ctx)
			if ex.Decision.Variant != d.Variant || ex.Decision.Reason != d.Reason {
				t.Fatalf("%s: Explain %s/%s disagrees with Evaluate %s/%s", key, ex.Decision.Variant, ex.Decision.Reason, d.Variant, d.Reason)
			}
		}
	})
}

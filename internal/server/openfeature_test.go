package server_test

import (
	"context"
	"encoding/json"
	"testing"

	ofrepprovider "github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/synth"
)

// answer is what an OpenFeature client saw, or what it should have seen.
type answer struct {
	Value     any
	Variant   string
	Reason    string
	ErrorCode string
}

// TestOpenFeatureGoSDK evaluates the demo flags for many synthetic users
// through the stock OpenFeature Go SDK and its OFREP provider, against a
// real server, and checks every answer against the engine.
func TestOpenFeatureGoSDK(t *testing.T) {
	s, _ := openStore(t)
	snap := engine(t, s)
	srv := start(t, server.Config{Source: s, RateLimit: -1})

	const domain = "ramp-ofrep-e2e"
	if err := openfeature.SetNamedProviderAndWait(domain, ofrepprovider.NewProvider(srv.URL, ofrepprovider.WithBearerToken(sdkKey))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(openfeature.Shutdown)
	of := openfeature.NewClient(domain)
	ctx := context.Background()

	// Defaults that no variant of the scenario has, so that a default
	// served in place of a value shows.
	defaults := map[flags.Type]any{flags.Boolean: true, flags.String: "code-default", flags.Integer: int64(-1), flags.Float: -1.5}
	lookup := func(key string, evalCtx openfeature.EvaluationContext) answer {
		typ, ok := snap.Type(key)
		if !ok {
			typ = flags.Boolean
		}
		var (
			v   any
			det openfeature.EvaluationDetails
		)
		switch typ {
		case flags.Boolean:
			d, _ := of.BooleanValueDetails(ctx, key, defaults[typ].(bool), evalCtx)
			v, det = d.Value, d.EvaluationDetails
		case flags.String:
			d, _ := of.StringValueDetails(ctx, key, defaults[typ].(string), evalCtx)
			v, det = d.Value, d.EvaluationDetails
		case flags.Integer:
			d, _ := of.IntValueDetails(ctx, key, defaults[typ].(int64), evalCtx)
			v, det = d.Value, d.EvaluationDetails
		case flags.Float:
			d, _ := of.FloatValueDetails(ctx, key, defaults[typ].(float64), evalCtx)
			v, det = d.Value, d.EvaluationDetails
		default:
			d, _ := of.ObjectValueDetails(ctx, key, nil, evalCtx)
			v, det = d.Value, d.EvaluationDetails
		}
		return answer{Value: v, Variant: det.Variant, Reason: string(det.Reason), ErrorCode: string(det.ErrorCode)}
	}
	// want is what the engine decides for the context as the server
	// receives it (through JSON), and what the SDK makes of it.
	want := func(key string, attrs map[string]any) answer {
		b, _ := json.Marshal(attrs)
		var sent map[string]any
		_ = json.Unmarshal(b, &sent)
		d := snap.Evaluate(key, sent)
		typ, _ := snap.Type(key)
		if d.IsError() {
			def := defaults[typ]
			if _, ok := snap.Type(key); !ok {
				def = true
			}
			return answer{Value: def, Reason: string(flags.ReasonError), ErrorCode: string(d.ErrorCode)}
		}
		return answer{Value: d.Value, Variant: d.Variant, Reason: string(d.Reason)}
	}

	users := synth.Users(150, 7)
	users = append(users,
		map[string]any{"region": "BR", "accountType": "business", "app": "instagram", "platform": "ios"}, // split without a key
		map[string]any{"targetingKey": "wa-beta-1", "region": "BR"},
	)
	reasons := map[string]int{}
	n := 0
	for _, u := range users {
		tk, _ := u[flags.TargetingKey].(string)
		attrs := map[string]any{}
		for k, v := range u {
			if k != flags.TargetingKey {
				attrs[k] = v
			}
		}
		evalCtx := openfeature.NewEvaluationContext(tk, attrs)
		for _, key := range append(append([]string(nil), snap.Keys()...), "no-such-flag") {
			got, w := lookup(key, evalCtx), want(key, u)
			if got != w {
				t.Errorf("%s for %v:\n got  %+v\n want %+v", key, u, got, w)
			}
			reasons[w.Reason+w.ErrorCode]++
			n++
		}
	}
	t.Logf("%d evaluations agree; reasons %v", n, reasons)
	for _, r := range []string{"TARGETING_MATCH", "SPLIT", "DEFAULT", "ERRORFLAG_NOT_FOUND", "ERRORTARGETING_KEY_MISSING"} {
		if reasons[r] == 0 {
			t.Errorf("no case with reason %s", r)
		}
	}
}

// TestOpenFeatureGoSDKDisabled documents what the stock Go OFREP provider
// makes of a disabled flag: ramp answers the configured default variant
// with reason DISABLED, and the provider returns the caller's default.
func TestOpenFeatureGoSDKDisabled(t *testing.T) {
	s, _ := openStore(t)
	if _, err := s.SetEnabled(context.Background(), "wa-link-code-ttl-seconds", false, "tester"); err != nil {
		t.Fatal(err)
	}
	srv := start(t, server.Config{Source: s})
	const domain = "ramp-ofrep-disabled"
	if err := openfeature.SetNamedProviderAndWait(domain, ofrepprovider.NewProvider(srv.URL, ofrepprovider.WithApiKeyAuth(sdkKey))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(openfeature.Shutdown)
	d, _ := openfeature.NewClient(domain).IntValueDetails(context.Background(), "wa-link-code-ttl-seconds", 42,
		openfeature.NewEvaluationContext("u-1", map[string]any{"region": "BR"}))
	if d.Value != 42 || d.Reason != openfeature.DisabledReason || d.Variant != "long" || d.ErrorCode != "" {
		t.Errorf("disabled flag through the Go OFREP provider: %+v", d)
	}
	_, body := do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags/wa-link-code-ttl-seconds", sdkKey, `{"context":{"targetingKey":"u-1"}}`)
	var got map[string]any
	_ = json.Unmarshal(body, &got)
	if got["value"] != 600.0 || got["variant"] != "long" || got["reason"] != "DISABLED" {
		t.Errorf("disabled flag over OFREP: %s", body)
	}
}

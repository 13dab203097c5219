package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
)

// bodies are the request bodies the API decodes (decodeJSON), each with
// a valid sample.
var bodies = []struct {
	name   string
	new    func() any
	sample string
}{
	{"advance", func() any { return new(AdvanceBody) }, `{"to":"us-10","dryRun":true,"force":false,"confirmed":true}`},
	{"approve", func() any { return new(ApproveBody) }, `{"stage":"us-1","force":true}`},
	{"pause", func() any { return new(PauseBody) }, `{"reason":"crash rate up"}`},
	{"rollback", func() any { return new(RollbackBody) }, `{"to":"none","reason":"r","dryRun":false,"confirmed":true}`},
	{"estimate", func() any { return new(EstimateBody) }, `{"from":"dogfood","to":"us-1"}`},
	{"add stage", func() any { return new(AddStageBody) },
		`{"variant":"on","stage":{"name":"fr-5","regions":["FR"],"percent":5,"after":"48h","approval":true},"before":"us-1"}`},
	{"edit stage", func() any { return new(EditStageBody) }, `{"set":{"name":"x","percent":2.5,"cohorts":["employees"]},"fields":["percent","cohorts"]}`},
	{"context", func() any { return new(ContextBody) }, `{"context":{"targetingKey":"u1","region":"US","appVersion":"301.2.0","n":3}}`},
	{"members", func() any { return new(MembersBody) }, `{"members":[{"id":"u1","region":"US"},{"id":"u2"}],"create":true}`},
	{"remove members", func() any { return new(RemoveMembersBody) }, `{"ids":["u1","u2"]}`},
	{"stop", func() any { return new(StopBody) }, `{"ship":"short","rollout":false,"confirmed":true}`},
	{"traffic", func() any { return new(TrafficBody) }, `{"traffic":30}`},
	{"weights", func() any { return new(WeightsBody) },
		`{"arms":[{"variant":"off","weight":50},{"variant":"on","weight":50}],"newPhase":true,"traffic":20,"dryRun":true}`},
	{"compact", func() any { return new(CompactBody) }, `{"retention":"720h"}`},
	{"create key", func() any { return new(admin.CreateKeyRequest) }, `{"name":"ops","role":"admin"}`},
	{"empty", func() any { return new(struct{}) }, `{}`},
}

// FuzzRequestBodies feeds every body decoder arbitrary bytes: none may
// panic, every refusal is a 4xx problem of kind invalid, and a body that
// decodes survives encoding and decoding again unchanged.
func FuzzRequestBodies(f *testing.F) {
	for i, b := range bodies {
		if err := decodeJSON(strings.NewReader(b.sample), b.new()); err != nil {
			f.Fatalf("seed %s does not decode: %v", b.name, err)
		}
		f.Add(uint8(i), []byte(b.sample))
	}
	f.Add(uint8(0), []byte(`{"to":1}`))
	f.Add(uint8(5), []byte(`{"stage":{"percent":"x"}}`))
	f.Add(uint8(7), []byte(`{"context":{"a":{"b":[1,2,{"c":null}]}}} `))
	f.Add(uint8(9), []byte(`{"ids":["\u0000"]} {}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		b := bodies[int(which)%len(bodies)]
		v := b.new()
		err := decodeJSON(strings.NewReader(string(data)), v)
		if err != nil {
			p := problemOf(err)
			if p.Status < 400 || p.Status >= 500 || p.Kind != ramp.KindInvalid.String() {
				t.Fatalf("%s: refusal %+v", b.name, p)
			}
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: decoded %+v does not encode: %v", b.name, v, err)
		}
		w := b.new()
		if err := decodeJSON(strings.NewReader(string(again)), w); err != nil {
			t.Fatalf("%s: %s re-decodes with %v", b.name, again, err)
		}
		if !reflect.DeepEqual(normal(t, v), normal(t, w)) {
			t.Fatalf("%s: %s → %+v, then %+v", b.name, data, v, w)
		}
	})
}

// normal is v's JSON, decoded generically: what equality means for
// bodies whose fields hold arbitrary JSON.
func normal(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzETag: If-Match values are outside input. A tag that parses prints
// back to itself.
func FuzzETag(f *testing.F) {
	for _, s := range []string{`"3-a1b2c3"`, `W/"1-e"`, `"0-x"`, `"-1-x"`, `"12"`, `*`, ``, `"9223372036854775808-e"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, e, err := ParseETag(s)
		if err != nil {
			return
		}
		if v <= 0 || e == "" {
			t.Fatalf("%q → %d %q", s, v, e)
		}
		v2, e2, err := ParseETag(ETag(v, e))
		if err != nil || v2 != v || e2 != e {
			t.Fatalf("%q → %d %q → %q → %d %q %v", s, v, e, ETag(v, e), v2, e2, err)
		}
	})
}

// FuzzDecodeProblem: clients read error answers from servers and proxies;
// whatever the body, they get an error of a known kind.
func FuzzDecodeProblem(f *testing.F) {
	f.Add(409, `{"type":"about:blank","title":"Conflict","status":409,"detail":"x","kind":"refused","error":"rollout.confirm","data":{"Move":{"flag":"f"},"Question":"q?"},"version":3}`)
	f.Add(404, `{"status":404,"kind":"not found","error":"rollout.stage","data":{"Flag":"f","Stage":"s","Stages":["a"]}}`)
	f.Add(412, `{"status":412,"kind":"conflict","error":"conflict","data":{"Kind":"rollout","Expected":1,"Actual":2}}`)
	f.Add(429, `{"status":429,"kind":"unauthorized","retryAfter":3}`)
	f.Add(502, `<html>bad gateway</html>`)
	f.Add(400, `{"status":400,"error":"rollout.paused","data":[1,2]}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		p := DecodeProblem(status, "application/problem+json", []byte(body))
		err := p.Err()
		if err == nil || err.Error() == "" {
			t.Fatalf("%d %q: no error", status, body)
		}
		if k := ramp.KindOf(err); k > ramp.KindCanceled {
			t.Fatalf("%d %q: kind %v", status, body, k)
		}
		if p.Status == http.StatusTooManyRequests && p.Err() == nil {
			t.Fatal("429 without an error")
		}
	})
}

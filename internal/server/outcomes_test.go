package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/ofrep"
	"github.com/ramp-flags/ramp/internal/server"
)

// TestAnswersMatchEngine holds the server's answers, which reuse the
// encodings and counters of decisions it has made before, to the engine's:
// over many contexts, every item of a bulk answer and every single answer
// is AppendJSON of the engine's decision byte for byte, and the evaluation
// counters add up to the decisions made.
func TestAnswersMatchEngine(t *testing.T) {
	s, _ := openStore(t)
	snap := engine(t, s)
	srv := start(t, server.Config{Source: s, RateLimit: -1})
	regions := []string{"US", "CA", "MX", "BR", "IN", "FR"}
	apps := []string{"instagram", "whatsapp"}
	want := map[string]int{} // ramp_evaluations_total labels → count
	count := func(d *flags.Decision) {
		flag := d.Key
		if _, ok := snap.Type(flag); !ok {
			flag = "_unknown"
		}
		want[fmt.Sprintf(`error=%q,flag=%q,reason=%q,variant=%q`, d.ErrorCode, flag, d.Reason, d.Variant)]++
	}
	for i := range 120 {
		ctx := map[string]any{"region": regions[i%len(regions)], "app": apps[i%2], "platform": "ios",
			"appVersion": fmt.Sprintf("%d.0.0", 290+i%20)}
		if i%7 != 0 { // sometimes no targeting key: splits answer errors
			ctx["targetingKey"] = fmt.Sprintf("u-%d", i)
		}
		if i%5 == 0 {
			ctx["targetingKey"] = fmt.Sprintf("emp-%d", i%3)
		}
		if i%3 == 0 {
			ctx["accountCenterId"] = fmt.Sprintf("ac-%d", i)
		}
		if i%4 == 0 {
			ctx["accountType"] = "business"
		}
		body := evalBody(ctx)

		resp, b := do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags", sdkKey, body)
		if resp.StatusCode != 200 {
			t.Fatalf("bulk: %d %s", resp.StatusCode, b)
		}
		var got struct{ Flags []json.RawMessage }
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Flags) != len(snap.Keys()) {
			t.Fatalf("%d flags, want %d", len(got.Flags), len(snap.Keys()))
		}
		for j, k := range snap.Keys() {
			d := snap.Evaluate(k, ctx)
			count(&d)
			w, _ := ofrep.AppendJSON(nil, &d)
			if diff := cmp.Diff(string(w), string(got.Flags[j])); diff != "" {
				t.Errorf("context %v, flag %s (-engine +bulk):\n%s", ctx, k, diff)
			}
		}

		k := snap.Keys()[i%len(snap.Keys())]
		if i%9 == 0 {
			k = "no-such-flag-" + strconv.Itoa(i)
		}
		resp, b = do(t, http.MethodPost, srv.URL+"/ofrep/v1/evaluate/flags/"+k, sdkKey, body)
		d := snap.Evaluate(k, ctx)
		count(&d)
		w, _ := ofrep.AppendJSON(nil, &d)
		if resp.StatusCode != ofrep.Status(d.ErrorCode) || string(b) != string(w) {
			t.Errorf("context %v, flag %s: %d %s, want %d %s", ctx, k, resp.StatusCode, b, ofrep.Status(d.ErrorCode), w)
		}
		if resp.ContentLength != int64(len(b)) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("flag %s: Content-Length %d for %d bytes, Content-Type %q", k, resp.ContentLength, len(b), resp.Header.Get("Content-Type"))
		}
	}

	_, b := do(t, http.MethodGet, srv.URL+"/metrics", adminKey, "")
	got := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		labels, n, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "ramp_evaluations_total{"), "} ")
		if !ok || !strings.HasPrefix(sc.Text(), "ramp_evaluations_total{") {
			continue
		}
		v, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		got[labels] = v
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ramp_evaluations_total (-decisions +metrics):\n%s", diff)
	}
}

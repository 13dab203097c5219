package main_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags/provider"
)

// BenchmarkPropagation measures how long a change made with the CLI takes to
// reach a connected provider (over the SSE stream) and an OFREP answer, with
// `ramp serve` and the CLI as separate processes on one SQLite file. Each op
// is one `ramp flags disable|enable`; the clock starts when that process has
// exited (its transaction committed). Reported: p50 and p99 over the ops.
//
//	go test -run '^$' -bench Propagation -benchtime 100x ./cmd/ramp/
func BenchmarkPropagation(b *testing.B) {
	dir := b.TempDir()
	env := append(os.Environ(), "RAMP_DB="+filepath.Join(dir, "ramp.db"), "RAMP_ACTOR=bench", "RAMP_FORCE_TTY=")
	ramp := rampIn(b, env)
	ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	key := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "bench", "-o", "table"))
	srv := startServe(b, env, "127.0.0.1:0").url

	p, err := provider.New(srv, key, provider.PollInterval(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	api := openfeature.NewDefaultClient()
	if err := openfeature.SetProviderAndWait(p); err != nil {
		b.Fatal(err)
	}
	defer openfeature.Shutdown()
	ctx := context.Background()
	ec := openfeature.NewEvaluationContext("emp-1", nil)
	body := `{"context":{"targetingKey":"emp-1"}}`
	url := srv + "/ofrep/v1/evaluate/flags/common-mailbox"

	var toProvider, toOFREP []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		verb, want := "disable", openfeature.DisabledReason
		if i%2 == 1 {
			verb, want = "enable", openfeature.TargetingMatchReason
		}
		ramp("flags", verb, "common-mailbox")
		start := time.Now()
		var pDone, oDone time.Duration
		for pDone == 0 || oDone == 0 {
			if pDone == 0 {
				if d, _ := api.BooleanValueDetails(ctx, "common-mailbox", false, ec); d.Reason == want {
					pDone = time.Since(start)
				}
			}
			if oDone == 0 {
				if _, m := post(b, url, key, body); m["reason"] == string(want) {
					oDone = time.Since(start)
				}
			}
			if time.Since(start) > 5*time.Second {
				b.Fatalf("change %d not seen within 5 s", i)
			}
			time.Sleep(time.Millisecond)
		}
		toProvider = append(toProvider, pDone)
		toOFREP = append(toOFREP, oDone)
	}
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(ds[(len(ds)*99)/100].Microseconds())/1000, name+"-p99-ms")
	}
	report("provider", toProvider)
	report("ofrep", toOFREP)
}

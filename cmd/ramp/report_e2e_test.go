package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/tracking"
)

// e2eReport is what the end-to-end tests read of `ramp experiments report
// -o json`.
type e2eReport struct {
	SampleRatio struct {
		Units    int64
		Mismatch bool
		P        float64
	}
	Metrics []struct {
		Key         string
		Role        string
		Arms        []struct{ Units int64 }
		Comparisons []struct {
			Arm     string
			Outcome string
			Fixed   struct{ Rel float64 }
		}
	}
	Warnings []string
}

// TestExperimentReportEndToEnd: simulated users of the scenario's
// link-code-ttl experiment (BR and IN, short against long, 50/50) are
// evaluated over OFREP by `ramp serve` (which records their exposures) and
// their events are posted to its tracking endpoint as a service in any
// language would, with a planted effect: short code lifetimes complete 30%
// more links and report abuse no more often. `ramp experiments report`
// finds the effect, passes the guardrail, and sees no sample-ratio problem.
func TestExperimentReportEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "ramp.db")
	env := append(os.Environ(), "RAMP_DB="+db, "RAMP_ACTOR=e2e", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	sdkKey := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "svc", "-o", "table"))
	srv := startServe(t, env, "127.0.0.1:0")
	const flag, units = "wa-link-code-ttl-seconds", 4000

	rng := rand.New(rand.NewPCG(13, 1))
	arms := map[string]int{}
	var batch bytes.Buffer
	n := 0
	flush := func() {
		if n == 0 {
			return
		}
		batch.WriteString("]}")
		postUntilStored(t, srv.url+tracking.TrackPath, sdkKey, batch.Bytes())
		batch.Reset()
		n = 0
	}
	event := func(id, name, unit string) {
		if n == 0 {
			batch.WriteString(`{"events":[`)
		} else {
			batch.WriteByte(',')
		}
		fmt.Fprintf(&batch, `{"id":%q,"event":%q,"value":1,"context":{"targetingKey":%q,"region":"BR"}}`, id, name, unit)
		if n++; n == 1000 {
			flush()
		}
	}
	for i := range units {
		unit := fmt.Sprint("br-", i)
		code, body := post(t, srv.url+"/ofrep/v1/evaluate/flags/"+flag, sdkKey, fmt.Sprintf(`{"context":{"targetingKey":%q,"region":"BR"}}`, unit))
		md, _ := body["metadata"].(map[string]any)
		if code != http.StatusOK || md["experiment"] != "link-code-ttl" {
			t.Fatalf("evaluation of %s: %d %v", unit, code, body)
		}
		arm, _ := body["variant"].(string)
		arms[arm]++
		mean := 1.0
		if arm == "short" {
			mean = 1.3
		}
		for j := range poissonDraw(rng, mean) {
			event(fmt.Sprintf("done-%d-%d", i, j), "wa_link_completed", unit)
		}
		if rng.Float64() < 0.05 {
			event(fmt.Sprint("abuse-", i), "link_abuse_report", unit)
		}
	}
	flush()
	t.Logf("arms served: %v", arms)

	// The server's exposures reach the store within its flush interval.
	var r e2eReport
	if !within(patience, func() bool {
		r = decodeReport(t, ramp("experiments", "report", "link-code-ttl", "-o", "json"))
		return r.SampleRatio.Units == units && metricUnits(r) == units
	}) {
		t.Fatalf("the report counts %d exposed units (%d in its metrics), want %d\n%s", r.SampleRatio.Units, metricUnits(r), units, srv.logs())
	}
	if r.SampleRatio.Mismatch || len(r.Warnings) > 0 {
		t.Errorf("sample ratio %+v, warnings %q: want none", r.SampleRatio, r.Warnings)
	}
	outcomes := map[string]string{}
	for _, m := range r.Metrics {
		for _, c := range m.Comparisons {
			outcomes[m.Key+"/"+c.Arm] = c.Outcome
			if m.Key == "links-completed-per-user" && math.Abs(c.Fixed.Rel-0.30) > 0.12 {
				t.Errorf("lift of short %.3f, planted 0.30", c.Fixed.Rel)
			}
		}
	}
	if outcomes["links-completed-per-user/short"] != "better" {
		t.Errorf("the planted effect is not found: %v", outcomes)
	}
	if o := outcomes["link-abuse-reports-per-user/short"]; o == "regressed" || o == "" {
		t.Errorf("the guardrail, unchanged, reads %q", o)
	}
}

// metricUnits counts the units of the report's first metric, every arm.
func metricUnits(r e2eReport) int64 {
	var n int64
	if len(r.Metrics) > 0 {
		for _, a := range r.Metrics[0].Arms {
			n += a.Units
		}
	}
	return n
}

func decodeReport(t *testing.T, s string) e2eReport {
	t.Helper()
	var r e2eReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, s)
	}
	return r
}

// poissonDraw draws from a Poisson distribution (Knuth's method).
func poissonDraw(r *rand.Rand, mean float64) int {
	k, p, limit := 0, r.Float64(), math.Exp(-mean)
	for p > limit {
		k++
		p *= r.Float64()
	}
	return k
}

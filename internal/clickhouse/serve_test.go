package clickhouse_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ramp-flags/ramp/experiment/report"
	"github.com/ramp-flags/ramp/internal/cli"
	"github.com/ramp-flags/ramp/internal/clickhouse/chtest"
	"github.com/ramp-flags/ramp/tracking"
)

// rampCmd runs a ramp command in process and returns its stdout; it fails
// the test unless the command succeeds.
func rampCmd(t testing.TB, args ...string) string {
	t.Helper()
	ios, _, out, errOut := cli.Test()
	if code := cli.Execute(context.Background(), args, ios); code != cli.ExitOK {
		t.Fatalf("ramp %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out.String()
}

// serve runs `ramp ARGS… serve` in process until the test ends or stop is
// called, and returns its URL and stop, which waits for the server to
// store what it has queued and exit.
func serve(t testing.TB, args ...string) (url string, stop func()) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() {
		code := cli.Execute(ctx, append(args, "serve", "--addr", "127.0.0.1:0", "--insecure-no-auth", "--poll", "50ms", "--controller-interval", "0"),
			&cli.IOStreams{In: &bytes.Buffer{}, Out: io.Discard, ErrOut: pw})
		pw.Close()
		exit <- code
	}()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "listening" {
				urls <- m["url"].(string)
			}
			if m["level"] == "ERROR" {
				t.Logf("ramp serve: %s", sc.Text())
			}
		}
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-exit; code != cli.ExitOK {
			t.Errorf("ramp serve exited %d", code)
		}
	}
	t.Cleanup(stop)
	select {
	case url = <-urls:
	case code := <-exit:
		t.Fatalf("ramp serve exited %d before listening", code)
	case <-time.After(30 * time.Second):
		t.Fatal("ramp serve: no listening line in 30 s")
	}
	return url, stop
}

// TestServeIntoClickHouse runs the same traffic through two `ramp serve`:
// one keeping events in its SQLite database, one with --events on
// ClickHouse. Decisions record exposures; tracking events arrive through
// tracking.HTTPSink, a batch of them twice. The two reports, and the
// counts of `ramp events stats`, must agree.
func TestServeIntoClickHouse(t *testing.T) {
	t.Setenv("RAMP_ACTOR", "tester")
	t.Setenv("RAMP_EVENTS", "")
	events := chtest.DSN(t)
	dir := t.TempDir()
	setups := []struct {
		name string
		args []string // before the command
	}{
		{"sqlite", []string{"--db", filepath.Join(dir, "sql.db")}},
		{"clickhouse", []string{"--db", filepath.Join(dir, "ch.db"), "--events", events}},
	}
	now := time.Now().UTC()
	var reports [2]report.Report
	var stats [2]string
	for i, s := range setups {
		rampCmd(t, append(s.args, "apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))...)
		url, stop := serve(t, s.args...)
		client := &http.Client{Timeout: 30 * time.Second}
		const units = 400
		for u := range units {
			body := fmt.Sprintf(`{"context":{"targetingKey":"u%d","region":"BR"}}`, u)
			resp, err := client.Post(url+"/ofrep/v1/evaluate/flags/wa-link-code-ttl-seconds", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"experiment"`) {
				t.Fatalf("%s: evaluate u%d: %d %s", s.name, u, resp.StatusCode, b)
			}
		}
		sink, err := tracking.NewHTTPSink(url, "unused", client)
		if err != nil {
			t.Fatal(err)
		}
		var batch []tracking.Event
		for u := range units {
			for k := range u % 4 {
				batch = append(batch, tracking.Event{ID: fmt.Sprintf("done-%d-%d", u, k), Name: "wa_link_completed", Value: 1,
					Time: now.Add(-time.Duration(k) * time.Second), Units: map[string]string{"targetingKey": fmt.Sprintf("u%d", u)}})
			}
			if u%9 == 0 {
				batch = append(batch, tracking.Event{ID: fmt.Sprintf("abuse-%d", u), Name: "link_abuse_report", Value: float64(u % 3),
					Time: now, Units: map[string]string{"targetingKey": fmt.Sprintf("u%d", u)}})
			}
		}
		ctx := context.Background()
		if err := sink.WriteEvents(ctx, batch); err != nil {
			t.Fatalf("%s: post events: %v", s.name, err)
		}
		if err := sink.WriteEvents(ctx, batch[:len(batch)/3]); err != nil { // a retry
			t.Fatalf("%s: post events again: %v", s.name, err)
		}
		stop() // stores the exposures still queued
		out := rampCmd(t, append(s.args, "experiments", "report", "link-code-ttl", "-o", "json")...)
		if err := json.Unmarshal([]byte(out), &reports[i]); err != nil {
			t.Fatalf("%s: report: %v\n%s", s.name, err, out)
		}
		stats[i] = rampCmd(t, append(s.args, "events", "stats", "--experiment", "link-code-ttl", "-o", "json")...)
	}
	sql, ch := reports[0], reports[1]
	if sql.SampleRatio.Units != 400 || len(sql.Metrics) != 2 || sql.Metrics[0].Arms == nil {
		t.Fatalf("the SQLite report saw too little to compare: %+v", sql)
	}
	if diff := cmp.Diff(sql.SampleRatio, ch.SampleRatio, approx); diff != "" {
		t.Errorf("sample ratio (-SQLite +ClickHouse):\n%s", diff)
	}
	if diff := cmp.Diff(sql.Metrics, ch.Metrics, approx, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("metrics (-SQLite +ClickHouse):\n%s", diff)
	}
	if stats[0] != stats[1] {
		t.Errorf("events stats --experiment: SQLite %s, ClickHouse %s", stats[0], stats[1])
	}
	// The second server's database itself holds no exposures or events:
	// they went to ClickHouse.
	var local struct{ Exposures, EventRows int64 }
	out := rampCmd(t, "--db", filepath.Join(dir, "ch.db"), "events", "stats", "-o", "json")
	if err := json.Unmarshal([]byte(out), &local); err != nil || local.Exposures != 0 || local.EventRows != 0 {
		t.Errorf("events stats of the database behind --events: %s (%v); want nothing", out, err)
	}
}

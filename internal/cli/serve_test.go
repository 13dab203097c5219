package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/cli"
)

// TestServe runs `ramp serve --addr 127.0.0.1:0` in process, finds the port
// in its first log line, asks it for a decision, and stops it as a signal
// would.
func TestServe(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		code := cli.Execute(ctx, []string{"--db", r.db, "serve", "--addr", "127.0.0.1:0", "--insecure-no-auth", "--poll", "50ms"},
			&cli.IOStreams{In: &bytes.Buffer{}, Out: io.Discard, ErrOut: pw})
		pw.Close()
		exit <- code
	}()
	lines := make(chan map[string]any, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("stderr line is not JSON: %s", sc.Text())
				continue
			}
			lines <- m
		}
	}()
	var url string
	var seen []string
	for url == "" {
		select {
		case m, ok := <-lines:
			if !ok {
				t.Fatalf("ramp serve ended (exit %d) before listening; logged %v", <-exit, seen)
			}
			seen = append(seen, m["msg"].(string))
			if m["msg"] == "listening" {
				url = m["url"].(string)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no listening line; logged %v", seen)
		}
	}
	if !strings.Contains(strings.Join(seen, "|"), "AUTHENTICATION IS OFF") {
		t.Errorf("no warning about --insecure-no-auth before listening: %v", seen)
	}
	resp, err := http.Post(url+"/ofrep/v1/evaluate/flags/common-mailbox", "application/json", strings.NewReader(`{"context":{"targetingKey":"emp-1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"value":true`) {
		t.Errorf("evaluate: %d %s", resp.StatusCode, body)
	}

	cancel() // what SIGINT or SIGTERM does to the command's context
	var last []string
	for m := range lines {
		last = append(last, m["msg"].(string))
	}
	if code := <-exit; code != cli.ExitOK {
		t.Errorf("exit %d after shutdown", code)
	}
	if got := strings.Join(last, "|"); !strings.Contains(got, "shutting down") || !strings.HasSuffix(got, "stopped") {
		t.Errorf("shutdown log: %v", last)
	}
}

func TestServeUsage(t *testing.T) {
	r := newRamp(t)
	for _, args := range [][]string{
		{"serve", "--rate-limit", "fast"},
		{"serve", "--rate-limit", "-3"},
		{"serve", "--auth-failure-limit", "-1"},
		{"serve", "--auth-failure-limit", "lots"},
		{"serve", "--log-level", "loud"},
		{"serve", "--poll", "0s"},
		{"serve", "extra"},
	} {
		if _, errOut, code := r.run("", args...); code != cli.ExitUsage {
			t.Errorf("ramp %v: exit %d, want %d\n%s", args, code, cli.ExitUsage, errOut)
		}
	}
}

package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags/provider"
)

// rampServe is a `ramp serve` process started from the built binary.
type rampServe struct {
	cmd *exec.Cmd
	url string
	log *strings.Builder
	mu  *sync.Mutex
}

// startServe runs `ramp serve` on addr (127.0.0.1:0 for any port), with
// extra arguments, and waits for its "listening" log line.
func startServe(t testing.TB, env []string, addr string, extra ...string) *rampServe {
	t.Helper()
	cmd := exec.Command(rampBinary(t), append([]string{"serve", "--addr", addr, "--poll", "100ms"}, extra...)...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &rampServe{cmd: cmd, log: &strings.Builder{}, mu: &sync.Mutex{}}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "listening" {
				urls <- m["url"].(string)
			}
		}
	}()
	select {
	case s.url = <-urls:
	case <-time.After(patience):
		_ = cmd.Process.Kill()
		t.Fatalf("ramp serve did not start within %s:\n%s", patience, s.logs())
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *rampServe) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop sends SIGTERM and expects a clean exit.
func (s *rampServe) stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ramp serve exited with %v\n%s", err, s.logs())
		}
	case <-time.After(patience):
		_ = s.cmd.Process.Kill()
		t.Errorf("ramp serve did not stop within %s of SIGINT", patience)
	}
}

func post(t testing.TB, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// patience is how long an end-to-end test waits for something that must
// happen before it fails: far longer than anything takes on an idle
// machine, because a loaded one running the race detector can hold a
// process back for seconds. Tests assert what happens and wait for it; how
// fast is BenchmarkPropagation's to measure (and the tests' log lines).
const patience = 30 * time.Second

// within polls cond every 10 ms until it holds or d passes, d being at
// least patience: a shorter deadline would fail on a busy machine, not on a
// bug.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(max(d, patience))
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// TestServeWithKeysAndProvider: a release manager's CLI and `ramp serve` as
// separate processes on one database, a service on our OpenFeature provider,
// and another on plain OFREP. Changes made with the CLI reach both (how soon
// is logged, and measured by BenchmarkPropagation); a revoked key comes to
// be refused; the provider survives the server's restart.
func TestServeWithKeysAndProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs servers")
	}
	dir := t.TempDir()
	env := append(os.Environ(), "RAMP_DB="+filepath.Join(dir, "ramp.db"), "RAMP_ACTOR=e2e", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	ramp("rollout", "advance", "messenger-ig-interop", "--to", "us-10")
	sdkKey := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "checkout", "-o", "table"))
	otherKey := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "to-revoke", "-o", "table"))

	srv := startServe(t, env, "127.0.0.1:0")
	single := srv.url + "/ofrep/v1/evaluate/flags/messenger-ig-interop"
	emp := `{"context":{"targetingKey":"emp-1","region":"FR"}}`

	if code, _ := post(t, single, "", emp); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, _ := post(t, single, "ramp_sdk_wrong", emp); code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d, want 401", code)
	}
	if code, body := post(t, single, sdkKey, emp); code != http.StatusOK || body["variant"] != "on" {
		t.Fatalf("with key: %d %v", code, body)
	}

	// Our provider, in process, synced from the server.
	p, err := provider.New(srv.url, sdkKey, provider.PollInterval(time.Hour), provider.CacheFile(filepath.Join(dir, "snapshot.json")))
	if err != nil {
		t.Fatal(err)
	}
	api := openfeature.NewDefaultClient()
	changed := make(chan []string, 16)
	stale := make(chan struct{}, 4)
	ready := make(chan struct{}, 4)
	handlerChanged := func(d openfeature.EventDetails) { changed <- d.FlagChanges }
	openfeature.AddHandler(openfeature.ProviderConfigChange, &handlerChanged)
	defer openfeature.RemoveHandler(openfeature.ProviderConfigChange, &handlerChanged)
	handlerStale := func(openfeature.EventDetails) { stale <- struct{}{} }
	handlerReady := func(openfeature.EventDetails) { ready <- struct{}{} }
	openfeature.AddHandler(openfeature.ProviderStale, &handlerStale)
	openfeature.AddHandler(openfeature.ProviderReady, &handlerReady)
	defer openfeature.RemoveHandler(openfeature.ProviderStale, &handlerStale)
	defer openfeature.RemoveHandler(openfeature.ProviderReady, &handlerReady)
	if err := openfeature.SetProviderAndWait(p); err != nil {
		t.Fatal(err)
	}
	defer openfeature.Shutdown()
	ctx := context.Background()

	// The provider agrees with `ramp eval` for many users.
	for i := range 50 {
		evalCtx := map[string]any{"region": []string{"US", "CA", "FR"}[i%3], "accountCenterId": fmt.Sprintf("ac-%d", i), "appVersion": "301.0.0"}
		jsonCtx, _ := json.Marshal(map[string]any{"targetingKey": fmt.Sprintf("u-%d", i), "region": evalCtx["region"], "accountCenterId": evalCtx["accountCenterId"], "appVersion": "301.0.0"})
		var want map[string]any
		_ = json.Unmarshal([]byte(ramp("eval", "ig-dm-via-whatsapp", "--context", string(jsonCtx))), &want)
		got, err := api.StringValueDetails(ctx, "ig-dm-via-whatsapp", "code-default", openfeature.NewEvaluationContext(fmt.Sprintf("u-%d", i), evalCtx))
		if err != nil || got.Value != want["value"] || got.Variant != want["variant"] {
			t.Fatalf("user %d: provider %v/%s (%v), ramp eval %v", i, got.Value, got.Variant, err, want)
		}
	}

	// The kill switch from the CLI reaches the provider and OFREP.
	start := time.Now()
	ramp("flags", "disable", "messenger-ig-interop")
	select {
	case keys := <-changed:
		if !contains(keys, "messenger-ig-interop") {
			t.Errorf("CONFIGURATION_CHANGED for %v", keys)
		}
	case <-time.After(patience):
		t.Fatalf("no CONFIGURATION_CHANGED within %s of the CLI change", patience)
	}
	t.Logf("kill switch reached the provider in %s", time.Since(start).Round(time.Millisecond))
	d, _ := api.BooleanValueDetails(ctx, "messenger-ig-interop", true, openfeature.NewEvaluationContext("emp-1", nil))
	if d.Reason != openfeature.DisabledReason || d.Value {
		t.Errorf("provider after disable: %v %s", d.Value, d.Reason)
	}
	if !within(patience, func() bool { _, b := post(t, single, sdkKey, emp); return b["reason"] == "DISABLED" }) {
		t.Errorf("OFREP did not answer DISABLED within %s", patience)
	}
	t.Logf("kill switch answered over OFREP %s after the CLI exited", time.Since(start).Round(time.Millisecond))

	// A revoked key comes to be refused.
	if code, _ := post(t, single, otherKey, emp); code != http.StatusOK {
		t.Fatalf("second key before revocation: %d", code)
	}
	ramp("keys", "revoke", "to-revoke")
	revoked := time.Now()
	if !within(patience, func() bool { c, _ := post(t, single, otherKey, emp); return c == http.StatusUnauthorized }) {
		t.Errorf("revoked key still accepted after %s", patience)
	}
	t.Logf("revoked key refused %s after the CLI exited", time.Since(revoked).Round(time.Millisecond))

	// The server goes away: the provider goes STALE and keeps answering from
	// its snapshot; the server comes back on the same address: READY again.
	addr := strings.TrimPrefix(srv.url, "http://")
	srv.stop(t)
	select {
	case <-stale:
	case <-time.After(patience):
		t.Fatalf("no PROVIDER_STALE within %s of the server stopping", patience)
	}
	if d, _ := api.BooleanValueDetails(ctx, "common-mailbox", false, openfeature.NewEvaluationContext("emp-1", nil)); !d.Value {
		t.Errorf("stale provider stopped serving its snapshot: %v %s", d.Value, d.ErrorCode)
	}
	for len(ready) > 0 {
		<-ready
	}
	startServe(t, env, addr)
	select {
	case <-ready:
	case <-time.After(40 * time.Second):
		t.Fatalf("no PROVIDER_READY after the server came back")
	}
	ramp("flags", "enable", "messenger-ig-interop")
	if !within(patience, func() bool {
		d, _ := api.BooleanValueDetails(ctx, "messenger-ig-interop", false, openfeature.NewEvaluationContext("emp-1", nil))
		return d.Value && d.Reason == openfeature.TargetingMatchReason
	}) {
		t.Errorf("provider did not pick up the re-enabled flag after reconnecting")
	}
}

// rampIn returns a function that runs the ramp binary with env, fails the
// test if it fails, and returns its stdout (stderr carries only status).
func rampIn(t testing.TB, env []string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command(rampBinary(t), args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("ramp %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

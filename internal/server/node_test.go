package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/synth"
)

// TestNodeOFREPProvider runs testdata/ofrep-node/check.mjs: the stock
// OpenFeature Node.js server SDK with its OFREP provider evaluates the demo
// flags (one of them disabled) for synthetic users against a real server,
// and every answer must match the engine's. It needs node and the pinned
// packages (npm ci in testdata/ofrep-node); without them it skips, unless
// RAMP_REQUIRE_NODE=1.
func TestNodeOFREPProvider(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "ofrep-node")
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@openfeature", "ofrep-provider"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("RAMP_REQUIRE_NODE") == "1" {
			t.Fatalf("RAMP_REQUIRE_NODE=1 but node (%v) or the packages (%v) are missing: run npm ci in %s", nodeErr, modErr, dir)
		}
		t.Skip("needs node and `npm ci` in testdata/ofrep-node")
	}
	s, _ := openStore(t)
	if _, err := s.SetEnabled(context.Background(), "ig-add-whatsapp-to-profile", false, "tester"); err != nil {
		t.Fatal(err)
	}
	snap := engine(t, s)
	srv := start(t, server.Config{Source: s, RateLimit: -1})

	defaults := map[flags.Type]any{flags.Boolean: true, flags.String: "code-default", flags.Integer: -1, flags.Float: -1.5}
	jsType := map[flags.Type]string{flags.Boolean: "boolean", flags.String: "string", flags.Integer: "number", flags.Float: "number", flags.Object: "object"}
	var cases strings.Builder
	n := 0
	for _, u := range append(synth.Users(40, 11), map[string]any{"region": "BR", "accountType": "business", "app": "instagram", "platform": "ios"}) {
		for _, key := range append(append([]string(nil), snap.Keys()...), "no-such-flag") {
			typ, ok := snap.Type(key)
			if !ok {
				typ = flags.Boolean
			}
			d := snap.Evaluate(key, u)
			want := map[string]any{"value": d.Value, "variant": d.Variant, "reason": d.Reason}
			if d.IsError() {
				want = map[string]any{"value": defaults[typ], "reason": "ERROR", "errorCode": d.ErrorCode}
			}
			line, _ := json.Marshal(map[string]any{"flag": key, "type": jsType[typ], "default": defaults[typ], "context": u, "want": want})
			cases.Write(line)
			cases.WriteByte('\n')
			n++
		}
	}
	file := filepath.Join(t.TempDir(), "cases.jsonl")
	if err := os.WriteFile(file, []byte(cases.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "check.mjs", file)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RAMP_URL="+srv.URL, "RAMP_KEY="+sdkKey)
	out, err := cmd.CombinedOutput()
	t.Logf("%d cases: %s", n, strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("node check failed: %v", err)
	}
}

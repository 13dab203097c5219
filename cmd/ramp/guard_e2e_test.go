package main_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/tracking"
)

// guardYAML is a plan whose second stage is guarded by a crash rate, and
// rolls back when it regresses.
const guardYAML = `
flags:
  - key: dm-send-v2
    type: boolean
    variants: {"on": true, "off": false}
    defaultVariant: "off"
metrics:
  - key: crash-rate
    event: app_crash
    kind: conversion
    direction: decrease
    margin: 1
rollouts:
  - flag: dm-send-v2
    variant: "on"
    stages:
      - {name: us-1, regions: [US], percent: 1}
      - {name: us-20, regions: [US], percent: 20, guardrails: [crash-rate], onRegression: rollback}
`

// TestGuardedStageEndToEnd: US users evaluate a flag over OFREP while its
// guarded stage is live (`ramp serve` records both sides of the split as
// exposures); those who get the feature crash six times as often. After a
// compaction, the controller's pass (`ramp rollout tick`) halts the plan
// and rolls it back, and the server then gives the feature to nobody
// outside the first stage's audience.
func TestGuardedStageEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "ramp.db")
	env := append(os.Environ(), "RAMP_DB="+db, "RAMP_ACTOR=e2e", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	ramp("apply", "-f", writeTemp(t, dir, "guard.yaml", guardYAML))
	sdkKey := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "svc", "-o", "table"))
	srv := startServe(t, env, "127.0.0.1:0", "--controller-interval", "0")
	const flag, users = "dm-send-v2", 3000
	onNow := func() map[string]bool {
		on := map[string]bool{}
		for i := range users {
			unit := fmt.Sprint("us-", i)
			code, ans := post(t, srv.url+"/ofrep/v1/evaluate/flags/"+flag, sdkKey, fmt.Sprintf(`{"context":{"targetingKey":%q,"region":"US"}}`, unit))
			if code != http.StatusOK {
				t.Fatalf("%s: %d %v", unit, code, ans)
			}
			if ans["value"] == true {
				on[unit] = true
			}
		}
		return on
	}
	// The server serves a plan's new stage once it has reloaded: wait
	// until a pass over the users shows it, then take one more pass, all
	// of it on the new configuration.
	served := func(stageOn func(n int) bool) map[string]bool {
		var on map[string]bool
		if !within(patience, func() bool { on = onNow(); return stageOn(len(on)) }) {
			t.Fatalf("%d of %d users get the feature\n%s", len(on), users, srv.logs())
		}
		return onNow()
	}
	ramp("rollout", "advance", flag, "--to", "us-1")
	first := served(func(n int) bool { return n > 0 && n < users/20 })
	ramp("rollout", "advance", flag, "--to", "us-20")
	second := served(func(n int) bool { return n > users/10 }) // every user's exposure recorded
	t.Logf("stage us-1: %d of %d users; us-20: %d", len(first), users, len(second))

	// Events: those with the feature crash 30% of the time, the others 5%.
	rng := rand.New(rand.NewPCG(5, 5))
	var body bytes.Buffer
	body.WriteString(`{"events":[`)
	n := 0
	for i := range users {
		unit := fmt.Sprint("us-", i)
		p := 0.05
		if second[unit] {
			p = 0.30
		}
		if rng.Float64() < p {
			if n > 0 {
				body.WriteByte(',')
			}
			n++
			fmt.Fprintf(&body, `{"id":"crash-%d","event":"app_crash","context":{"targetingKey":%q,"region":"US"}}`, i, unit)
		}
	}
	body.WriteString(`]}`)
	postUntilStored(t, srv.url+tracking.TrackPath, sdkKey, body.Bytes())

	// The server's exposures of the stage reach the store, then a
	// compaction and a pass of the controller, as cron would run them.
	if !within(patience, func() bool {
		return strings.Contains(ramp("events", "stats", "-o", "json"), fmt.Sprintf(`"exposures": %d`, users))
	}) {
		t.Fatalf("the stage's exposures did not all arrive: %s", ramp("events", "stats", "-o", "json"))
	}
	ramp("events", "compact")
	tick := ramp("rollout", "tick")
	status := ramp("rollout", "status", flag, "-o", "table")
	if !strings.Contains(status, "crash-rate") || !strings.Contains(status, "paused") {
		t.Fatalf("after the pass the plan is not halted on crash-rate:\n%s\ntick: %s", status, tick)
	}
	// Rolled back: whoever gets the feature now got it in the first stage.
	after := served(func(n int) bool { return n < users/20 })
	for u := range after {
		if !first[u] {
			t.Errorf("%s keeps the feature after the rollback but was not in stage us-1's audience", u)
		}
	}
	t.Logf("after the halt: %d users keep the feature\n%s", len(after), status)
}

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/flags/provider"
)

// fastPlan is the scenario's rollout with a schedule of seconds.
const fastPlan = `
cohorts:
  - key: employees
    members: [emp-1, emp-2, emp-3]
flags:
  - key: messenger-ig-interop
    type: boolean
    variants: {"on": true, "off": false}
    defaultVariant: "off"
    bucketBy: accountCenterId
rollouts:
  - flag: messenger-ig-interop
    variant: "on"
    stages:
      - {name: dogfood, cohorts: [employees], percent: 100}
      - {name: us-1, regions: [US], percent: 1}
      - {name: us-10, regions: [US], percent: 10, after: 1s}
      - {name: us-50, regions: [US], percent: 50, after: 1s}
      - {name: na-25, regions: [CA, MX], percent: 25, after: 1s}
      - {name: us-100, regions: [US], percent: 100, after: 1s}
`

// observation is one OFREP answer for one user.
type observation struct {
	version int64 // configuration version the answer came from
	on      bool
	stage   string // the stage named by the rule that decided, if any
}

// TestRolloutWhileServing advances a plan (by hand, then on the schedule
// of the controller inside ramp serve) while clients ask ramp serve over
// OFREP for 900 users without pause, and checks that no user ever loses the
// feature as the plan advances. Then a rollback and the kill switch, made
// with the CLI, reach the server and a provider, the rollback restoring
// exactly the users the stage had. (How soon is logged here, and measured
// by BenchmarkPropagation.)
func TestRolloutWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	dir := t.TempDir()
	env := append(os.Environ(), "RAMP_DB="+filepath.Join(dir, "ramp.db"), "RAMP_ACTOR=release-manager", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	plan := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(plan, []byte(fastPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	ramp("apply", "-f", plan)
	// By hand to us-10, where the schedule waits until we resume, so that a
	// whole sweep sees us-10 however long sweeps take.
	ramp("rollout", "advance", "messenger-ig-interop", "--to", "us-10")
	ramp("rollout", "pause", "messenger-ig-interop")
	key := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "e2e", "-o", "table"))
	srv := startServe(t, env, "127.0.0.1:0", "--controller-interval", "100ms", "--rate-limit", "0")
	url := srv.url + "/ofrep/v1/evaluate/flags/messenger-ig-interop"

	var (
		users    []string         // OFREP request bodies
		contexts []map[string]any // the same, flattened for the provider
	)
	for i := range 900 {
		region := []string{"US", "US", "US", "US", "CA", "MX", "FR", "BR", "US"}[i%9]
		users = append(users, fmt.Sprintf(`{"context":{"targetingKey":"user-%d","region":%q,"accountCenterId":"ac-%d"}}`, i, region, i))
		contexts = append(contexts, map[string]any{"targetingKey": fmt.Sprintf("user-%d", i), "region": region, "accountCenterId": fmt.Sprintf("ac-%d", i)})
	}
	for _, emp := range []string{"emp-1", "emp-2"} {
		users = append(users, fmt.Sprintf(`{"context":{"targetingKey":%q,"region":"FR"}}`, emp))
		contexts = append(contexts, map[string]any{"targetingKey": emp, "region": "FR"})
	}
	// A Go service's in-process provider, kept current by the event stream
	// alone (its poll is an hour).
	prov, err := provider.New(srv.url, key, provider.PollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := prov.InitWithContext(t.Context(), openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	defer prov.Shutdown()
	// providerAgrees reports whether the provider gives the variant to
	// exactly the users want says, among those of the region.
	providerAgrees := func(want func(i int) bool) bool {
		for i, c := range contexts {
			if prov.BooleanEvaluation(t.Context(), "messenger-ig-interop", false, c).Value != want(i) {
				return false
			}
		}
		return true
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	ask := func(body string) (observation, error) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return observation{}, err
		}
		defer resp.Body.Close()
		var d struct {
			Value    bool
			Metadata struct {
				ConfigVersion int64  `json:"configVersion"`
				Rule          string `json:"rule"`
			}
		}
		if resp.StatusCode != http.StatusOK {
			return observation{}, fmt.Errorf("status %d", resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			return observation{}, err
		}
		o := observation{version: d.Metadata.ConfigVersion, on: d.Value}
		if rest, ok := strings.CutPrefix(d.Metadata.Rule, "rollout:"); ok {
			o.stage, _, _ = strings.Cut(rest, " ")
		}
		return o, nil
	}
	// sweep asks for every user once, from 8 goroutines.
	sweep := func() ([]observation, error) {
		out := make([]observation, len(users))
		var (
			wg   sync.WaitGroup
			next atomic.Int64
			errs = make(chan error, 8)
		)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(users) {
						return
					}
					o, err := ask(users[i])
					if err != nil {
						errs <- err
						return
					}
					out[i] = o
				}
			}()
		}
		wg.Wait()
		close(errs)
		return out, <-errs
	}
	count := func(obs []observation) int {
		n := 0
		for _, o := range obs {
			if o.on {
				n++
			}
		}
		return n
	}

	// Phase 1: a sweep at us-10 (paused there) records whom it gives the
	// feature; then the schedule runs to us-100 while sweeping without pause.
	history := make([][]observation, len(users))
	onAtUS10 := map[int]bool{}
	record := func(obs []observation) {
		for i, o := range obs {
			history[i] = append(history[i], o)
		}
		// Users the US at stage us-10 gave the feature, from answers
		// decided by the us-10 rule.
		for i, o := range obs {
			if o.stage == "us-10" {
				onAtUS10[i] = o.on
			}
		}
	}
	obs, err := sweep()
	if err != nil {
		t.Fatal(err)
	}
	record(obs)
	for i, o := range obs {
		if isUS(users[i]) && o.stage != "us-10" {
			t.Fatalf("paused at us-10, the server answers %s from stage %q", users[i], o.stage)
		}
	}
	ramp("rollout", "resume", "messenger-ig-interop")
	deadline := time.Now().Add(patience)
	for {
		obs, err := sweep()
		if err != nil {
			t.Fatal(err)
		}
		record(obs)
		allUSOn := true
		for i, o := range obs {
			allUSOn = allUSOn && (!isUS(users[i]) || o.on)
		}
		if allUSOn || time.Now().After(deadline) {
			break
		}
	}
	for i, h := range history {
		for a := range h {
			for b := range h {
				if h[a].version < h[b].version && h[a].on && !h[b].on {
					t.Fatalf("user %s had the feature at configuration %d and lost it at %d", users[i], h[a].version, h[b].version)
				}
			}
		}
	}
	sweeps := len(history[0])
	status := ramp("rollout", "status", "messenger-ig-interop")
	if !strings.Contains(status, `"stage": "us-100"`) || !strings.Contains(status, `"by": "ramp-scheduler"`) {
		t.Fatalf("after %d sweeps the schedule did not reach us-100:\n%s\n%s", sweeps, status, srv.logs())
	}
	t.Logf("%d sweeps of %d users while the plan advanced", sweeps, len(users))

	// Phase 2: roll back to us-10 with the CLI: the server comes to answer
	// with exactly the users us-10 had.
	ramp("rollout", "rollback", "messenger-ig-interop", "--to", "us-10", "--yes")
	rolledBack := time.Now()
	var last []observation
	ok := within(patience, func() bool {
		obs, err := sweep()
		if err != nil {
			return false
		}
		last = obs
		for i, o := range obs {
			if isUS(users[i]) && (o.stage != "us-10" || o.on != onAtUS10[i]) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("%s after the rollback the server does not answer as stage us-10 did: %d users on", patience, count(last))
	}
	t.Logf("rollback answered by the server %v after the CLI exited", time.Since(rolledBack).Round(time.Millisecond))
	stageUS10 := func(i int) bool {
		if isUS(users[i]) {
			return onAtUS10[i]
		}
		return last[i].on // other regions are as the server answers
	}
	if !within(patience, func() bool { return providerAgrees(stageUS10) }) {
		t.Fatalf("%s after the rollback the provider does not decide as stage us-10 did", patience)
	}
	t.Logf("rollback decided by the provider %v after the CLI exited", time.Since(rolledBack).Round(time.Millisecond))

	// Phase 3: the kill switch reaches the server and the provider, and
	// enable restores the same users.
	ramp("flags", "disable", "messenger-ig-interop")
	killed := time.Now()
	if !within(patience, func() bool { obs, err := sweep(); return err == nil && count(obs) == 0 }) {
		t.Fatalf("%s after the kill switch someone still has the feature", patience)
	}
	if !within(patience, func() bool { return providerAgrees(func(int) bool { return false }) }) {
		t.Fatalf("%s after the kill switch the provider still gives someone the feature", patience)
	}
	t.Logf("kill switch served and decided by the provider %v after the CLI exited", time.Since(killed).Round(time.Millisecond))
	ramp("flags", "enable", "messenger-ig-interop")
	if !within(patience, func() bool {
		obs, err := sweep()
		if err != nil {
			return false
		}
		for i, o := range obs {
			if isUS(users[i]) && o.on != onAtUS10[i] {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("%s after enable the server does not serve stage us-10's users", patience)
	}
	if !within(patience, func() bool { return providerAgrees(stageUS10) }) {
		t.Fatalf("%s after enable the provider does not decide as stage us-10 did", patience)
	}
}

func isUS(body string) bool { return strings.Contains(body, `"region":"US"`) }

// TestTwoReleaseManagersAtOnce: several `ramp rollout advance --to` and
// `pause` processes on one flag at the same moment: for each stage exactly
// one advance wins and every other gets exit code 5 with a message that says
// where the rollout is now; nothing is lost or applied twice.
func TestTwoReleaseManagersAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := rampBinary(t)
	db := filepath.Join(t.TempDir(), "ramp.db")
	run := func(actor string, args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"--db", db, "--actor", actor}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}
	if out, code := run("setup", "apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml")); code != 0 {
		t.Fatalf("apply: %s", out)
	}
	stages := []string{"dogfood", "us-1", "us-10", "us-50", "us-100", "na-25", "world-5"}
	for _, stage := range stages {
		type result struct {
			actor, out string
			code       int
		}
		results := make(chan result, 3)
		for _, actor := range []string{"alice", "bob", "carol"} {
			go func() {
				out, code := run(actor, "rollout", "advance", "messenger-ig-interop", "--to", stage)
				results <- result{actor, out, code}
			}()
		}
		wins := 0
		for range 3 {
			r := <-results
			switch {
			case r.code == 0:
				wins++
			case r.code == 5 && (strings.Contains(r.out, "changed meanwhile") && strings.Contains(r.out, "it is now at stage "+stage) ||
				strings.Contains(r.out, "is not after the live stage "+stage)):
			default:
				t.Errorf("%s advancing to %s: exit %d\n%s", r.actor, stage, r.code, r.out)
			}
		}
		if wins != 1 {
			t.Fatalf("stage %s: %d advances won, want 1", stage, wins)
		}
	}
	out, _ := run("check", "rollout", "history", "messenger-ig-interop", "-o", "json")
	var events []map[string]any
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("history: %v\n%s", err, out)
	}
	advances := 0
	for _, e := range events {
		if e["event"] == "advanced" {
			advances++
		}
	}
	if advances != len(stages) {
		t.Errorf("%d advances recorded for %d stages", advances, len(stages))
	}
}

// TestReadmeRollouts runs the commands of README.md's "Staged rollouts"
// section as written, checking exit codes and key output.
func TestReadmeRollouts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Dir(rampBinary(t))
	work := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "testdata"), filepath.Join(work, "testdata"))
	_, cmds := readmeSection(t, filepath.Join("..", "..", "README.md"), "## Staged rollouts")
	if len(cmds) < 20 {
		t.Fatalf("found %d commands under Staged rollouts in README.md", len(cmds))
	}
	expect := map[string][]string{
		"ramp apply -f testdata/scenario.yaml":                {"+ rollout messenger-ig-interop"},
		"ramp rollout status":                                 {"messenger-ig-interop", "not started", "dogfood"},
		"ramp rollout advance messenger-ig-interop --dry-run": {"not started → dogfood", "cohort employees", "0% → 100%", "5 gain the variant"},
		"ramp rollout status messenger-ig-interop":            {"us-1 (2 of 7)", "started by alice", "region US", "next:     us-10", "✓ dogfood"},
		"--explain": {"admitted by stage dogfood"},
		"ramp rollout advance messenger-ig-interop --to us-50 --dry-run": {"us-1 → us-50", "1% → 50%"},
		"ramp rollout tick": {"no stage or ramp-up step is due"},
		"ramp rollout advance messenger-ig-interop   # held":      {"is paused by alice at ", ": crash rate up in us-10, investigating", "ramp rollout resume messenger-ig-interop, or pass --force"},
		"ramp flags disable messenger-ig-interop":                 {`every context now gets "off"`},
		"ramp rollout advance messenger-ig-interop   # refused":   {"is disabled (kill switch)"},
		"ramp rollout rollback messenger-ig-interop   # takes":    {"pass --yes"},
		"ramp rollout rollback messenger-ig-interop --yes":        {"us-10 → us-1", "paused (rolled back from stage us-10 by alice)"},
		"ramp rollout approve common-mailbox us-1   # alice":      {"cannot approve it too"},
		"RAMP_ACTOR=bob ramp rollout approve common-mailbox us-1": {"dogfood → us-1"},
		"ramp rollout history messenger-ig-interop":               {"plan created", "killed", "rolled back"},
		"ramp rollout get messenger-ig-interop":                   {"- {name: world-5, regions: ['*'], percent: 5, after: 168h}"},
	}
	seen := map[string]bool{}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "RAMP_DB=", "RAMP_ACTOR=", "RAMP_FORCE_TTY=1")
	runReadmeLines(t, work, env, cmds, func(line, out string) {
		command, _, _ := strings.Cut(line, "#")
		for key, wants := range expect {
			matches := key == line || key == strings.TrimSpace(command) ||
				strings.Contains(key, "#") && strings.HasPrefix(line, key) || key == "--explain" && strings.Contains(line, key)
			if !matches {
				continue
			}
			seen[key] = true
			for _, w := range wants {
				if !strings.Contains(out, w) {
					t.Errorf("$ %s\noutput lacks %q:\n%s", line, w, out)
				}
			}
		}
	})
	for key := range expect {
		if !seen[key] {
			t.Errorf("README.md no longer runs %q", key)
		}
	}
}

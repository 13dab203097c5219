package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/cli"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// ramp runs the CLI in process with real argv against a real SQLite file,
// as a user would, and returns stdout, stderr and the exit code.
type ramp struct {
	t  *testing.T
	db string
}

func newRamp(t *testing.T) *ramp {
	t.Helper()
	t.Setenv("RAMP_ACTOR", "tester")
	t.Setenv("RAMP_DB", "")
	return &ramp{t: t, db: filepath.Join(t.TempDir(), "ramp.db")}
}

func (r *ramp) run(stdin string, args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	io, in, out, errOut := cli.Test()
	in.WriteString(stdin)
	code = cli.Execute(context.Background(), append([]string{"--db", r.db}, args...), io)
	return out.String(), errOut.String(), code
}

// ok runs a command that must succeed.
func (r *ramp) ok(args ...string) string {
	r.t.Helper()
	out, errOut, code := r.run("", args...)
	if code != 0 {
		r.t.Fatalf("ramp %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func testdata(name string) string { return filepath.Join("..", "..", "testdata", name) }

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

func TestApplyExportRoundTrip(t *testing.T) {
	r := newRamp(t)
	res := decode[map[string]any](t, r.ok("apply", "-f", testdata("example.yaml")))
	if res["applied"] != true || len(res["changes"].([]any)) != 5 {
		t.Fatalf("first apply = %v", res)
	}
	again := decode[map[string]any](t, r.ok("apply", "-f", testdata("example.yaml")))
	if again["applied"] != false || len(again["changes"].([]any)) != 0 {
		t.Fatalf("second apply changed something: %v", again)
	}

	exported := r.ok("export")
	file := filepath.Join(t.TempDir(), "export.yaml")
	if err := os.WriteFile(file, []byte(exported), 0o644); err != nil {
		t.Fatal(err)
	}
	noop := decode[map[string]any](t, r.ok("apply", "-f", file))
	if len(noop["changes"].([]any)) != 0 {
		t.Fatalf("export then apply changed: %v\nexport:\n%s", noop["changes"], exported)
	}
	// The JSON export applies to a fresh database and reproduces the state.
	jsonFile := filepath.Join(t.TempDir(), "export.json")
	r.ok("export", "-o", "json", "--file", jsonFile)
	fresh := newRamp(t)
	fresh.ok("apply", "-f", jsonFile)
	if got := fresh.ok("export"); got != exported {
		t.Errorf("export of the copy differs:\n%s", cmp.Diff(exported, got))
	}
}

func TestApplyRejectsBrokenFileAndWritesNothing(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	before := r.ok("export")
	_, errOut, code := r.run("", "apply", "-f", testdata("broken.yaml"))
	if code != cli.ExitInvalid {
		t.Fatalf("exit %d, want %d\n%s", code, cli.ExitInvalid, errOut)
	}
	if !strings.Contains(errOut, "broken.yaml:") {
		t.Errorf("error does not name the file and line:\n%s", errOut)
	}
	if after := r.ok("export"); after != before {
		t.Errorf("a rejected apply changed the store:\n%s", cmp.Diff(before, after))
	}
}

func TestApplyDryRunAndPrune(t *testing.T) {
	r := newRamp(t)
	out := decode[map[string]any](t, r.ok("apply", "--dry-run", "-f", testdata("example.yaml")))
	if out["applied"] != false || len(out["changes"].([]any)) != 5 {
		t.Fatalf("dry run = %v", out)
	}
	if _, err := os.Stat(r.db); err == nil {
		t.Fatalf("the dry run created the database")
	}
	r.ok("apply", "-f", testdata("scenario.yaml"))
	// Running experiments are never pruned away: stop them first.
	if _, errOut, code := r.run("", "apply", "--prune", "--dry-run", "-f", testdata("example.yaml")); code != cli.ExitConflict || !strings.Contains(errOut, "stop it first") {
		t.Fatalf("prune of running experiments: exit %d\n%s", code, errOut)
	}
	r.ok("experiments", "stop", "dm-handoff-vs-inline", "--yes")
	r.ok("experiments", "stop", "link-code-ttl", "--yes")
	pruned := decode[map[string]any](t, r.ok("apply", "--prune", "--dry-run", "-f", testdata("example.yaml")))
	var deletes []string
	for _, c := range pruned["changes"].([]any) {
		c := c.(map[string]any)
		if c["action"] == "delete" {
			deletes = append(deletes, c["kind"].(string)+" "+c["key"].(string))
		}
	}
	want := []string{"cohort linked-accounts", "cohort us-users", "cohort whatsapp-beta-testers",
		"flag common-mailbox", "flag ig-add-whatsapp-to-profile", "flag ig-business-inbox-tools"}
	if diff := cmp.Diff(want, deletes); diff != "" {
		t.Errorf("prune deletes (-want +got):\n%s", diff)
	}
	r.ok("apply", "--prune", "-f", testdata("example.yaml"))
	if flags := decode[[]map[string]any](t, r.ok("flags", "list")); len(flags) != 3 {
		t.Errorf("after prune: %d flags, want 3", len(flags))
	}
}

func TestEval(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     map[string]any
	}{
		{"employee", []string{"eval", "messenger-ig-interop", "--context", `{"targetingKey":"emp-1"}`}, 0,
			map[string]any{"key": "messenger-ig-interop", "value": true, "variant": "on", "reason": "TARGETING_MATCH"}},
		{"outside the US", []string{"eval", "messenger-ig-interop", "--context", `{"targetingKey":"u1","region":"FR"}`}, 0,
			map[string]any{"key": "messenger-ig-interop", "value": false, "variant": "off", "reason": "DEFAULT"}},
		{"static", []string{"eval", "wa-link-code-ttl-seconds"}, 0,
			map[string]any{"key": "wa-link-code-ttl-seconds", "value": 600.0, "variant": "long", "reason": "STATIC"}},
		{"unknown flag", []string{"eval", "nope", "--context", `{}`}, cli.ExitEvalError,
			map[string]any{"key": "nope", "errorCode": "FLAG_NOT_FOUND"}},
		{"split without key", []string{"eval", "messenger-ig-interop", "--context", `{"region":"US"}`}, cli.ExitEvalError,
			map[string]any{"key": "messenger-ig-interop", "errorCode": "TARGETING_KEY_MISSING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := r.run("", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, errOut)
			}
			got := decode[map[string]any](t, out)
			delete(got, "metadata")
			delete(got, "errorDetails")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
	if _, errOut, code := r.run("", "eval", "messenger-ig-interop", "--context", `{"targetingKey":`); code != cli.ExitInvalid || !strings.Contains(errOut, "--context") {
		t.Errorf("malformed context: exit %d, %s", code, errOut)
	}
	explained := decode[map[string]any](t, r.ok("eval", "messenger-ig-interop", "--explain", "-o", "json", "--context", `{"targetingKey":"u1","region":"US","accountCenterId":"ac-1"}`))
	b := explained["explanation"].(map[string]any)["bucketing"].(map[string]any)
	if b["attribute"] != "accountCenterId" || b["key"] != "ac-1" {
		t.Errorf("explain bucketing = %v", b)
	}
}

// TestEvalTable prints a decision as a table with -o table (it printed
// JSON): the variant, value, reason and the rule that decided.
func TestEvalTable(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string // the data row's cells
	}{
		{"rule", []string{"--context", `{"targetingKey":"emp-1"}`}, 0, []string{"messenger-ig-interop", "on", "true", "TARGETING_MATCH", "0"}},
		{"default", []string{"--context", `{"targetingKey":"u1","region":"FR"}`}, 0, []string{"messenger-ig-interop", "off", "false", "DEFAULT", "-"}},
		{"error", []string{"--context", `{"region":"US"}`}, cli.ExitEvalError, []string{"messenger-ig-interop", "(caller's", "default)", "ERROR", "TARGETING_KEY_MISSING:"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := r.run("", append([]string{"eval", "messenger-ig-interop", "-o", "table"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "KEY ") || strings.HasPrefix(out, "{") {
				t.Fatalf("not a table of one decision:\n%s", out)
			}
			if got := strings.Fields(lines[1]); len(got) < len(tt.want) || !cmp.Equal(got[:len(tt.want)], tt.want) {
				t.Errorf("row = %q, want it to start with %q", got, tt.want)
			}
		})
	}
}

func TestEvalContexts(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	in := `{"targetingKey":"emp-1"}
not json

{"targetingKey":"u1","region":"FR"}
[1,2]
`
	out, errOut, code := r.run(in, "eval", "messenger-ig-interop", "--contexts", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4 (blank lines skipped):\n%s", len(lines), out)
	}
	wants := []string{`"variant":"on"`, `"errorCode":"PARSE_ERROR"`, `"variant":"off"`, `"errorCode":"PARSE_ERROR"`}
	for i, w := range wants {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %s, want %s", i+1, lines[i], w)
		}
	}
}

func TestKillSwitch(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	r.ok("flags", "disable", "messenger-ig-interop")
	d := decode[map[string]any](t, r.ok("eval", "messenger-ig-interop", "--context", `{"targetingKey":"emp-1"}`))
	if d["reason"] != "DISABLED" || d["value"] != false {
		t.Fatalf("after disable: %v", d)
	}
	// Applying the file again must not re-enable a killed flag.
	r.ok("apply", "-f", testdata("example.yaml"))
	d = decode[map[string]any](t, r.ok("eval", "messenger-ig-interop", "--context", `{"targetingKey":"emp-1"}`))
	if d["reason"] != "DISABLED" {
		t.Fatalf("apply re-enabled a killed flag: %v", d)
	}
	r.ok("flags", "enable", "messenger-ig-interop")
	d = decode[map[string]any](t, r.ok("eval", "messenger-ig-interop", "--context", `{"targetingKey":"emp-1"}`))
	if d["reason"] != "TARGETING_MATCH" {
		t.Fatalf("after enable: %v", d)
	}
	got := decode[map[string]any](t, r.ok("flags", "get", "messenger-ig-interop", "-o", "json"))
	if got["enabled"] != true || got["version"] != 3.0 {
		t.Errorf("flags get = %v", got)
	}
}

func TestCohortMembers(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	r.ok("cohorts", "add", "employees", "emp-9", "emp-10", "--region", "us")
	c := decode[map[string]any](t, r.ok("cohorts", "get", "employees", "-o", "json"))
	if c["members"] != 5.0 || c["membersByRegion"].(map[string]any)["US"] != 2.0 {
		t.Fatalf("cohort = %v", c)
	}
	d := decode[map[string]any](t, r.ok("eval", "messenger-ig-interop", "--context", `{"targetingKey":"emp-9"}`))
	if d["variant"] != "on" {
		t.Errorf("new member not targeted: %v", d)
	}
	r.ok("cohorts", "remove", "employees", "emp-9")
	d = decode[map[string]any](t, r.ok("eval", "messenger-ig-interop", "--context", `{"targetingKey":"emp-9"}`))
	if d["variant"] != "off" {
		t.Errorf("removed member still targeted: %v", d)
	}
	list := decode[[]map[string]any](t, r.ok("cohorts", "list"))
	if len(list) != 2 {
		t.Errorf("cohorts list = %v", list)
	}
	if _, errOut, code := r.run("", "cohorts", "add", "ghosts", "u1"); code != cli.ExitNotFound {
		t.Errorf("add to unknown cohort: exit %d %s", code, errOut)
	}
	if _, _, code := r.run("", "cohorts", "add", "employees", "u1", "--region", "XX"); code != cli.ExitUsage {
		t.Errorf("bad region: exit %d", code)
	}
}

func TestExitCodes(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"flags", "get", "nope"}, cli.ExitNotFound},
		{[]string{"flags", "get"}, cli.ExitUsage},
		{[]string{"flags", "list", "--bogus"}, cli.ExitUsage},
		{[]string{"nosuchcommand"}, cli.ExitUsage},
		{[]string{"apply"}, cli.ExitUsage},
		{[]string{"apply", "-f", "/does/not/exist.yaml"}, cli.ExitInvalid},
		{[]string{"flags", "delete", "messenger-ig-interop"}, cli.ExitUsage}, // not a terminal: needs --yes
		{[]string{"flags", "list", "-o", "xml"}, cli.ExitUsage},
	}
	for _, tt := range tests {
		_, errOut, code := r.run("", tt.args...)
		if code != tt.want {
			t.Errorf("ramp %s: exit %d, want %d (%s)", strings.Join(tt.args, " "), code, tt.want, errOut)
		}
		if !strings.HasPrefix(errOut, "ramp: ") {
			t.Errorf("ramp %s: stderr %q does not start with \"ramp: \"", strings.Join(tt.args, " "), errOut)
		}
	}
	r.ok("flags", "delete", "messenger-ig-interop", "--yes")
	if _, _, code := r.run("", "flags", "get", "messenger-ig-interop"); code != cli.ExitNotFound {
		t.Errorf("deleted flag still there")
	}
}

func TestOutputFormats(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	if out := r.ok("flags", "list", "-o", "table"); !strings.Contains(out, "KEY") || !strings.Contains(out, "messenger-ig-interop") {
		t.Errorf("table:\n%s", out)
	}
	if out := r.ok("flags", "list", "-o", "yaml"); !strings.Contains(out, "- key: common-mailbox") {
		t.Errorf("yaml:\n%s", out)
	}
	regions := decode[map[string]any](t, r.ok("regions"))
	if n := len(regions["countries"].([]any)); n != 249 {
		t.Errorf("regions: %d countries", n)
	}
	if out := r.ok("flags", "get", "ig-dm-via-whatsapp", "-o", "table"); !strings.Contains(out, "then experiment dm-handoff-vs-inline (running, phase 1): off 34% / handoff 33% / inline 33% to 20% of layer cross-app-messaging") {
		t.Errorf("flags get table:\n%s", out)
	}
	if out := r.ok("version"); !strings.Contains(out, `"bucketing": 1`) {
		t.Errorf("version: %s", out)
	}
}

func TestSimulate(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	r.ok("rollout", "advance", "messenger-ig-interop", "--to", "us-10")
	sim := decode[cli.Simulation](t, r.ok("simulate", "--users", "20000"))
	if sim.Users != 20000 || len(sim.Flags) != 6 {
		t.Fatalf("simulation: %d users, %d flags", sim.Users, len(sim.Flags))
	}
	for _, fs := range sim.Flags {
		if fs.Key == "messenger-ig-interop" {
			us := fs.ByRegion["US"]
			share := float64(us["on"]) / float64(us["on"]+us["off"])
			if share < 0.08 || share > 0.12 {
				t.Errorf("US share of messenger-ig-interop = %.3f, want about 0.10", share)
			}
			if fs.LinkedPairs == 0 || fs.LinkedAgree != fs.LinkedPairs {
				t.Errorf("linked accounts: %d of %d agree", fs.LinkedAgree, fs.LinkedPairs)
			}
		}
		if len(fs.Errors) > 0 {
			t.Errorf("%s: errors %v", fs.Key, fs.Errors)
		}
	}
	table := r.ok("simulate", "--users", "5000", "-o", "table", "--flag", "common-mailbox")
	if !strings.Contains(table, "common-mailbox (boolean)") || !strings.Contains(table, "REGION") {
		t.Errorf("table:\n%s", table)
	}
}

// TestEveryCommandHasHelpAndExamples walks the command tree: every command a
// user can run documents itself with an example.
func TestEveryCommandHasHelpAndExamples(t *testing.T) {
	io, _, _, _ := cli.Test()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.CommandPath(), "ramp completion") {
			return
		}
		if c.Short == "" {
			t.Errorf("%s has no short description", c.CommandPath())
		}
		if c.Example == "" {
			t.Errorf("%s has no examples", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cli.NewRootCmd(io))
	r := newRamp(t)
	out, _, code := r.run("", "apply", "--help")
	if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--dry-run") {
		t.Errorf("apply --help: exit %d\n%s", code, out)
	}
	if out, _, code := r.run("", "completion", "bash"); code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: exit %d", code)
	}
}

func TestKeysCommands(t *testing.T) {
	r := newRamp(t)
	secret := strings.TrimSpace(r.ok("keys", "create", "--role", "sdk", "--name", "checkout", "-o", "table"))
	if !strings.HasPrefix(secret, "ramp_key_") {
		t.Fatalf("secret = %q", secret)
	}
	created := decode[map[string]any](t, r.ok("keys", "create", "--role", "admin", "--name", "ops"))
	if !strings.HasPrefix(created["secret"].(string), "ramp_key_") || created["role"] != "admin" {
		t.Errorf("create -o json = %v", created)
	}
	list := r.ok("keys", "list")
	if strings.Contains(list, secret) || strings.Contains(list, created["secret"].(string)) {
		t.Fatalf("keys list shows a secret:\n%s", list)
	}
	if keys := decode[[]map[string]any](t, list); len(keys) != 2 {
		t.Errorf("keys = %v", keys)
	}
	if _, _, code := r.run("", "keys", "create", "--role", "sdk", "--name", "checkout"); code != cli.ExitConflict {
		t.Errorf("duplicate name: exit %d", code)
	}
	if _, _, code := r.run("", "keys", "create", "--role", "root", "--name", "x"); code != cli.ExitUsage {
		t.Errorf("bad role: exit %d", code)
	}
	r.ok("keys", "revoke", "checkout")
	if keys := decode[[]map[string]any](t, r.ok("keys", "list")); len(keys) != 1 {
		t.Errorf("after revoke: %v", keys)
	}
	if keys := decode[[]map[string]any](t, r.ok("keys", "list", "--all")); len(keys) != 2 {
		t.Errorf("--all: %v", keys)
	}
	if _, _, code := r.run("", "keys", "revoke", "checkout"); code != cli.ExitNotFound {
		t.Errorf("revoke twice: exit %d", code)
	}
}

// TestDBCopy moves a database with a live rollout into a new one, as the
// README's "From SQLite to PostgreSQL" does, and finds the same rollout
// status, the same decision for an employee (the plan's, not STATIC), the
// same keys and the same audit log there (it switched live rollouts off
// when the move was export and apply). A second copy into it is refused.
// With $RAMP_TEST_DSN naming Postgres, the target is a Postgres schema.
func TestDBCopy(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	r.ok("rollout", "advance", "messenger-ig-interop")
	r.ok("rollout", "advance", "messenger-ig-interop")
	r.ok("keys", "create", "--role", "sdk", "--name", "checkout")
	r.ok("--actor", "bob", "flags", "disable", "ig-dm-via-whatsapp")

	to := &ramp{t: t, db: testdb.DSN(t)}
	if testdb.IsPostgres(to.db) {
		t.Log("copying into Postgres")
	}
	res := decode[map[string]any](t, r.ok("db", "copy", r.db, to.db, "-o", "json"))
	from, copied := res["from"].(map[string]any), res["to"].(map[string]any)
	if from["epoch"] == copied["epoch"] || copied["version"].(float64) <= from["version"].(float64) {
		t.Errorf("copy's revision %v, source's %v: want a new epoch and a higher version", copied, from)
	}

	employee := []string{"eval", "messenger-ig-interop", "--context", `{"targetingKey":"emp-1","region":"FR"}`}
	decision := func(r *ramp) map[string]any {
		d := decode[map[string]any](t, r.ok(employee...))
		delete(d["metadata"].(map[string]any), "configVersion") // higher in the copy, as it should be
		return d
	}
	if d := cmp.Diff(decision(r), decision(to)); d != "" {
		t.Errorf("the employee's decision differs after the copy (-source +copy):\n%s", d)
	}
	for _, args := range [][]string{
		{"rollout", "status", "-o", "json"},
		{"keys", "list", "--all", "-o", "json"},
		{"flags", "list", "-o", "json"},
		{"cohorts", "get", "employees", "-o", "json"},
		{"metrics", "list", "-o", "json"},
	} {
		if d := cmp.Diff(r.ok(args...), to.ok(args...)); d != "" {
			t.Errorf("ramp %s differs after the copy (-source +copy):\n%s", strings.Join(args, " "), d)
		}
	}
	if d := decode[map[string]any](t, to.ok(employee...)); d["reason"] != "TARGETING_MATCH" || d["value"] != true {
		t.Errorf("employee in the copy: %v, want true by the rollout's dogfood stage", d)
	}
	srcLog := decode[[]map[string]any](t, r.ok("audit", "--limit", "0", "-o", "json"))
	dstLog := decode[[]map[string]any](t, to.ok("audit", "--limit", "0", "-o", "json"))
	if len(dstLog) != len(srcLog)+1 || dstLog[len(dstLog)-1]["action"] != "db.copy" {
		t.Fatalf("copy's audit log: %d entries, want the source's %d and db.copy", len(dstLog), len(srcLog))
	}
	if d := cmp.Diff(srcLog, dstLog[:len(srcLog)]); d != "" {
		t.Errorf("audit log differs (-source +copy):\n%s", d)
	}

	if _, errOut, code := r.run("", "db", "copy", r.db, to.db); code != cli.ExitConflict || !strings.Contains(errOut, "not empty") {
		t.Errorf("a second copy: exit %d, want %d with 'not empty': %s", code, cli.ExitConflict, errOut)
	}
	if _, errOut, code := r.run("", "db", "copy", r.db); code != cli.ExitUsage {
		t.Errorf("one argument: exit %d, want %d: %s", code, cli.ExitUsage, errOut)
	}
}

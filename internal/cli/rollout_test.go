package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const interop = "messenger-ig-interop"

// status returns `rollout status FLAG -o json`.
func (r *ramp) status() map[string]any {
	r.t.Helper()
	return decode[map[string]any](r.t, r.ok("rollout", "status", interop))
}

func TestRolloutCommands(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	if st := r.status(); st["stage"] != "" || st["position"] != 0.0 || st["stages"] != 7.0 {
		t.Fatalf("after apply: %v", st)
	}

	// A dry run writes nothing and says who gains.
	dry := decode[map[string]any](t, r.ok("rollout", "advance", interop, "--dry-run"))
	if dry["to"] != "dogfood" || dry["knownUsers"].(map[string]any)["gain"] != 5.0 {
		t.Errorf("dry run: %v", dry)
	}
	if st := r.status(); st["stage"] != "" {
		t.Fatalf("the dry run wrote: %v", st)
	}

	for _, stage := range []string{"dogfood", "us-1"} {
		res := decode[map[string]any](t, r.ok("rollout", "advance", interop))
		if res["to"] != stage || res["outcome"] != "started" {
			t.Fatalf("advance: %v", res)
		}
	}
	st := r.status()
	if st["stage"] != "us-1" || st["by"] != "tester" || st["next"].(map[string]any)["stage"] != "us-10" {
		t.Errorf("status: %v", st)
	}

	// Approval: a stage that needs it waits for someone else.
	plan := strings.Replace(readFile(t, testdata("scenario.yaml")), "{name: us-10, regions: [US], percent: 10, after: 48h}",
		"{name: us-10, regions: [US], percent: 10, after: 48h, approval: required}", 1)
	file := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(file, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	applied := decode[map[string]any](t, r.ok("apply", "-f", file))
	if rs := applied["rollouts"].([]any); len(rs) != 1 || rs[0].(map[string]any)["action"] != "update" {
		t.Fatalf("apply of the changed plan: %v", applied)
	}
	if res := decode[map[string]any](t, r.ok("rollout", "advance", interop)); res["outcome"] != "requested" {
		t.Fatalf("advance to a stage needing approval: %v", res)
	}
	if st := r.status(); st["stage"] != "us-1" || st["awaitingApproval"].(map[string]any)["by"] != "tester" {
		t.Errorf("status while awaiting approval: %v", st)
	}
	if _, errOut, code := r.run("", "rollout", "approve", interop, "us-10"); code != 5 || !strings.Contains(errOut, "tester asked for stage us-10 and cannot approve it too") {
		t.Errorf("self-approval: exit %d, %s", code, errOut)
	}
	r.ok("--actor", "bob", "rollout", "approve", interop, "us-10")
	if st := r.status(); st["stage"] != "us-10" || st["approvedBy"] != "bob" || st["awaitingApproval"] != nil {
		t.Errorf("after approval: %v", st)
	}

	// The kill switch overrides the plan; enable restores the live stage.
	us := ""
	for i := 0; i < 200 && us == ""; i++ { // someone in the first 10% of the US
		c := fmt.Sprintf(`{"targetingKey":"u%d","region":"US"}`, i)
		if d := decode[map[string]any](t, r.ok("eval", interop, "-c", c)); d["variant"] == "on" {
			us = c
		}
	}
	if us == "" {
		t.Fatal("nobody of 200 US users has the feature at us-10")
	}
	r.ok("flags", "disable", interop)
	if d := decode[map[string]any](t, r.ok("eval", interop, "-c", us)); d["variant"] != "off" || d["reason"] != "DISABLED" {
		t.Errorf("killed: %v", d)
	}
	if _, errOut, code := r.run("", "rollout", "advance", interop); code != 5 || !strings.Contains(errOut, "is disabled (kill switch)") {
		t.Errorf("advance while killed: exit %d, %s", code, errOut)
	}
	r.ok("flags", "enable", interop)
	if d := decode[map[string]any](t, r.ok("eval", interop, "-c", us)); d["variant"] != "on" {
		t.Errorf("enabled again: %v", d)
	}

	// Rollback needs --yes off a terminal, and pauses.
	if _, errOut, code := r.run("", "rollout", "rollback", interop); code != 2 || !strings.Contains(errOut, "pass --yes") {
		t.Errorf("rollback without --yes: exit %d, %s", code, errOut)
	}
	res := decode[map[string]any](t, r.ok("rollout", "rollback", interop, "--yes"))
	if res["from"] != "us-10" || res["to"] != "us-1" {
		t.Errorf("rollback: %v", res)
	}
	if st := r.status(); st["stage"] != "us-1" || st["paused"] != true || st["next"].(map[string]any)["blocked"] != "paused" {
		t.Errorf("after rollback: %v", st)
	}
	r.ok("rollout", "resume", interop)
	if _, errOut, code := r.run("", "rollout", "resume", interop); code != 5 || !strings.Contains(errOut, "is not paused") {
		t.Errorf("resume twice: exit %d, %s", code, errOut)
	}

	// History tells the story.
	var events []string
	for _, e := range decode[[]map[string]any](t, r.ok("rollout", "history", interop)) {
		events = append(events, e["actor"].(string)+" "+e["event"].(string))
	}
	want := []string{"tester plan created", "tester advanced", "tester advanced", "tester plan changed", "tester approval requested",
		"bob approved", "tester killed", "tester enabled", "tester rolled back", "tester resumed"}
	if strings.Join(events, "|") != strings.Join(want, "|") {
		t.Errorf("history:\n%s\nwant\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}

	// Export carries the plan; applying it back changes nothing.
	exported := filepath.Join(t.TempDir(), "export.yaml")
	r.ok("export", "--file", exported)
	if again := decode[map[string]any](t, r.ok("apply", "-f", exported)); again["applied"] != false {
		t.Errorf("re-applying the export changed something: %v", again)
	}
	if !strings.Contains(readFile(t, exported), "- {name: us-10, regions: [US], percent: 10, after: 48h, approval: required}") {
		t.Errorf("export:\n%s", readFile(t, exported))
	}
}

func TestRolloutErrors(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"rollout", "status", "nope"}, 4, `flag "nope" not found`},
		{[]string{"rollout", "status", "common-mailbox"}, 4, `rollout plan for flag "common-mailbox" not found`},
		{[]string{"rollout", "advance", interop, "--to", "us-11"}, 2, `rollout messenger-ig-interop has no stage "us-11" (stages: dogfood, us-1, us-10`},
		{[]string{"rollout", "rollback", interop, "--yes"}, 5, "has not started: nothing to roll back"},
		{[]string{"rollout", "approve", interop, "us-10"}, 5, "has no stage awaiting approval"},
		{[]string{"rollout", "add-stage", interop, "us-5", "--regions", "US", "--percent", "5"}, 3, "stage us-5 lowers region US from 100% to 5%"},
		{[]string{"rollout", "add-stage", interop, "eu-1", "--regions", "EU", "--percent", "1", "--when", "appVersion semver_gte x"}, 2, `--when "appVersion semver_gte x"`},
		{[]string{"rollout", "add-stage", "common-mailbox", "s", "--percent", "5"}, 2, "has no rollout plan yet: give --variant"},
		{[]string{"rollout", "add-stage", interop, "eu-1", "--regions", "EU", "--percent", "1", "--cohorts", "staff"}, 3, `unknown cohort "staff"`},
	}
	for _, tt := range tests {
		_, errOut, code := r.run("", tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) {
			t.Errorf("ramp %s: exit %d, want %d\n%s\nwant %q", strings.Join(tt.args, " "), code, tt.code, errOut, tt.msg)
		}
	}
	// Dropping the live stage from the plan is refused, dry run or not.
	r.ok("rollout", "advance", interop, "--to", "us-1")
	plan := strings.Replace(readFile(t, testdata("scenario.yaml")), "      - {name: us-1, regions: [US], percent: 1}\n", "", 1)
	file := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(file, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"--dry-run"}, nil} {
		_, errOut, code := r.run("", append([]string{"apply", "-f", file}, extra...)...)
		if code != 3 || !strings.Contains(errOut, "the live stage us-1 is not in the new plan") {
			t.Errorf("apply %v dropping the live stage: exit %d, %s", extra, code, errOut)
		}
	}
}

func TestRolloutBuiltFromTheCommandLine(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	r.ok("rollout", "delete", "messenger-ig-interop", "--yes")
	r.ok("rollout", "add-stage", "common-mailbox", "dogfood", "--variant", "on", "--cohorts", "employees", "--percent", "100")
	r.ok("rollout", "add-stage", "common-mailbox", "ios-us-5", "--regions", "US", "--when", "platform in ios,ipados", "--percent", "5", "--after", "2d", "--halt")
	r.ok("rollout", "add-stage", "common-mailbox", "br-1", "--regions", "BR", "--percent", "1", "--before", "ios-us-5")
	got := r.ok("rollout", "get", "common-mailbox")
	want := `rollouts:
  - flag: common-mailbox
    variant: "on"
    stages:
      - {name: dogfood, cohorts: [employees], percent: 100}
      - {name: br-1, regions: [BR], percent: 1}
      - {name: ios-us-5, regions: [US], when: [{attribute: platform, op: in, values: [ios, ipados]}], percent: 5, after: 48h, halt: true}
`
	if got != want {
		t.Errorf("rollout get:\n%s\nwant\n%s", got, want)
	}
	r.ok("rollout", "edit-stage", "common-mailbox", "ios-us-5", "--percent", "7.5", "--when", "", "--after", "0", "--halt=false", "--approval")
	if got := r.ok("rollout", "get", "common-mailbox"); !strings.Contains(got, "- {name: ios-us-5, regions: [US], percent: 7.5, approval: required}") {
		t.Errorf("after edit-stage:\n%s", got)
	}
	if _, errOut, code := r.run("", "rollout", "add-stage", "common-mailbox", "us-2", "--regions", "US", "--percent", "2"); code != 3 || !strings.Contains(errOut, "lowers region US from 7.5% to 2%") {
		t.Errorf("a stage lowering the edited one: exit %d, %s", code, errOut)
	}
	r.ok("rollout", "advance", "common-mailbox")
	if _, errOut, code := r.run("", "rollout", "remove-stage", "common-mailbox", "dogfood"); code != 3 || !strings.Contains(errOut, "the live stage dogfood is not in the new plan") {
		t.Errorf("removing the live stage: exit %d, %s", code, errOut)
	}
	r.ok("rollout", "remove-stage", "common-mailbox", "br-1")
	if st := decode[map[string]any](t, r.ok("rollout", "status", "common-mailbox")); st["stages"] != 2.0 {
		t.Errorf("after remove-stage: %v", st)
	}
	if st := decode[[]map[string]any](t, r.ok("rollout", "status")); len(st) != 1 {
		t.Errorf("status of all: %v", st)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRolloutPauseHolds: issue #10 item 6 through the command line. A
// paused plan does not advance (exit 5, naming who paused it, when and
// why) until resume or --force, and status shows the reason.
func TestRolloutPauseHolds(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	r.ok("rollout", "advance", interop)
	r.ok("--actor", "alice", "rollout", "pause", interop, "--reason", "crash rate up")
	_, errOut, code := r.run("", "--actor", "bob", "rollout", "advance", interop)
	if code != 5 || !strings.Contains(errOut, "is paused by alice at ") || !strings.Contains(errOut, ": crash rate up") || !strings.Contains(errOut, "ramp rollout resume "+interop+", or pass --force") {
		t.Errorf("advance while paused: exit %d, %s", code, errOut)
	}
	r.ok("rollout", "resume", interop)
	r.ok("flags", "disable", interop)
	if _, errOut, code := r.run("", "rollout", "advance", interop); code != 5 || !strings.Contains(errOut, "kill switch") || !strings.Contains(errOut, "run ramp flags enable "+interop) {
		t.Errorf("advance while killed: exit %d, %s", code, errOut)
	}
	r.ok("flags", "enable", interop)
	r.ok("--actor", "alice", "rollout", "pause", interop, "--reason", "crash rate up")
	st := r.status()
	if p, _ := st["pause"].(map[string]any); st["paused"] != true || p["by"] != "alice" || p["reason"] != "crash rate up" {
		t.Errorf("status while paused: %v", st)
	}
	if out := r.ok("rollout", "status", interop, "-o", "table"); !strings.Contains(out, "paused by alice at ") || !strings.Contains(out, ": crash rate up") {
		t.Errorf("status table while paused:\n%s", out)
	}
	res := decode[map[string]any](t, r.ok("--actor", "bob", "rollout", "advance", interop, "--force"))
	if res["to"] != "us-1" || res["forced"] != true || res["status"].(map[string]any)["paused"] != true {
		t.Errorf("forced advance: %v", res)
	}
	audit := r.ok("audit", "--flag", interop, "--action", "rollout.advance.forced")
	if !strings.Contains(audit, "rollout.advance.forced") {
		t.Errorf("the audit log does not record the forced advance:\n%s", audit)
	}
	r.ok("rollout", "resume", interop)
	r.ok("rollout", "rollback", interop, "--yes")
	if _, errOut, code := r.run("", "rollout", "advance", interop); code != 5 || !strings.Contains(errOut, "rolled back from stage us-1 by tester") {
		t.Errorf("advance after a rollback: exit %d, %s", code, errOut)
	}
}

// TestRolloutPercentInJSON: issue #10 item 5 through the command line:
// `rollout status -o json` gave "percent": 100 for 1%.
func TestRolloutPercentInJSON(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	r.ok("rollout", "advance", interop, "--to", "us-1")
	st := r.status()
	aud := st["audience"].([]any)
	if us := aud[1].(map[string]any); us["percent"] != 1.0 {
		t.Errorf("status audience: %v, want US at percent 1", aud)
	}
	if ch := st["nextChanges"].([]any)[0].(map[string]any); ch["from"] != 1.0 || ch["to"] != 10.0 {
		t.Errorf("next changes: %v", ch)
	}
	dry := decode[map[string]any](t, r.ok("rollout", "advance", interop, "--to", "us-50", "--dry-run"))
	if ch := dry["changes"].([]any)[0].(map[string]any); ch["to"] != 50.0 {
		t.Errorf("dry run changes: %v", ch)
	}
	r.ok("rollout", "edit-stage", interop, "us-50", "--percent", "40")
	audit := r.ok("audit", "--flag", interop, "-o", "table")
	if !strings.Contains(audit, "50 → 40") || strings.Contains(audit, "5000") {
		t.Errorf("the audit log's diff of the edit:\n%s", audit)
	}
}

package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// remoteSetup creates a database with the scenario, an sdk key and
// personal tokens for alice (editor, approve), bob (editor, approve) and
// vera (viewer), serves it, and returns the server, the tokens and an
// environment with its own configuration directory.
func remoteSetup(t *testing.T) (*rampServe, map[string]string, []string, string) {
	t.Helper()
	work := t.TempDir()
	db := filepath.Join(work, "remote.db")
	env := append(os.Environ(), "RAMP_DB=", "RAMP_ACTOR=", "RAMP_SERVER=", "RAMP_TOKEN=", "RAMP_FORCE_TTY=",
		"RAMP_CONFIG_DIR="+filepath.Join(work, "config"))
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(rampBinary(t), append([]string{"--db", db}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ramp %v: %v", args, err)
		}
		return out
	}
	run("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	tokens := map[string]string{}
	var key struct{ Secret string }
	_ = json.Unmarshal(run("keys", "create", "--name", "svc", "--role", "sdk", "-o", "json"), &key)
	tokens["sdk"] = key.Secret
	for who, role := range map[string]string{"alice": "editor", "bob": "editor", "vera": "viewer"} {
		args := []string{"tokens", "create", who, "--role", role, "-o", "json"}
		if role == "editor" {
			args = append(args, "--approve")
		}
		var tok struct{ Secret string }
		if err := json.Unmarshal(run(args...), &tok); err != nil || tok.Secret == "" {
			t.Fatalf("token for %s", who)
		}
		tokens[who] = tok.Secret
	}
	srv := startServe(t, append(append([]string{}, env...), "RAMP_DB="+db), "127.0.0.1:0", "--controller-interval", "0", "--compact-interval", "0")
	return srv, tokens, env, work
}

// rampRemote runs ramp with env (plus extra variables) and stdin, and returns
// its exit code and output.
func rampRemote(t *testing.T, env []string, stdin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(rampBinary(t), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// TestLoginAndContexts: ramp login saves a context (0600, atomically
// written, never printing the token), later commands go through the
// server as the token's person, contexts switch, logout revokes; flags
// and RAMP_SERVER/RAMP_TOKEN take precedence; an actor is refused in
// remote mode.
func TestLoginAndContexts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	srv, tokens, env, work := remoteSetup(t)
	cfgDir := filepath.Join(work, "config")

	code, out := rampRemote(t, env, tokens["alice"]+"\n", "login", "--server", srv.url, "--with-token", "--context", "prod")
	if code != 0 || !strings.Contains(out, `"name": "alice"`) || !strings.Contains(out, `"context": "prod"`) {
		t.Fatalf("login: exit %d\n%s", code, out)
	}
	if strings.Contains(out, tokens["alice"]) {
		t.Fatal("login printed the token")
	}
	st, err := os.Stat(filepath.Join(cfgDir, "contexts.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("contexts.json: %v, mode %v", err, st.Mode())
	}
	entries, _ := os.ReadDir(cfgDir)
	if len(entries) != 1 {
		t.Errorf("the configuration directory holds %d files (a temporary file left?)", len(entries))
	}

	// The current context: commands go through the server as alice.
	code, out = rampRemote(t, env, "", "flags", "disable", "common-mailbox")
	if code != 0 {
		t.Fatalf("flags disable through the context: exit %d\n%s", code, out)
	}
	code, out = rampRemote(t, env, "", "audit", "--flag", "common-mailbox", "--action", "flag.disable", "-o", "json")
	if code != 0 || !strings.Contains(out, `"actor": "alice"`) {
		t.Errorf("the audit log does not name alice: %s", out)
	}
	for _, args := range [][]string{{"auth", "status"}, {"auth", "status", "-o", "json"}, {"context", "list"}, {"context", "list", "-o", "json"}} {
		code, out = rampRemote(t, env, "", args...)
		if code != 0 || strings.Contains(out, tokens["alice"]) || !strings.Contains(out, "alice") {
			t.Errorf("%v: exit %d (token printed: %v)\n%s", args, code, strings.Contains(out, tokens["alice"]), out)
		}
	}

	// An actor is refused through a server.
	code, out = rampRemote(t, append(env, "RAMP_ACTOR=mallory"), "", "flags", "enable", "common-mailbox")
	if code != 2 || !strings.Contains(out, "--actor and RAMP_ACTOR cannot be used with a server") {
		t.Errorf("RAMP_ACTOR in remote mode: exit %d\n%s", code, out)
	}
	code, out = rampRemote(t, env, "", "--actor", "mallory", "flags", "enable", "common-mailbox")
	if code != 2 {
		t.Errorf("--actor in remote mode: exit %d\n%s", code, out)
	}
	// So is an events database: the server reads its own.
	code, out = rampRemote(t, append(env, "RAMP_EVENTS=clickhouse://127.0.0.1:9000/ramp"), "", "events", "stats")
	if code != 2 || !strings.Contains(out, "--events and RAMP_EVENTS cannot be used with a server") {
		t.Errorf("RAMP_EVENTS in remote mode: exit %d\n%s", code, out)
	}

	// Precedence: RAMP_TOKEN over the context, --token over RAMP_TOKEN.
	code, out = rampRemote(t, append(env, "RAMP_TOKEN="+tokens["vera"]), "", "auth", "status", "-o", "table")
	if code != 0 || !strings.Contains(out, "as:      vera") {
		t.Errorf("RAMP_TOKEN: %s", out)
	}
	code, out = rampRemote(t, append(env, "RAMP_TOKEN="+tokens["vera"]), "", "--token", tokens["bob"], "auth", "status", "-o", "table")
	if code != 0 || !strings.Contains(out, "as:      bob") {
		t.Errorf("--token: %s", out)
	}
	// A viewer cannot write: exit 1, the server's refusal.
	code, out = rampRemote(t, append(env, "RAMP_TOKEN="+tokens["vera"]), "", "flags", "enable", "common-mailbox")
	if code != 1 || !strings.Contains(out, `token "vera" (role viewer) may not write`) {
		t.Errorf("a viewer's write: exit %d\n%s", code, out)
	}
	// An sdk key cannot read.
	code, out = rampRemote(t, append(env, "RAMP_TOKEN="+tokens["sdk"]), "", "flags", "list")
	if code != 1 || !strings.Contains(out, "may not read") {
		t.Errorf("an sdk key's read: exit %d\n%s", code, out)
	}
	// An explicit --db works on the database, whatever the context.
	code, out = rampRemote(t, env, "", "--db", filepath.Join(work, "remote.db"), "auth", "status", "-o", "table")
	if code != 0 || !strings.Contains(out, "(local)") {
		t.Errorf("--db: %s", out)
	}
	code, out = rampRemote(t, env, "", "--db", "x.db", "--server", srv.url, "flags", "list")
	if code != 2 {
		t.Errorf("--db with --server: exit %d\n%s", code, out)
	}

	// Contexts: none makes commands local again; use and delete.
	if code, out = rampRemote(t, env, "", "context", "use", "none"); code != 0 {
		t.Fatal(out)
	}
	code, out = rampRemote(t, append(env, "RAMP_DB="+filepath.Join(work, "remote.db")), "", "auth", "status", "-o", "table")
	if code != 0 || !strings.Contains(out, "(local)") {
		t.Errorf("after context use none: %s", out)
	}
	if code, out = rampRemote(t, env, "", "context", "use", "nope"); code != 4 {
		t.Errorf("use an unknown context: exit %d\n%s", code, out)
	}
	if code, out = rampRemote(t, env, "", "context", "use", "prod"); code != 0 {
		t.Fatal(out)
	}

	// Logout revokes alice's token: it stops working everywhere.
	code, out = rampRemote(t, env, "", "logout")
	if code != 0 || !strings.Contains(out, "the token was revoked") {
		t.Fatalf("logout: exit %d\n%s", code, out)
	}
	ok := within(patience, func() bool {
		c, _ := rampRemote(t, append(env, "RAMP_TOKEN="+tokens["alice"]), "", "flags", "list")
		return c == 1
	})
	if !ok {
		t.Error("alice's token still works after logout")
	}
	code, out = rampRemote(t, env, "", "flags", "list")
	if code != 1 || !strings.Contains(out, "no token for") {
		t.Errorf("after logout: exit %d\n%s", code, out)
	}
	if code, out = rampRemote(t, env, "", "context", "delete", "prod"); code != 0 {
		t.Fatal(out)
	}
	// A pasted token needs a terminal.
	code, out = rampRemote(t, env, "", "login", "--server", srv.url)
	if code != 2 || !strings.Contains(out, "--with-token") {
		t.Errorf("login off a terminal: exit %d\n%s", code, out)
	}
	// A wrong token is not saved.
	code, out = rampRemote(t, env, "nope\n", "login", "--server", srv.url, "--with-token")
	if code != 1 || !strings.Contains(out, "unauthorized") && !strings.Contains(out, "credential") {
		t.Errorf("login with a wrong token: exit %d\n%s", code, out)
	}
}

// TestRemoteExitCodes: refusals through a server exit as they do locally
// (a move that lost a race: 5, "changed meanwhile").
func TestRemoteExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	srv, tokens, env, _ := remoteSetup(t)
	as := func(who string) []string {
		return append(append([]string{}, env...), "RAMP_SERVER="+srv.url, "RAMP_TOKEN="+tokens[who])
	}
	for _, c := range []struct {
		who  string
		args []string
		code int
		says string
	}{
		{"alice", []string{"flags", "get", "nope"}, 4, `flag "nope" not found`},
		{"alice", []string{"rollout", "advance", "messenger-ig-interop", "--to", "nope"}, 2, `has no stage "nope"`},
		{"alice", []string{"rollout", "resume", "messenger-ig-interop"}, 5, "not paused"},
		{"alice", []string{"apply", "-f", filepath.Join("..", "..", "testdata", "broken.yaml")}, 3, `unknown field "colour"`},
		{"alice", []string{"rollout", "rollback", "messenger-ig-interop"}, 5, "nothing to roll back"},
		{"alice", []string{"rollout", "advance", "messenger-ig-interop"}, 0, "dogfood"},
		{"alice", []string{"rollout", "advance", "messenger-ig-interop"}, 0, "us-1"},
		{"alice", []string{"rollout", "rollback", "messenger-ig-interop"}, 2, "pass --yes"},
	} {
		code, out := rampRemote(t, as(c.who), "", c.args...)
		if code != c.code || !strings.Contains(out, c.says) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", c.args, code, c.code, c.says, out)
		}
	}
}

package main_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatabaseReplacedUnderServe: a SQLite file renamed over the served
// one (a restore, a move from another machine) is noticed by its path's
// identity, not only its contents: ramp serve reopens it, logs it, and
// answers from it, the kill switch thrown there included. A deleted file
// turns the server unready, and the CLI refuses to create an empty one in
// its place. (The server kept its old inode, answered from it with /readyz
// 200, while every later CLI write went to the new file.)
func TestDatabaseReplacedUnderServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	dir := t.TempDir()
	served := filepath.Join(dir, "ramp.db")
	env := append(os.Environ(), "RAMP_DB="+served, "RAMP_ACTOR=alice", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
	key := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "e2e", "-o", "table"))
	srv := startServe(t, env, "127.0.0.1:0")
	url := srv.url + "/ofrep/v1/evaluate/flags/common-mailbox"
	reason := func() string {
		code, body := post(t, url, key, `{"context":{"targetingKey":"emp-1"}}`)
		if code != http.StatusOK {
			return "status " + http.StatusText(code)
		}
		r, _ := body["reason"].(string)
		return r
	}
	if got := reason(); got != "TARGETING_MATCH" {
		t.Fatalf("before: reason %s, want TARGETING_MATCH", got)
	}

	// A copy of the database, with the kill switch thrown in it, renamed
	// over the served file.
	restored := filepath.Join(dir, "restored.db")
	ramp("db", "copy", served, restored)
	ramp("--db", restored, "flags", "disable", "common-mailbox")
	if err := os.Rename(restored, served); err != nil {
		t.Fatal(err)
	}
	if !within(patience, func() bool { return reason() == "DISABLED" }) {
		t.Fatalf("the server still answers %s from the file it opened, not the one at its path\n%s", reason(), srv.logs())
	}
	// The line reaches srv.logs() through a pipe and a reading goroutine,
	// which may lag behind the answer that shows the new file: wait for it.
	if !within(patience, func() bool { return strings.Contains(srv.logs(), "the database file was replaced") }) {
		t.Errorf("the server did not log the replacement:\n%s", srv.logs())
	}
	// The CLI writes to the file the server now serves.
	ramp("flags", "enable", "common-mailbox")
	if !within(patience, func() bool { return reason() == "TARGETING_MATCH" }) {
		t.Fatalf("a write through the CLI after the replacement is not served: reason %s", reason())
	}

	// Deleted: unready, and the CLI does not make an empty database.
	for _, f := range []string{served, served + "-wal", served + "-shm"} {
		_ = os.Remove(f)
	}
	ready := func() int {
		resp, err := http.Get(srv.url + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if !within(patience, func() bool { return ready() == http.StatusServiceUnavailable }) {
		t.Errorf("/readyz = %d with the database deleted, want 503", ready())
	}
	cmd := exec.Command(rampBinary(t), "flags", "disable", "common-mailbox")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does not exist") {
		t.Errorf("flags disable with the database deleted: %v\n%s", err, out)
	}
	if _, err := os.Stat(served); err == nil {
		t.Errorf("a command created an empty database where the deleted one was")
	}
}

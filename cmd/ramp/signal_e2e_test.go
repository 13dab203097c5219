package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptedImport: an import waiting on a pipe that sends nothing
// stops at the first signal (SIGINT or SIGTERM), or at once at a second,
// always with exit status 130, and writes nothing: the cohort keeps its
// list. (It read only between database statements, a second Ctrl-C did not
// kill, and the code was 6 or 1 depending on timing.)
func TestInterruptedImport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tests := []struct {
		name    string
		signals []syscall.Signal
	}{
		{"SIGINT", []syscall.Signal{syscall.SIGINT}},
		{"SIGTERM", []syscall.Signal{syscall.SIGTERM}},
		{"two SIGINTs", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := append(os.Environ(), "RAMP_DB="+filepath.Join(dir, "ramp.db"), "RAMP_ACTOR=alice", "RAMP_FORCE_TTY=")
			ramp := rampIn(t, env)
			ramp("apply", "-f", filepath.Join("..", "..", "testdata", "scenario.yaml"))
			before := ramp("cohorts", "export", "employees")

			fifo := filepath.Join(dir, "rows.csv")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			cmd := exec.Command(rampBinary(t), "cohorts", "import", "employees", fifo)
			cmd.Env = env
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The writer end: a header and rows, then nothing more.
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := w.WriteString("user_id,region\nintruder-1,US\nintruder-2,FR\n"); err != nil {
				t.Fatal(err)
			}
			// The open above returned, so ramp has opened the pipe and
			// installed its signal handler (first thing in main); give it
			// a moment to read the rows, then it waits on the pipe.
			time.Sleep(200 * time.Millisecond)
			for _, sig := range tt.signals {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(patience):
				cmd.Process.Kill()
				t.Fatalf("ramp still running %s after %v; stderr:\n%s", patience, tt.signals, stderr.String())
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("exit = %v, want status 130; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
			}
			if after := ramp("cohorts", "export", "employees"); after != before {
				t.Errorf("the interrupted import changed the list:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

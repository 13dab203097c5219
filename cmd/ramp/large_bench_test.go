package main_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCommandsLargeCohort runs each command that neither prints nor
// diffs member ids, as a separate process, against a database whose
// whatsapp-beta-testers cohort lists RAMP_BENCH_MEMBERS users (default
// 2,000,000) and whose messenger-ig-interop plan is live: such commands
// must cost nothing per member (issue #10's goal: under 0.5 s each, however
// large the cohorts). One op is one process, start to exit.
//
//	go test -run '^$' -bench CommandsLargeCohort -benchtime 5x ./cmd/ramp/
//	RAMP_BENCH_MEMBERS=10000000 go test -run '^$' -bench CommandsLargeCohort -benchtime 3x -timeout 30m ./cmd/ramp/
func BenchmarkCommandsLargeCohort(b *testing.B) {
	members := 2_000_000
	if v := os.Getenv("RAMP_BENCH_MEMBERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("RAMP_BENCH_MEMBERS=%q: %v", v, err)
		}
		members = n
	}
	dir := b.TempDir()
	env := append(os.Environ(), "RAMP_DB="+filepath.Join(dir, "ramp.db"), "RAMP_ACTOR=bench", "RAMP_FORCE_TTY=")
	ramp := rampIn(b, env)
	scenario := filepath.Join("..", "..", "testdata", "scenario.yaml")
	ramp("apply", "-f", scenario)
	ramp("rollout", "advance", "messenger-ig-interop", "--to", "us-10")

	csvPath := filepath.Join(dir, "beta.csv")
	writeMembersCSV(b, csvPath, members)
	start := time.Now()
	ramp("cohorts", "import", "whatsapp-beta-testers", csvPath)
	b.Logf("imported %d members in %s", members, time.Since(start).Round(time.Millisecond))

	commands := []struct {
		name string
		args []string
	}{
		{"ramp-version", []string{"version"}}, // the floor: a process that opens no database
		{"flags-disable", []string{"flags", "disable", "common-mailbox"}},
		{"flags-enable", []string{"flags", "enable", "common-mailbox"}},
		{"flags-list", []string{"flags", "list", "-o", "json"}},
		{"flags-get", []string{"flags", "get", "messenger-ig-interop", "-o", "json"}},
		{"cohorts-list", []string{"cohorts", "list", "-o", "json"}},
		{"cohorts-get", []string{"cohorts", "get", "whatsapp-beta-testers", "-o", "json"}},
		{"cohorts-add-one", []string{"cohorts", "add", "whatsapp-beta-testers", "bench-user", "--region", "US"}},
		{"rollout-status", []string{"rollout", "status", "-o", "json"}},
		// One op is two processes: a plan of one stage is added, then deleted.
		{"rollout-add-and-remove-stage", []string{"rollout", "add-stage", "common-mailbox", "bench", "--variant", "on", "--cohorts", "whatsapp-beta-testers", "--percent", "1"}},
		{"apply-dry-run", []string{"apply", "-f", scenario, "--dry-run", "-o", "json"}},
		{"apply", []string{"apply", "-f", scenario, "-o", "json"}},
		{"audit", []string{"audit", "--limit", "20", "-o", "json"}},
		{"eval", []string{"eval", "messenger-ig-interop", "--context", `{"targetingKey":"emp-1"}`}},
	}
	bin := rampBinary(b)
	for _, c := range commands {
		b.Run(c.name, func(b *testing.B) {
			var worst time.Duration
			for b.Loop() {
				cmd := exec.Command(bin, c.args...)
				cmd.Env = env
				t0 := time.Now()
				out, err := cmd.CombinedOutput()
				if d := time.Since(t0); d > worst {
					worst = d
				}
				if err != nil {
					b.Fatalf("ramp %s: %v\n%s", strings.Join(c.args, " "), err, out)
				}
				if len(c.args) > 1 && c.args[1] == "add-stage" {
					ramp("rollout", "delete", "common-mailbox", "--yes")
				}
			}
			b.ReportMetric(worst.Seconds(), "worst-s")
		})
	}
}

// writeMembersCSV writes a user_id,region file of n distinct users.
func writeMembersCSV(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "user_id,region")
	regions := []string{"US", "BR", "IN", "FR", "CA", "MX"}
	for i := range n {
		fmt.Fprintf(w, "beta-%08d,%s\n", i, regions[i%len(regions)])
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkImportThroughAPI imports one CSV file of RAMP_BENCH_MEMBERS
// rows (default 1,000,000) into a new cohort twice, each on a database of
// its own: locally (ramp --db … cohorts import), then through ramp serve's
// admin API (ramp --server … cohorts import, the file streamed as the
// request body). It reports the wall time of each, the peak RSS of the
// local process, of the remote client and of the server (the server's
// high-water mark when the import answers, before it reloads the new
// configuration: --poll 1h keeps it from reloading meanwhile) and the
// ratios remote / local. The target: within 1.5× in time and
// memory.
//
//	RAMP_BENCH_MEMBERS=10000000 go test -run '^$' -bench ImportThroughAPI -benchtime 1x -timeout 30m ./cmd/ramp/
func BenchmarkImportThroughAPI(b *testing.B) {
	members := 1_000_000
	if v := os.Getenv("RAMP_BENCH_MEMBERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("RAMP_BENCH_MEMBERS=%q: %v", v, err)
		}
		members = n
	}
	dir := b.TempDir()
	csvPath := filepath.Join(dir, "big.csv")
	writeMembersCSV(b, csvPath, members)
	scenario := filepath.Join("..", "..", "testdata", "scenario.yaml")
	base := append(os.Environ(), "RAMP_DB=", "RAMP_ACTOR=bench", "RAMP_SERVER=", "RAMP_TOKEN=", "RAMP_FORCE_TTY=",
		"RAMP_CONFIG_DIR="+filepath.Join(dir, "config"))

	for i := 0; i < b.N; i++ {
		localDB := filepath.Join(dir, "local"+strconv.Itoa(i)+".db")
		remoteDB := filepath.Join(dir, "remote"+strconv.Itoa(i)+".db")
		for _, db := range []string{localDB, remoteDB} {
			rampIn(b, base)("--db", db, "apply", "-f", scenario)
		}
		var tok struct{ Secret string }
		if err := json.Unmarshal([]byte(rampIn(b, base)("--db", remoteDB, "tokens", "create", "bench", "--role", "editor", "-o", "json")), &tok); err != nil {
			b.Fatal(err)
		}

		localTime, localRSS := timedRamp(b, base, "--db", localDB, "cohorts", "import", "big", csvPath, "--create")

		b.StopTimer()
		srvEnv := append(append([]string{}, base...), "RAMP_DB="+remoteDB)
		srv := startServe(b, srvEnv, "127.0.0.1:0", "--controller-interval", "0", "--compact-interval", "0", "--poll", "1h")
		before := vmHWM(b, srv.cmd.Process.Pid)
		b.StartTimer()
		remoteTime, clientRSS := timedRamp(b, append(append([]string{}, base...), "RAMP_SERVER="+srv.url, "RAMP_TOKEN="+tok.Secret, "RAMP_ACTOR="),
			"cohorts", "import", "big", csvPath, "--create")
		b.StopTimer()
		serverRSS := vmHWM(b, srv.cmd.Process.Pid)
		srv.stop(b)
		b.StartTimer()

		b.ReportMetric(localTime.Seconds(), "local-s")
		b.ReportMetric(remoteTime.Seconds(), "remote-s")
		b.ReportMetric(remoteTime.Seconds()/localTime.Seconds(), "time-ratio")
		b.ReportMetric(float64(localRSS)/(1<<20), "local-MiB")
		b.ReportMetric(float64(clientRSS)/(1<<20), "client-MiB")
		b.ReportMetric(float64(serverRSS)/(1<<20), "server-MiB")
		b.ReportMetric(float64(serverRSS)/float64(localRSS), "server-rss-ratio")
		b.Logf("%d rows: local %s, %d MiB; through the API %s (×%.2f), client %d MiB, server %d MiB before the import, %d MiB peak (×%.2f of local)",
			members, localTime.Round(time.Millisecond), localRSS>>20, remoteTime.Round(time.Millisecond), remoteTime.Seconds()/localTime.Seconds(),
			clientRSS>>20, before>>20, serverRSS>>20, float64(serverRSS)/float64(localRSS))
	}
}

// timedRamp runs ramp and returns its wall time and peak RSS in bytes.
func timedRamp(b *testing.B, env []string, args ...string) (time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(rampBinary(b), args...)
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("ramp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return took, 0
	}
	return took, ru.Maxrss << 10 // kilobytes on Linux
}

// vmHWM reads a process's peak resident set size so far, in bytes (0
// where /proc is not).
func vmHWM(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

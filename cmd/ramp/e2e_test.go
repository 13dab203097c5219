package main_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestReadmeTour builds the ramp binary and runs the README's tour as a
// user would: each "$ " line of the tour's console block, in a shell, in a
// scratch directory holding a copy of testdata/. It checks exit codes
// (a line may announce "(exit N)") and what key lines must print.
func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Dir(rampBinary(t))
	work := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "testdata"), filepath.Join(work, "testdata"))

	cmds := tourCommands(t, filepath.Join("..", "..", "README.md"))
	if len(cmds) < 10 {
		t.Fatalf("found %d tour commands in README.md", len(cmds))
	}
	// What some commands must print (stdout and stderr together).
	expect := map[string][]string{
		"apply -f testdata/example.yaml --dry-run":                           {"+ flag messenger-ig-interop", "nothing written"},
		"eval messenger-ig-interop --context '{\"targetingKey\":\"emp-1\"}'": {`"variant": "on"`},
		"--explain":                 {"bucketing: targetingKey=\"u1\"", "SPLIT"},
		"flags disable":             {"every context now gets \"off\""},
		"apply -f tour-export.yaml": {"nothing to change"},
		"broken.yaml":               {"testdata/broken.yaml:", "unknown field \"colour\"", "unknown cohort \"employes\"", "percentages sum to 90"},
		"cohorts get employees":     {"members: 5"},
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "RAMP_DB=", "RAMP_ACTOR=", "RAMP_FORCE_TTY=1")
	disabled := false
	runReadmeLines(t, work, env, cmds, func(line, out string) {
		for key, wants := range expect {
			if !strings.Contains(line, key) {
				continue
			}
			for _, w := range wants {
				if key == "eval messenger-ig-interop --context '{\"targetingKey\":\"emp-1\"}'" && disabled {
					w = `"reason": "DISABLED"`
				}
				if !strings.Contains(out, w) {
					t.Errorf("$ %s\noutput lacks %q:\n%s", line, w, out)
				}
			}
		}
		if strings.Contains(line, "flags disable") {
			disabled = true
		}
		if strings.Contains(line, "flags enable") {
			disabled = false
		}
	})
	if _, err := os.Stat(filepath.Join(work, "tour.db")); err != nil {
		t.Errorf("the tour did not use tour.db: %v", err)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// rampBinary builds the ramp binary once per test run and returns its path.
func rampBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ramp-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ramp")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type tourCommand struct {
	line     string
	wantExit int
}

// runReadmeLines runs README command lines as a reader would, each in bash
// (with pipefail) in work: "export A=B" lines add to env; every other line
// must exit with the status its "(exit N)" note gives (0 without one), and
// then check gets its stdout and stderr together.
func runReadmeLines(t *testing.T, work string, env []string, cmds []tourCommand, check func(line, out string)) {
	t.Helper()
	env = slices.Clone(env)
	for _, c := range cmds {
		if strings.HasPrefix(c.line, "export ") {
			env = append(env, strings.Fields(strings.TrimPrefix(c.line, "export "))...)
			continue
		}
		sh := exec.Command("bash", "-o", "pipefail", "-c", c.line)
		sh.Dir, sh.Env = work, env
		out, err := sh.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		if code != c.wantExit {
			t.Errorf("$ %s\nexit %d, want %d\n%s", c.line, code, c.wantExit, out)
			continue
		}
		check(c.line, string(out))
	}
}

var exitNote = regexp.MustCompile(`\(exit (\d+)\)`)

// tourCommands reads the "$ " lines of the console block under "## A tour".
func tourCommands(t *testing.T, readme string) []tourCommand {
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []tourCommand
	inTour, inBlock := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inTour = line == "## A tour"
		case inTour && strings.HasPrefix(line, "```console"):
			inBlock = true
		case inBlock && strings.HasPrefix(line, "```"):
			return cmds
		case inBlock && strings.HasPrefix(line, "$ "):
			c := tourCommand{line: strings.TrimPrefix(line, "$ ")}
			if m := exitNote.FindStringSubmatch(line); m != nil {
				c.wantExit, _ = strconv.Atoi(m[1])
			}
			cmds = append(cmds, c)
		}
	}
	return cmds
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentProcesses runs two ramp processes that write the same
// database at once, over and over: every command either succeeds or fails
// with "changed meanwhile" (exit 5); none fails with "database is locked",
// and the store stays consistent.
func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := rampBinary(t)
	db := filepath.Join(t.TempDir(), "ramp.db")
	example := filepath.Join("..", "..", "testdata", "example.yaml")
	scenario := filepath.Join("..", "..", "testdata", "scenario.yaml")
	ramp := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"--db", db, "--actor", "e2e"}, args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, code := ramp("apply", "-f", example); code != 0 {
		t.Fatalf("apply: %d %s", code, out)
	}
	type result struct {
		out  string
		code int
	}
	results := make(chan result, 200)
	done := make(chan struct{})
	workers := [][]string{
		{"flags", "disable", "messenger-ig-interop"},
		{"flags", "enable", "messenger-ig-interop"},
		{"apply", "-f", scenario},
		{"cohorts", "add", "employees", "emp-x"},
	}
	for _, args := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 8 {
				out, code := ramp(args...)
				results <- result{out, code}
			}
		}()
	}
	for range workers {
		<-done
	}
	close(results)
	n := 0
	for r := range results {
		n++
		if r.code != 0 && r.code != 5 {
			t.Errorf("exit %d: %s", r.code, r.out)
		}
		if strings.Contains(strings.ToLower(r.out), "locked") {
			t.Errorf("database is locked surfaced: %s", r.out)
		}
	}
	if n != 32 {
		t.Errorf("%d results", n)
	}
	if out, code := ramp("export"); code != 0 || !strings.Contains(out, "messenger-ig-interop") {
		t.Errorf("export after the storm: %d %s", code, out)
	}
}

package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/internal/testdb"
)

// importConfig is a flag served to the members of a cohort whose list is
// managed by CSV imports (the file lists no members).
const importConfig = `cohorts:
  - key: beta
    description: beta testers, imported from CSV
flags:
  - key: beta-feature
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
    rules:
      - cohorts: [beta]
        serve: "on"
`

// TestImportsReachServe: `ramp cohorts import` in one process and a running
// `ramp serve` in another, on one database. The server picks up an import
// without restart, and while a replace import swaps one member list for
// another, concurrent OFREP evaluations see the old list or the new one,
// never a mixture: every answer given at one configuration version agrees
// with exactly one of the two lists. On SQLite, and on PostgreSQL when
// RAMP_TEST_DSN names one (it must not skip when RAMP_REQUIRE_POSTGRES=1).
func TestImportsReachServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs servers")
	}
	t.Run("sqlite", func(t *testing.T) {
		testImportsReachServe(t, filepath.Join(t.TempDir(), "ramp.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		testImportsReachServe(t, testdb.Postgres(t))
	})
}

func testImportsReachServe(t *testing.T, db string) {
	dir := t.TempDir()
	env := append(os.Environ(), "RAMP_DB="+db, "RAMP_ACTOR=e2e", "RAMP_FORCE_TTY=")
	ramp := rampIn(t, env)
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// Two lists with nothing in common, large enough that an import takes
	// a while (a fraction of a second on SQLite, more on Postgres).
	const rows = 100_000
	oldCSV := writeMembers(t, filepath.Join(dir, "old.csv"), "old", rows)
	newCSV := writeMembers(t, filepath.Join(dir, "new.csv"), "new", rows)
	ramp("apply", "-f", write("beta.yaml", importConfig))
	ramp("cohorts", "import", "beta", oldCSV)
	key := strings.TrimSpace(ramp("keys", "create", "--role", "sdk", "--name", "import-e2e", "-o", "table"))
	srv := startServe(t, env, "127.0.0.1:0")
	single := srv.url + "/ofrep/v1/evaluate/flags/beta-feature"

	// Probes spread over both lists.
	var probes []probe
	for i := 0; i < rows; i += rows / 50 {
		probes = append(probes, probe{id: fmt.Sprintf("old-%07d", i)}, probe{id: fmt.Sprintf("new-%07d", i), inNew: true})
	}
	// eval answers whether the server serves id as a member, and at which
	// configuration version; version 0 means it failed (reported), so that
	// it can run outside the test's goroutine. Requests are paced to 500 a
	// second in all, so that the replace import runs while they go on.
	pace := time.NewTicker(2 * time.Millisecond)
	defer pace.Stop()
	eval := func(id string) (on bool, version int64) {
		<-pace.C
		req, _ := http.NewRequest(http.MethodPost, single, strings.NewReader(`{"context":{"targetingKey":"`+id+`"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			return false, 0
		}
		defer resp.Body.Close()
		var m struct {
			Value    any
			Metadata struct{ ConfigVersion int64 }
		}
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s (%v)", id, resp.Status, err)
			return false, 0
		}
		return m.Value == true, m.Metadata.ConfigVersion
	}
	for _, p := range probes {
		if on, _ := eval(p.id); on == p.inNew {
			t.Fatalf("before the replace: %s gets %v", p.id, on)
		}
	}

	// A new member added by an import is served without restart.
	added := write("added.csv", "user_id,region\nlate-1,FR\n")
	start := time.Now()
	ramp("cohorts", "import", "beta", added, "--mode", "add")
	if !within(patience, func() bool { on, _ := eval("late-1"); return on }) {
		t.Fatalf("late-1, added by an import, is not served as a member within %s\n%s", patience, srv.logs())
	}
	t.Logf("an added member was served %s after the import exited", time.Since(start).Round(time.Millisecond))

	// Evaluations run while the replace import runs, and until every probe
	// sees the new list.
	var (
		mu        sync.Mutex
		answers   = map[int64]*versionAnswers{}
		stop      atomic.Bool
		importing atomic.Bool
		during    atomic.Int64 // answers given while the import ran
		wg        sync.WaitGroup
	)
	importing.Store(true)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; !stop.Load(); i++ {
				p := probes[i%len(probes)]
				on, v := eval(p.id)
				if v == 0 {
					return
				}
				mu.Lock()
				a := answers[v]
				if a == nil {
					a = &versionAnswers{}
					answers[v] = a
				}
				a.add(p, on)
				mu.Unlock()
				if importing.Load() {
					during.Add(1)
				}
			}
		}()
	}
	start = time.Now()
	ramp("cohorts", "import", "beta", newCSV)
	importing.Store(false)
	took := time.Since(start)
	allNew := within(patience, func() bool {
		for _, p := range probes {
			if on, _ := eval(p.id); on != p.inNew {
				return false
			}
		}
		return true
	})
	stop.Store(true)
	wg.Wait()
	if !allNew {
		t.Fatalf("the replaced list is not served within %s of the import\n%s", patience, srv.logs())
	}
	mu.Lock()
	defer mu.Unlock()
	var summary []string
	for v, a := range answers {
		summary = append(summary, fmt.Sprintf("version %d: %s", v, a))
		if !a.consistent() {
			t.Errorf("configuration version %d mixes the two lists: %s", v, a)
		}
	}
	t.Logf("replace import of %d rows took %s; %d answers while it ran; %s", rows, took.Round(time.Millisecond), during.Load(), strings.Join(summary, "; "))
	if len(answers) < 2 {
		t.Errorf("answers at %d configuration versions, want the old and the new one", len(answers))
	}
}

// probe is a user of one of the two lists.
type probe struct {
	id    string
	inNew bool
}

// versionAnswers counts, for one configuration version, the probes of each
// list answered as members and as non-members.
type versionAnswers struct {
	oldIn, oldOut, newIn, newOut int
}

func (a *versionAnswers) add(p probe, on bool) {
	switch {
	case p.inNew && on:
		a.newIn++
	case p.inNew:
		a.newOut++
	case on:
		a.oldIn++
	default:
		a.oldOut++
	}
}

// consistent reports whether the answers agree with the old list alone or
// the new list alone.
func (a *versionAnswers) consistent() bool {
	old := a.oldOut == 0 && a.newIn == 0
	nw := a.oldIn == 0 && a.newOut == 0
	return old || nw
}

func (a *versionAnswers) String() string {
	return fmt.Sprintf("old list %d in, %d out; new list %d in, %d out", a.oldIn, a.oldOut, a.newIn, a.newOut)
}

// writeMembers writes a CSV file of n members prefix-0000000… with regions.
func writeMembers(t *testing.T, path, prefix string, n int) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("user_id,region\n")
	regions := []string{"US", "FR", "BR", "IN", ""}
	for i := range n {
		fmt.Fprintf(w, "%s-%07d,%s\n", prefix, i, regions[i%len(regions)])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadmeCohortImports runs the console block of the README's section on
// CSV imports, as TestReadmeTour runs the tour: each "$ " line in a shell,
// in a scratch directory where the section's "```csv NAME" blocks are
// written as files, checking exit codes ("(exit N)") and key output.
func TestReadmeCohortImports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Dir(rampBinary(t))
	work := t.TempDir()
	files, cmds := readmeSection(t, filepath.Join("..", "..", "README.md"), readmeImportSection)
	if len(cmds) < 10 {
		t.Fatalf("found %d commands under %q in README.md", len(cmds), readmeImportSection)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// What some commands must print (stdout and stderr together), by line.
	expect := map[string][]string{
		"ramp cohorts import beta-testers testers.csv --create":                                         {"cohort beta-testers did not exist and was created", "3 rows, 3 added", "by region: (unknown) 1, FR 1, US 1"},
		"ramp cohorts import beta-tester testers-v2.csv   # misspelled: refused (exit 4)":               {`cohort "beta-tester" does not exist; did you mean "beta-testers"?`, "pass --create"},
		"ramp cohorts get beta-testers":                                                                 {`"members": 3`},
		"ramp cohorts diff beta-testers testers-v2.csv":                                                 {"+ u-1004", "- u-1003", "1 to add, 1 to remove, 1 region change, 1 unchanged"},
		"ramp cohorts import beta-testers testers-v2.csv --dry-run":                                     {"dry run, nothing written", "1 duplicate,"},
		"ramp cohorts import beta-testers testers-v2.csv":                                               {"4 rows, 1 added, 1 removed, 1 region change, 1 unchanged, 1 duplicate,"},
		"ramp cohorts import beta-testers broken.csv --mode add   # rejected: nothing written (exit 3)": {"2 invalid rows", "line 3: unknown region", "line 4: empty user id"},
		"ramp cohorts import beta-testers broken.csv --mode add --skip-invalid --rejects rejects.csv":   {"2 added", "2 rejected", "5 members now"},
		"cat rejects.csv": {"user_id,region,line,reason", `u-1006,XX,3,"unknown region`, ",FR,4,empty user id"},
		"printf 'user_id\\nu-1005\\n' | ramp cohorts import beta-testers - --mode remove":                     {"1 removed", "4 members now"},
		"ramp cohorts import partners partners.csv --id-column 'Account ID' --region-column Country --create": {"2 added", "DE 1, FR 1"},
		"ramp cohorts export beta-testers --file beta-testers.csv.gz":                                         {"4 members written to beta-testers.csv.gz"},
		"gzip -dc beta-testers.csv.gz | ramp cohorts import beta-copy - --create":                             {"cohort beta-copy did not exist and was created", "4 added"},
		"ramp cohorts diff beta-copy beta-testers.csv.gz":                                                     {"0 to add, 0 to remove, 0 region changes, 4 unchanged"},
		"ramp cohorts import beta-testers testers.csv --max-rows 2   # over the limit (exit 3)":               {"more than 2 rows"},
		"ramp cohorts import no-such-cohort testers.csv --mode remove   # (exit 4)":                           {`cohort "no-such-cohort" does not exist`},
		"ramp cohorts import beta-testers no-such-file.csv   # (exit 3)":                                      {"no-such-file.csv: no such file"},
		"ramp cohorts add beta-testers u-1001 --region NA   # a group, not a country (exit 2)":                {`region "NA" is the group North America`, "write country:NA"},
		"ramp cohorts add beta-testers u-1001 --region country:NA":                                            {"0 members added, 1 region changed, 0 unchanged", "u-1001: region US → NA"},
	}
	seen := map[string]bool{}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "RAMP_DB=", "RAMP_ACTOR=", "RAMP_FORCE_TTY=")
	runReadmeLines(t, work, env, cmds, func(line, out string) {
		seen[line] = true
		for _, w := range expect[line] {
			if !strings.Contains(out, w) {
				t.Errorf("$ %s\noutput lacks %q:\n%s", line, w, out)
			}
		}
	})
	for line := range expect {
		if !seen[line] {
			t.Errorf("README.md no longer runs %q", line)
		}
	}
}

const readmeImportSection = "## Cohorts from CSV files"

// readmeSection reads a README section: its "```csv NAME" blocks as files,
// and the "$ " lines of its console blocks.
func readmeSection(t *testing.T, readme, heading string) (map[string]string, []tourCommand) {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	var cmds []tourCommand
	in := false
	var block, file string // the open block's kind, and the file it holds
	var content strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case block == "" && strings.HasPrefix(line, "## "):
			in = line == heading
		case !in:
		case block == "" && strings.HasPrefix(line, "```"):
			fields := strings.Fields(strings.TrimPrefix(line, "```"))
			block, file = "other", ""
			if len(fields) > 0 {
				block = fields[0]
			}
			if block == "csv" && len(fields) > 1 {
				file = fields[1]
			}
			content.Reset()
		case strings.HasPrefix(line, "```"):
			if file != "" {
				files[file] = content.String()
			}
			block = ""
		case block == "console" && strings.HasPrefix(line, "$ "):
			c := tourCommand{line: strings.TrimPrefix(line, "$ ")}
			if m := exitNote.FindStringSubmatch(line); m != nil {
				fmt.Sscan(m[1], &c.wantExit)
			}
			cmds = append(cmds, c)
		default:
			content.WriteString(line + "\n")
		}
	}
	return files, cmds
}

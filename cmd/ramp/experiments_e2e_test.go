package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeExperiments runs the commands of README.md's "Experiments"
// section as written, with its events file, checking exit codes and key
// output.
func TestReadmeExperiments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Dir(rampBinary(t))
	work := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "testdata"), filepath.Join(work, "testdata"))
	files, cmds := readmeSection(t, filepath.Join("..", "..", "README.md"), "## Experiments")
	if len(cmds) < 15 || files["events.csv"] == "" {
		t.Fatalf("found %d commands and files %v under Experiments in README.md", len(cmds), files)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expect := map[string][]string{
		"ramp apply -f testdata/scenario.yaml": {"+ layer cross-app-messaging", "+ experiment dm-handoff-vs-inline (starts phase 1)"},
		"ramp experiments list":                {"dm-handoff-vs-inline", "running", "off 34%, handoff 33%, inline 33%", "link-code-ttl"},
		"ramp experiments get dm-handoff-vs-inline": {"layer:      cross-app-messaging, bucketed by accountCenterId, holdout 5%",
			"layer buckets 500–2499"},
		"ramp metrics list": {"replies-per-user", "send-errors-per-message", "dm-handoff-vs-inline"},
		"--explain": {"in experiment dm-handoff-vs-inline, phase 1, arm handoff; layer bucket 2422 of 10000",
			`salt="experiment-dm-handoff-vs-inline"`},
		`ramp eval ig-dm-via-whatsapp --context '{"targetingKey":"wa-3"`:                                      {`"arm": "handoff"`, `"experiment": "dm-handoff-vs-inline"`, `"phase": 1`},
		"ramp experiments set-traffic dm-handoff-vs-inline 30":                                                {"20% → 30%", "every unit keeps its arm"},
		"ramp experiments set-weights dm-handoff-vs-inline off=50,handoff=25,inline=25 --dry-run   # locked":  {"--new-phase"},
		"ramp experiments set-weights dm-handoff-vs-inline off=50,handoff=25,inline=25 --new-phase --dry-run": {"nothing written", "phase 2 starts", "16% of the experiment's units change arm"},
		"ramp experiments set-weights dm-handoff-vs-inline off=50,handoff=25,inline=25 --new-phase --yes":     {"phase 2 starts"},
		"ramp events import events.csv":                          {"imported 3 rows from events.csv"}, // matches the line below too
		"ramp events import events.csv   # again":                {"0 new, 3 stored already"},
		"ramp events compact":                                    {"compacted"},
		"ramp experiments stop link-code-ttl --ship short --yes": {"running → stopped", "serves short"},
		`ramp eval wa-link-code-ttl-seconds`:                     {`"variant": "short"`},
		"ramp audit --experiment dm-handoff-vs-inline":           {"experiment.start", "experiment.set-traffic", "experiment.set-weights"},
	}
	seen := map[string]bool{}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "RAMP_DB=", "RAMP_ACTOR=", "RAMP_FORCE_TTY=1")
	runReadmeLines(t, work, env, cmds, func(line, out string) {
		command, _, _ := strings.Cut(line, "#")
		for key, wants := range expect {
			matches := key == line || key == strings.TrimSpace(command) ||
				strings.Contains(key, "#") && strings.HasPrefix(line, key) ||
				(key == "--explain" || strings.HasPrefix(key, "ramp eval ")) && strings.Contains(line, key)
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

package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadmeToursRemote runs the README's tours twice, as written: on a
// local database, and through `ramp serve` in remote mode (RAMP_SERVER and
// a token instead of RAMP_DB, a token instead of RAMP_ACTOR), and checks
// that every command prints the same and exits with the same code. Only
// what must differ is normalised: times, durations and the scratch
// directory.
func TestReadmeToursRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs servers")
	}
	readme := filepath.Join("..", "..", "README.md")
	for _, heading := range []string{"## A tour", "## Staged rollouts", "## Experiments", readmeImportSection} {
		t.Run(strings.TrimPrefix(heading, "## "), func(t *testing.T) {
			files, cmds := readmeSection(t, readme, heading)
			if len(cmds) < 10 {
				t.Fatalf("found %d commands under %q", len(cmds), heading)
			}
			local := runTour(t, files, cmds, false)
			remote := runTour(t, files, cmds, true)
			if len(local) != len(remote) {
				t.Fatalf("ran %d commands locally, %d remotely", len(local), len(remote))
			}
			for i := range local {
				if local[i] != remote[i] {
					t.Errorf("$ %s\nlocally:\n%s\nthrough ramp serve:\n%s", cmds[i].line, local[i], remote[i])
				}
			}
		})
	}
}

// tourStep is what one command did, normalised.
type tourStep string

var (
	rfc3339 = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?`)
	// Drawn at random: each database's epoch, each secret's prefix.
	randoms   = regexp.MustCompile(`\b[0-9a-f]{16}\b|ramp_(key|pat)_[0-9a-z]+`)
	durations = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m|h)\b( ago)?`)
)

// runTour runs a tour's commands in a scratch directory and returns each
// one's exit code and output. Both runs first create the tour's database
// with a key and alice's and bob's personal tokens, so that they start
// alike; the remote run then serves it and acts with those tokens, so that
// the audit log names alice and bob as RAMP_ACTOR does locally.
func runTour(t *testing.T, files map[string]string, cmds []tourCommand, remote bool) []tourStep {
	t.Helper()
	bin := filepath.Dir(rampBinary(t))
	work := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "testdata"), filepath.Join(work, "testdata"))
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := "tour.db"
	for _, c := range cmds {
		if rest, ok := strings.CutPrefix(c.line, "export RAMP_DB="); ok {
			db, _, _ = strings.Cut(rest, " ")
		}
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RAMP_DB=", "RAMP_ACTOR=", "RAMP_SERVER=", "RAMP_TOKEN=", "RAMP_FORCE_TTY=1", "RAMP_CONFIG_DIR="+filepath.Join(work, ".config"))
	rampAt := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(rampBinary(t), append([]string{"--db", filepath.Join(work, db)}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ramp %v: %v", args, err)
		}
		return out
	}
	rampAt("keys", "create", "--name", "ci", "--role", "sdk") // creates the database
	tokens := map[string]string{}
	for _, who := range []string{"alice", "bob"} {
		out := rampAt("tokens", "create", who, "--role", "admin", "--approve", "-o", "json")
		var k struct{ Secret string }
		if err := json.Unmarshal(out, &k); err != nil || k.Secret == "" {
			t.Fatalf("create %s's token: %s", who, out)
		}
		tokens[who] = k.Secret
	}
	if remote {
		srv := startServe(t, append(slices.Clone(env), "RAMP_DB="+filepath.Join(work, db)), "127.0.0.1:0",
			"--controller-interval", "0", "--compact-interval", "0")
		env = append(env, "RAMP_SERVER="+srv.url, "BOB_TOKEN="+tokens["bob"])
	}
	var steps []tourStep
	for _, c := range cmds {
		line := c.line
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				switch {
				case remote && k == "RAMP_DB":
				case remote && k == "RAMP_ACTOR":
					env = append(env, "RAMP_TOKEN="+tokens[v])
				default:
					env = append(env, kv)
				}
			}
			steps = append(steps, "")
			continue
		}
		if remote {
			line = strings.ReplaceAll(line, "RAMP_ACTOR=bob ", `RAMP_TOKEN="$BOB_TOKEN" `)
		}
		sh := exec.Command("bash", "-o", "pipefail", "-c", line)
		sh.Dir, sh.Env = work, env
		out, err := sh.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if code != c.wantExit {
			t.Errorf("$ %s (remote %v)\nexit %d, want %d\n%s", line, remote, code, c.wantExit, out)
		}
		s := strings.ReplaceAll(terminal(string(out)), work, "$WORK")
		s = rfc3339.ReplaceAllString(s, "TIME")
		s = randoms.ReplaceAllString(s, "RANDOM")
		s = durations.ReplaceAllString(s, "DURATION")
		steps = append(steps, tourStep(fmt.Sprintf("exit %d\n%s", code, s)))
	}
	return steps
}

// terminal returns what a terminal shows of out: of each line, what its
// last carriage return left (progress bars redraw themselves, as often as
// time allows).
func terminal(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if j := strings.LastIndexByte(l, '\r'); j >= 0 {
			lines[i] = l[j+1:]
		}
	}
	return strings.Join(lines, "\n")
}

// TestCommandsRemote runs commands the tours leave out, locally and
// through ramp serve, and compares what they print and their exit codes.
func TestCommandsRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs servers")
	}
	lines := []string{
		"export RAMP_DB=more.db RAMP_ACTOR=alice",
		"ramp apply -f testdata/scenario.yaml -o json",
		"ramp db status -o json",
		"ramp flags list",
		"ramp flags get ig-dm-via-whatsapp -o json",
		"ramp cohorts list",
		"ramp cohorts add employees emp-9 emp-10 --region FR",
		"ramp cohorts remove employees emp-9",
		"ramp cohorts export employees",
		"ramp cohorts export nope   # (exit 4)",
		"ramp rollout get messenger-ig-interop",
		"ramp rollout add-stage messenger-ig-interop fr-5 --regions FR --percent 5 --before us-1",
		"ramp rollout edit-stage messenger-ig-interop fr-5 --percent 7 --approval",
		"ramp rollout edit-stage messenger-ig-interop nope --percent 7   # (exit 2)",
		"ramp rollout remove-stage messenger-ig-interop fr-5",
		"ramp rollout advance messenger-ig-interop --to us-1 -o json",
		"ramp rollout status messenger-ig-interop -o json",
		"ramp rollout delete messenger-ig-interop   # takes the feature away (exit 2)",
		"ramp rollout delete messenger-ig-interop --yes",
		"ramp rollout status messenger-ig-interop   # (exit 4)",
		"ramp experiments pause dm-handoff-vs-inline",
		"ramp experiments pause dm-handoff-vs-inline   # (exit 5)",
		"ramp experiments resume dm-handoff-vs-inline -o json",
		"ramp experiments get link-code-ttl -o json",
		"ramp experiments report dm-handoff-vs-inline -o json",
		"ramp events stats",
		"ramp metrics get replies-per-user -o json",
		"ramp simulate --users 2000 --flag ig-add-whatsapp-to-profile",
		`printf '{"targetingKey":"u1","region":"US"}\n{"targetingKey":"emp-1"}\n' | ramp eval common-mailbox --contexts -`,
		"ramp flags delete wa-link-code-ttl-seconds --yes",
		"ramp flags get wa-link-code-ttl-seconds   # (exit 4)",
		"ramp audit --limit 0 -o json",
		"ramp keys list -o json",
		"ramp db renew-epoch -o json",
	}
	var cmds []tourCommand
	for _, l := range lines {
		c := tourCommand{line: l}
		if m := exitNote.FindStringSubmatch(l); m != nil {
			fmt.Sscan(m[1], &c.wantExit)
		}
		cmds = append(cmds, c)
	}
	local := runTour(t, nil, cmds, false)
	remote := runTour(t, nil, cmds, true)
	for i := range local {
		if local[i] != remote[i] {
			t.Errorf("$ %s\nlocally:\n%s\nthrough ramp serve:\n%s", cmds[i].line, local[i], remote[i])
		}
	}
}

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// New-user fix #4: apply said "nothing to change" when only a rollout plan
// changed, though it wrote it.
func TestApplyRolloutOnlyChangeIsReported(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	data, err := os.ReadFile(testdata("scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "edited.yaml")
	s := strings.Replace(string(data), "{name: us-10, regions: [US], percent: 10, after: 48h}", "{name: us-10, regions: [US], percent: 12, after: 48h}", 1)
	if err := os.WriteFile(edited, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := r.run("", "apply", "-f", edited, "-o", "table")
	if code != 0 || !strings.Contains(out, "~ rollout messenger-ig-interop") || strings.Contains(errOut, "nothing to change") ||
		!strings.Contains(errOut, "0 created, 1 updated") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// New-user fix #2: the dry run says how many members go and come.
func TestApplyDryRunCountsMembers(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	r.ok("cohorts", "add", "employees", "emp-6", "emp-7")
	out, _, code := r.run("", "apply", "-f", testdata("scenario.yaml"), "--dry-run", "-o", "table")
	if want := "~ cohort employees (members: 7 → 5, 2 removed)\n"; code != 0 || out != want {
		t.Fatalf("exit %d, got %q, want %q", code, out, want)
	}
}

// Every input file that cannot be a configuration is refused with exit 3,
// naming it, before anything is read.
func TestApplyInputFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(65 << 20); err != nil { // sparse: nothing to read
		t.Fatal(err)
	}
	f.Close()
	tests := []struct {
		name, file, stdin, want string
	}{
		{"missing", filepath.Join(dir, "nope.yaml"), "", "nope.yaml: no such file"},
		{"directory", dir, "", "is a directory"},
		{"device", "/dev/zero", "", "/dev/zero is not a regular file"},
		{"too large", big, "", "big.yaml: file too large: 65.0 MiB, over the limit of 64.0 MiB"},
		{"stdin too large", "-", strings.Repeat("#", 64<<20+1), "<stdin>: configuration file too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRamp(t)
			_, errOut, code := r.run(tt.stdin, "apply", "-f", tt.file)
			if code != 3 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 3 and %q", code, errOut, tt.want)
			}
		})
	}
}

// New-user fix #1: export carries a live plan's progress.
func TestExportCarriesProgress(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("scenario.yaml"))
	r.ok("rollout", "advance", "messenger-ig-interop", "--yes")
	out := r.ok("export")
	if !strings.Contains(out, "progress: {") || !strings.Contains(out, "stage: dogfood") {
		t.Fatalf("export lacks the progress:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "export.yaml")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	other := newRamp(t)
	other.ok("apply", "-f", file)
	status := func(r *ramp) map[string]any {
		st := decode[map[string]any](t, r.ok("rollout", "status", "messenger-ig-interop", "-o", "json"))
		// The plan's version and update time are the new database's.
		delete(st, "version")
		delete(st, "updatedAt")
		return st
	}
	if diff := cmp.Diff(status(r), status(other)); diff != "" {
		t.Errorf("status (-old +new database):\n%s", diff)
	}
}

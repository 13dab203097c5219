package cli_test

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/cli"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCohortImportExportRoundTrip(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	// Excel: BOM, CRLF, columns in another order, an extra column, a
	// quoted id with a comma, a duplicate, a blank line.
	in := writeFile(t, "testers.csv", "\ufeffName,Region,User_ID\r\nAda,us,u1\r\nBob,FR,\"u,2\"\r\n\r\nAda again,US,u1\r\nNo region,,u3\r\n")
	_, errOut, code := r.run("", "cohorts", "import", "beta", in, "--create")
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"cohort beta did not exist and was created", "4 rows, 3 added, 0 removed", "1 duplicate,", "US 1"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
	c := decode[map[string]any](t, r.ok("cohorts", "get", "beta", "-o", "json"))
	if c["members"] != 3.0 {
		t.Errorf("cohort = %v", c)
	}
	exported := r.ok("cohorts", "export", "beta")
	want := "user_id,region\n\"u,2\",FR\nu1,US\nu3,\n" // sorted bytewise
	if diff := cmp.Diff(want, exported); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}

	// The export re-imports to the same list, through stdin, gzipped.
	gzPath := filepath.Join(t.TempDir(), "beta.csv.gz")
	r.ok("cohorts", "export", "beta", "--file", gzPath)
	fh, err := os.Open(gzPath)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || string(unzipped) != want {
		t.Fatalf("gzip export = %q, %v", unzipped, err)
	}
	fh.Close()
	raw, _ := os.ReadFile(gzPath)
	_, errOut, code = r.run(string(raw), "cohorts", "import", "copy", "-", "--create")
	if code != 0 {
		t.Fatalf("import from stdin: exit %d\n%s", code, errOut)
	}
	if got := r.ok("cohorts", "export", "copy"); got != want {
		t.Errorf("re-imported copy exports %q, want %q", got, want)
	}

	// Diff, then add and remove.
	next := writeFile(t, "next.csv", "user_id;region\nu1;US\nu4;DE\n")
	out := r.ok("cohorts", "diff", "beta", next, "--delimiter", ";")
	for _, want := range []string{"+ u4\n", "- u,2\n", "- u3\n", "1 to add, 2 to remove"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if got := r.ok("cohorts", "export", "beta"); got != want {
		t.Errorf("diff changed the cohort: %q", got)
	}
	r.ok("cohorts", "import", "beta", next, "--delimiter", ";", "--mode", "add")
	r.ok("cohorts", "import", "beta", writeFile(t, "rm.csv", "id\nu1\n"), "--mode", "remove")
	if got := r.ok("cohorts", "export", "beta"); got != "user_id,region\n\"u,2\",FR\nu3,\nu4,DE\n" {
		t.Errorf("after add and remove: %q", got)
	}
	_, errOut, _ = r.run("", "cohorts", "import", "beta", next, "--delimiter", ";", "--dry-run")
	if !strings.Contains(errOut, "dry run, nothing written") {
		t.Errorf("dry run summary:\n%s", errOut)
	}
	if got := r.ok("cohorts", "export", "beta"); got != "user_id,region\n\"u,2\",FR\nu3,\nu4,DE\n" {
		t.Errorf("dry run changed the cohort: %q", got)
	}
}

func TestCohortImportInvalid(t *testing.T) {
	r := newRamp(t)
	r.ok("cohorts", "import", "beta", writeFile(t, "ok.csv", "user_id,region\nkeep,US\n"), "--create")
	bad := writeFile(t, "bad.csv", "user_id,region\nu1,US\n,US\nu2,XX\nu3,US,extra\nu4,FR\n")
	_, errOut, code := r.run("", "cohorts", "import", "beta", bad)
	if code != cli.ExitInvalid {
		t.Errorf("exit %d, want %d", code, cli.ExitInvalid)
	}
	for _, want := range []string{"3 invalid rows", "line 3: empty user id", "line 4: unknown region", "line 5: 3 fields"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error lacks %q:\n%s", want, errOut)
		}
	}
	if got := r.ok("cohorts", "export", "beta"); got != "user_id,region\nkeep,US\n" {
		t.Errorf("a rejected import changed the cohort: %q", got)
	}

	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	_, errOut, code = r.run("", "cohorts", "import", "beta", bad, "--skip-invalid", "--rejects", rejects)
	if code != 0 || !strings.Contains(errOut, "3 rejected") {
		t.Fatalf("--skip-invalid: exit %d\n%s", code, errOut)
	}
	if got := r.ok("cohorts", "export", "beta"); got != "user_id,region\nu1,US\nu4,FR\n" {
		t.Errorf("after --skip-invalid: %q", got)
	}
	rej, _ := os.ReadFile(rejects)
	wantRej := "user_id,region,line,reason\n,US,3,empty user id\nu2,XX,4,\"unknown region \"\"XX\"\": want an ISO 3166-1 alpha-2 country code such as US or FR\"\nu3,US,extra,5,\"3 fields, the header has 2\"\n"
	if diff := cmp.Diff(wantRej, string(rej)); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"cohorts", "import", "beta", writeFile(t, "noid.csv", "name\nx\n")}, cli.ExitInvalid},
		{[]string{"cohorts", "import", "beta", writeFile(t, "empty.csv", "")}, cli.ExitInvalid},
		{[]string{"cohorts", "import", "beta", writeFile(t, "many.csv", "id\na\nb\nc\n"), "--max-rows", "2"}, cli.ExitInvalid},
		{[]string{"cohorts", "import", "beta", bad, "--mode", "merge"}, cli.ExitUsage},
		{[]string{"cohorts", "import", "beta", bad, "--rejects", rejects}, cli.ExitUsage},
		{[]string{"cohorts", "import", "beta", bad, "--delimiter", ";;"}, cli.ExitUsage},
		// One policy for input files: missing, a directory → invalid (3).
		{[]string{"cohorts", "import", "beta", filepath.Join(t.TempDir(), "missing.csv")}, cli.ExitInvalid},
		{[]string{"cohorts", "import", "beta", t.TempDir()}, cli.ExitInvalid},
		{[]string{"cohorts", "diff", "beta", filepath.Join(t.TempDir(), "missing.csv")}, cli.ExitInvalid},
		{[]string{"cohorts", "export", "ghosts"}, cli.ExitNotFound},
	} {
		if _, errOut, code := r.run("", tc.args...); code != tc.code {
			t.Errorf("ramp %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.code, errOut)
		}
	}
	if got := r.ok("cohorts", "export", "beta"); got != "user_id,region\nu1,US\nu4,FR\n" {
		t.Errorf("failed imports changed the cohort: %q", got)
	}
}

// TestCohortInvisibleIDs: ids with bidirectional controls or zero-width
// characters are refused by every way in, with the character named.
func TestCohortInvisibleIDs(t *testing.T) {
	r := newRamp(t)
	r.ok("apply", "-f", testdata("example.yaml"))
	in := writeFile(t, "spoof.csv", "user_id,region\nu1,US\nadmin\u202egnp.exe,US\nu\u200b1,FR\n")
	_, errOut, code := r.run("", "cohorts", "import", "beta", in, "--create")
	if code != cli.ExitInvalid {
		t.Errorf("import: exit %d, want %d\n%s", code, cli.ExitInvalid, errOut)
	}
	for _, want := range []string{"2 invalid rows",
		`line 3: user id "admin\u202egnp.exe" contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional control character`,
		`line 4: user id "u\u200b1" contains U+200B ZERO WIDTH SPACE, a zero-width character`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("import error lacks %q:\n%s", want, errOut)
		}
	}
	_, errOut, code = r.run("", "cohorts", "add", "employees", "emp-1\u2066")
	if code != cli.ExitInvalid || !strings.Contains(errOut, "U+2066 LEFT-TO-RIGHT ISOLATE") {
		t.Errorf("add: exit %d, want %d and the character named:\n%s", code, cli.ExitInvalid, errOut)
	}
}

// TestCohortImportDuplicateColumn: a header naming the id column twice is
// refused, naming the file, the header's line and both columns; nothing is
// written.
func TestCohortImportDuplicateColumn(t *testing.T) {
	r := newRamp(t)
	in := writeFile(t, "twice.csv", "user_id,region,User_ID\nu1,US,u2\n")
	_, errOut, code := r.run("", "cohorts", "import", "beta", in, "--create")
	want := in + `: line 1: the header names the id column "user_id" twice, in columns 1 and 3: rename or remove one`
	if code != cli.ExitInvalid || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, want %d and %q:\n%s", code, cli.ExitInvalid, want, errOut)
	}
	if _, errOut, code := r.run("", "cohorts", "get", "beta"); code != cli.ExitNotFound {
		t.Errorf("the refused import created the cohort: exit %d\n%s", code, errOut)
	}
}

// TestCohortExportFormulas: export writes ids a spreadsheet would run as
// formulas with a quote before them (--raw as they are), import takes the
// quote off, and export, import and diff still round-trip exactly, ids of
// quotes and formula characters included.
func TestCohortExportFormulas(t *testing.T) {
	r := newRamp(t)
	r.ok("cohorts", "import", "f", writeFile(t, "f.csv", "user_id\nplain\n"), "--create")
	r.ok("cohorts", "add", "f", "--", "=1+1", "-123", "+4915112345678", "@SUM(A1)", "'=x", "''+y", "'abc")
	safe := "user_id,region\n'''+y,\n''=x,\n'abc,\n'+4915112345678,\n'-123,\n'=1+1,\n'@SUM(A1),\nplain,\n"
	if diff := cmp.Diff(safe, r.ok("cohorts", "export", "f")); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}
	raw := "user_id,region\n''+y,\n'=x,\n'abc,\n+4915112345678,\n-123,\n=1+1,\n@SUM(A1),\nplain,\n"
	if diff := cmp.Diff(raw, r.ok("cohorts", "export", "f", "--raw")); diff != "" {
		t.Errorf("export --raw (-want +got):\n%s", diff)
	}

	exported := writeFile(t, "exported.csv", safe)
	r.ok("cohorts", "import", "copy", exported, "--create")
	if diff := cmp.Diff(safe, r.ok("cohorts", "export", "copy")); diff != "" {
		t.Errorf("the re-imported copy exports (-want +got):\n%s", diff)
	}
	if got := r.ok("cohorts", "diff", "f", exported); !strings.Contains(got, "0 to add, 0 to remove, 0 region changes, 8 unchanged") {
		t.Errorf("diff of the export with its cohort:\n%s", got)
	}

	// The rejects file, made for a spreadsheet, is neutralised too; its id
	// cells keep their meaning.
	bad := writeFile(t, "bad.csv", "user_id,region\n=cmd|' /C calc'!A0,XX\n'-1,XX\nu1,US\n")
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	r.ok("cohorts", "import", "f", bad, "--mode", "add", "--skip-invalid", "--rejects", rejects)
	got, _ := os.ReadFile(rejects)
	if !strings.Contains(string(got), "\n'=cmd|' /C calc'!A0,XX,2,") || !strings.Contains(string(got), "\n'-1,XX,3,") {
		t.Errorf("rejects:\n%s", got)
	}
}

// New-user fix: a misspelled cohort name on import created a new cohort.
// An import or an addition into an unknown cohort is refused (exit 4) with
// the closest existing key, unless --create is given; nothing is created.
func TestCohortUnknownNeedsCreate(t *testing.T) {
	r := newRamp(t)
	r.ok("cohorts", "import", "beta-testers", writeFile(t, "t.csv", "user_id\nu1\n"), "--create")
	file := writeFile(t, "more.csv", "user_id\nu2\n")
	for _, args := range [][]string{
		{"cohorts", "import", "beta-tester", file},
		{"cohorts", "import", "beta-tester", file, "--mode", "add"},
		{"cohorts", "import", "beta-tester", file, "--dry-run"},
		{"cohorts", "add", "beta-tseters", "u2"},
		{"cohorts", "import", "beta-tester", file, "--mode", "remove", "--create"},
	} {
		_, errOut, code := r.run("", args...)
		if code != cli.ExitNotFound || !strings.Contains(errOut, `did you mean "beta-testers"?`) {
			t.Errorf("ramp %s: exit %d, want %d with a suggestion:\n%s", strings.Join(args, " "), code, cli.ExitNotFound, errOut)
		}
		if args[len(args)-1] != "--create" && !strings.Contains(errOut, "pass --create") && !slicesContains(args, "remove") {
			t.Errorf("ramp %s: no hint of --create:\n%s", strings.Join(args, " "), errOut)
		}
	}
	list := decode[[]map[string]any](t, r.ok("cohorts", "list", "-o", "json"))
	if len(list) != 1 {
		t.Fatalf("refused imports created cohorts: %v", list)
	}
	_, errOut, code := r.run("", "cohorts", "add", "partners", "biz-1", "--create", "--region", "de")
	if code != 0 || !strings.Contains(errOut, "cohort partners did not exist and was created") || !strings.Contains(errOut, "1 member added") {
		t.Errorf("add --create: exit %d\n%s", code, errOut)
	}
	out := r.ok("cohorts", "diff", "beta-tester", file)
	if !strings.Contains(out, "cohort beta-tester does not exist (did you mean beta-testers?)") {
		t.Errorf("diff into an unknown cohort:\n%s", out)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// New-user fix: "cohorts add … --region NA" made a member Namibian (NA is
// North America in rules) and printed "0 members added, 1 already listed".
// A group's name is refused with the reason; Namibia is country:NA; a
// changed region is reported as a change.
func TestCohortAddRegions(t *testing.T) {
	r := newRamp(t)
	r.ok("cohorts", "add", "staff", "u1", "u2", "--region", "US", "--create")
	_, errOut, code := r.run("", "cohorts", "add", "staff", "u1", "--region", "NA")
	if code != cli.ExitUsage || !strings.Contains(errOut, "is the group North America") || !strings.Contains(errOut, "country:NA") {
		t.Errorf("--region NA: exit %d, want %d with the reason:\n%s", code, cli.ExitUsage, errOut)
	}
	_, errOut, code = r.run("", "cohorts", "add", "staff", "u1", "--region", "EU")
	if code != cli.ExitUsage || !strings.Contains(errOut, "not a country") {
		t.Errorf("--region EU: exit %d:\n%s", code, errOut)
	}
	_, errOut, code = r.run("", "cohorts", "add", "staff", "u1", "u2", "u3", "--region", "country:na")
	if code != 0 {
		t.Fatalf("--region country:na: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"1 member added, 2 regions changed, 0 unchanged; 3 members now", "u1: region US → NA", "u2: region US → NA"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
	_, errOut, _ = r.run("", "cohorts", "add", "staff", "u1")
	if !strings.Contains(errOut, "0 members added, 0 regions changed, 1 unchanged") {
		t.Errorf("re-adding a listed id:\n%s", errOut)
	}
	// Namibia exports as country:NA and re-imports as Namibia.
	exported := r.ok("cohorts", "export", "staff")
	if want := "user_id,region\nu1,country:NA\nu2,country:NA\nu3,country:NA\n"; exported != want {
		t.Errorf("export = %q, want %q", exported, want)
	}
	r.ok("cohorts", "import", "copy", writeFile(t, "staff.csv", exported), "--create")
	c := decode[map[string]any](t, r.ok("cohorts", "get", "copy", "-o", "json"))
	if got := c["membersByRegion"].(map[string]any)["NA"]; got != 3.0 {
		t.Errorf("re-imported regions = %v, want NA: 3", c["membersByRegion"])
	}
	// The audit log names the ids added and the regions changed.
	audit := r.ok("audit", "-o", "json")
	for _, want := range []string{`"addedIds"`, `"u3"`, `"regionChanges"`, `"from": "US"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %s:\n%s", want, audit)
		}
	}
}

// One row is "1 row"; -o names the format and --file the file.
func TestCohortImportWording(t *testing.T) {
	r := newRamp(t)
	_, errOut, _ := r.run("", "cohorts", "import", "one", writeFile(t, "one.csv", "user_id\nu1\n"), "--create")
	if !strings.Contains(errOut, "1 row, 1 added") {
		t.Errorf("summary:\n%s", errOut)
	}
	if got := r.ok("cohorts", "export", "one", "-o", "csv"); got != "user_id,region\nu1,\n" {
		t.Errorf("export -o csv = %q", got)
	}
	if _, errOut, code := r.run("", "cohorts", "export", "one", "-o", "json"); code != cli.ExitUsage {
		t.Errorf("export -o json: exit %d\n%s", code, errOut)
	}
	path := filepath.Join(t.TempDir(), "one.csv")
	_, errOut, code := r.run("", "cohorts", "export", "one", "-o", path)
	if code != 0 || !strings.Contains(errOut, "deprecated") {
		t.Errorf("export -o FILE: exit %d\n%s", code, errOut)
	}
	if b, _ := os.ReadFile(path); string(b) != "user_id,region\nu1,\n" {
		t.Errorf("export -o FILE wrote %q", b)
	}
}

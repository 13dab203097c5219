package cli_test

import (
	"strings"
	"testing"
)

func TestEventsImportCompactStats(t *testing.T) {
	r := newRamp(t)
	in := writeFile(t, "replies.csv", "\ufeffUser_ID,event,value,time\r\nu1,dm_reply,2,2026-03-01T12:00:00Z\r\nu1,dm_reply,2,2026-03-01T12:00:00Z\r\nu2,dm_sent,,1772366400\r\n")
	_, errOut, code := r.run("", "events", "import", in)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, errOut)
	}
	if want := "imported 3 rows from " + in; !strings.Contains(errOut, want) || !strings.Contains(errOut, "3 new, 0 stored already") {
		t.Errorf("summary %q: want %q and 3 new", errOut, want)
	}
	// The same file again, through stdin: nothing new.
	res := decode[map[string]int](t, r.ok2("u1,x\n", "events", "import", in, "-o", "json"))
	if res["rows"] != 3 || res["stored"] != 0 || res["duplicates"] != 3 {
		t.Errorf("second import: %v", res)
	}
	stats := decode[map[string]int](t, r.ok("events", "stats", "-o", "json"))
	if stats["eventRows"] != 3 || stats["pending"] != 3 {
		t.Errorf("stats before compaction: %v", stats)
	}
	compacted := decode[map[string]int](t, r.ok("events", "compact", "--retention", "720h", "-o", "json"))
	if compacted["eventsCompactedTo"] < 3 || compacted["dropped"] != 3 {
		t.Errorf("compact: %v", compacted)
	}
	stats = decode[map[string]int](t, r.ok("events", "stats", "-o", "json"))
	if stats["pending"] != 0 {
		t.Errorf("stats after compaction: %v", stats)
	}
	if out := r.ok("events", "stats", "--experiment", "nope", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("stats of an experiment without exposures: %q", out)
	}
}

// ok2 runs a command with stdin that must succeed.
func (r *ramp) ok2(stdin string, args ...string) string {
	r.t.Helper()
	out, errOut, code := r.run(stdin, args...)
	if code != 0 {
		r.t.Fatalf("ramp %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func TestEventsImportRejects(t *testing.T) {
	r := newRamp(t)
	for _, c := range []struct {
		name, content, want string
		code                int
	}{
		{"bad time", "unit,event,time\nu1,e,1772366400\nu2,e,tomorrow\n", `:3: column "time": "tomorrow" is neither RFC 3339`, 3},
		{"no event column", "unit,name,time\nu1,e,1\n", ":1: no event column", 3},
		{"gzip cut short", "\x1f\x8b\x08\x00\x00\x00", "read", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := writeFile(t, "bad.csv", c.content)
			_, errOut, code := r.run("", "events", "import", in)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, c.code, c.want)
			}
		})
	}
	// Nothing of the rejected files was stored: stdin, one good row.
	out := r.ok2("unit,event,time\nu1,e,1772366400\n", "events", "import", "-", "-o", "json")
	if res := decode[map[string]int](t, out); res["stored"] != 1 {
		t.Errorf("import from stdin: %v", res)
	}
	if stats := decode[map[string]int](t, r.ok("events", "stats", "-o", "json")); stats["eventRows"] != 1 {
		t.Errorf("stats: %v", stats)
	}
	// A file that is not there.
	if _, errOut, code := r.run("", "events", "import", "/nonexistent.csv"); code != 3 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp/internal/admin"
)

func TestParseAuditTime(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time // zero with wantErr
		err  bool
	}{
		{in: "", want: time.Time{}},
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "7d", want: now.AddDate(0, 0, -7)},
		{in: "1d12h", want: now.Add(-36 * time.Hour)},
		{in: "0d", want: now},
		{in: "2026-03-01", want: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-03-01T12:30:00Z", want: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)},
		{in: "2026-03-01T14:30:00+02:00", want: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)},
		{in: "2026-03-01T12:30:00.123456Z", want: time.Date(2026, 3, 1, 12, 30, 0, 123456000, time.UTC)},
		{in: "bogus", err: true},
		{in: "7", err: true},
		{in: "-1h", err: true},
		{in: "1d-2h", err: true},
		{in: "7days", err: true},
		{in: "d", err: true},
		{in: "2026-13-01", err: true},
	}
	for _, tt := range tests {
		got, err := parseAuditTime(tt.in, now)
		switch {
		case tt.err && err == nil:
			t.Errorf("parseAuditTime(%q) = %v, want an error", tt.in, got)
		case !tt.err && err != nil:
			t.Errorf("parseAuditTime(%q): %v", tt.in, err)
		case !got.Equal(tt.want) || !got.IsZero() && got.Location() != time.UTC:
			t.Errorf("parseAuditTime(%q) = %v, want %v (UTC)", tt.in, got, tt.want)
		}
	}
}

func TestAuditFilter(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		opts auditOptions
		want admin.AuditFilter
		err  string // part of the usage error, "" for none
	}{
		{name: "default limit", opts: auditOptions{limit: 100},
			want: admin.AuditFilter{Limit: 100}},
		{name: "limit 0 is everything", opts: auditOptions{limit: 0},
			want: admin.AuditFilter{}},
		{name: "a flag and its rollout", opts: auditOptions{flag: "interop", limit: 1},
			want: admin.AuditFilter{Target: "interop", Kinds: []string{"flag", "rollout"}, Limit: 1}},
		{name: "a cohort", opts: auditOptions{cohort: "employees"},
			want: admin.AuditFilter{Target: "employees", Kind: "cohort"}},
		{name: "an experiment", opts: auditOptions{experiment: "dm-handoff-vs-inline"},
			want: admin.AuditFilter{Target: "dm-handoff-vs-inline", Kind: "experiment"}},
		{name: "experiment and layer kinds", opts: auditOptions{kinds: []string{"experiment", "layer"}},
			want: admin.AuditFilter{Kinds: []string{"experiment", "layer"}}},
		{name: "experiment and flag", opts: auditOptions{flag: "a", experiment: "b"}, err: "cannot be combined"},
		{name: "kinds", opts: auditOptions{kinds: []string{"key", "rollout"}},
			want: admin.AuditFilter{Kinds: []string{"key", "rollout"}}},
		{name: "actor, action and times", opts: auditOptions{actor: "alice", action: "rollout.", since: "7d", until: "2026-03-09"},
			want: admin.AuditFilter{Actor: "alice", Action: "rollout.", Since: now.AddDate(0, 0, -7), Until: time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)}},
		{name: "unknown kind", opts: auditOptions{kinds: []string{"flags"}}, err: `unknown --kind "flags"`},
		{name: "flag and cohort", opts: auditOptions{flag: "a", cohort: "b"}, err: "cannot be combined"},
		{name: "kind and flag", opts: auditOptions{flag: "a", kinds: []string{"rollout"}}, err: "--kind cannot be combined"},
		{name: "bad since", opts: auditOptions{since: "yesterday"}, err: `--since: "yesterday" is not`},
		{name: "bad until", opts: auditOptions{until: "1x"}, err: "--until:"},
		{name: "since after until", opts: auditOptions{since: "1h", until: "2h"}, err: "is not before --until"},
		{name: "negative limit", opts: auditOptions{limit: -1}, err: "--limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.now = func() time.Time { return now }
			got, err := tt.opts.filter()
			if tt.err != "" {
				var usage *UsageError
				if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("filter() error = %v, want a usage error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("filter() (-want +got):\n%s", d)
			}
		})
	}
}

// TestAuditCommand runs ramp audit through the real command tree on a
// SQLite file after changes made by other commands.
func TestAuditCommand(t *testing.T) {
	t.Setenv("RAMP_ACTOR", "alice")
	t.Setenv("RAMP_DB", "")
	db := filepath.Join(t.TempDir(), "ramp.db")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		io, _, out, errOut := Test()
		code := Execute(context.Background(), append([]string{"--db", db}, args...), io)
		return out.String(), errOut.String(), code
	}
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("ramp %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	entries := func(args ...string) []string {
		t.Helper()
		var es []admin.AuditEntry
		out := ok(append([]string{"audit", "-o", "json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &es); err != nil {
			t.Fatalf("ramp audit %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Actor+" "+e.Action+" "+e.Kind+"/"+e.Target)
		}
		return got
	}

	// An empty database (reads never create one: see TestReadsNeverCreate).
	a, err := admin.Open(context.Background(), db, admin.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if got := ok("audit", "-o", "json"); strings.TrimSpace(got) != "[]" {
		t.Errorf("empty log as JSON = %s, want []", got)
	}
	ok("apply", "-f", filepath.Join("..", "..", "testdata", "example.yaml"))
	ok("--actor", "bob", "flags", "disable", "messenger-ig-interop")
	ok("keys", "create", "--role", "sdk", "--name", "checkout")

	all := []string{
		"alice apply.create cohort/business-accounts",
		"alice apply.create cohort/employees",
		"alice apply.create flag/ig-dm-via-whatsapp",
		"alice apply.create flag/messenger-ig-interop",
		"alice apply.create flag/wa-link-code-ttl-seconds",
		"bob flag.disable flag/messenger-ig-interop",
		"alice key.create key/checkout",
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		args []string
		want []string
	}{
		{nil, all},
		{[]string{"--flag", "messenger-ig-interop"}, []string{all[3], all[5]}},
		{[]string{"--cohort", "employees"}, []string{all[1]}},
		{[]string{"--actor", "bob"}, []string{all[5]}},
		{[]string{"--kind", "key"}, []string{all[6]}},
		{[]string{"--action", "apply."}, all[:5]},
		{[]string{"--since", "1h"}, all},
		{[]string{"--since", "7d", "--actor", "alice", "--action", "key."}, []string{all[6]}},
		{[]string{"--since", future}, nil},
		{[]string{"--until", "1h"}, nil},
		{[]string{"--limit", "2"}, all[5:]},
	}
	for _, tt := range tests {
		if d := cmp.Diff(tt.want, entries(tt.args...)); d != "" {
			t.Errorf("ramp audit %s (-want +got):\n%s", strings.Join(tt.args, " "), d)
		}
	}

	// JSON carries before and after as JSON.
	var es []admin.AuditEntry
	if err := json.Unmarshal([]byte(ok("audit", "--actor", "bob", "-o", "json")), &es); err != nil || len(es) != 1 {
		t.Fatalf("audit --actor bob: %v, %d entries", err, len(es))
	}
	var before, after struct{ Enabled bool }
	if json.Unmarshal(es[0].Before, &before) != nil || json.Unmarshal(es[0].After, &after) != nil || !before.Enabled || after.Enabled {
		t.Errorf("flag.disable entry: before %s, after %s", es[0].Before, es[0].After)
	}

	// The table: one line per entry, a summary of the change, and a
	// footer when the limit leaves entries out.
	table := ok("audit", "--flag", "messenger-ig-interop", "-o", "table")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") ||
		!strings.Contains(lines[1], "created") || !strings.Contains(lines[2], "enabled: true → false") {
		t.Errorf("table:\n%s", table)
	}
	if _, err := time.Parse(time.RFC3339, strings.Fields(lines[2])[0]); err != nil || !strings.HasSuffix(strings.Fields(lines[2])[0], "Z") {
		t.Errorf("TIME is not RFC 3339 UTC: %v\n%s", err, table)
	}
	if table := ok("audit", "--limit", "2", "-o", "table"); !strings.Contains(table, "showing the newest 2 entries") {
		t.Errorf("no footer with --limit 2:\n%s", table)
	}
	if table := ok("audit", "--limit", "7", "-o", "table"); strings.Contains(table, "showing the newest") {
		t.Errorf("footer although nothing was left out:\n%s", table)
	}
	if _, errOut, _ := run("audit", "--limit", "2", "-o", "json"); !strings.Contains(errOut, "showing the newest 2 entries") {
		t.Errorf("no note on stderr with --limit 2 -o json: %q", errOut)
	}
	if diff := ok("audit", "--actor", "bob", "--diff", "-o", "table"); !strings.Contains(diff, "-   \"enabled\": true,") || !strings.Contains(diff, "+   \"enabled\": false,") {
		t.Errorf("--diff:\n%s", diff)
	}

	for _, args := range [][]string{
		{"audit", "--since", "yesterday"},
		{"audit", "--flag", "a", "--cohort", "b"},
		{"audit", "--kind", "flags"},
		{"audit", "extra"},
	} {
		if _, errOut, code := run(args...); code != ExitUsage {
			t.Errorf("ramp %s: exit %d, want %d (%s)", strings.Join(args, " "), code, ExitUsage, errOut)
		}
	}
}

package store_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

func TestAudit(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	setNow := clock(s)
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

	// One write a minute.
	writes := []struct {
		actor string
		op    func(actor string) error
	}{
		{"alice", func(actor string) error {
			st := flags.State{Cohorts: []cohorts.Cohort{cohort("beta")}, Flags: []flags.Flag{boolFlag("a")}}
			return s.Apply(ctx, &st, flags.Diff(&flags.State{}, &st, false), actor)
		}},
		{"bob", func(actor string) error { _, err := s.SetEnabled(ctx, "a", false, actor); return err }},
		{"carol", func(actor string) error { _, err := s.AddMembers(ctx, "beta", members("u1", "u2"), actor); return err }},
		{"carol", func(actor string) error { _, err := s.RemoveMembers(ctx, "beta", []string{"u1"}, actor); return err }},
		{"bob", func(actor string) error { return s.DeleteFlag(ctx, "a", actor) }},
	}
	for i, w := range writes {
		setNow(minute(i))
		if err := w.op(w.actor); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}

	// What the log says, with before and after reduced to a few fields.
	type entry struct {
		At                  time.Time
		Actor, Action, Kind string
		Target              string
		Before, After       string
	}
	summarize := func(raw json.RawMessage) string {
		if raw == nil {
			return "-"
		}
		var v struct {
			Key         string
			Enabled     *bool
			MemberCount *int
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("audit JSON %s: %v", raw, err)
		}
		switch {
		case v.Enabled != nil:
			return map[bool]string{true: v.Key + " enabled", false: v.Key + " disabled"}[*v.Enabled]
		case v.MemberCount != nil:
			return v.Key + " members=" + strconv.Itoa(*v.MemberCount)
		}
		return v.Key
	}
	all := []entry{
		{minute(0), "alice", "apply.create", "cohort", "beta", "-", "beta members=0"},
		{minute(0), "alice", "apply.create", "flag", "a", "-", "a enabled"},
		{minute(1), "bob", "flag.disable", "flag", "a", "a enabled", "a disabled"},
		{minute(2), "carol", "cohort.add-members", "cohort", "beta", "beta members=0", "beta members=2"},
		{minute(3), "carol", "cohort.remove-members", "cohort", "beta", "beta members=2", "beta members=1"},
		{minute(4), "bob", "flag.delete", "flag", "a", "a disabled", "-"},
	}
	tests := []struct {
		name   string
		filter store.AuditFilter
		want   []entry
	}{
		{"everything", store.AuditFilter{}, all},
		{"kind", store.AuditFilter{Kind: "cohort"}, []entry{all[0], all[3], all[4]}},
		{"target", store.AuditFilter{Kind: "flag", Target: "a"}, []entry{all[1], all[2], all[5]}},
		{"actor", store.AuditFilter{Actor: "bob"}, []entry{all[2], all[5]}},
		{"since", store.AuditFilter{Since: minute(3)}, all[4:]},
		{"limit keeps the newest", store.AuditFilter{Limit: 2}, all[4:]},
		{"combined", store.AuditFilter{Kind: "flag", Since: minute(1), Limit: 1}, all[5:]},
		{"nothing", store.AuditFilter{Actor: "mallory"}, nil},
		{"kinds", store.AuditFilter{Kinds: []string{"cohort", "key"}}, []entry{all[0], all[3], all[4]}},
		{"kinds and target", store.AuditFilter{Kinds: []string{"flag", "rollout"}, Target: "a"}, []entry{all[1], all[2], all[5]}},
		{"kinds exclude the target's other kind", store.AuditFilter{Kinds: []string{"flag", "rollout"}, Target: "beta"}, nil},
		{"action prefix", store.AuditFilter{Action: "cohort."}, all[3:5]},
		{"action exact", store.AuditFilter{Action: "flag.disable"}, all[2:3]},
		{"action prefix is not a pattern", store.AuditFilter{Action: "apply_"}, nil},
		{"action is case-sensitive", store.AuditFilter{Action: "APPLY."}, nil},
		{"until excludes its instant", store.AuditFilter{Until: minute(1)}, all[:2]},
		{"since and until", store.AuditFilter{Since: minute(1), Until: minute(3)}, all[2:4]},
		{"limit within a window", store.AuditFilter{Until: minute(3), Limit: 2}, all[2:4]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []entry
			lastID := int64(0)
			for _, e := range mustAudit(t, s, tt.filter) {
				if e.ID <= lastID {
					t.Errorf("entry ids not increasing: %d after %d", e.ID, lastID)
				}
				lastID = e.ID
				if e.At.Location() != time.UTC {
					t.Errorf("entry %d: time %v not in UTC", e.ID, e.At)
				}
				got = append(got, entry{e.At, e.Actor, e.Action, e.Kind, e.Target, summarize(e.Before), summarize(e.After)})
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("Audit(%+v) (-want +got):\n%s", tt.filter, d)
			}
		})
	}

	t.Run("flag JSON", func(t *testing.T) {
		es := mustAudit(t, s, store.AuditFilter{Kind: "flag", Target: "a", Limit: 1})
		var got flags.Flag
		if err := json.Unmarshal(es[0].Before, &got); err != nil {
			t.Fatal(err)
		}
		want := boolFlag("a")
		want.Enabled = false
		if d := diff(want, got); d != "" {
			t.Errorf("deleted flag in audit log (-want +got):\n%s", d)
		}
	})
}

// TestAuditAppendOnly checks that the database itself refuses to change or
// remove audit entries, whatever client sends the statement: on the suite's
// engine, and on Postgres when $RAMP_TEST_DSN names one.
func TestAuditAppendOnly(t *testing.T) {
	engines := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "ramp.db") }},
		{"postgres", postgresDSN},
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			s := openDSN(t, eng.dsn(t))
			if _, _, err := s.CreateKey(ctx, "ci", "sdk", "alice"); err != nil {
				t.Fatal(err)
			}
			before := mustAudit(t, s, store.AuditFilter{})
			if len(before) == 0 {
				t.Fatal("no audit entry to tamper with")
			}
			for _, stmt := range []string{
				"UPDATE audit_log SET actor = 'mallory'",
				"DELETE FROM audit_log",
				"DELETE FROM audit_log WHERE actor = 'nobody'", // Postgres refuses even this
				"TRUNCATE audit_log",                           // Postgres only; not SQL in SQLite
			} {
				err := store.Exec(s, stmt)
				switch {
				case err == nil && strings.Contains(stmt, "nobody") && eng.name == "sqlite":
					// SQLite's row triggers fire for no row.
				case err == nil:
					t.Errorf("%s: succeeded", stmt)
				case strings.HasPrefix(stmt, "TRUNCATE") && eng.name == "sqlite":
				case !strings.Contains(err.Error(), "audit_log is append-only"):
					t.Errorf("%s: error %q does not say the log is append-only", stmt, err)
				}
			}
			if d := diff(before, mustAudit(t, s, store.AuditFilter{})); d != "" {
				t.Errorf("audit log changed (-before +after):\n%s", d)
			}
		})
	}
}

package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t *testing.T, name string, data []byte) *config.Document {
	t.Helper()
	doc, err := config.Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func apply(t *testing.T, a *admin.Service, name string, data []byte, dryRun bool) *admin.ApplyResult {
	t.Helper()
	res, err := a.Apply(alice, admin.ApplyRequest{Doc: parse(t, name, data), DryRun: dryRun})
	if err != nil {
		t.Fatalf("apply %s: %v", name, err)
	}
	return res
}

// importIDs imports ids into a cohort as `ramp cohorts import` does.
func importIDs(t *testing.T, s *store.Store, cohort string, mode store.ImportMode, ids ...string) {
	t.Helper()
	i := 0
	next := func() (cohorts.Member, error) {
		if i == len(ids) {
			return cohorts.Member{}, io.EOF
		}
		i++
		return cohorts.Member{ID: ids[i-1]}, nil
	}
	if _, err := s.ImportMembers(context.Background(), cohort, store.ImportOptions{Mode: mode, File: "emp.csv"}, next, "bob"); err != nil {
		t.Fatal(err)
	}
}

func memberCount(t *testing.T, s *store.Store, cohort string) int {
	t.Helper()
	c, err := s.Cohort(context.Background(), cohort)
	if err != nil {
		t.Fatal(err)
	}
	return c.MemberCount
}

func change(res *admin.ApplyResult, key string) *flags.Change {
	for i := range res.Changes {
		if res.Changes[i].Key == key {
			return &res.Changes[i]
		}
	}
	return nil
}

// New-user fix #2: re-applying the scenario after an import into employees
// (5 → 7) emptied the imported members, and the dry run said only
// "members".
func TestApplyKeepsImportedMembers(t *testing.T) {
	a, s := open(t)
	scenario := readTestdata(t, "scenario.yaml")
	apply(t, a, "scenario.yaml", scenario, false)
	importIDs(t, s, "employees", store.ImportAdd, "emp-6", "emp-7")

	for _, dryRun := range []bool{true, false} {
		res := apply(t, a, "scenario.yaml", scenario, dryRun)
		if c := change(res, "employees"); c != nil {
			t.Errorf("dry run %v: employees changes: %+v", dryRun, c)
		}
		if want := []admin.ImportedList{{Cohort: "employees", Kept: 2}}; !cmp.Equal(res.Imported, want) {
			t.Errorf("dry run %v: imported = %+v, want %+v", dryRun, res.Imported, want)
		}
		if got := memberCount(t, s, "employees"); got != 7 {
			t.Fatalf("dry run %v: employees has %d members, want 7", dryRun, got)
		}
	}

	// The file adds to an imported list…
	added := strings.Replace(string(scenario), "      - {id: emp-5, region: IN}\n", "      - {id: emp-5, region: IN}\n      - emp-8\n", 1)
	res := apply(t, a, "added.yaml", []byte(added), false)
	if c := change(res, "employees"); c == nil || c.Members == nil || *c.Members != (flags.MemberDelta{Before: 7, After: 8, Added: 1, Kept: 2}) {
		t.Fatalf("adding emp-8: change %+v", c)
	}

	// …and replaces it only when it says so.
	replacing := strings.Replace(string(scenario), "  - key: employees\n", "  - key: employees\n    replaceMembers: true\n", 1)
	res = apply(t, a, "replace.yaml", []byte(replacing), true)
	c := change(res, "employees")
	if c == nil || c.Members == nil || c.Members.String() != "members: 8 → 5, 3 removed" {
		t.Fatalf("dry run of replaceMembers: change %+v", c)
	}
	apply(t, a, "replace.yaml", []byte(replacing), false)
	if got := memberCount(t, s, "employees"); got != 5 {
		t.Fatalf("after replaceMembers: %d members, want 5", got)
	}
	entries, err := s.Audit(context.Background(), store.AuditFilter{Target: "employees", Action: "apply.update"})
	if err != nil || len(entries) == 0 {
		t.Fatalf("audit: %v, %d entries", err, len(entries))
	}
	var after struct {
		MemberCount int
		Members     struct {
			Replaced   bool
			Removed    int
			RemovedIDs []string
		}
	}
	if err := json.Unmarshal(entries[len(entries)-1].After, &after); err != nil {
		t.Fatal(err)
	}
	if after.MemberCount != 5 || !after.Members.Replaced || after.Members.Removed != 3 ||
		!cmp.Equal(after.Members.RemovedIDs, []string{"emp-6", "emp-7", "emp-8"}) {
		t.Errorf("audit after = %s", entries[len(entries)-1].After)
	}
}

// A list the file owns is replaced, and the change says how many come and go.
func TestApplyMemberDelta(t *testing.T) {
	a, s := open(t)
	scenario := readTestdata(t, "scenario.yaml")
	apply(t, a, "scenario.yaml", scenario, false)
	if _, err := s.AddMembers(context.Background(), "employees", []cohorts.Member{{ID: "emp-6"}, {ID: "emp-7"}}, "bob"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"by hand", func(s string) string { return s }, "members: 7 → 5, 2 removed"},
		{"region", func(s string) string {
			return strings.Replace(s, "{id: emp-5, region: IN}", "{id: emp-5, region: FR}", 1)
		}, "members: 7 → 5, 2 removed, 1 with a new region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := apply(t, a, "scenario.yaml", []byte(tt.edit(string(scenario))), true)
			c := change(res, "employees")
			if c == nil || c.Members == nil {
				t.Fatalf("no member change: %+v", res.Changes)
			}
			if got := c.Members.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// New-user fix #4: a changed rollout plan is a change.
func TestApplyRolloutPlanChange(t *testing.T) {
	a, _ := open(t)
	scenario := readTestdata(t, "scenario.yaml")
	apply(t, a, "scenario.yaml", scenario, false)
	edited := strings.Replace(string(scenario), "{name: us-10, regions: [US], percent: 10, after: 48h}", "{name: us-10, regions: [US], percent: 12, after: 48h}", 1)
	res := apply(t, a, "edited.yaml", []byte(edited), false)
	if !res.Changed() || !res.Applied || len(res.Changes) != 0 || len(res.Rollouts) != 1 || res.Summary["update"] != 1 {
		t.Fatalf("got changed %v, applied %v, %d changes, rollouts %+v, summary %v", res.Changed(), res.Applied, len(res.Changes), res.Rollouts, res.Summary)
	}
}

// A plan update that drops the live stage is refused inside the apply.
func TestApplyRefusesDroppingLiveStage(t *testing.T) {
	a, s := open(t)
	scenario := readTestdata(t, "scenario.yaml")
	apply(t, a, "scenario.yaml", scenario, false)
	advance(t, s, "messenger-ig-interop", "us-10")
	edited := strings.Replace(string(scenario), "      - {name: us-10, regions: [US], percent: 10, after: 48h}\n", "", 1)
	_, err := a.Apply(alice, admin.ApplyRequest{Doc: parse(t, "edited.yaml", []byte(edited))})
	var live *admin.LiveStageError
	if !errors.As(err, &live) || !errors.Is(err, ramp.ErrInvalid) || live.Stage != "us-10" {
		t.Fatalf("got %v, want a LiveStageError for us-10", err)
	}
}

// advance moves a plan to a stage as `ramp rollout advance --to` does.
func advance(t *testing.T, s *store.Store, flag, stage string) {
	t.Helper()
	_, err := s.MoveRollout(context.Background(), store.Move{Flag: flag, Action: "rollout.advance",
		Apply: func(r *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
			p, _, err := r.Advance(r.StageIndex(stage), "alice", now)
			return p, err
		}}, "alice")
	if err != nil {
		t.Fatal(err)
	}
}

// New-user fix #1: an export applied to a new database keeps live
// rollouts: the employee keeps the feature and the status is the same.
func TestExportApplyKeepsRolloutProgress(t *testing.T) {
	a, s := open(t)
	apply(t, a, "scenario.yaml", readTestdata(t, "scenario.yaml"), false)
	advance(t, s, "messenger-ig-interop", "us-10")

	for _, format := range []string{config.YAML, config.JSON} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := a.Export(alice, &buf, format); err != nil {
				t.Fatal(err)
			}
			b, sb := open(t)
			res := apply(t, b, "export."+format, buf.Bytes(), false)
			if len(res.Progress) != 1 || res.Progress[0].Action != admin.ProgressSet || res.Progress[0].File.Stage != "us-10" {
				t.Errorf("progress notes = %+v", res.Progress)
			}
			for _, ctx := range []map[string]any{
				{"targetingKey": "emp-1", "accountCenterId": "ac-emp-1"},
				{"targetingKey": "u1", "region": "US", "accountCenterId": "ac-42"},
			} {
				if got, want := decide(t, b, ctx), decide(t, a, ctx); got != want {
					t.Errorf("%v: new database decides %s, old one %s", ctx, got, want)
				}
			}
			ra, err := s.Rollout(context.Background(), "messenger-ig-interop")
			if err != nil {
				t.Fatal(err)
			}
			rb, err := sb.Rollout(context.Background(), "messenger-ig-interop")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ra.Progress, rb.Progress); diff != "" {
				t.Errorf("progress (-old +new):\n%s", diff)
			}

			// The export applied where it came from changes nothing.
			if res := apply(t, a, "export."+format, buf.Bytes(), false); res.Changed() || len(res.Progress) != 0 {
				t.Errorf("export applied to its own database: %+v", res)
			}
		})
	}
}

// An existing plan's progress is never moved by apply; the dry run says the
// file's differs.
func TestApplyNeverMovesExistingPlan(t *testing.T) {
	a, s := open(t)
	apply(t, a, "scenario.yaml", readTestdata(t, "scenario.yaml"), false)
	advance(t, s, "messenger-ig-interop", "us-10")
	var buf bytes.Buffer
	if _, err := a.Export(alice, &buf, config.YAML); err != nil {
		t.Fatal(err)
	}
	advance(t, s, "messenger-ig-interop", "us-50")
	res := apply(t, a, "export.yaml", buf.Bytes(), false)
	if len(res.Progress) != 1 || res.Progress[0].Action != admin.ProgressKept || res.Progress[0].Stored.Stage != "us-50" {
		t.Fatalf("progress notes = %+v", res.Progress)
	}
	r, err := s.Rollout(context.Background(), "messenger-ig-interop")
	if err != nil || r.Progress.Stage != "us-50" {
		t.Fatalf("after apply: %v, stage %q, want us-50", err, r.Progress.Stage)
	}
}

func decide(t *testing.T, a *admin.Service, ctx map[string]any) string {
	t.Helper()
	snap, err := a.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := snap.Evaluate("messenger-ig-interop", ctx)
	return d.Variant + " " + string(d.Reason)
}

// Export streams every member and round-trips, in both formats.
func TestExportRoundTrip(t *testing.T) {
	a, s := open(t)
	apply(t, a, "scenario.yaml", readTestdata(t, "scenario.yaml"), false)
	ids := make([]string, 20000) // more than one chunk
	for i := range ids {
		ids[i] = "user-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "-" + itoa(i)
	}
	importIDs(t, s, "whatsapp-beta-testers", store.ImportReplace, ids...)
	for _, format := range []string{config.YAML, config.JSON} {
		var buf bytes.Buffer
		res, err := a.Export(alice, &buf, format)
		if err != nil {
			t.Fatal(err)
		}
		if res.Members != len(ids)+5 {
			t.Errorf("%s: exported %d members, want %d", format, res.Members, len(ids)+5)
		}
		if res := apply(t, a, "export."+format, buf.Bytes(), true); res.Changed() || len(res.Imported) != 0 {
			t.Errorf("%s: export then apply changes %+v %+v", format, res.Changes, res.Imported)
		}
		b, _ := open(t)
		apply(t, b, "export."+format, buf.Bytes(), false)
		var again bytes.Buffer
		if _, err := b.Export(alice, &again, format); err != nil {
			t.Fatal(err)
		}
		if again.String() != buf.String() {
			t.Errorf("%s: the export of the copy differs from the original's", format)
		}
	}
	if _, err := a.Export(alice, io.Discard, "toml"); !errors.Is(err, ramp.ErrInvalid) {
		t.Errorf("export as toml: got %v, want invalid", err)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

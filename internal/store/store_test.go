package store_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

func TestOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	dsn := emptyDSN(t)
	s1 := openDSN(t, dsn)
	applyState(t, s1, flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")

	for _, name := range []string{"again", "again with sqlite: prefix"} {
		t.Run(name, func(t *testing.T) {
			d := dsn
			if strings.HasSuffix(name, "prefix") {
				sqliteOnly(t)
				d = "sqlite:" + dsn
			}
			s := openDSN(t, d)
			got, err := store.AppliedMigrations(s)
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for v := 1; v <= store.SchemaVersions; v++ {
				want = append(want, v)
			}
			if d := diff(want, got); d != "" {
				t.Errorf("applied migrations (-want +got):\n%s", d)
			}
			if _, err := s.Flag(ctx, "a"); err != nil {
				t.Errorf("flag written before reopening: %v", err)
			}
			if got, want := mustVersion(t, s), int64(1); got != want {
				t.Errorf("Version() = %d, want %d", got, want)
			}
		})
	}
}

func TestOpenNewerSchema(t *testing.T) {
	dsn := testDSN(t)
	s := openDSN(t, dsn)
	newer := store.SchemaVersions + 1
	if err := store.Exec(s, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", newer, t0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Exec(s, "DELETE FROM schema_migrations WHERE version = ?", newer) })

	s2, err := store.Open(context.Background(), dsn)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if got, want := err.Error(), "is newer than this ramp understands"; !strings.Contains(got, want) {
		t.Errorf("Open error = %q, want it to contain %q", got, want)
	}
}

func TestFlagRoundTrip(t *testing.T) {
	rules := []flags.Rule{
		{
			Name:    "beta testers in Europe",
			Cohorts: []string{"beta"},
			Regions: []string{"EU", "country:NA"},
			When: []cohorts.Condition{
				{Attribute: "appVersion", Op: cohorts.OpSemverGte, Values: []string{"300.0.0"}},
				{Attribute: "email", Op: cohorts.OpEndsWith, Values: []string{"@example.com", "@example.org"}},
			},
			Serve: "on",
		},
		{
			Name:    "everyone else",
			Rollout: []flags.Split{{Variant: "on", Weight: 1234}, {Variant: "off", Weight: 8766}},
		},
	}
	tests := []struct {
		name string
		flag flags.Flag
	}{
		{"boolean", func() flags.Flag {
			f := boolFlag("bool")
			f.Description, f.Owner, f.Tags = "a boolean", "team-a", []string{"checkout", "q3"}
			f.Enabled = false
			return f
		}()},
		{"string", flags.Flag{
			Key: "string", Type: flags.String, Bucketing: 1, DefaultVariant: "a",
			Variants: []flags.Variant{{Key: "a", Value: `quote " and \ backslash`}, {Key: "b", Value: "ünïcødé ✓"}, {Key: "c", Value: ""}},
		}},
		{"integer", flags.Flag{
			Key: "integer", Type: flags.Integer, Bucketing: 1, DefaultVariant: "small",
			Variants: []flags.Variant{
				{Key: "small", Value: 1},
				{Key: "big", Value: int64(1) << 62},
				{Key: "past-float", Value: int64(-9007199254740993)}, // -(2^53+1): no float64 holds it
				{Key: "min", Value: int64(math.MinInt64)},
			},
		}},
		{"float", flags.Flag{
			Key: "float", Type: flags.Float, Bucketing: 1, DefaultVariant: "tenth",
			Variants: []flags.Variant{
				{Key: "tenth", Value: 0.1},
				{Key: "whole", Value: 3.0},
				{Key: "huge", Value: 1e300},
				{Key: "tiny", Value: math.SmallestNonzeroFloat64},
				{Key: "negative", Value: -2.5},
				{Key: "from-int", Value: 7},
			},
		}},
		{"object", flags.Flag{
			Key: "object", Type: flags.Object, Bucketing: 1, DefaultVariant: "config",
			Variants: []flags.Variant{
				{Key: "config", Value: map[string]any{
					"limit":   100,
					"ratio":   0.25,
					"name":    "x",
					"on":      true,
					"nothing": nil,
					"list":    []any{1, "two", 3.5, false, nil, map[string]any{"deep": []any{}}},
					"nested":  map[string]any{"a": map[string]any{}},
				}},
				{Key: "list", Value: []any{"a", 1}},
				{Key: "empty", Value: map[string]any{}},
			},
		}},
		{"rules", flags.Flag{
			Key: "rules", Type: flags.Boolean, Bucketing: 1, DefaultVariant: "off", Enabled: true,
			BucketBy: "accountCenterId", Salt: "shared-salt",
			Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
			Rules:    rules,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := openTestStore(t)
			desired := flags.State{Cohorts: []cohorts.Cohort{cohort("beta")}, Flags: []flags.Flag{tt.flag}}
			applyState(t, s, desired, false, "alice")

			want := normalized(t, tt.flag)
			want.Version = 1
			got, err := s.Flag(ctx, tt.flag.Key)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(want, got); d != "" {
				t.Errorf("Flag() (-want +got):\n%s", d)
			}
			all, err := s.Flags(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff([]flags.Flag{want}, all); d != "" {
				t.Errorf("Flags() (-want +got):\n%s", d)
			}
			st, _ := mustState(t, s)
			if d := diff([]flags.Flag{want}, st.Flags); d != "" {
				t.Errorf("State().Flags (-want +got):\n%s", d)
			}
			if p := flags.Diff(&st, &desired, true); !p.Empty() {
				t.Errorf("Diff(stored, written) = %v, want no changes", planSummary(p))
			}
		})
	}
}

func TestFlagNotFound(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	_, err := s.Flag(ctx, "nope")
	var nf *store.NotFoundError
	if !errors.Is(err, store.ErrNotFound) || !errors.As(err, &nf) || *nf != (store.NotFoundError{Kind: "flag", Key: "nope"}) {
		t.Errorf("Flag(nope) error = %v, want NotFoundError{flag nope}", err)
	}
	if _, err := s.SetEnabled(ctx, "nope", false, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetEnabled(nope) error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteFlag(ctx, "nope", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteFlag(nope) error = %v, want ErrNotFound", err)
	}
}

func TestApply(t *testing.T) {
	a, b := boolFlag("a"), boolFlag("b")
	b.Rules = []flags.Rule{{Cohorts: []string{"beta"}, Serve: "on"}}
	a2 := a
	a2.Description = "changed"
	beta := cohort("beta", cohorts.Member{ID: "u1", Region: "US"}, cohorts.Member{ID: "u2"})
	internal := cohorts.Cohort{Key: "internal", When: []cohorts.Condition{{Attribute: "email", Op: cohorts.OpEndsWith, Values: []string{"@ramp.dev"}}}}
	betaNoMembers := cohorts.Cohort{Key: "beta", Description: "beta testers"}
	betaReplaced := cohorts.Cohort{Key: "beta", Description: "beta testers", Members: members("u3")}

	steps := []struct {
		name         string
		desired      flags.State
		prune        bool
		wantPlan     []string
		wantVersions map[string]int64 // "kind/key": version, for every stored object
		wantMembers  []cohorts.Member // beta's
	}{
		{
			name:     "create",
			desired:  flags.State{Cohorts: []cohorts.Cohort{internal, beta}, Flags: []flags.Flag{b, a}},
			wantPlan: []string{"create cohort beta", "create cohort internal", "create flag a", "create flag b"},
			wantVersions: map[string]int64{
				"cohort/beta": 1, "cohort/internal": 1, "flag/a": 1, "flag/b": 1},
			wantMembers: beta.Members,
		},
		{
			name:     "unchanged",
			desired:  flags.State{Cohorts: []cohorts.Cohort{internal, beta}, Flags: []flags.Flag{b, a}},
			wantPlan: nil,
			wantVersions: map[string]int64{
				"cohort/beta": 1, "cohort/internal": 1, "flag/a": 1, "flag/b": 1},
			wantMembers: beta.Members,
		},
		{
			name:     "update keeping members",
			desired:  flags.State{Cohorts: []cohorts.Cohort{internal, betaNoMembers}, Flags: []flags.Flag{b, a2}},
			wantPlan: []string{"update cohort beta", "update flag a"},
			wantVersions: map[string]int64{
				"cohort/beta": 2, "cohort/internal": 1, "flag/a": 2, "flag/b": 1},
			wantMembers: beta.Members,
		},
		{
			name:     "replace members",
			desired:  flags.State{Cohorts: []cohorts.Cohort{internal, betaReplaced}, Flags: []flags.Flag{b, a2}},
			wantPlan: []string{"update cohort beta"},
			wantVersions: map[string]int64{
				"cohort/beta": 3, "cohort/internal": 1, "flag/a": 2, "flag/b": 1},
			wantMembers: members("u3"),
		},
		{
			name:     "omit without prune",
			desired:  flags.State{Cohorts: []cohorts.Cohort{betaNoMembers}, Flags: []flags.Flag{a2}},
			wantPlan: nil,
			wantVersions: map[string]int64{
				"cohort/beta": 3, "cohort/internal": 1, "flag/a": 2, "flag/b": 1},
			wantMembers: members("u3"),
		},
		{
			name:         "prune",
			desired:      flags.State{Cohorts: []cohorts.Cohort{betaNoMembers}, Flags: []flags.Flag{a2}},
			prune:        true,
			wantPlan:     []string{"delete cohort internal", "delete flag b"},
			wantVersions: map[string]int64{"cohort/beta": 3, "flag/a": 2},
			wantMembers:  members("u3"),
		},
		{
			name:         "empty members list",
			desired:      flags.State{Cohorts: []cohorts.Cohort{{Key: "beta", Description: "beta testers", Members: []cohorts.Member{}}}, Flags: []flags.Flag{a2}},
			wantPlan:     []string{"update cohort beta"},
			wantVersions: map[string]int64{"cohort/beta": 4, "flag/a": 2},
			wantMembers:  nil,
		},
	}
	s := openTestStore(t)
	for _, step := range steps {
		// Steps build on each other: no t.Run, and stop at the first failure.
		before := mustVersion(t, s)
		plan := applyState(t, s, step.desired, step.prune, "alice")
		if d := diff(step.wantPlan, planSummary(plan)); d != "" {
			t.Fatalf("%s: plan (-want +got):\n%s", step.name, d)
		}
		st, version := mustState(t, s)
		if p := flags.Diff(&st, &step.desired, step.prune); !p.Empty() {
			t.Errorf("%s: stored state differs from desired: %v", step.name, planSummary(p))
		}
		gotVersions := make(map[string]int64)
		for _, c := range st.Cohorts {
			gotVersions["cohort/"+c.Key] = c.Version
		}
		for _, f := range st.Flags {
			gotVersions["flag/"+f.Key] = f.Version
		}
		if d := diff(step.wantVersions, gotVersions); d != "" {
			t.Errorf("%s: object versions (-want +got):\n%s", step.name, d)
		}
		beta, _ := st.Cohort("beta")
		if d := diff(step.wantMembers, beta.Members); d != "" {
			t.Errorf("%s: beta's members (-want +got):\n%s", step.name, d)
		}
		wantVersion := before
		if !plan.Empty() {
			wantVersion++
		}
		if version != wantVersion {
			t.Errorf("%s: config version = %d, want %d", step.name, version, wantVersion)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

func TestApplyConflict(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		interfere func(t *testing.T, s *store.Store) // alice's write after bob read
		change    func(st *flags.State) (prune bool) // bob's edit of what he read
		want      store.ConflictError
	}{
		{
			name: "update of a changed flag",
			interfere: func(t *testing.T, s *store.Store) {
				if _, err := s.SetEnabled(ctx, "a", false, "alice"); err != nil {
					t.Fatal(err)
				}
			},
			change: func(st *flags.State) bool {
				f, _ := st.Flag("a")
				f.Description = "bob's"
				return false
			},
			want: store.ConflictError{Kind: "flag", Key: "a", Expected: 1, Actual: 2, UpdatedBy: "alice", UpdatedAt: t0},
		},
		{
			name: "update of a deleted flag",
			interfere: func(t *testing.T, s *store.Store) {
				if err := s.DeleteFlag(ctx, "a", "alice"); err != nil {
					t.Fatal(err)
				}
			},
			change: func(st *flags.State) bool {
				f, _ := st.Flag("a")
				f.Description = "bob's"
				return false
			},
			want: store.ConflictError{Kind: "flag", Key: "a", Expected: 1, Actual: 0},
		},
		{
			name: "deletion of a changed flag",
			interfere: func(t *testing.T, s *store.Store) {
				if _, err := s.SetEnabled(ctx, "a", false, "alice"); err != nil {
					t.Fatal(err)
				}
			},
			change: func(st *flags.State) bool {
				st.Flags = nil
				return true
			},
			want: store.ConflictError{Kind: "flag", Key: "a", Expected: 1, Actual: 2, UpdatedBy: "alice", UpdatedAt: t0},
		},
		{
			name: "creation of a flag created meanwhile",
			interfere: func(t *testing.T, s *store.Store) {
				applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("b")}}, false, "alice")
			},
			change: func(st *flags.State) bool {
				st.Flags = append(st.Flags, boolFlag("b"))
				return false
			},
			want: store.ConflictError{Kind: "flag", Key: "b", Expected: 0, Actual: 1, UpdatedBy: "alice", UpdatedAt: t0},
		},
		{
			name: "update of a cohort whose members changed",
			interfere: func(t *testing.T, s *store.Store) {
				if _, err := s.AddMembers(ctx, "beta", members("u9"), "alice"); err != nil {
					t.Fatal(err)
				}
			},
			change: func(st *flags.State) bool {
				c, _ := st.Cohort("beta")
				c.Description = "bob's"
				return false
			},
			want: store.ConflictError{Kind: "cohort", Key: "beta", Expected: 1, Actual: 2, UpdatedBy: "alice", UpdatedAt: t0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			clock(s)
			applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("beta")}, Flags: []flags.Flag{boolFlag("a")}}, false, "setup")

			read, _ := mustState(t, s)
			tt.interfere(t, s)
			stateBefore, versionBefore := mustState(t, s)
			auditBefore := mustAudit(t, s, store.AuditFilter{})

			// Bob's plan also creates a cohort, which comes first: it must
			// be rolled back with the rest.
			desired := flags.State{
				Cohorts: append([]cohorts.Cohort{cohort("alpha")}, read.Cohorts...),
				Flags:   append([]flags.Flag(nil), read.Flags...),
			}
			prune := tt.change(&desired)
			plan := flags.Diff(&read, &desired, prune)
			err := s.Apply(ctx, &desired, plan, "bob")

			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("Apply(%v) error = %v, want ErrConflict", planSummary(plan), err)
			}
			var ce *store.ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("Apply error %T is not a *ConflictError", err)
			}
			if d := diff(tt.want, *ce); d != "" {
				t.Errorf("ConflictError (-want +got):\n%s", d)
			}
			stateAfter, versionAfter := mustState(t, s)
			if d := diff(stateBefore, stateAfter); d != "" {
				t.Errorf("state changed by refused Apply (-before +after):\n%s", d)
			}
			if versionAfter != versionBefore {
				t.Errorf("config version = %d after refused Apply, want %d", versionAfter, versionBefore)
			}
			if d := diff(auditBefore, mustAudit(t, s, store.AuditFilter{})); d != "" {
				t.Errorf("audit log changed by refused Apply (-before +after):\n%s", d)
			}
		})
	}
}

func TestConflictErrorMessage(t *testing.T) {
	tests := []struct {
		err  store.ConflictError
		want string
	}{
		{
			store.ConflictError{Kind: "flag", Key: "x", Expected: 3, Actual: 4, UpdatedBy: "alice", UpdatedAt: t0},
			`flag "x" changed meanwhile (version 3 → 4, by alice at 2026-03-01T12:00:00Z); re-read and retry`,
		},
		{
			store.ConflictError{Kind: "cohort", Key: "beta", Expected: 2},
			`cohort "beta" was deleted meanwhile (expected version 2); re-read and retry`,
		},
		{
			store.ConflictError{Kind: "flag", Key: "x", Actual: 1, UpdatedBy: "bob", UpdatedAt: t0},
			`flag "x" was created meanwhile (version 1, by bob at 2026-03-01T12:00:00Z); re-read and retry`,
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(&tt.err, store.ErrConflict) {
			t.Errorf("errors.Is(%v, ErrConflict) = false", &tt.err)
		}
	}
}

func TestVersionBumps(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	tests := []struct {
		name    string
		op      func() error
		wantErr error
		bump    bool
	}{
		{"apply creating", func() error {
			st := flags.State{Cohorts: []cohorts.Cohort{cohort("beta")}, Flags: []flags.Flag{boolFlag("a"), boolFlag("b")}}
			return s.Apply(ctx, &st, flags.Diff(&flags.State{}, &st, false), "alice")
		}, nil, true},
		{"apply with empty plan", func() error {
			return s.Apply(ctx, &flags.State{}, flags.ChangeSet{}, "alice")
		}, nil, false},
		{"disable", func() error { _, err := s.SetEnabled(ctx, "a", false, "alice"); return err }, nil, true},
		{"disable again", func() error { _, err := s.SetEnabled(ctx, "a", false, "alice"); return err }, nil, false},
		{"enable", func() error { _, err := s.SetEnabled(ctx, "a", true, "alice"); return err }, nil, true},
		{"add members", func() error { _, err := s.AddMembers(ctx, "beta", members("u1", "u2"), "alice"); return err }, nil, true},
		{"add listed members", func() error { _, err := s.AddMembers(ctx, "beta", members("u1"), "alice"); return err }, nil, false},
		{"add no members", func() error { _, err := s.AddMembers(ctx, "beta", nil, "alice"); return err }, nil, false},
		{"change a region", func() error {
			_, err := s.AddMembers(ctx, "beta", []cohorts.Member{{ID: "u1", Region: "FR"}}, "alice")
			return err
		}, nil, true},
		{"remove unlisted", func() error { _, err := s.RemoveMembers(ctx, "beta", []string{"u9"}, "alice"); return err }, nil, false},
		{"remove", func() error { _, err := s.RemoveMembers(ctx, "beta", []string{"u1"}, "alice"); return err }, nil, true},
		{"delete flag", func() error { return s.DeleteFlag(ctx, "b", "alice") }, nil, true},
		{"delete unknown flag", func() error { return s.DeleteFlag(ctx, "b", "alice") }, store.ErrNotFound, false},
		{"add to unknown cohort", func() error { _, err := s.AddMembers(ctx, "nope", members("u1"), "alice"); return err }, store.ErrNotFound, false},
		{"no actor", func() error { _, err := s.SetEnabled(ctx, "a", false, ""); return err }, errAny, false},
	}
	for _, tt := range tests {
		before := mustVersion(t, s)
		err := tt.op()
		switch {
		case tt.wantErr == nil && err != nil:
			t.Fatalf("%s: %v", tt.name, err)
		case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
			t.Fatalf("%s: error = %v, want %v", tt.name, err, tt.wantErr)
		}
		want := before
		if tt.bump {
			want++
		}
		if got := mustVersion(t, s); got != want {
			t.Errorf("%s: config version %d → %d, want %d", tt.name, before, got, want)
		}
	}
}

// errAny stands for any error in tables.
var errAny = errors.New("any error")

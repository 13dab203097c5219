package store_test

import (
	"context"
	"testing"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
)

func mustRevision(t *testing.T, s *store.Store) store.Revision {
	t.Helper()
	rev, err := s.Revision(context.Background())
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

func TestEpochStableAcrossOpens(t *testing.T) {
	dsn := testdb.DSN(t)
	s1 := openDSN(t, dsn)
	rev := mustRevision(t, s1)
	if len(rev.Epoch) != 16 {
		t.Fatalf("epoch %q, want 16 hex digits", rev.Epoch)
	}
	if rev.Version != 0 {
		t.Errorf("a new database's revision %v, want version 0", rev)
	}
	applyState(t, s1, flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")

	s2 := openDSN(t, dsn)
	got := mustRevision(t, s2)
	if want := (store.Revision{Epoch: rev.Epoch, Version: 1}); got != want {
		t.Errorf("after a write and reopening: %v, want %v", got, want)
	}
	if v := mustVersion(t, s2); v != got.Version {
		t.Errorf("Version() = %d, Revision().Version = %d", v, got.Version)
	}
	cfg, err := s2.Configuration(context.Background())
	evalRev := cfg.Revision
	if err != nil {
		t.Fatal(err)
	}
	if evalRev != got {
		t.Errorf("Configuration's revision %v, Revision() %v", evalRev, got)
	}
}

func TestEpochDiffersPerDatabase(t *testing.T) {
	seen := map[string]bool{}
	for i := range 3 {
		s := openDSN(t, testdb.DSN(t))
		epoch := mustRevision(t, s).Epoch
		if seen[epoch] {
			t.Fatalf("database %d has epoch %q, as an earlier one", i, epoch)
		}
		seen[epoch] = true
	}
}

// TestEpochMigration upgrades a database from before epochs: the migration
// gives it one and keeps its version, and later opens keep both.
func TestEpochMigration(t *testing.T) {
	dsn := testdb.DSN(t)
	s := openDSN(t, dsn)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("a"), boolFlag("b")}}, false, "alice")
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("a")}}, true, "alice")
	// Back to the schema before the epoch: its migration made version 6;
	// those after it run again too.
	undoGenerations(t, s, dsn)
	for _, stmt := range []string{
		"ALTER TABLE config_state DROP COLUMN epoch",
		dropMemberCounts[0], dropMemberCounts[1],
		"DELETE FROM schema_migrations WHERE version >= 6",
	} {
		if err := store.Exec(s, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	upgraded := openDSN(t, dsn)
	rev := mustRevision(t, upgraded)
	if rev.Epoch == "" || rev.Version != 2 {
		t.Fatalf("after the migration: %v, want an epoch and version 2", rev)
	}
	for i := range 2 {
		if got := mustRevision(t, openDSN(t, dsn)); got != rev {
			t.Errorf("open %d after the migration: %v, want %v", i+1, got, rev)
		}
	}
}

func TestRenewEpoch(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	applyState(t, s, flags.State{Flags: []flags.Flag{boolFlag("a")}}, false, "alice")
	before := mustRevision(t, s)

	after, err := s.RenewEpoch(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch == before.Epoch || after.Version != before.Version+1 {
		t.Errorf("RenewEpoch: %v after %v, want a new epoch and the next version", after, before)
	}
	if got := mustRevision(t, s); got != after {
		t.Errorf("Revision() = %v, RenewEpoch returned %v", got, after)
	}
	es := mustAudit(t, s, store.AuditFilter{Kind: "epoch"})
	if len(es) != 1 || es[0].Action != "epoch.renew" || es[0].Actor != "ops" || es[0].Target != after.Epoch {
		t.Errorf("audit entries for the renewal: %+v", es)
	}
	if _, err := s.RenewEpoch(ctx, ""); err == nil {
		t.Error("RenewEpoch without an actor succeeded")
	}
}

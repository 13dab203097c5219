package admin_test

import (
	"context"
	"testing"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
)

// open returns the control plane and the store beneath it over a new
// database (a SQLite file, or a fresh Postgres schema when RAMP_TEST_DSN
// names one); tests set up through the store what other use cases do.
func open(t testing.TB) (*admin.Service, *store.Store) {
	t.Helper()
	a, s, _ := openDSN(t)
	return a, s
}

// openDSN is open, with the database's DSN.
func openDSN(t testing.TB) (*admin.Service, *store.Store, string) {
	t.Helper()
	dsn := testdb.DSN(t)
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return admin.New(s), s, dsn
}

// alice acts in most tests.
var alice = admin.WithActor(context.Background(), "alice")

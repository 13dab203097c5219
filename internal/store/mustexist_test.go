package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/store"
)

// TestImportMustExist: an import told the cohort must exist refuses, in
// the transaction that would write, to create it (a cohort deleted between
// the caller's check and the import is not created again), in every mode
// and in a dry run; without MustExist, add and replace create it.
func TestImportMustExist(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	for _, mode := range []store.ImportMode{store.ImportReplace, store.ImportAdd, store.ImportRemove} {
		for _, dry := range []bool{false, true} {
			_, err := s.ImportMembers(ctx, "beta", store.ImportOptions{Mode: mode, DryRun: dry, MustExist: true}, source(mr("u1", "US")), "alice")
			var nf *store.NotFoundError
			if !errors.As(err, &nf) || nf.Key != "beta" || !errors.Is(err, ramp.ErrNotFound) {
				t.Errorf("%s (dry run %v) into an unknown cohort: %v, want a *NotFoundError", mode, dry, err)
			}
		}
	}
	if _, err := s.Cohort(ctx, "beta"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused import created the cohort: %v", err)
	}
	if res := mustImport(t, s, "beta", store.ImportOptions{Mode: store.ImportAdd}, mr("u1", "US")); !res.Created {
		t.Errorf("without MustExist the import did not create the cohort: %+v", res)
	}
	if res := mustImport(t, s, "beta", store.ImportOptions{Mode: store.ImportAdd, MustExist: true}, mr("u2", "FR")); res.Added != 1 || res.Created {
		t.Errorf("MustExist into an existing cohort: %+v", res)
	}
}

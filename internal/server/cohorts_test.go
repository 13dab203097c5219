package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/internal/server"
	"github.com/ramp-flags/ramp/internal/store"
)

// TestImportedCohort serves a cohort whose list came from an import, as
// the server reads it (store.Store.Configuration: hashed sets, no ids):
// OFREP answers and the snapshot feed both know its members, and an import
// reaches them without restart.
func TestImportedCohort(t *testing.T) {
	s, _ := openStore(t)
	const n = 20_000
	importIDs(t, s, "imported", store.ImportReplace, "imp-%d", n)
	file := filepath.Join(t.TempDir(), "imported.yaml")
	if err := os.WriteFile(file, []byte(`cohorts:
  - key: imported
flags:
  - key: imported-feature
    type: boolean
    variants: {on: true, off: false}
    defaultVariant: "off"
    rules:
      - cohorts: [imported]
        serve: "on"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	applyFile(t, s, file)
	srv := start(t, server.Config{Source: s, Poll: 10 * time.Millisecond, RateLimit: -1})
	v0 := engine(t, s).Version()
	waitVersion(t, srv, v0)

	answer := func(id string) bool {
		t.Helper()
		_, body := do(t, "POST", srv.URL+"/ofrep/v1/evaluate/flags/imported-feature", sdkKey, evalBody(map[string]any{"targetingKey": id}))
		var m struct{ Value bool }
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %s", id, body)
		}
		return m.Value
	}
	for _, id := range []string{"imp-0", "imp-19999", "imp-777"} {
		if !answer(id) {
			t.Errorf("%s, an imported member, is not served the cohort's variant", id)
		}
	}
	if answer("imp-20000") || answer("stranger") {
		t.Errorf("a non-member is served the cohort's variant")
	}

	_, body := do(t, "GET", srv.URL+"/v1/snapshot", sdkKey, "")
	st, _, err := wire.Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var got *cohorts.Cohort
	for i := range st.Cohorts {
		if st.Cohorts[i].Key == "imported" {
			got = &st.Cohorts[i]
		}
	}
	if got == nil || got.MemberCount != n || st.MemberSets["imported"].Len() != n {
		t.Fatalf("feed cohort %+v, set of %d, want %d members", got, st.MemberSets["imported"].Len(), n)
	}
	if !st.MemberSets["imported"].Contains("imp-123") || st.MemberSets["imported"].Contains("imp-20000") {
		t.Errorf("the feed's member set disagrees with the import")
	}

	// An add reaches the answers without restart.
	importIDs(t, s, "imported", store.ImportAdd, "late-%d", 1)
	waitVersion(t, srv, v0+1)
	if !answer("late-0") {
		t.Errorf("a member added by an import is not served")
	}
}

// importIDs imports ids made from format and 0..n-1 into a cohort.
func importIDs(t *testing.T, s *store.Store, key string, mode store.ImportMode, format string, n int) {
	t.Helper()
	i := 0
	next := func() (cohorts.Member, error) {
		if i == n {
			return cohorts.Member{}, io.EOF
		}
		i++
		return cohorts.Member{ID: fmt.Sprintf(format, i-1)}, nil
	}
	if _, err := s.ImportMembers(context.Background(), key, store.ImportOptions{Mode: mode}, next, "tester"); err != nil {
		t.Fatal(err)
	}
}

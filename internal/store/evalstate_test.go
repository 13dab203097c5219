package store_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

func TestConfiguration(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("empty"), cohort("staff", members("a", "b")...)}}, false, "alice")
	mustImport(t, s, "beta", store.ImportOptions{}, mr("u1", "US"), mr("u2", "FR"), mr("u3", ""))

	full, v1, err := s.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, v2 := cfg.State, cfg.Revision
	if v1 != v2.Version {
		t.Errorf("versions %d and %d", v1, v2.Version)
	}
	if len(st.Cohorts) != len(full.Cohorts) {
		t.Fatalf("%d cohorts, want %d", len(st.Cohorts), len(full.Cohorts))
	}
	for i, c := range full.Cohorts {
		got := st.Cohorts[i]
		if got.Key != c.Key || got.Members != nil || got.MemberCount != len(c.Members) || got.Version != c.Version {
			t.Errorf("cohort %s: %+v, want %d members", c.Key, got, len(c.Members))
		}
		set := st.MemberSets[c.Key]
		if set.Len() != len(c.Members) {
			t.Errorf("cohort %s: set of %d, want %d", c.Key, set.Len(), len(c.Members))
		}
		for _, m := range c.Members {
			if !set.Contains(m.ID) {
				t.Errorf("cohort %s: set lacks %q", c.Key, m.ID)
			}
		}
		if set.Contains("nobody") {
			t.Errorf("cohort %s: set holds a stranger", c.Key)
		}
	}
	if _, err := flags.Compile(st, v2.Version); err != nil {
		t.Errorf("Compile: %v", err)
	}
}

// TestConfigurationChunks reads a list longer than two of the chunks
// Configuration reads ids in, and one of exactly one chunk.
func TestConfigurationChunks(t *testing.T) {
	s := openTestStore(t)
	for _, n := range []int{8192, 20001} {
		i := 0
		next := func() (cohorts.Member, error) {
			if i == n {
				return cohorts.Member{}, io.EOF
			}
			i++
			return mr(fmt.Sprintf("user-%d", i), ""), nil
		}
		key := fmt.Sprintf("c%d", n)
		if _, err := s.ImportMembers(context.Background(), key, store.ImportOptions{}, next, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := s.Configuration(context.Background())
	st := cfg.State
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{8192, 20001} {
		set := st.MemberSets[fmt.Sprintf("c%d", n)]
		if set.Len() != n {
			t.Errorf("c%d: set of %d", n, set.Len())
		}
		for _, id := range []int{1, 8192, min(8193, n), n} {
			if !set.Contains(fmt.Sprintf("user-%d", id)) {
				t.Errorf("c%d: set lacks user-%d", n, id)
			}
		}
	}
}

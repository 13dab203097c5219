package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
)

func TestMembers(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("beta"), cohort("other", members("x")...)}}, false, "alice")
	m := func(id string, region cohorts.Region) cohorts.Member { return cohorts.Member{ID: id, Region: region} }

	steps := []struct {
		name        string
		add         []cohorts.Member
		remove      []string
		want        int // added or removed
		wantMembers []cohorts.Member
		wantRegions map[cohorts.Region]int
	}{
		{
			name:        "add, a repeated id taking its last region",
			add:         []cohorts.Member{m("u2", "us"), m("u1", ""), m("u3", "FR"), m("u1", "DE")},
			want:        3,
			wantMembers: []cohorts.Member{m("u1", "DE"), m("u2", "US"), m("u3", "FR")},
			wantRegions: map[cohorts.Region]int{"DE": 1, "US": 1, "FR": 1},
		},
		{
			name:        "listed ids keep their region when none is given",
			add:         []cohorts.Member{m("u1", ""), m("u4", "")},
			want:        1,
			wantMembers: []cohorts.Member{m("u1", "DE"), m("u2", "US"), m("u3", "FR"), m("u4", "")},
			wantRegions: map[cohorts.Region]int{"DE": 1, "US": 1, "FR": 1, "": 1},
		},
		{
			name:        "listed ids get the region given",
			add:         []cohorts.Member{m("u2", "CA")},
			want:        0,
			wantMembers: []cohorts.Member{m("u1", "DE"), m("u2", "CA"), m("u3", "FR"), m("u4", "")},
			wantRegions: map[cohorts.Region]int{"DE": 1, "CA": 1, "FR": 1, "": 1},
		},
		{
			name:        "remove, ignoring unlisted and repeated ids",
			remove:      []string{"u1", "u9", "u1", "x"},
			want:        1,
			wantMembers: []cohorts.Member{m("u2", "CA"), m("u3", "FR"), m("u4", "")},
			wantRegions: map[cohorts.Region]int{"CA": 1, "FR": 1, "": 1},
		},
	}
	for _, step := range steps {
		var got int
		var err error
		if step.add != nil {
			got, err = s.AddMembers(ctx, "beta", step.add, "alice")
		} else {
			got, err = s.RemoveMembers(ctx, "beta", step.remove, "alice")
		}
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got != step.want {
			t.Errorf("%s: changed %d members, want %d", step.name, got, step.want)
		}
		gotMembers, err := s.Members(ctx, "beta")
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(step.wantMembers, gotMembers); d != "" {
			t.Errorf("%s: Members (-want +got):\n%s", step.name, d)
		}
		regions, err := s.MemberRegionCounts(ctx, "beta")
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(step.wantRegions, regions); d != "" {
			t.Errorf("%s: MemberRegionCounts (-want +got):\n%s", step.name, d)
		}
		c, err := s.Cohort(ctx, "beta")
		if err != nil {
			t.Fatal(err)
		}
		if c.MemberCount != len(step.wantMembers) || c.Members != nil {
			t.Errorf("%s: Cohort() has MemberCount %d and %d Members loaded, want %d and none",
				step.name, c.MemberCount, len(c.Members), len(step.wantMembers))
		}
	}

	all, err := s.Cohorts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]int)
	for _, c := range all {
		got[c.Key] = c.MemberCount
		if c.Members != nil {
			t.Errorf("Cohorts() loaded the members of %s", c.Key)
		}
	}
	if d := diff(map[string]int{"beta": 3, "other": 1}, got); d != "" {
		t.Errorf("Cohorts() member counts (-want +got):\n%s", d)
	}
}

func TestMembersErrors(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("beta")}}, false, "alice")

	notFound := []struct {
		name string
		op   func() error
	}{
		{"Cohort", func() error { _, err := s.Cohort(ctx, "nope"); return err }},
		{"Members", func() error { _, err := s.Members(ctx, "nope"); return err }},
		{"MemberRegionCounts", func() error { _, err := s.MemberRegionCounts(ctx, "nope"); return err }},
		{"AddMembers", func() error { _, err := s.AddMembers(ctx, "nope", members("u1"), "alice"); return err }},
		{"RemoveMembers", func() error { _, err := s.RemoveMembers(ctx, "nope", []string{"u1"}, "alice"); return err }},
	}
	for _, tt := range notFound {
		err := tt.op()
		var nf *store.NotFoundError
		if !errors.As(err, &nf) || *nf != (store.NotFoundError{Kind: "cohort", Key: "nope"}) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s(nope) error = %v, want NotFoundError{cohort nope}", tt.name, err)
		}
	}

	invalid := [][]cohorts.Member{
		{{ID: "u1"}, {ID: ""}},
		{{ID: "u1", Region: "XX"}},
		{{ID: "tab\there"}},
	}
	for _, ms := range invalid {
		if n, err := s.AddMembers(ctx, "beta", ms, "alice"); err == nil || errors.Is(err, store.ErrNotFound) || n != 0 {
			t.Errorf("AddMembers(%q) = %d, %v; want 0 and a validation error", ms, n, err)
		}
	}
	if c, err := s.Cohort(ctx, "beta"); err != nil || c.MemberCount != 0 {
		t.Errorf("after invalid AddMembers: Cohort() = %d members, %v; want 0", c.MemberCount, err)
	}
}

func TestAddManyMembers(t *testing.T) {
	const n = 100_000
	ctx := context.Background()
	s := openTestStore(t)
	applyState(t, s, flags.State{Cohorts: []cohorts.Cohort{cohort("big")}}, false, "alice")
	regions := []cohorts.Region{"US", "FR", "DE", "JP", ""}
	ms := make([]cohorts.Member, n)
	for i := range ms {
		ms[i] = cohorts.Member{ID: fmt.Sprintf("user-%07d", i), Region: regions[i%len(regions)]}
	}

	start := time.Now()
	added, err := s.AddMembers(ctx, "big", ms, "alice")
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("added %d members in %v", n, elapsed)
	if added != n {
		t.Errorf("AddMembers added %d, want %d", added, n)
	}
	counts, err := s.MemberRegionCounts(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	want := map[cohorts.Region]int{"US": n / 5, "FR": n / 5, "DE": n / 5, "JP": n / 5, "": n / 5}
	if d := diff(want, counts); d != "" {
		t.Errorf("MemberRegionCounts (-want +got):\n%s", d)
	}

	start = time.Now()
	st, _ := mustState(t, s)
	t.Logf("read state of %d members in %v", n, time.Since(start))
	if c, _ := st.Cohort("big"); len(c.Members) != n || c.MemberCount != n {
		t.Errorf("State() loaded %d members (MemberCount %d), want %d", len(c.Members), c.MemberCount, n)
	}

	start = time.Now()
	again, err := s.AddMembers(ctx, "big", ms, "alice")
	t.Logf("re-added %d members in %v", n, time.Since(start))
	if err != nil || again != 0 {
		t.Errorf("AddMembers of listed members = %d, %v; want 0", again, err)
	}

	ids := make([]string, n/2)
	for i := range ids {
		ids[i] = ms[2*i].ID
	}
	start = time.Now()
	removed, err := s.RemoveMembers(ctx, "big", ids, "alice")
	t.Logf("removed %d members in %v", len(ids), time.Since(start))
	if err != nil || removed != n/2 {
		t.Errorf("RemoveMembers = %d, %v; want %d", removed, err, n/2)
	}
}

package admin_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// BenchmarkAddStageLargeCohort: `ramp rollout add-stage` with a cohort of
// $RAMP_BENCH_MEMBERS members (default 2,000,000) in the database (issue
// #10: 10.6 s before the control plane read plans without member lists).
// Each iteration adds a stage and removes it: two plan edits, each one
// write transaction that validates the whole plan. Building the cohort
// takes most of the run's time, outside the measured loop.
//
//	go test -run '^$' -bench AddStageLargeCohort -benchtime 10x ./internal/admin/
func BenchmarkAddStageLargeCohort(b *testing.B) {
	if testing.Short() {
		b.Skip("imports millions of members")
	}
	n := 2_000_000
	if v := os.Getenv("RAMP_BENCH_MEMBERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	a, s := setup(b)
	ctx := context.Background()
	i := 0
	res, err := s.ImportMembers(ctx, "employees", store.ImportOptions{File: "bench"}, func() (cohorts.Member, error) {
		if i == n {
			return cohorts.Member{}, io.EOF
		}
		i++
		return cohorts.Member{ID: fmt.Sprintf("user-%08d", i), Region: "US"}, nil
	}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("cohort employees: %d members", res.Members)
	alice := admin.WithActor(ctx, "alice")
	stage := rollout.Stage{Name: "world-100", Regions: []string{"*"}, Percent: 10000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.AddStage(alice, admin.AddStageRequest{Flag: interop, Stage: stage}); err != nil {
			b.Fatal(err)
		}
		if _, err := a.RemoveStage(alice, admin.RemoveStageRequest{Flag: interop, Stage: stage.Name}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(2*b.N)/1000, "ms/edit")
}

package controller_test

import (
	"context"
	"fmt"
	"github.com/ramp-flags/ramp/internal/admin"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/controller"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/internal/testdb"
	"github.com/ramp-flags/ramp/rollout"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock tests move by hand; safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const h = rollout.Duration(time.Hour)

func interop() rollout.Plan {
	return rollout.Plan{Flag: "messenger-ig-interop", Variant: "on", Stages: []rollout.Stage{
		{Name: "dogfood", Cohorts: []string{"employees"}, Percent: 10000},
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
		{Name: "us-10", Regions: []string{"US"}, Percent: 1000, After: 48 * h},
		{Name: "us-50", Regions: []string{"US"}, Percent: 5000, After: 48 * h},
		{Name: "us-100", Regions: []string{"US"}, Percent: 10000, After: 72 * h},
		{Name: "na-25", Regions: []string{"CA", "MX"}, Percent: 2500, After: 72 * h},
		{Name: "world-5", Regions: []string{"*"}, Percent: 500, After: 168 * h},
	}}
}

// setup opens a store on a fresh database with the fake clock and the
// scenario flag and plan, started by hand at us-1.
func setup(t *testing.T, plan rollout.Plan) (*store.Store, *fakeClock, string) {
	t.Helper()
	ctx := context.Background()
	path := testdb.DSN(t) // a SQLite file, or a Postgres schema in the Postgres pass
	s := open(t, path)
	clk := &fakeClock{now: t0}
	s.Now = clk.Now
	st := flags.State{
		Cohorts: []cohorts.Cohort{{Key: "employees", Members: []cohorts.Member{{ID: "emp-1"}}}},
		Flags: []flags.Flag{{Key: "messenger-ig-interop", Type: flags.Boolean, Enabled: true, Bucketing: bucket.Latest,
			Variants: []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}, DefaultVariant: "off"}},
	}
	changes, _ := rollout.Diff(nil, []rollout.Plan{plan}, false)
	if err := s.ApplyWithRollouts(ctx, &st, flags.Diff(&flags.State{}, &st, false), changes, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"dogfood", "us-1"} {
		move(t, s, stage, "alice")
	}
	return s, clk, path
}

func open(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func move(t *testing.T, s *store.Store, stage, actor string) rollout.Rollout {
	t.Helper()
	r, err := s.MoveRollout(context.Background(), store.Move{Flag: "messenger-ig-interop", Action: "rollout.advance",
		Apply: func(r *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
			p, _, err := r.Advance(r.StageIndex(stage), actor, now)
			return p, err
		}}, actor)
	if err != nil {
		t.Fatalf("advance to %s: %v", stage, err)
	}
	return r
}

func current(t *testing.T, s *store.Store) rollout.Rollout {
	t.Helper()
	r, err := s.Rollout(context.Background(), "messenger-ig-interop")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWeekLongSchedule runs the scenario's schedule hour by hour with a fake
// clock: every stage starts exactly when due and not before.
func TestWeekLongSchedule(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := setup(t, interop())
	want := map[string]time.Duration{"us-10": 48 * time.Hour, "us-50": 96 * time.Hour, "us-100": 168 * time.Hour,
		"na-25": 240 * time.Hour, "world-5": 408 * time.Hour}
	started := map[string]time.Duration{}
	for clk.Now().Sub(t0) <= 500*time.Hour {
		events, err := controller.Tick(ctx, admin.New(s))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Outcome != rollout.Started {
				t.Errorf("event %+v", e)
			}
			started[e.Stage] = clk.Now().Sub(t0)
		}
		clk.Add(time.Hour)
	}
	for stage, at := range want {
		if started[stage] != at {
			t.Errorf("stage %s started at +%v, want +%v", stage, started[stage], at)
		}
	}
	r := current(t, s)
	if r.Progress.Stage != "world-5" || r.Progress.By != rollout.Scheduler {
		t.Errorf("progress = %+v", r.Progress)
	}
	if n := r.Next(false); n.Stage != -1 {
		t.Errorf("next after the last stage: %+v", n)
	}
}

func TestScheduleStops(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		plan    func(p *rollout.Plan)
		prepare func(t *testing.T, s *store.Store)
		blocked string
	}{
		{"paused", nil, func(t *testing.T, s *store.Store) {
			if _, err := s.MoveRollout(ctx, store.Move{Flag: "messenger-ig-interop", Action: "rollout.pause",
				Apply: func(r *rollout.Rollout, _ *flags.Flag, now time.Time) (rollout.Progress, error) {
					return r.Pause("alice", now, "")
				}}, "alice"); err != nil {
				t.Fatal(err)
			}
		}, "paused"},
		{"killed", nil, func(t *testing.T, s *store.Store) {
			if _, err := s.SetEnabled(ctx, "messenger-ig-interop", false, "alice"); err != nil {
				t.Fatal(err)
			}
		}, "the flag is disabled (kill switch)"},
		{"hold point", func(p *rollout.Plan) { p.Stages[1].Halt = true }, nil, "stage us-1 is a hold point: advance by hand"},
		{"manual stage", func(p *rollout.Plan) { p.Stages[2].After = 0 }, nil, "no schedule: advance by hand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := interop()
			if tt.plan != nil {
				tt.plan(&p)
			}
			s, clk, _ := setup(t, p)
			if tt.prepare != nil {
				tt.prepare(t, s)
			}
			clk.Add(30 * 24 * time.Hour)
			events, err := controller.Tick(ctx, admin.New(s))
			if err != nil || len(events) != 0 {
				t.Fatalf("Tick = %+v, %v", events, err)
			}
			r := current(t, s)
			if r.Progress.Stage != "us-1" {
				t.Errorf("stage = %s", r.Progress.Stage)
			}
			f, _ := s.Flag(ctx, "messenger-ig-interop")
			if n := r.Next(!f.Enabled); n.Blocked != tt.blocked {
				t.Errorf("blocked = %q, want %q", n.Blocked, tt.blocked)
			}
		})
	}
}

// TestScheduledApproval: a due stage that needs approval is asked for once,
// waits, and starts when someone other than the asker approves.
func TestScheduledApproval(t *testing.T) {
	ctx := context.Background()
	p := interop()
	p.Stages[2].Approval = true
	s, clk, _ := setup(t, p)
	clk.Add(49 * time.Hour)
	events, err := controller.Tick(ctx, admin.New(s))
	if err != nil || len(events) != 1 || events[0].Outcome != rollout.Requested || events[0].Stage != "us-10" {
		t.Fatalf("Tick = %+v, %v", events, err)
	}
	clk.Add(time.Hour)
	if events, _ := controller.Tick(ctx, admin.New(s)); len(events) != 0 {
		t.Errorf("asked again: %+v", events)
	}
	r := current(t, s)
	if r.Progress.Stage != "us-1" || r.Progress.Pending == nil || r.Progress.Pending.By != rollout.Scheduler {
		t.Fatalf("progress = %+v", r.Progress)
	}
	if n := r.Next(false); n.Blocked != "stage us-10 awaits approval by someone other than ramp-scheduler" {
		t.Errorf("blocked = %q", n.Blocked)
	}
	if _, err := r.Approve("us-10", "bob", clk.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestOneAdvancePerStageAcrossServers: four controllers on one database tick
// at once at every hour of the schedule; each stage is started exactly once.
func TestOneAdvancePerStageAcrossServers(t *testing.T) {
	ctx := context.Background()
	s, clk, path := setup(t, interop())
	servers := []*store.Store{s}
	for range 3 {
		o := open(t, path)
		o.Now = clk.Now
		servers = append(servers, o)
	}
	for clk.Now().Sub(t0) <= 500*time.Hour {
		var wg sync.WaitGroup
		for _, srv := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := controller.Tick(ctx, admin.New(srv)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		clk.Add(6 * time.Hour)
	}
	es, err := s.Audit(ctx, store.AuditFilter{Kind: "rollout", Target: "messenger-ig-interop"})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := 0
	for _, e := range es {
		if e.Action == "rollout.schedule" {
			scheduled++
		}
	}
	if scheduled != 5 {
		t.Errorf("%d scheduled moves for 5 scheduled stages", scheduled)
	}
	if r := current(t, s); r.Progress.Stage != "world-5" {
		t.Errorf("stage = %s", r.Progress.Stage)
	}
}

// TestRunRecordsMetrics: a pass of Run starts the due stage and exports
// where every rollout stands.
func TestRunRecordsMetrics(t *testing.T) {
	s, clk, _ := setup(t, interop())
	clk.Add(49 * time.Hour) // us-10 is due
	m := controller.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		controller.Run(ctx, admin.New(s), time.Hour, slog.New(slog.DiscardHandler), m)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(t, reg, "ramp_rollout_controller_passes_total") < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	due := clk.Now().Add(48 * time.Hour).Unix() // us-50, 48h after us-10 began now
	want := fmt.Sprintf(`
# HELP ramp_rollout_stage The live stage of each rollout plan, counted from 1 (0 before the first stage).
# TYPE ramp_rollout_stage gauge
ramp_rollout_stage{flag="messenger-ig-interop"} 3
# HELP ramp_rollout_stages The number of stages of each rollout plan.
# TYPE ramp_rollout_stages gauge
ramp_rollout_stages{flag="messenger-ig-interop"} 7
# HELP ramp_rollout_paused 1 when the rollout's schedule is paused.
# TYPE ramp_rollout_paused gauge
ramp_rollout_paused{flag="messenger-ig-interop"} 0
# HELP ramp_rollout_scheduled_moves_total Stages the schedule started (outcome=started) or asked approval for (outcome=requested), by this server.
# TYPE ramp_rollout_scheduled_moves_total counter
ramp_rollout_scheduled_moves_total{outcome="started"} 1
# HELP ramp_rollout_next_stage_due_timestamp_seconds When the schedule may start the rollout's next stage (Unix time); absent when nothing is scheduled (by hand, paused, held, awaiting approval, killed, done).
# TYPE ramp_rollout_next_stage_due_timestamp_seconds gauge
ramp_rollout_next_stage_due_timestamp_seconds{flag="messenger-ig-interop"} %d
`, due)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ramp_rollout_stage", "ramp_rollout_stages",
		"ramp_rollout_paused", "ramp_rollout_scheduled_moves_total", "ramp_rollout_next_stage_due_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

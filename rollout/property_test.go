package rollout_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// randomPlan draws a plan of 3 to 8 stages over cohorts, regions, groups,
// * and conditions; each stage's percentage is raised where needed so that
// no stage lowers a target (what Validate requires without decrease).
func randomPlan(rng *rand.Rand) rollout.Plan {
	regions := []string{"US", "CA", "MX", "FR", "BR", "NA", "EU", "LATAM", "*"}
	p := rollout.Plan{Flag: "messenger-ig-interop", Variant: "on"}
	percents := []flags.Percent{1, 10, 100, 500, 1000, 2500, 5000, 7500, 10000}
	for i := range 3 + rng.IntN(6) {
		st := rollout.Stage{Name: fmt.Sprintf("s%d", i), Percent: percents[rng.IntN(len(percents))]}
		switch rng.IntN(5) {
		case 0:
			st.Cohorts = []string{"employees"}
		case 1:
			st.Cohorts = []string{"testers"}
			st.Regions = []string{regions[rng.IntN(len(regions))]}
		default:
			for range 1 + rng.IntN(2) {
				st.Regions = append(st.Regions, regions[rng.IntN(len(regions))])
			}
		}
		if rng.IntN(4) == 0 {
			st.When = []cohorts.Condition{{Attribute: "platform", Op: "eq", Values: []string{"ios"}}}
		}
		prev := map[string]flags.Percent{}
		for _, g := range p.Audience(len(p.Stages) - 1) {
			prev[g.Target.String()] = g.Percent
		}
		for _, t := range st.Targets() {
			st.Percent = max(st.Percent, prev[t.String()])
		}
		p.Stages = append(p.Stages, st)
	}
	return p
}

// users draws n evaluation contexts across regions and platforms, some of
// them in the cohorts' lists, some linked (bucketed by accountCenterId).
func users(rng *rand.Rand, n int) []map[string]any {
	regions := []string{"US", "CA", "MX", "FR", "DE", "BR", "AR", "IN", "JP"}
	out := make([]map[string]any, n)
	for i := range out {
		ctx := map[string]any{"targetingKey": fmt.Sprintf("user-%d", i), "region": regions[rng.IntN(len(regions))],
			"platform": []string{"ios", "android", "web"}[rng.IntN(3)]}
		if i%3 == 0 {
			ctx["accountCenterId"] = fmt.Sprintf("ac-%d", i/3)
		}
		out[i] = ctx
	}
	return out
}

func propertyWorld() flags.State {
	st := world()
	var emp, testers []cohorts.Member
	for i := range 2000 {
		emp = append(emp, cohorts.Member{ID: fmt.Sprintf("user-%d", i*37)})
		testers = append(testers, cohorts.Member{ID: fmt.Sprintf("user-%d", i*41+5)})
	}
	st.Cohorts = []cohorts.Cohort{{Key: "employees", Members: emp}, {Key: "testers", Members: testers}}
	return st
}

// decisions evaluates every user at stage k of the plan and returns who
// gets the rollout variant.
func decisions(t testing.TB, st flags.State, p rollout.Plan, k int, us []map[string]any) []bool {
	t.Helper()
	r := rollout.Rollout{Plan: p}
	if k >= 0 {
		r.Progress.Stage = p.Stages[k].Name
	}
	snap, err := flags.Compile(rollout.Apply(st, []rollout.Rollout{r}), int64(k+2))
	if err != nil {
		t.Fatalf("compile stage %d: %v", k, err)
	}
	out := make([]bool, len(us))
	for i, u := range us {
		d := snap.Evaluate(p.Flag, u)
		if d.ErrorCode != "" {
			t.Fatalf("user %v: %s %s", u, d.ErrorCode, d.ErrorDetails)
		}
		out[i] = d.Variant == p.Variant
	}
	return out
}

// TestAdvancingNeverTakesTheFeatureAway is the plan guarantee: over random
// valid plans and 100,000 users, everyone who has the feature at a stage
// still has it at every later stage, and at each stage exactly the users
// the audience predicts have it.
func TestAdvancingNeverTakesTheFeatureAway(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 2026))
	n := 100_000
	plans := 12
	if testing.Short() {
		n, plans = 10_000, 4
	}
	us := users(rng, n)
	st := propertyWorld()
	all := append([]rollout.Plan{interop()}, make([]rollout.Plan, plans)...)
	for i := 1; i < len(all); i++ {
		all[i] = randomPlan(rng)
	}
	for pi, p := range all {
		if err := rollout.Validate([]rollout.Plan{p}, &st); err != nil {
			t.Fatalf("plan %d is not valid: %v", pi, err)
		}
		prev := decisions(t, st, p, -1, us)
		gained := 0
		for k := range p.Stages {
			cur := decisions(t, st, p, k, us)
			for i := range us {
				if prev[i] && !cur[i] {
					t.Fatalf("plan %d: advancing to stage %s took the feature away from %v", pi, p.Stages[k].Name, us[i])
				}
				if cur[i] && !prev[i] {
					gained++
				}
			}
			prev = cur
		}
		if gained == 0 {
			t.Errorf("plan %d: nobody ever got the feature; the test proves nothing", pi)
		}
	}
}

// TestRollbackRestoresTheSameUsers: going forward to the last stage and
// back to an earlier one gives exactly the users that stage had.
func TestRollbackRestoresTheSameUsers(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2026))
	us := users(rng, 20_000)
	st := propertyWorld()
	p := interop()
	want := decisions(t, st, p, 2, us)
	r := rollout.Rollout{Plan: p, Progress: rollout.Progress{Stage: "world-5"}}
	prog, err := r.Rollback(2, "alice", r.Progress.Since, "")
	if err != nil {
		t.Fatal(err)
	}
	back := rollout.Rollout{Plan: p, Progress: prog}
	got := decisions(t, st, p, back.Live(), us)
	for i := range us {
		if got[i] != want[i] {
			t.Fatalf("user %v: %v after rollback, %v at the stage originally", us[i], got[i], want[i])
		}
	}
}

// TestDecreaseTakesAwayOnlyWhatItSays: a stage marked decrease lowers its
// target, so some users lose the feature, and only in that target.
func TestDecreaseTakesAwayOnlyWhatItSays(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 2026))
	us := users(rng, 20_000)
	st := propertyWorld()
	p := interop()
	p.Stages = append(p.Stages[:4:4], rollout.Stage{Name: "us-back-to-10", Regions: []string{"US"}, Percent: 1000, Decrease: true})
	before, after := decisions(t, st, p, 3, us), decisions(t, st, p, 4, us)
	lost := 0
	for i := range us {
		if before[i] && !after[i] {
			lost++
			if us[i]["region"] != "US" {
				t.Fatalf("user %v outside the lowered target lost the feature", us[i])
			}
		}
	}
	if lost == 0 {
		t.Error("nobody lost the feature")
	}
}

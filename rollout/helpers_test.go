package rollout_test

import (
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/rollout"
)

const hour = rollout.Duration(time.Hour)

// interop is the scenario's messenger-ig-interop plan, as issue 6 gives it.
func interop() rollout.Plan {
	return rollout.Plan{Flag: "messenger-ig-interop", Variant: "on", Stages: []rollout.Stage{
		{Name: "dogfood", Cohorts: []string{"employees"}, Percent: 10000},
		{Name: "us-1", Regions: []string{"US"}, Percent: 100},
		{Name: "us-10", Regions: []string{"US"}, Percent: 1000, After: 48 * hour},
		{Name: "us-50", Regions: []string{"US"}, Percent: 5000, After: 48 * hour},
		{Name: "us-100", Regions: []string{"US"}, Percent: 10000, After: 72 * hour},
		{Name: "na-25", Regions: []string{"CA", "MX"}, Percent: 2500, After: 72 * hour},
		{Name: "world-5", Regions: []string{"*"}, Percent: 500, After: 168 * hour},
	}}
}

// world is the configuration the plan runs in: the flag without rules of
// its own, and the employees cohort.
func world() flags.State {
	return flags.State{
		Cohorts: []cohorts.Cohort{{Key: "employees", Members: []cohorts.Member{{ID: "emp-1"}, {ID: "emp-2"}}}},
		Flags: []flags.Flag{{
			Key: "messenger-ig-interop", Type: flags.Boolean, Enabled: true, Bucketing: bucket.Latest,
			Variants:       []flags.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}},
			DefaultVariant: "off", BucketBy: "accountCenterId",
		}},
	}
}

package admin

import (
	"context"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
)

// ConfigurationReusing is Configuration for a reader that keeps the member
// sets it built, by cohort and members version (ramp.Config.SetVersions):
// the store reads and hashes only the lists reuse does not return. `ramp
// serve` reloads through it, so a change that leaves the lists alone
// reads none of them.
func (s *Service) ConfigurationReusing(ctx context.Context, reuse func(cohort string, version int64) *cohorts.Set) (ramp.Config, error) {
	return s.db().ConfigurationReusing(ctx, reuse)
}

package store

import (
	"context"

	"gorm.io/gorm"
)

// ArmStatsJoin computes q's statistics with ArmStats' grouped query,
// whatever is maintained: the oracle the maintained sums are tested
// against.
func (s *Store) ArmStatsJoin(ctx context.Context, q ArmQuery) (arms []ArmStats, multiArm int64, err error) {
	err = s.read(ctx, "arm statistics (join)", func(db *gorm.DB) error {
		arms, multiArm, err = armStatsJoin(db, q)
		return err
	})
	return arms, multiArm, err
}

package clickhouse

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ramp-flags/ramp/internal/store"
)

// UnitTotals calls fn with each per-unit total of an experiment's phase —
// per exposed unit (with its first arm, and whether it is multi-arm),
// event and day offset from the unit's first exposure, the events' n, Σvalue
// and Σvalue² — ordered by unit, event and day, as store.Store.UnitTotals
// gives them: for analysts who take the per-unit data elsewhere. A retried
// event's copies count once. The rows stream from ClickHouse, which sorts
// them (on disk past its memory limit); fn's error stops the reading and
// is returned as it is.
func (s *Store) UnitTotals(ctx context.Context, experiment string, phase int, fn func(store.UnitTotal) error) error {
	attrs, err := s.anyUnitAttrs(ctx, experiment, phase, nil)
	if err != nil {
		return fmt.Errorf("unit totals of %q on ClickHouse: %w", experiment, err)
	}
	attr := "attr"
	if attrs != nil {
		attr = "arrayJoin(if(attr = '*', [" + quoteAll(attrs) + "], [attr]))"
	}
	dm := strconv.FormatInt(dayMicros, 10)
	rows, err := s.conn.Query(ctx, `SELECT a, unit, first_arm, multi, name, d - fday AS offset, count(), sum(v), sum(v * v) FROM (
			SELECT a, unit, name, day AS d, any(value) AS v
			FROM `+s.db+`.events
			GROUP BY `+attr+` AS a, unit, name, d, h
		) ALL INNER JOIN (
			SELECT unit_attr AS a, unit, argMin(arm, at) AS first_arm, min(at) AS first_at, min(arm) != max(arm) AS multi,
				intDiv(first_at, `+dm+`) - (first_at % `+dm+` < 0) AS fday
			FROM `+s.db+`.exposures WHERE experiment = ? AND phase = ?
			GROUP BY unit_attr, unit
		) USING (a, unit)
		GROUP BY a, unit, first_arm, multi, name, offset
		ORDER BY a, unit, name, offset`, experiment, uint32(phase))
	if err != nil {
		return fmt.Errorf("unit totals of %q on ClickHouse: %w", experiment, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u      store.UnitTotal
			offset int64
			n      uint64
		)
		if err := rows.Scan(&u.UnitAttr, &u.Unit, &u.Arm, &u.MultiArm, &u.Event, &offset, &n, &u.Sum, &u.SumSq); err != nil {
			return fmt.Errorf("unit totals of %q on ClickHouse: %w", experiment, err)
		}
		u.Day, u.N = int(offset), int64(n)
		if err := fn(u); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("unit totals of %q on ClickHouse: %w", experiment, err)
	}
	return nil
}

package store

import (
	"context"
	"math"
	"strconv"

	"gorm.io/gorm"
)

// UnitValue says what one per-unit value sums: the events named Event
// whose day offset from the unit's first exposure in the phase
// (tracking_totals.day) is in [FromDay, ToDay). Indicator makes it 1 when
// the unit has at least one such event (conversions), else 0; without it
// the value is the sum of the events' values (0 without events).
//
// Day 0 is the UTC calendar day of the unit's first exposure, day 1 the
// next UTC day, -1 the day before (see tracking_totals): a 7-day window is
// [0, 7), a 14-day pre-period covariate [-14, 0), the whole phase
// [0, math.MaxInt32).
type UnitValue struct {
	Event          string
	FromDay, ToDay int
	Indicator      bool
}

// ArmQuery asks for per-arm sufficient statistics of one metric in one
// experiment phase.
type ArmQuery struct {
	Experiment string
	Phase      int
	// Y is the per-unit value analysed: a conversion (Indicator), a mean,
	// or a ratio metric's numerator.
	Y UnitValue
	// X is a second per-unit value, nil for none (then ArmStats' SumX,
	// SumX2 and SumXY are 0): a ratio metric's denominator, or CUPED's
	// pre-period covariate.
	X *UnitValue
	// Before, when positive, is an as-of cut-off in Unix microseconds,
	// for the estimate-over-time chart: only units whose first exposure
	// is before it count, and of their events only the days that ended by
	// then — the day offsets whose UTC calendar day (the UTC day of the
	// unit's first exposure plus the offset) is before Before's UTC day.
	// Totals are kept per day, so a cut-off inside a day takes none of
	// that day's events: a unit first exposed earlier that day counts
	// with 0. Cut-offs at UTC midnight (the end of each day of the chart)
	// are exact. Multi-arm units are those flagged now: the store does not
	// record when a unit was first seen in a second arm.
	Before int64
}

// ArmStats are one arm's sufficient statistics: N units (those first
// exposed to the arm in the phase, less the multi-arm ones) and the sums
// over them of y, y², x, x² and x·y, where y and x are the per-unit
// values of the query (x 0 without ArmQuery.X). Units exposed but without
// any counted event are in N with y = x = 0.
type ArmStats struct {
	Arm   string  `json:"arm"`
	N     int64   `json:"n"`
	SumY  float64 `json:"sumY"`
	SumY2 float64 `json:"sumY2"`
	SumX  float64 `json:"sumX"`
	SumX2 float64 `json:"sumX2"`
	SumXY float64 `json:"sumXY"`
}

// Validate checks a query: an experiment, a phase of at least 1, and for
// each value an event and a non-empty day range. Its errors match
// ramp.ErrInvalid.
func (q ArmQuery) Validate() error {
	switch {
	case q.Experiment == "":
		return invalidTracking("arm statistics: experiment is empty")
	case q.Phase < 1:
		return invalidTracking("arm statistics of %q: phase %d: phases count from 1", q.Experiment, q.Phase)
	case q.Before < 0:
		return invalidTracking("arm statistics of %q: as-of cut-off %d is negative (0 means none)", q.Experiment, q.Before)
	}
	check := func(what string, v *UnitValue) error {
		switch {
		case v.Event == "":
			return invalidTracking("arm statistics of %q: %s: event is empty", q.Experiment, what)
		case v.FromDay >= v.ToDay:
			return invalidTracking("arm statistics of %q: %s (%s): day range [%d, %d) is empty: FromDay must be below ToDay",
				q.Experiment, what, v.Event, v.FromDay, v.ToDay)
		}
		return nil
	}
	if err := check("y", &q.Y); err != nil {
		return err
	}
	if q.X != nil {
		return check("x", q.X)
	}
	return nil
}

// armStatsSQL builds ArmStats' query and its arguments.
//
// The inner query makes one row per exposed unit of the phase: the
// exposure (its arm, multi_arm, first_at) LEFT JOINed to the unit's rows of
// tracking_totals for the query's events, grouped by the unit, with y and
// x summed from the rows whose event and day offset match (an indicator:
// the largest of 1 per matching row and 0). A unit without a matching row
// — without events, or a multi-arm unit, whose rows the join leaves out —
// gets 0. The outer query adds the units up per arm and multi_arm, the
// multi-arm rows only counted.
//
// The as-of cut-off's day rule, day offset < Before's UTC day minus the
// UTC day of first_at, is the calendar rule of ArmQuery.Before: both days
// are whole UTC days (utcDay, as compaction computes them).
//
// Every value is cast to DOUBLE PRECISION (REAL on SQLite) before it is
// added up: SQLite would otherwise sum an indicator's integers as integers
// (and fail on overflow), Postgres as NUMERIC (exact but slow).
func armStatsSQL(q ArmQuery) (string, []any) {
	// Postgres keeps days as INTEGER: bounds beyond it mean "no bound".
	clamp := func(v int) int64 { return int64(max(min(v, math.MaxInt32), math.MinInt32)) }
	var args []any
	var beforeDay int64
	if q.Before > 0 {
		beforeDay = q.Before / dayMicros // positive: division rounds down
	}
	match := func(v *UnitValue) string {
		args = append(args, v.Event, clamp(v.FromDay), clamp(v.ToDay))
		return "t.event = ? AND t.day >= ? AND t.day < ?"
	}
	value := func(v *UnitValue) string {
		if v.Indicator {
			return "CAST(MAX(CASE WHEN " + match(v) + " THEN 1 ELSE 0 END) AS DOUBLE PRECISION)"
		}
		return "CAST(COALESCE(SUM(CASE WHEN " + match(v) + " THEN t.total END), 0) AS DOUBLE PRECISION)"
	}
	y, x := value(&q.Y), "0"
	if q.X != nil {
		x = value(q.X)
	}
	// The join takes only rows of the events asked for (and, with one
	// event, of its days), so that the database seeks to them.
	var on string
	switch {
	case q.X == nil || q.X.Event == q.Y.Event:
		from, to := q.Y.FromDay, q.Y.ToDay
		if q.X != nil {
			from, to = min(from, q.X.FromDay), max(to, q.X.ToDay)
		}
		on = "t.event = ? AND t.day >= ? AND t.day < ?"
		args = append(args, q.Y.Event, clamp(from), clamp(to))
	default:
		on = "t.event IN (?, ?)"
		args = append(args, q.Y.Event, q.X.Event)
	}
	where := ""
	if q.Before > 0 {
		on += " AND t.day < ? - " + utcDay("x.first_at")
		args = append(args, beforeDay)
	}
	args = append(args, q.Experiment, q.Phase)
	if q.Before > 0 {
		where = " AND x.first_at < ?"
		args = append(args, q.Before)
	}
	return `SELECT arm, multi_arm, COUNT(*), SUM(y), SUM(y * y), SUM(x), SUM(x * x), SUM(x * y) FROM (
			SELECT x.arm AS arm, x.multi_arm AS multi_arm, ` + y + ` AS y, ` + x + ` AS x
			FROM tracking_exposures x LEFT JOIN tracking_totals t
				ON t.experiment = x.experiment AND t.phase = x.phase AND t.unit_attr = x.unit_attr AND t.unit = x.unit
				AND x.multi_arm = 0 AND ` + on + `
			WHERE x.experiment = ? AND x.phase = ?
				AND x.id <= COALESCE((SELECT exposures_done FROM tracking_state WHERE id = 1), 0)` + where + `
			GROUP BY x.unit_attr, x.unit, x.arm, x.multi_arm, x.first_at
		) u GROUP BY arm, multi_arm ORDER BY arm, multi_arm`, args
}

// ArmStats returns per-arm sufficient statistics of one metric in one
// experiment phase, sorted by arm (bytewise), and how many units of the
// phase it left out for having been seen in more than one arm. An arm is
// listed when a unit was first exposed to it (before the cut-off, with
// one): an arm whose units are all multi-arm comes with N 0. An
// experiment or phase without exposures gives no arms, and no error. An
// invalid query is refused with an error matching ramp.ErrInvalid.
//
// When compaction maintains the query's statistic (MaintainArmStats) and
// it is current, and the query has no cut-off, the sums are read from it:
// a few rows whatever the number of units, the same numbers (see
// arm_maintained.go). Otherwise they are computed by the database in one
// grouped query (a unit's totals joined to its exposure, then per arm;
// see armStatsSQL). Either way inside a read transaction: one consistent
// state, and only the per-arm numbers reach the process. Only exposures that Compact has taken in count
// (those up to its exposure watermark), with the events compacted so far:
// an exposure stored since the last compaction has not been joined to its
// unit's events yet, and counting it would add a unit with nothing (a
// report run while a server's exposures arrive would read every arm as
// unchanged). Compact first to count everything stored.
//
// Precision: each per-unit value and each sum is a float64 (DOUBLE
// PRECISION; on SQLite, REAL). Sums of integers (counts, indicators,
// whole-number values) are exact while they stay below 2^53 (9·10^15) —
// Σy² is the first to get there, at 90 million units with y = 10,000.
// Beyond, or for fractional values, each sum is correct to a relative
// n·2^-53 at worst (n the units added up; about 10^-9 for 10 million):
// Postgres adds floats one by one, SQLite's SUM compensates the rounding
// (ten additions of 0.1 make 1 on SQLite, 0.9999999999999999 on
// Postgres). A variance computed as (Σy² − (Σy)²/n)/(n−1) loses besides
// about log10(1 + mean²/variance) digits to cancellation — two for a
// coefficient of variation of 0.1, of the sixteen there are — which
// matters only for values that barely vary around a large mean.
//
// Cost: a maintained statistic, under a millisecond at 10 million units.
// The grouped query visits every exposed unit of the phase and every
// totals row of its events, whatever the window; for 10 million units and
// 48 million totals rows it takes tens of seconds on a 2-core machine
// (BENCHMARKS.md, "Per-arm sufficient statistics").
func (s *Store) ArmStats(ctx context.Context, q ArmQuery) (arms []ArmStats, multiArm int64, err error) {
	if err := q.Validate(); err != nil {
		return nil, 0, err
	}
	err = s.read(ctx, "arm statistics of "+strconv.Quote(q.Experiment), func(db *gorm.DB) error {
		if q.Before == 0 {
			var ok bool
			var err error
			if arms, multiArm, ok, err = maintainedArmStats(db, q); ok || err != nil {
				return err
			}
		}
		arms, multiArm, err = armStatsJoin(db, q)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return arms, multiArm, nil
}

// armStatsJoin computes q's statistics with the grouped query.
func armStatsJoin(db *gorm.DB, q ArmQuery) (arms []ArmStats, multiArm int64, err error) {
	query, args := armStatsSQL(q)
	err = func() error {
		rows, err := db.Raw(query, args...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a ArmStats
			var multi int
			if err := rows.Scan(&a.Arm, &multi, &a.N, &a.SumY, &a.SumY2, &a.SumX, &a.SumX2, &a.SumXY); err != nil {
				return err
			}
			if multi != 0 {
				multiArm += a.N
				if len(arms) == 0 || arms[len(arms)-1].Arm != a.Arm {
					arms = append(arms, ArmStats{Arm: a.Arm})
				}
				continue
			}
			arms = append(arms, a)
		}
		return rows.Err()
	}()
	return arms, multiArm, err
}

// migrateArmStatsIndex adds the index ArmStats reads exposures through:
// an experiment phase's units in (unit_attr, unit) order, the order of
// tracking_totals' key, with the columns the query reads (arm, multi_arm,
// first_at, and id, compared with compaction's exposure watermark), so
// that neither engine visits the table's rows. On SQLite,
// where the rows lie in arrival order, reading them through the unique
// index cost a random page read per unit: a 7-day conversion over a
// million units took 10.8 s without it, 1.6 s with it (BENCHMARKS.md).
// Building it reads every exposure once: 19 s for 10 million, on SQLite
// and on Postgres alike.
func migrateArmStatsIndex(tx *gorm.DB, _ *dialect) error {
	return exec(tx, `CREATE INDEX IF NOT EXISTS tracking_exposures_arms
		ON tracking_exposures (experiment, phase, unit_attr, unit, arm, multi_arm, first_at, id)`)
}

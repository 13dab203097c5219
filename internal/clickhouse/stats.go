package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ramp-flags/ramp/internal/store"
)

// unitsPerQuery is about how many exposed units one query of a split
// reads (see ranges). Small hash tables are much faster than one large
// one: ClickHouse allocates a large table's memory afresh for each query
// (every page a fault, dear on a virtual machine) and reads it at random.
// On the development machine, grouping a million units took 20 s in one
// query and 7 s in eight of 125,000.
var unitsPerQuery uint64 = 200_000

// parallelQueries is how many queries of a split run at once.
const parallelQueries = 2

// ranges splits the buckets [0, Buckets) into as many equal ranges (a
// power of two) as units/unitsPerQuery asks for.
func ranges(units uint64) [][2]int {
	n := 1
	for n < Buckets && units > uint64(n)*unitsPerQuery {
		n *= 2
	}
	out := make([][2]int, n)
	for i := range out {
		out[i] = [2]int{i * Buckets / n, (i + 1) * Buckets / n}
	}
	return out
}

// split runs fn once per bucket range, parallelQueries at a time, and
// returns the first error.
func split(ctx context.Context, rs [][2]int, fn func(ctx context.Context, lo, hi int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, parallelQueries)
	for _, r := range rs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, r[0], r[1]); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// exposedUnits returns how many exposure rows an experiment phase has (0
// for every phase): the size of the query to split.
func (s *Store) exposedUnits(ctx context.Context, experiment string, phase int) (uint64, error) {
	q := `SELECT count() FROM ` + s.db + `.exposures WHERE experiment = ?`
	args := []any{experiment}
	if phase > 0 {
		q += ` AND phase = ?`
		args = append(args, uint32(phase))
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// armStatsSQL builds ArmStats' query over one bucket range, and its
// arguments; attrs are the unit attributes of the phase's exposures when
// events of tracking.AnyUnit are to be matched against them, else nil.
//
// One grouped query, with the SQL store's semantics (store.ArmQuery): the
// union of the phase's exposures and the rows of the query's events,
// grouped by unit, gives each exposed unit its first arm and time and the
// set of its events (a retried event's copies, identical, are one); y and
// x are then summed (or, for an indicator, tested) over the events whose
// day offset from the UTC day of the first exposure is in the value's
// range, 0 for a multi-arm unit. The outer query adds the units up per arm
// and multi_arm.
//
// A unit is grouped by two 64-bit hashes of its attribute and value
// (cityHash64 and sipHash64), which ClickHouse groups by far faster than
// by two strings; two units would have to agree on both, 128 bits, to be
// confused. An event in the set is identified by h, a hash of its time
// and id, with its day, names matched and value: two events of one unit
// would have to share all four to count once.
func (s *Store) armStatsSQL(q store.ArmQuery, lo, hi int, attrs []string) (string, []any) {
	var args []any
	// Day bounds as Int64 literals: math.MinInt32 and MaxInt32 mean no
	// bound, as in the SQL store.
	cond := func(v *store.UnitValue, bit int) string {
		return fmt.Sprintf("bitAnd(e, %d) != 0 AND d - fday >= %d AND d - fday < %d", bit, int64(v.FromDay), int64(v.ToDay))
	}
	value := func(v *store.UnitValue, bit int) string {
		if v.Indicator {
			return "toFloat64(arrayExists((d, e) -> " + cond(v, bit) + ", days, evs))"
		}
		return "arraySum((d, e, v) -> if(" + cond(v, bit) + ", v, 0.), days, evs, vals)"
	}
	y, x := value(&q.Y, 1), "0."
	names := []string{q.Y.Event}
	mask := "toUInt8(name = " + quote(q.Y.Event) + ")"
	if q.X != nil {
		xb := 2
		if q.X.Event == q.Y.Event {
			mask = "toUInt8(3)"
		} else {
			names = append(names, q.X.Event)
			mask = "toUInt8((name = " + quote(q.Y.Event) + ") + 2 * (name = " + quote(q.X.Event) + "))"
		}
		x = value(q.X, xb)
	}
	attr := "attr"
	if attrs != nil {
		quoted := make([]string, len(attrs))
		for i, a := range attrs {
			quoted[i] = quote(a)
		}
		attr = "arrayJoin(if(attr = '*', [" + strings.Join(quoted, ", ") + "], [attr])) AS a"
	}
	eventsWhere := "name IN (" + quoteAll(names) + ") AND bucket >= ? AND bucket < ?"
	having := "countIf(src = 0) > 0"
	args = append(args, q.Experiment, uint32(q.Phase), uint16(lo), uint16(hi), uint16(lo), uint16(hi))
	if q.Before > 0 {
		// The unit's first exposure before the cut-off; its events on
		// days that ended by then (see store.ArmQuery.Before).
		eventsWhere += " AND day < " + strconv.FormatInt(q.Before/dayMicros, 10)
		having += " AND first_at < " + strconv.FormatInt(q.Before, 10)
	}
	dm := strconv.FormatInt(dayMicros, 10)
	return `SELECT arm, multi, count(), sum(y), sum(y * y), sum(x), sum(x * x), sum(x * y) FROM (
		SELECT first_arm AS arm, multi, if(multi, 0., ` + y + `) AS y, if(multi, 0., ` + x + `) AS x,
			arrayMap(t -> tupleElement(t, 2), evt) AS days, arrayMap(t -> tupleElement(t, 3), evt) AS evs,
			arrayMap(t -> tupleElement(t, 4), evt) AS vals
		FROM (
			SELECT argMinIf(arm, at, src = 0) AS first_arm, minIf(at, src = 0) AS first_at,
				minIf(arm, src = 0) != maxIf(arm, src = 0) AS multi,
				intDiv(first_at, ` + dm + `) - (first_at % ` + dm + ` < 0) AS fday,
				groupUniqArrayIf((h, day, ev, value), src = 1) AS evt
			FROM (
				SELECT toUInt8(0) AS src, cityHash64(unit_attr, unit) AS k1, sipHash64(unit_attr, unit) AS k2,
					arm, at, toUInt64(0) AS h, toInt32(0) AS day, toUInt8(0) AS ev, toFloat64(0) AS value
				FROM ` + s.db + `.exposures WHERE experiment = ? AND phase = ? AND bucket >= ? AND bucket < ?
				UNION ALL
				SELECT toUInt8(1) AS src, cityHash64(` + attr + `, unit) AS k1, sipHash64(` + attr + `, unit) AS k2,
					'' AS arm, toInt64(0) AS at, h, day, ` + mask + ` AS ev, value
				FROM ` + s.db + `.events WHERE ` + eventsWhere + `
			)
			GROUP BY k1, k2
			HAVING ` + having + `
		)
		-- ClickHouse 18.16 prunes a subquery column that only a lambda
		-- reads: fday must appear outside one.
		WHERE isNotNull(fday)
	) GROUP BY arm, multi ORDER BY arm, multi`, args
}

// quote returns s as a ClickHouse string literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

// anyUnitAttrs returns, when the query's events include some of
// tracking.AnyUnit (imported), the unit attributes of the phase's
// exposures, which such events are matched against; else nil.
func (s *Store) anyUnitAttrs(ctx context.Context, q store.ArmQuery) ([]string, error) {
	names := []string{q.Y.Event}
	if q.X != nil {
		names = append(names, q.X.Event)
	}
	rows, err := s.conn.Query(ctx, `SELECT 1 FROM `+s.db+`.events WHERE name IN (`+quoteAll(names)+`) AND attr = '*' LIMIT 1`)
	if err != nil {
		return nil, err
	}
	found := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil || !found {
		return nil, err
	}
	attrs := []string{}
	rows, err = s.conn.Query(ctx, `SELECT DISTINCT unit_attr FROM `+s.db+`.exposures WHERE experiment = ? AND phase = ?`, q.Experiment, uint32(q.Phase))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	}
	return attrs, rows.Err()
}

// ArmStats returns per-arm sufficient statistics of one metric in one
// experiment phase: store.Store.ArmStats' signature and numbers (see
// store.ArmQuery and store.ArmStats), computed by ClickHouse from the raw
// exposures and events.
//
// One difference of semantics, in the store's favour of simplicity: the
// SQL store counts only the exposures its compaction has taken in; here
// nothing waits for compaction, so every exposure and event stored counts
// (a retried or replicated one once). A unit's first exposure is its
// earliest by time (the SQL store keeps the first one stored, which is
// the same unless a server's clock runs behind another's).
//
// The query is split by unit bucket into ranges of about two million
// exposed units, run two at a time, and their per-arm sums added up:
// sums of floats are added in another order than on the SQL store, so a
// fractional sum may differ from it in its last bits (integers are exact
// below 2^53, as there).
func (s *Store) ArmStats(ctx context.Context, q store.ArmQuery) (arms []store.ArmStats, multiArm int64, err error) {
	if err := q.Validate(); err != nil {
		return nil, 0, err
	}
	fail := func(err error) ([]store.ArmStats, int64, error) {
		return nil, 0, fmt.Errorf("arm statistics of %q on ClickHouse: %w", q.Experiment, err)
	}
	units, err := s.exposedUnits(ctx, q.Experiment, q.Phase)
	if err != nil {
		return fail(err)
	}
	if units == 0 {
		return nil, 0, nil
	}
	attrs, err := s.anyUnitAttrs(ctx, q)
	if err != nil {
		return fail(err)
	}
	type key struct {
		arm   string
		multi bool
	}
	var mu sync.Mutex
	sums := map[key]*store.ArmStats{}
	err = split(ctx, ranges(units), func(ctx context.Context, lo, hi int) error {
		query, args := s.armStatsSQL(q, lo, hi, attrs)
		rows, err := s.conn.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a     store.ArmStats
				multi bool
				n     uint64
			)
			if err := rows.Scan(&a.Arm, &multi, &n, &a.SumY, &a.SumY2, &a.SumX, &a.SumX2, &a.SumXY); err != nil {
				return err
			}
			a.N = int64(n)
			mu.Lock()
			k := key{a.Arm, multi}
			if t := sums[k]; t != nil {
				t.N += a.N
				t.SumY += a.SumY
				t.SumY2 += a.SumY2
				t.SumX += a.SumX
				t.SumX2 += a.SumX2
				t.SumXY += a.SumXY
			} else {
				sums[k] = &a
			}
			mu.Unlock()
		}
		return rows.Err()
	})
	if err != nil {
		return fail(err)
	}
	keys := make([]key, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].arm != keys[j].arm {
			return keys[i].arm < keys[j].arm
		}
		return !keys[i].multi && keys[j].multi
	})
	for _, k := range keys {
		a := sums[k]
		if k.multi {
			multiArm += a.N
			if len(arms) == 0 || arms[len(arms)-1].Arm != k.arm {
				arms = append(arms, store.ArmStats{Arm: k.arm})
			}
			continue
		}
		arms = append(arms, *a)
	}
	return arms, multiArm, nil
}

// ExposureCounts returns an experiment's exposed units per phase and arm
// (by first arm, the arm of the unit's earliest exposure), in phase and arm
// order, with those also exposed to another arm counted in MultiArm; none
// for an experiment with no exposures.
func (s *Store) ExposureCounts(ctx context.Context, experiment string) ([]store.ExposureCount, error) {
	fail := func(err error) ([]store.ExposureCount, error) {
		return nil, fmt.Errorf("count exposures of %q on ClickHouse: %w", experiment, err)
	}
	units, err := s.exposedUnits(ctx, experiment, 0)
	if err != nil {
		return fail(err)
	}
	if units == 0 {
		return nil, nil
	}
	type key struct {
		phase int
		arm   string
	}
	var mu sync.Mutex
	counts := map[key]*store.ExposureCount{}
	err = split(ctx, ranges(units), func(ctx context.Context, lo, hi int) error {
		rows, err := s.conn.Query(ctx, `SELECT phase, first_arm, count(), sum(multi) FROM (
				SELECT phase, argMin(arm, at) AS first_arm, min(arm) != max(arm) AS multi
				FROM `+s.db+`.exposures WHERE experiment = ? AND bucket >= ? AND bucket < ?
				GROUP BY phase, cityHash64(unit_attr, unit), sipHash64(unit_attr, unit)
			) GROUP BY phase, first_arm`, experiment, uint16(lo), uint16(hi))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				phase       uint32
				arm         string
				units, mult uint64
			)
			if err := rows.Scan(&phase, &arm, &units, &mult); err != nil {
				return err
			}
			mu.Lock()
			k := key{int(phase), arm}
			c := counts[k]
			if c == nil {
				c = &store.ExposureCount{Phase: int(phase), Arm: arm}
				counts[k] = c
			}
			c.Units += int64(units)
			c.MultiArm += int64(mult)
			mu.Unlock()
		}
		return rows.Err()
	})
	if err != nil {
		return fail(err)
	}
	out := make([]store.ExposureCount, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Phase != out[j].Phase {
			return out[i].Phase < out[j].Phase
		}
		return out[i].Arm < out[j].Arm
	})
	return out, nil
}

// TrackingStats counts exposed units (per experiment phase) and multi-arm
// ones, and stored events (retried copies once). ClickHouse keeps no
// per-unit totals and needs no compaction: Pending, Totals and the
// watermarks are 0.
func (s *Store) TrackingStats(ctx context.Context) (store.TrackingStats, error) {
	var st store.TrackingStats
	var units, multi, events uint64
	err := s.conn.QueryRow(ctx, `SELECT count(), sum(multi) FROM (
			SELECT min(arm) != max(arm) AS multi FROM `+s.db+`.exposures GROUP BY experiment, phase, unit_attr, unit
		)`).Scan(&units, &multi)
	if err == nil {
		err = s.conn.QueryRow(ctx, `SELECT uniqExact(h, day, name) FROM `+s.db+`.events WHERE first = 1`).Scan(&events)
	}
	if err != nil {
		return st, fmt.Errorf("tracking stats on ClickHouse: %w", err)
	}
	st.Exposures, st.MultiArm, st.EventRows = int64(units), int64(multi), int64(events)
	return st, nil
}

// CompactionDue is false: ClickHouse reads raw events, so there is nothing
// to compact (merges run in the server's background).
func (s *Store) CompactionDue(context.Context) (bool, error) { return false, nil }

// Compact applies retention, the only part of the SQL store's compaction
// that has a meaning here: with opt.Retention, it drops the weeks of
// events (the table's partitions, by UTC day) that ended more than
// Retention before opt.Now (or the Store's clock). Unlike the SQL store,
// which keeps per-unit totals of what it drops, dropped events no longer
// count in reports: keep a retention longer than experiments run.
// Result.Dropped counts the event rows dropped (one per event and unit
// attribute, copies not merged yet included).
func (s *Store) Compact(ctx context.Context, opt store.CompactOptions) (store.CompactResult, error) {
	var res store.CompactResult
	if opt.Retention <= 0 {
		return res, nil
	}
	now := opt.Now
	if now.IsZero() {
		now = s.Now()
	}
	cutoff := utcDay(now.Add(-opt.Retention).UnixMicro())
	rows, err := s.conn.Query(ctx, `SELECT intDiv(day, 7) AS week, max(day), count() FROM `+s.db+`.events GROUP BY week ORDER BY week`)
	if err != nil {
		return res, fmt.Errorf("compact on ClickHouse: list the weeks of events: %w", err)
	}
	type week struct {
		id   int32
		rows uint64
	}
	var drop []week
	for rows.Next() {
		var w week
		var last int32
		if err := rows.Scan(&w.id, &last, &w.rows); err != nil {
			rows.Close()
			return res, fmt.Errorf("compact on ClickHouse: %w", err)
		}
		// A week whose every possible day is before the cut-off: the
		// partition holds days 7w…7w+6 (for w > 0; intDiv rounds towards
		// zero, so week 0 holds -6…6).
		if int64(w.id)*7+6 < int64(cutoff) && last < cutoff {
			drop = append(drop, w)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("compact on ClickHouse: %w", err)
	}
	for _, w := range drop {
		if err := s.conn.Exec(ctx, `ALTER TABLE `+s.db+`.events DROP PARTITION `+strconv.Itoa(int(w.id))); err != nil {
			return res, fmt.Errorf("compact on ClickHouse: drop week %d: %w", w.id, err)
		}
		res.Dropped += int64(w.rows)
	}
	return res, nil
}

package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	return s.exposureRows(ctx, experiment, phase, "")
}

// exposureRows counts an experiment's exposure rows, of one phase (0 for
// every phase) and matching the further condition and (none for "").
func (s *Store) exposureRows(ctx context.Context, experiment string, phase int, and string) (uint64, error) {
	q := `SELECT count() FROM ` + s.db + `.exposures WHERE experiment = ?` + and
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

// armStatsSQL builds the query of the per-arm sums of several statistics
// of one experiment phase over one bucket range [lo, hi), and its
// arguments; the queries share the experiment, the phase and the cut-off
// (the first one's). attrs are the unit attributes of the phase's
// exposures when events of tracking.AnyUnit are to be matched against
// them, else nil. The result has one row per (arm, multi) with the count
// and, for each query in order, Σy, Σy², Σx, Σx², Σxy.
//
// It has the SQL store's semantics (store.ArmQuery), in three steps, each
// a GROUP BY that ClickHouse does well:
//
//  1. units: the phase's exposures grouped by unit give each exposed unit
//     its first arm and time (argMin by time), whether it is multi-arm (two
//     arms), and the UTC day of its first exposure (fday);
//  2. unit days: the rows of the queries' events summed per unit, day and
//     event, with how many of them repeat an event's h (a hash of its time
//     and id: a retried event's copies, until merges fold them). When a
//     bucket range has any, it is read again with exact: its rows grouped
//     by unit, day, event and h first, which makes the copies one. Copies
//     are rare (a client's retries, replicas), so most ranges are read
//     once, without the hash table of one key per event;
//  3. the unit days RIGHT JOINed to the units (all of them: a unit has
//     one row per day and event, or one empty row; the units, fewer, make
//     the join's hash table) and grouped by unit
//     give y and x: the sum (an indicator: whether any) of the unit days
//     whose event matches and whose day offset from fday is in the value's
//     window, 0 for a multi-arm unit. The outer query adds the units up per
//     arm and multi.
//
// A unit is grouped by two 64-bit hashes of its attribute and value
// (cityHash64 and sipHash64), which ClickHouse groups by far faster than
// by two strings; two units would have to agree on both, 128 bits, to be
// confused.
func (s *Store) armStatsSQL(qs []store.ArmQuery, lo, hi int, attrs []string, exact bool) (string, []any) {
	q0 := &qs[0]
	// The events the queries read, each an index from 1 (0 is the empty
	// row of a unit without events).
	names := eventNames(qs)
	index := map[string]int{}
	for i, name := range names {
		index[name] = i + 1
	}
	evIndex := "transform(name, [" + quoteAll(names) + "], ["
	for i := range names {
		if i > 0 {
			evIndex += ", "
		}
		evIndex += strconv.Itoa(i + 1)
	}
	evIndex += "], 0)"
	// Day bounds as Int64 literals: math.MinInt32 and MaxInt32 mean no
	// bound, as in the SQL store.
	value := func(v *store.UnitValue) string {
		if v == nil {
			return "0."
		}
		cond := fmt.Sprintf("ev = %d AND d - fday >= %d AND d - fday < %d", index[v.Event], int64(v.FromDay), int64(v.ToDay))
		if v.Indicator {
			return "toFloat64(countIf(" + cond + ") > 0)"
		}
		return "sumIf(s, " + cond + ")"
	}
	var perUnit, perArm []string
	for i := range qs {
		y, x := fmt.Sprintf("y%d", i), fmt.Sprintf("x%d", i)
		perUnit = append(perUnit, "if(multi, 0., "+value(&qs[i].Y)+") AS "+y, "if(multi, 0., "+value(qs[i].X)+") AS "+x)
		perArm = append(perArm, "sum("+y+")", "sum("+y+" * "+y+")", "sum("+x+")", "sum("+x+" * "+x+")", "sum("+x+" * "+y+")")
	}
	attr, attr2 := "attr", "attr"
	if attrs != nil {
		attr, attr2 = "arrayJoin(if(attr = '*', ["+quoteAll(attrs)+"], [attr])) AS a", "a"
	}
	eventsWhere := "name IN (" + quoteAll(names) + ") AND bucket >= ? AND bucket < ?"
	having := ""
	// The events' bucket range, then the exposures' phase and range.
	args := []any{uint16(lo), uint16(hi), q0.Experiment, uint32(q0.Phase), uint16(lo), uint16(hi)}
	if q0.Before > 0 {
		// The unit's first exposure before the cut-off; its events on
		// days that ended by then (see store.ArmQuery.Before).
		eventsWhere += " AND day < " + strconv.FormatInt(q0.Before/dayMicros, 10)
		having = " HAVING first_at < " + strconv.FormatInt(q0.Before, 10)
	}
	dm := strconv.FormatInt(dayMicros, 10)
	unitDays := `SELECT k1, k2, day AS d, ` + evIndex + ` AS ev, sum(value) AS s, count() - uniqExact(h) AS dup
				FROM ` + s.db + `.events WHERE ` + eventsWhere + `
				GROUP BY cityHash64(` + attr + `, unit) AS k1, sipHash64(` + attr2 + `, unit) AS k2, d, ev`
	if exact {
		unitDays = `SELECT k1, k2, d, ev, sum(v) AS s, toUInt64(0) AS dup FROM (
				SELECT k1, k2, day AS d, ` + evIndex + ` AS ev, any(value) AS v
				FROM ` + s.db + `.events WHERE ` + eventsWhere + `
				GROUP BY cityHash64(` + attr + `, unit) AS k1, sipHash64(` + attr2 + `, unit) AS k2, d, ev, h
			) GROUP BY k1, k2, d, ev`
	}
	return `SELECT arm, multi, count(), ` + strings.Join(perArm, ", ") + `, sum(dups) FROM (
		SELECT any(first_arm) AS arm, any(multi) AS multi, max(dup) > 0 AS dups, ` + strings.Join(perUnit, ", ") + `
		FROM (
			` + unitDays + `
		) ALL RIGHT JOIN (
			SELECT k1, k2, argMin(arm, at) AS first_arm, min(at) AS first_at, min(arm) != max(arm) AS multi,
				intDiv(first_at, ` + dm + `) - (first_at % ` + dm + ` < 0) AS fday
			FROM ` + s.db + `.exposures WHERE experiment = ? AND phase = ? AND bucket >= ? AND bucket < ?
			GROUP BY cityHash64(unit_attr, unit) AS k1, sipHash64(unit_attr, unit) AS k2` + having + `
		) USING (k1, k2)
		GROUP BY k1, k2
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

// eventNames returns the events the queries read, each once, in order.
func eventNames(qs []store.ArmQuery) []string {
	var names []string
	for i := range qs {
		for _, v := range []*store.UnitValue{&qs[i].Y, qs[i].X} {
			if v != nil && !slices.Contains(names, v.Event) {
				names = append(names, v.Event)
			}
		}
	}
	return names
}

// anyUnitAttrs returns, when some of the events named (any, for no names)
// are of tracking.AnyUnit (imported), the unit attributes of the
// experiment phase's exposures, which such events are matched against;
// else nil.
func (s *Store) anyUnitAttrs(ctx context.Context, experiment string, phase int, names []string) ([]string, error) {
	where := "attr = '*'"
	if len(names) > 0 {
		where += " AND name IN (" + quoteAll(names) + ")"
	}
	rows, err := s.conn.Query(ctx, `SELECT 1 FROM `+s.db+`.events WHERE `+where+` LIMIT 1`)
	if err != nil {
		return nil, err
	}
	found := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil || !found {
		return nil, err
	}
	attrs := []string{}
	rows, err = s.conn.Query(ctx, `SELECT DISTINCT unit_attr FROM `+s.db+`.exposures WHERE experiment = ? AND phase = ?`, experiment, uint32(phase))
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
// store.ArmQuery and store.ArmStats).
//
// A query without a cut-off that compaction maintains (MaintainArmStats)
// reads the sums of its last refresh: a few rows, whatever the number of
// units, as of that refresh (see Compact). Any other query is computed by
// ClickHouse from the raw exposures and events (groupedArmStats).
//
// Two differences of semantics from the SQL store: every exposure and
// event stored counts (a retried or replicated one once), not only those
// a compaction has taken in, up to the last refresh for a maintained
// query; and a unit's first exposure is its earliest by time (the SQL
// store keeps the first one stored, which is the same unless a server's
// clock runs behind another's).
func (s *Store) ArmStats(ctx context.Context, q store.ArmQuery) (arms []store.ArmStats, multiArm int64, err error) {
	if err := q.Validate(); err != nil {
		return nil, 0, err
	}
	if q.Before == 0 {
		r, ok, err := s.refreshedArmStats(ctx, q)
		if err != nil {
			return nil, 0, fmt.Errorf("arm statistics of %q on ClickHouse: %w", q.Experiment, err)
		}
		if ok {
			return r.Arms, r.MultiArm, nil
		}
	}
	rs, err := s.groupedArmStats(ctx, []store.ArmQuery{q})
	if err != nil {
		return nil, 0, fmt.Errorf("arm statistics of %q on ClickHouse: %w", q.Experiment, err)
	}
	return rs[0].Arms, rs[0].MultiArm, nil
}

// armResult is one query's answer: its arms and multi-arm units, and the
// phase's exposure counts per arm (the same for every query of a phase).
type armResult struct {
	Arms     []store.ArmStats
	MultiArm int64
	Counts   []store.ExposureCount
}

// groupedArmStats computes the per-arm statistics of queries of one
// experiment phase with one cut-off (those of the first query) from the
// raw exposures and events, in one pass over them (armStatsSQL): the
// query is split by unit bucket into ranges of about unitsPerQuery exposed
// units, run parallelQueries at a time, and their per-arm sums added up.
// Sums of floats are added in another order than on the SQL store, so a
// fractional sum may differ from it in its last bits (integers are exact
// below 2^53, as there).
func (s *Store) groupedArmStats(ctx context.Context, qs []store.ArmQuery) ([]armResult, error) {
	q0 := &qs[0]
	out := make([]armResult, len(qs))
	units, err := s.exposedUnits(ctx, q0.Experiment, q0.Phase)
	if err != nil || units == 0 {
		return out, err
	}
	attrs, err := s.anyUnitAttrs(ctx, q0.Experiment, q0.Phase, eventNames(qs))
	if err != nil {
		return nil, err
	}
	type key struct {
		arm   string
		multi bool
	}
	var mu sync.Mutex
	n := map[key]int64{}
	sums := map[key][]float64{} // 5 per query
	type row struct {
		k     key
		count uint64
		vals  []float64
	}
	// read runs one bucket range's query and returns its rows and how
	// many units have copies of an event.
	read := func(ctx context.Context, lo, hi int, exact bool) ([]row, uint64, error) {
		query, args := s.armStatsSQL(qs, lo, hi, attrs, exact)
		rows, err := s.conn.Query(ctx, query, args...)
		if err != nil {
			return nil, 0, err
		}
		defer rows.Close()
		var out []row
		var dups uint64
		for rows.Next() {
			r := row{vals: make([]float64, 5*len(qs))}
			var d uint64
			dest := []any{&r.k.arm, &r.k.multi, &r.count}
			for i := range r.vals {
				dest = append(dest, &r.vals[i])
			}
			if err := rows.Scan(append(dest, &d)...); err != nil {
				return nil, 0, err
			}
			dups += d
			out = append(out, r)
		}
		return out, dups, rows.Err()
	}
	err = split(ctx, ranges(units), func(ctx context.Context, lo, hi int) error {
		rows, dups, err := read(ctx, lo, hi, false)
		if err == nil && dups > 0 {
			rows, _, err = read(ctx, lo, hi, true)
		}
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rows {
			n[r.k] += int64(r.count)
			if t := sums[r.k]; t != nil {
				for i, v := range r.vals {
					t[i] += v
				}
			} else {
				sums[r.k] = r.vals
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	keys := make([]key, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].arm != keys[j].arm {
			return keys[i].arm < keys[j].arm
		}
		return !keys[i].multi && keys[j].multi
	})
	var counts []store.ExposureCount
	for _, k := range keys {
		if len(counts) == 0 || counts[len(counts)-1].Arm != k.arm {
			counts = append(counts, store.ExposureCount{Phase: q0.Phase, Arm: k.arm})
		}
		c := &counts[len(counts)-1]
		c.Units += n[k]
		if k.multi {
			c.MultiArm += n[k]
		}
	}
	for i := range qs {
		r := &out[i]
		r.Counts = counts
		for _, k := range keys {
			if k.multi {
				r.MultiArm += n[k]
				if len(r.Arms) == 0 || r.Arms[len(r.Arms)-1].Arm != k.arm {
					r.Arms = append(r.Arms, store.ArmStats{Arm: k.arm})
				}
				continue
			}
			v := sums[k][5*i:]
			r.Arms = append(r.Arms, store.ArmStats{Arm: k.arm, N: n[k], SumY: v[0], SumY2: v[1], SumX: v[2], SumX2: v[3], SumXY: v[4]})
		}
	}
	return out, nil
}

// ExposureCounts returns an experiment's exposed units per phase and arm
// (by first arm, the arm of the unit's earliest exposure), in phase and arm
// order, with those also exposed to another arm counted in MultiArm; none
// for an experiment with no exposures. An experiment whose statistics
// compaction maintains reads the counts of its last refresh (see
// ArmStats); any other is counted from the raw exposures.
func (s *Store) ExposureCounts(ctx context.Context, experiment string) ([]store.ExposureCount, error) {
	counts, ok, err := s.refreshedExposureCounts(ctx, experiment)
	if err == nil && !ok {
		counts, err = s.groupedExposureCounts(ctx, experiment)
	}
	if err != nil {
		return nil, fmt.Errorf("count exposures of %q on ClickHouse: %w", experiment, err)
	}
	return counts, nil
}

// groupedExposureCounts counts an experiment's exposures from the raw
// rows, split by unit bucket as groupedArmStats is, leaving out the phases
// skip names.
func (s *Store) groupedExposureCounts(ctx context.Context, experiment string, skip ...int) ([]store.ExposureCount, error) {
	skipPhases := ""
	if len(skip) > 0 {
		ps := make([]string, len(skip))
		for i, p := range skip {
			ps[i] = strconv.Itoa(p)
		}
		skipPhases = " AND phase NOT IN (" + strings.Join(ps, ", ") + ")"
	}
	units, err := s.exposureRows(ctx, experiment, 0, skipPhases)
	if err != nil {
		return nil, err
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
				FROM `+s.db+`.exposures WHERE experiment = ? AND bucket >= ? AND bucket < ?`+skipPhases+`
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
		return nil, err
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
// watermarks are 0. The counts are exact, split by unit bucket as the
// reports' queries are (a unit's rows, and an event's copies, share
// their bucket), so that memory stays bounded: one GROUP BY over a
// hundred million units needed more than the server's memory limit.
func (s *Store) TrackingStats(ctx context.Context) (store.TrackingStats, error) {
	var st store.TrackingStats
	var exposureRows, eventRows uint64
	err := s.conn.QueryRow(ctx, `SELECT count() FROM `+s.db+`.exposures`).Scan(&exposureRows)
	if err == nil {
		err = s.conn.QueryRow(ctx, `SELECT count() FROM `+s.db+`.events WHERE first = 1`).Scan(&eventRows)
	}
	var units, multi, events atomic.Int64
	if err == nil && exposureRows > 0 {
		err = split(ctx, ranges(exposureRows), func(ctx context.Context, lo, hi int) error {
			var n, m uint64
			if err := s.conn.QueryRow(ctx, `SELECT count(), sum(multi) FROM (
					SELECT min(arm) != max(arm) AS multi FROM `+s.db+`.exposures
					WHERE bucket >= ? AND bucket < ? GROUP BY experiment, phase, unit_attr, unit
				)`, uint16(lo), uint16(hi)).Scan(&n, &m); err != nil {
				return err
			}
			units.Add(int64(n))
			multi.Add(int64(m))
			return nil
		})
	}
	if err == nil && eventRows > 0 {
		err = split(ctx, ranges(eventRows), func(ctx context.Context, lo, hi int) error {
			var n uint64
			if err := s.conn.QueryRow(ctx, `SELECT uniqExact(h, day, name) FROM `+s.db+`.events
					WHERE first = 1 AND bucket >= ? AND bucket < ?`, uint16(lo), uint16(hi)).Scan(&n); err != nil {
				return err
			}
			events.Add(int64(n))
			return nil
		})
	}
	if err != nil {
		return st, fmt.Errorf("tracking stats on ClickHouse: %w", err)
	}
	st.Exposures, st.MultiArm, st.EventRows = units.Load(), multi.Load(), events.Load()
	var (
		n    uint64
		last int64
	)
	if err := s.conn.QueryRow(ctx, `SELECT count(), max(refreshed) FROM `+s.db+`.refreshes`).Scan(&n, &last); err != nil {
		return st, fmt.Errorf("tracking stats on ClickHouse: %w", err)
	}
	if n > 0 {
		st.LastRefresh = time.UnixMicro(last).UTC()
	}
	return st, nil
}

// CompactionDue is false: ClickHouse reads raw events, so there is nothing
// to compact (merges run in the server's background). Refreshes of the
// maintained statistics have their own check, ArmStatsDue.
func (s *Store) CompactionDue(context.Context) (bool, error) { return false, nil }

// Compact refreshes the maintained statistics that are due (see
// MaintainArmStats and the comment on refreshes; not with
// opt.SkipStatBuild), and applies retention,
// the only part of the SQL store's compaction with a meaning here, first:
// with opt.Retention, it drops the weeks of
// events (the table's partitions, by UTC day) that ended more than
// Retention before opt.Now (or the Store's clock). Unlike the SQL store,
// which keeps per-unit totals of what it drops, dropped events no longer
// count in reports: keep a retention longer than experiments run.
// Result.Dropped counts the event rows dropped (one per event and unit
// attribute, copies not merged yet included).
func (s *Store) Compact(ctx context.Context, opt store.CompactOptions) (store.CompactResult, error) {
	res, err := s.applyRetention(ctx, opt)
	if err != nil {
		return res, err
	}
	if opt.SkipStatBuild {
		return res, nil // a report's --compact: refreshes take minutes at scale
	}
	start := time.Now()
	res.StatsBuilt, err = s.refresh(ctx)
	if res.StatsBuilt > 0 {
		res.StatsBuildTime = time.Since(start)
	}
	if err != nil {
		return res, fmt.Errorf("compact on ClickHouse: %w", err)
	}
	return res, nil
}

// applyRetention drops the weeks of events older than opt.Retention (see
// Compact).
func (s *Store) applyRetention(ctx context.Context, opt store.CompactOptions) (store.CompactResult, error) {
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

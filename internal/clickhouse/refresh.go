package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ramp-flags/ramp/internal/store"
)

// Refreshed statistics (issue #16).
//
// Grouping every exposed unit of a phase with its events takes ClickHouse
// about ten seconds per million units on two cores: far too slow for a
// report at a hundred million. So compaction computes the per-arm sums
// that reports and guardrails read (the set MaintainArmStats is given,
// which admin derives from the configuration) ahead of time, and keeps
// them: a refresh. ArmStats and ExposureCounts then read a few rows.
//
// A refresh computes, per experiment, its exposure counts (every phase),
// and per phase every maintained statistic of it in one pass over the
// phase's exposures and the statistics' events (groupedArmStats), and
// writes them to two small tables:
//
//   - refreshed_sums: per (statistic, refresh) the rows of its answer:
//     for an arm statistic, per arm n (single-arm units), the multi-arm
//     units and Σy, Σy², Σx, Σx², Σxy; for exposure counts, per phase and
//     arm the units and the multi-arm ones among them;
//   - refreshes: one row per (statistic, refresh), written after all of
//     the refresh's sums: the refresh's start time, which names it, and
//     the tables' change marks then (changeMark). A refresh is visible
//     once its row is, so a refresh cut short leaves nothing a reader
//     sees, and readers read the latest refresh of their statistic.
//
// Staleness. A refreshed statistic is as of its refresh's start: the
// exposures and events stored after it count at the next refresh. So it
// is read only when nothing was stored since, or when it counted at least
// Options.LiveUnits units: a smaller one is computed again from the raw
// rows on every read, which takes a second or two. A statistic is due
// when the tables changed since its last refresh (new exposures or
// events, anywhere: ClickHouse keeps a cheap mark per table, not per
// experiment) and that refresh started at least Options.RefreshEvery ago
// and twice as long ago as it ran (see groupDue), or when it was never
// refreshed; `ramp serve` refreshes from its
// compaction loop, `ramp events compact` on demand. Several servers may
// refresh the same statistic: each writes a complete refresh and readers
// take the latest. A refresh that a later one of its statistic superseded
// is never read again: once there are pruneAfter of them, compaction
// deletes them (pruneRefreshes); a statistic's latest refresh is kept
// however old it is.

// Defaults of Options.
const (
	DefaultRefreshEvery = time.Minute
	DefaultLiveUnits    = 200_000
)

// statKey names a statistic: the canonical form of an arm query without a
// cut-off (every field), or of an experiment's exposure counts.
func statKey(q store.ArmQuery) string {
	v := func(u *store.UnitValue) string {
		if u == nil {
			return "-"
		}
		return fmt.Sprintf("%q %d %d %t", u.Event, u.FromDay, u.ToDay, u.Indicator)
	}
	return fmt.Sprintf("arms %q %d y %s x %s", q.Experiment, q.Phase, v(&q.Y), v(q.X))
}

func exposureKey(experiment string) string { return fmt.Sprintf("exposures %q", experiment) }

// maintained is the set of statistics compaction refreshes.
type maintained struct {
	mu      sync.Mutex
	qs      []store.ArmQuery
	rebuild bool
}

// migrateRefresh creates the tables of refreshed statistics.
func (s *Store) migrateRefresh(ctx context.Context) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ` + s.db + `.refreshed_sums (
			stat String,
			refreshed Int64,
			phase UInt32,
			arm String,
			n UInt64,
			multi UInt64,
			sum_y Float64,
			sum_y2 Float64,
			sum_x Float64,
			sum_x2 Float64,
			sum_xy Float64
		) ENGINE = MergeTree ORDER BY (stat, refreshed)`,
		`CREATE TABLE IF NOT EXISTS ` + s.db + `.refreshes (
			stat String,
			refreshed Int64,
			exposures_mark UInt64,
			events_mark UInt64,
			took_ms UInt64
		) ENGINE = MergeTree ORDER BY (stat, refreshed)`,
	} {
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("create the tables of refreshed statistics: %w", err)
		}
	}
	return nil
}

// MaintainArmStats sets the statistics compaction refreshes (see
// Compact): qs (their cut-offs must be 0), and the exposure counts of
// their experiments. With rebuild, the next compaction refreshes them all
// whether they are due or not. It writes nothing: the set lives in the
// Store. A statistic dropped from the set keeps its last refresh, which
// ArmStats goes on reading (an experiment stopped long ago).
func (s *Store) MaintainArmStats(ctx context.Context, qs []store.ArmQuery, rebuild bool) error {
	for i := range qs {
		if err := qs[i].Validate(); err != nil {
			return err
		}
		if qs[i].Before != 0 {
			return fmt.Errorf("maintain arm statistics of %q: a maintained query has no cut-off", qs[i].Experiment)
		}
	}
	s.stats.mu.Lock()
	s.stats.qs = slices.Clone(qs)
	s.stats.rebuild = s.stats.rebuild || rebuild
	s.stats.mu.Unlock()
	return nil
}

// changeMark is where the exposures and events tables stand: the highest
// block number of their active parts, which every insert raises (a merge
// keeps it). Reading it costs no scan.
type changeMark struct{ exposures, events uint64 }

func (s *Store) changeMark(ctx context.Context) (changeMark, error) {
	var m changeMark
	rows, err := s.conn.Query(ctx, `SELECT table, max(max_block_number) FROM system.parts
		WHERE active AND database = ? AND table IN ('exposures', 'events') GROUP BY table`, s.name)
	if err != nil {
		return m, fmt.Errorf("read the tables' change marks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var n int64
		if err := rows.Scan(&table, &n); err != nil {
			return m, fmt.Errorf("read the tables' change marks: %w", err)
		}
		if table == "exposures" {
			m.exposures = uint64(n)
		} else {
			m.events = uint64(n)
		}
	}
	return m, rows.Err()
}

// lastRefresh is a statistic's latest refresh.
type lastRefresh struct {
	at   int64 // Unix microseconds at its start
	took int64 // how long it ran, in microseconds
	mark changeMark
}

// lastRefreshes returns the latest refresh of each statistic named.
func (s *Store) lastRefreshes(ctx context.Context, keys []string) (map[string]lastRefresh, error) {
	out := map[string]lastRefresh{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT stat, max(refreshed), argMax(exposures_mark, refreshed), argMax(events_mark, refreshed),
			argMax(took_ms, refreshed) FROM `+s.db+`.refreshes WHERE stat IN (`+quoteAll(keys)+`) GROUP BY stat`)
	if err != nil {
		return nil, fmt.Errorf("read the last refreshes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var r lastRefresh
		var took uint64
		if err := rows.Scan(&k, &r.at, &r.mark.exposures, &r.mark.events, &took); err != nil {
			return nil, fmt.Errorf("read the last refreshes: %w", err)
		}
		r.took = int64(took) * 1000
		out[k] = r
	}
	return out, rows.Err()
}

// refreshGroup is the statistics refreshed together: an experiment's
// exposure counts and its maintained arm statistics, by phase.
type refreshGroup struct {
	experiment string
	phases     map[int][]store.ArmQuery
}

// keys returns the statistics of the group.
func (g *refreshGroup) keys() []string {
	keys := []string{exposureKey(g.experiment)}
	for _, qs := range g.phases {
		for _, q := range qs {
			keys = append(keys, statKey(q))
		}
	}
	return keys
}

// groups returns qs by experiment, in experiment order, each statistic
// once.
func groups(qs []store.ArmQuery) []*refreshGroup {
	byExp := map[string]*refreshGroup{}
	seen := map[string]bool{}
	for _, q := range qs {
		if seen[statKey(q)] {
			continue
		}
		seen[statKey(q)] = true
		g := byExp[q.Experiment]
		if g == nil {
			g = &refreshGroup{experiment: q.Experiment, phases: map[int][]store.ArmQuery{}}
			byExp[q.Experiment] = g
		}
		g.phases[q.Phase] = append(g.phases[q.Phase], q)
	}
	out := make([]*refreshGroup, 0, len(byExp))
	for _, g := range byExp {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].experiment < out[j].experiment })
	return out
}

// dueGroups returns the groups of qs to refresh now: those with a
// statistic never refreshed, and those whose oldest refresh is at least
// RefreshEvery old and older than a change of the tables (all with
// rebuild).
func (s *Store) dueGroups(ctx context.Context, qs []store.ArmQuery, rebuild bool) ([]*refreshGroup, changeMark, error) {
	mark, err := s.changeMark(ctx)
	if err != nil {
		return nil, mark, err
	}
	gs := groups(qs)
	if rebuild {
		return gs, mark, nil
	}
	var keys []string
	for _, g := range gs {
		keys = append(keys, g.keys()...)
	}
	last, err := s.lastRefreshes(ctx, keys)
	if err != nil {
		return nil, mark, err
	}
	var due []*refreshGroup
	for _, g := range gs {
		if s.groupDue(g, last, mark) {
			due = append(due, g)
		}
	}
	return due, mark, nil
}

// groupDue reports whether a group has a statistic never refreshed, or one
// whose last refresh is older than a change of the tables (mark) and
// started at least RefreshEvery ago, and at least twice as long ago as it
// ran: a refresh that takes minutes (a hundred million units) then keeps
// ClickHouse busy half the time at most, leaving the rest to ingest.
func (s *Store) groupDue(g *refreshGroup, last map[string]lastRefresh, mark changeMark) bool {
	now := s.Now().UnixMicro()
	for _, k := range g.keys() {
		r, ok := last[k]
		if !ok || r.mark != mark && now-r.at >= max(s.refreshEvery.Microseconds(), 2*r.took) {
			return true
		}
	}
	return false
}

// ArmStatsDue reports whether a refresh of qs is due (see dueGroups): work
// for the next compaction. It only reads.
func (s *Store) ArmStatsDue(ctx context.Context, qs []store.ArmQuery) (bool, error) {
	due, _, err := s.dueGroups(ctx, qs, false)
	if err != nil {
		return false, fmt.Errorf("refreshed statistics due on ClickHouse: %w", err)
	}
	return len(due) > 0, nil
}

// refresh refreshes the maintained statistics that are due, group by
// group, and returns how many statistics it refreshed.
func (s *Store) refresh(ctx context.Context) (int, error) {
	s.stats.mu.Lock()
	qs, rebuild := s.stats.qs, s.stats.rebuild
	s.stats.mu.Unlock()
	if len(qs) == 0 {
		return 0, nil
	}
	due, mark, err := s.dueGroups(ctx, qs, rebuild)
	if err != nil {
		return 0, err
	}
	n := 0
	start := s.Now().UnixMicro()
	for i, g := range due {
		if i > 0 && !rebuild {
			// Another server may have refreshed it since this pass
			// started: a refresh takes minutes at scale.
			last, err := s.lastRefreshes(ctx, g.keys())
			if err != nil {
				return n, err
			}
			done := true
			for _, k := range g.keys() {
				done = done && last[k].at >= start
			}
			if done {
				continue
			}
		}
		k, err := s.refreshGroup(ctx, g, mark)
		n += k
		if err != nil {
			return n, fmt.Errorf("refresh the statistics of %q: %w", g.experiment, err)
		}
	}
	if rebuild {
		s.stats.mu.Lock()
		s.stats.rebuild = false
		s.stats.mu.Unlock()
	}
	if err := s.pruneRefreshes(ctx); err != nil {
		return n, err
	}
	return n, nil
}

// pruneAfter is how many superseded refreshes (rows of refreshes older
// than their statistic's latest) pruneRefreshes lets the tables hold: a
// refresh a minute of each of a hundred statistics supersedes a thousand
// in ten minutes, each a few rows.
var pruneAfter uint64 = 1000

// pruneStatsPerMutation bounds the statistics one mutation names, so that
// its text stays well below the server's max_query_size (256 KiB).
const pruneStatsPerMutation = 500

// pruneRefreshes deletes, once there are pruneAfter of them, the refreshes
// older than their statistic's latest, and their sums. Readers read only
// a statistic's latest refresh, so nothing read goes. The cut-offs are
// written into the mutations as they stand when it starts (each
// statistic's latest refresh then), so that it does not matter when
// ClickHouse applies them (mutations run in the background, part by part)
// nor in which order: a refresh that starts later, or one still being
// written, is newer than its statistic's cut-off; one that started
// earlier and is still being written is superseded already, never read,
// and goes at the next prune. Nothing is done while an earlier prune's
// mutations are still running.
func (s *Store) pruneRefreshes(ctx context.Context) error {
	var superseded, running uint64
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM `+s.db+`.refreshes
		WHERE (stat, refreshed) NOT IN (SELECT stat, max(refreshed) FROM `+s.db+`.refreshes GROUP BY stat)`).Scan(&superseded); err != nil {
		return fmt.Errorf("count superseded refreshes: %w", err)
	}
	if superseded < pruneAfter {
		return nil
	}
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM system.mutations
		WHERE database = ? AND table IN ('refreshes', 'refreshed_sums') AND NOT is_done`, s.name).Scan(&running); err != nil {
		return fmt.Errorf("prune refreshes: %w", err)
	}
	if running > 0 {
		return nil
	}
	rows, err := s.conn.Query(ctx, `SELECT stat, max(refreshed) FROM `+s.db+`.refreshes GROUP BY stat ORDER BY stat`)
	if err != nil {
		return fmt.Errorf("prune refreshes: %w", err)
	}
	var stats []string
	var latest []int64
	for rows.Next() {
		var k string
		var at int64
		if err := rows.Scan(&k, &at); err != nil {
			rows.Close()
			return fmt.Errorf("prune refreshes: %w", err)
		}
		stats, latest = append(stats, k), append(latest, at)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("prune refreshes: %w", err)
	}
	for lo := 0; lo < len(stats); lo += pruneStatsPerMutation {
		hi := min(lo+pruneStatsPerMutation, len(stats))
		cutoffs := make([]string, hi-lo)
		for i := range cutoffs {
			cutoffs[i] = strconv.FormatInt(latest[lo+i], 10)
		}
		// A statistic not named (one refreshed for the first time since)
		// has the cut-off 0: nothing of it goes.
		where := `refreshed < transform(stat, [` + quoteAll(stats[lo:hi]) + `], [toInt64(` + strings.Join(cutoffs, `), toInt64(`) + `)], toInt64(0))`
		for _, table := range []string{"refreshed_sums", "refreshes"} {
			if err := s.conn.Exec(ctx, `ALTER TABLE `+s.db+`.`+table+` DELETE WHERE `+where); err != nil {
				return fmt.Errorf("prune refreshes from %s: %w", table, err)
			}
		}
	}
	return nil
}

// refreshedRow is one row of refreshed_sums.
type refreshedRow struct {
	stat  string
	phase uint32
	arm   string
	n     uint64
	multi uint64
	sums  [5]float64
}

// refreshGroup computes one group's statistics and writes them as one
// refresh (see the comment at the top).
func (s *Store) refreshGroup(ctx context.Context, g *refreshGroup, mark changeMark) (int, error) {
	began := time.Now() // how long it takes, on the real clock
	at := s.Now().UnixMicro()
	phases := make([]int, 0, len(g.phases))
	for p := range g.phases {
		phases = append(phases, p)
	}
	slices.Sort(phases)
	// The exposure counts of the phases refreshed come with their
	// statistics; the other phases are counted apart.
	counts, err := s.groupedExposureCounts(ctx, g.experiment, phases...)
	if err != nil {
		return 0, err
	}
	var rows []refreshedRow
	ek := exposureKey(g.experiment)
	keys := []string{ek}
	for _, p := range phases {
		qs := g.phases[p]
		rs, err := s.groupedArmStats(ctx, qs)
		if err != nil {
			return 0, err
		}
		counts = append(counts, rs[0].Counts...)
		for i, r := range rs {
			k := statKey(qs[i])
			keys = append(keys, k)
			// An arm with only multi-arm units is in r.Arms with n = 0;
			// the multi-arm total is kept on the first arm's row.
			for j, a := range r.Arms {
				row := refreshedRow{stat: k, phase: uint32(p), arm: a.Arm, n: uint64(a.N),
					sums: [5]float64{a.SumY, a.SumY2, a.SumX, a.SumX2, a.SumXY}}
				if j == 0 {
					row.multi = uint64(r.MultiArm)
				}
				rows = append(rows, row)
			}
		}
	}
	for _, c := range counts {
		rows = append(rows, refreshedRow{stat: ek, phase: uint32(c.Phase), arm: c.Arm, n: uint64(c.Units), multi: uint64(c.MultiArm)})
	}
	if err := s.insertRefreshed(ctx, at, rows); err != nil {
		return 0, err
	}
	took := uint64(time.Since(began).Milliseconds())
	if err := s.insertRefreshes(ctx, at, keys, mark, took); err != nil {
		return 0, err
	}
	return len(keys), nil
}

func (s *Store) insertRefreshed(ctx context.Context, at int64, rows []refreshedRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.db+`.refreshed_sums (stat, refreshed, phase, arm, n, multi, sum_y, sum_y2, sum_x, sum_x2, sum_xy)`)
	if err != nil {
		return fmt.Errorf("write refreshed sums: %w", err)
	}
	for _, r := range rows {
		if err := b.Append(r.stat, at, r.phase, r.arm, r.n, r.multi, r.sums[0], r.sums[1], r.sums[2], r.sums[3], r.sums[4]); err != nil {
			_ = b.Abort()
			return fmt.Errorf("write refreshed sums: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("write refreshed sums: %w", err)
	}
	return nil
}

func (s *Store) insertRefreshes(ctx context.Context, at int64, keys []string, mark changeMark, took uint64) error {
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.db+`.refreshes (stat, refreshed, exposures_mark, events_mark, took_ms)`)
	if err != nil {
		return fmt.Errorf("write refreshes: %w", err)
	}
	for _, k := range keys {
		if err := b.Append(k, at, mark.exposures, mark.events, took); err != nil {
			_ = b.Abort()
			return fmt.Errorf("write refreshes: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("write refreshes: %w", err)
	}
	return nil
}

// refreshedRows reads the rows of a statistic's latest refresh, if it has
// one and it is to be read: when nothing was stored since (its change mark
// is the tables' current one), or when it counted at least LiveUnits
// units, too many to count again on every read. Otherwise the caller
// computes the statistic from the raw rows: exact, and fast enough.
func (s *Store) refreshedRows(ctx context.Context, key string) ([]refreshedRow, bool, error) {
	rows, _, ok, err := s.refreshed(ctx, key)
	return rows, ok, err
}

// refreshed is refreshedRows, with the refresh's start time when
// exposures or events were stored since (else the zero time: the refresh
// is as good as a count now).
func (s *Store) refreshed(ctx context.Context, key string) ([]refreshedRow, time.Time, bool, error) {
	var at int64
	var found uint64
	var mark changeMark
	if err := s.conn.QueryRow(ctx, `SELECT count(), max(refreshed), argMax(exposures_mark, refreshed), argMax(events_mark, refreshed)
		FROM `+s.db+`.refreshes WHERE stat = ?`, key).Scan(&found, &at, &mark.exposures, &mark.events); err != nil {
		return nil, time.Time{}, false, fmt.Errorf("read the last refresh: %w", err)
	}
	if found == 0 {
		return nil, time.Time{}, false, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT phase, arm, n, multi, sum_y, sum_y2, sum_x, sum_x2, sum_xy FROM `+s.db+`.refreshed_sums
		WHERE stat = ? AND refreshed = ? ORDER BY phase, arm`, key, at)
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("read refreshed sums: %w", err)
	}
	defer rows.Close()
	var out []refreshedRow
	for rows.Next() {
		var r refreshedRow
		if err := rows.Scan(&r.phase, &r.arm, &r.n, &r.multi, &r.sums[0], &r.sums[1], &r.sums[2], &r.sums[3], &r.sums[4]); err != nil {
			return nil, time.Time{}, false, fmt.Errorf("read refreshed sums: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, false, fmt.Errorf("read refreshed sums: %w", err)
	}
	now, err := s.changeMark(ctx)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	var units uint64
	for _, r := range out {
		units += r.n + r.multi
	}
	stale := now != mark
	if stale && units < s.liveUnits {
		return nil, time.Time{}, false, nil
	}
	if !stale {
		at = 0 // current: nothing to say as of when
	}
	var asOf time.Time
	if at != 0 {
		asOf = time.UnixMicro(at).UTC()
	}
	return out, asOf, true, nil
}

// refreshedArmStats returns q's statistics as of its latest refresh, if it
// has one.
func (s *Store) refreshedArmStats(ctx context.Context, q store.ArmQuery) (armResult, bool, error) {
	rows, ok, err := s.refreshedRows(ctx, statKey(q))
	if err != nil || !ok {
		return armResult{}, ok, err
	}
	var r armResult
	for _, row := range rows {
		r.MultiArm += int64(row.multi)
		r.Arms = append(r.Arms, store.ArmStats{Arm: row.arm, N: int64(row.n),
			SumY: row.sums[0], SumY2: row.sums[1], SumX: row.sums[2], SumX2: row.sums[3], SumXY: row.sums[4]})
	}
	return r, true, nil
}

// refreshedExposureCounts returns an experiment's exposure counts as of
// their latest refresh, if they have one.
func (s *Store) refreshedExposureCounts(ctx context.Context, experiment string) ([]store.ExposureCount, bool, error) {
	rows, ok, err := s.refreshedRows(ctx, exposureKey(experiment))
	if err != nil || !ok {
		return nil, ok, err
	}
	var out []store.ExposureCount
	for _, r := range rows {
		out = append(out, store.ExposureCount{Phase: int(r.phase), Arm: r.arm, Units: int64(r.n), MultiArm: int64(r.multi)})
	}
	return out, true, nil
}

// RefreshedAt returns, when ExposureCounts reads an experiment's counts
// from a refresh older than the last exposures or events stored (see
// refreshedRows; its arm statistics, refreshed with them, then are read
// from it too), when that refresh started: a report is as of then.
func (s *Store) RefreshedAt(ctx context.Context, experiment string) (time.Time, bool, error) {
	_, at, ok, err := s.refreshed(ctx, exposureKey(experiment))
	if err != nil {
		return at, false, fmt.Errorf("last refresh of %q on ClickHouse: %w", experiment, err)
	}
	return at, ok && !at.IsZero(), nil
}

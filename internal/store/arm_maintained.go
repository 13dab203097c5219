package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Maintained per-arm statistics (issue #13).
//
// ArmStats' grouped query visits every exposed unit of a phase; at 10
// million units that takes tens of seconds. So compaction, which sees
// every change to the per-unit totals as it makes it, also keeps up to
// date the per-arm sums of the statistics reports and guardrails ask for,
// and ArmStats reads those (a few rows) when one matches its query.
//
// A maintained statistic (tracking_stat_defs) is the canonical form of an
// ArmQuery without a cut-off: experiment, phase, and the (Y, X) unit
// values with their days clamped to 32 bits as the join clamps them. The
// set is given by MaintainArmStats (admin derives it from the stored
// experiments, metrics and rollout plans). Three more tables hold a
// statistic's state:
//
//   - tracking_stat_units: per (statistic, unit) the unit's arm, whether it
//     counts as multi-arm, and the raw accumulators of its two values (n
//     and Σvalue of the totals rows in each window; the value is Σvalue, or
//     for an indicator 1 when n > 0). Only units with a non-zero
//     accumulator or flagged multi-arm have a row: an exposed unit without
//     one counts as a single-arm unit with y = x = 0.
//   - tracking_stat_arms: per (statistic, arm) n (single-arm units),
//     multi_arm (units left out), Σy, Σy², Σx, Σx², Σxy over the n units.
//   - tracking_arm_moves: exposure ids whose multi_arm flag went from 0 to
//     1 (a trigger on tracking_exposures fills it, whoever writes), not yet
//     folded into the statistics.
//
// Coverage. A statistic covers a unit once the unit is in its sums as
// soon as its exposure is taken in (up to compaction's exposure watermark
// X): a current statistic covers every unit; one being built, the units up
// to (built_attr, built_unit) in key order (the build reads the phase's
// units in that order, in batches). Each change is applied to the
// statistics covering the unit, in the same transaction as the totals
// change and its watermark:
//
//   - backfill (exposures (lo, hi] taken in): each new unit enters the
//     arm of the statistics of its phase that cover it, with the totals
//     the backfill just wrote for it (a unit has no totals before its
//     exposure is taken in);
//   - forward (events (lo, hi]): the chunk's totals deltas of the
//     statistics' events, read by the same join as forwardTotals, added to
//     each covered unit's accumulators, and the change of the unit's y and
//     x (y'² − y² for Σy², and so on) to its arm's sums;
//   - moves: a covered unit flagged multi-arm leaves its arm's sums (its
//     values subtracted, n − 1, multi_arm + 1), once (its row says so).
//
// A build batch reads the next B units of the phase after (built_attr,
// built_unit) whose exposures are taken in, with their totals summed per
// unit by the database, and enters them; a unit in that key range not
// taken in yet is covered all the same, and entered by the backfill when
// it is. A batch of fewer than B units ends the build: the statistic is
// current. Keys compare bytewise on both engines (SQLite's BINARY,
// Postgres' "C" collation of ramp's text columns), as in Go. Every batch takes the
// compaction lock (tracking_state's row), so builds and compaction chunks
// take turns and never see each other half done. ArmStats reads a
// statistic only once it is current, and then applies the moves still
// pending (units flagged since the last compaction) in the same read
// transaction, so that it gives exactly what the join gives on the same
// snapshot: the same exposures (up to X), the same totals, the same
// multi-arm units.

// migrateArmSums creates the tables of maintained statistics and the
// trigger that records exposures turning multi-arm. It may run again over
// its own tables (a test takes the schema's version back below it), so it
// creates only what is missing.
func migrateArmSums(tx *gorm.DB, d *dialect) error {
	t, real, big := d.text, "DOUBLE PRECISION", "BIGINT"
	without := ""
	if trackingSQLite(d) {
		t, real, big, without = "TEXT", "REAL", "INTEGER", " WITHOUT ROWID"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS tracking_stat_defs (
			id INTEGER PRIMARY KEY,
			experiment ` + t + ` NOT NULL,
			phase INTEGER NOT NULL,
			y_event ` + t + ` NOT NULL,
			y_from INTEGER NOT NULL,
			y_to INTEGER NOT NULL,
			y_indicator INTEGER NOT NULL,
			x_event ` + t + ` NOT NULL,
			x_from INTEGER NOT NULL,
			x_to INTEGER NOT NULL,
			x_indicator INTEGER NOT NULL,
			started INTEGER NOT NULL,
			built_attr ` + t + ` NOT NULL,
			built_unit ` + t + ` NOT NULL,
			current INTEGER NOT NULL,
			dropping INTEGER NOT NULL,
			created_at ` + big + ` NOT NULL,
			current_at ` + big + ` NOT NULL
		)`,
		`CREATE UNIQUE INDEX IF NOT EXISTS tracking_stat_defs_key ON tracking_stat_defs
			(experiment, phase, y_event, y_from, y_to, y_indicator, x_event, x_from, x_to, x_indicator) WHERE dropping = 0`,
		`CREATE TABLE IF NOT EXISTS tracking_stat_units (
			stat INTEGER NOT NULL,
			unit_attr ` + t + ` NOT NULL,
			unit ` + t + ` NOT NULL,
			arm ` + t + ` NOT NULL,
			multi_arm INTEGER NOT NULL,
			y_n ` + big + ` NOT NULL,
			y_total ` + real + ` NOT NULL,
			x_n ` + big + ` NOT NULL,
			x_total ` + real + ` NOT NULL,
			PRIMARY KEY (stat, unit_attr, unit)
		)` + without,
		`CREATE TABLE IF NOT EXISTS tracking_stat_arms (
			stat INTEGER NOT NULL,
			arm ` + t + ` NOT NULL,
			n ` + big + ` NOT NULL,
			multi_arm ` + big + ` NOT NULL,
			sum_y ` + real + ` NOT NULL,
			sum_y2 ` + real + ` NOT NULL,
			sum_x ` + real + ` NOT NULL,
			sum_x2 ` + real + ` NOT NULL,
			sum_xy ` + real + ` NOT NULL,
			PRIMARY KEY (stat, arm)
		)` + without,
		`CREATE TABLE IF NOT EXISTS tracking_arm_moves (exposure_id ` + big + ` PRIMARY KEY)`,
	}
	if trackingSQLite(d) {
		stmts = append(stmts, `CREATE TRIGGER IF NOT EXISTS tracking_exposures_arm_move AFTER UPDATE OF multi_arm ON tracking_exposures
			WHEN OLD.multi_arm = 0 AND NEW.multi_arm <> 0
			BEGIN INSERT INTO tracking_arm_moves (exposure_id) VALUES (NEW.id) ON CONFLICT DO NOTHING; END`)
	} else {
		stmts = append(stmts, `CREATE OR REPLACE FUNCTION tracking_arm_move() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				INSERT INTO tracking_arm_moves (exposure_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
				RETURN NULL;
			END $$`,
			`DROP TRIGGER IF EXISTS tracking_exposures_arm_move ON tracking_exposures`,
			`CREATE TRIGGER tracking_exposures_arm_move AFTER UPDATE OF multi_arm ON tracking_exposures
			FOR EACH ROW WHEN (OLD.multi_arm = 0 AND NEW.multi_arm <> 0) EXECUTE FUNCTION tracking_arm_move()`)
	}
	return exec(tx, stmts...)
}

// armStatDef is one maintained statistic.
type armStatDef struct {
	id  int64
	key armStatKey
	// started says the build has covered the units up to (builtAttr,
	// builtUnit) in key order; current, all of them.
	started              bool
	builtAttr, builtUnit string
	current, dropping    bool
}

// armStatKey is the canonical form of an ArmQuery without cut-off.
type armStatKey struct {
	experiment string
	phase      int
	y, x       UnitValue
	hasX       bool
}

// clampDay bounds a day as the join does: Postgres keeps days as INTEGER.
func clampDay(v int) int { return int(max(min(int64(v), math.MaxInt32), math.MinInt32)) }

// canonicalArmStat returns q's canonical form (its cut-off ignored).
func canonicalArmStat(q ArmQuery) armStatKey {
	c := func(v UnitValue) UnitValue {
		return UnitValue{Event: v.Event, FromDay: clampDay(v.FromDay), ToDay: clampDay(v.ToDay), Indicator: v.Indicator}
	}
	k := armStatKey{experiment: q.Experiment, phase: q.Phase, y: c(q.Y)}
	if q.X != nil {
		k.x, k.hasX = c(*q.X), true
	}
	return k
}

// query returns the ArmQuery k stands for.
func (k armStatKey) query() ArmQuery {
	q := ArmQuery{Experiment: k.experiment, Phase: k.phase, Y: k.y}
	if k.hasX {
		x := k.x
		q.X = &x
	}
	return q
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keyArgs are k's columns in tracking_stat_defs_key's order.
func (k armStatKey) keyArgs() []any {
	return []any{k.experiment, k.phase, k.y.Event, k.y.FromDay, k.y.ToDay, boolInt(k.y.Indicator),
		k.x.Event, k.x.FromDay, k.x.ToDay, boolInt(k.x.Indicator)}
}

const statDefCols = `id, experiment, phase, y_event, y_from, y_to, y_indicator, x_event, x_from, x_to, x_indicator, started, built_attr, built_unit, current, dropping`

const statKeyMatch = `experiment = ? AND phase = ? AND y_event = ? AND y_from = ? AND y_to = ? AND y_indicator = ?
	AND x_event = ? AND x_from = ? AND x_to = ? AND x_indicator = ?`

// loadStatDefs reads the maintained statistics, in id order.
func loadStatDefs(db *gorm.DB, where string, args ...any) ([]*armStatDef, error) {
	rows, err := db.Raw("SELECT "+statDefCols+" FROM tracking_stat_defs "+where+" ORDER BY id", args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("read maintained statistics: %w", err)
	}
	defer rows.Close()
	var out []*armStatDef
	for rows.Next() {
		var d armStatDef
		var yi, xi, started, cur, drop int
		if err := rows.Scan(&d.id, &d.key.experiment, &d.key.phase, &d.key.y.Event, &d.key.y.FromDay, &d.key.y.ToDay, &yi,
			&d.key.x.Event, &d.key.x.FromDay, &d.key.x.ToDay, &xi, &started, &d.builtAttr, &d.builtUnit, &cur, &drop); err != nil {
			return nil, fmt.Errorf("read maintained statistics: %w", err)
		}
		d.key.y.Indicator, d.key.x.Indicator = yi != 0, xi != 0
		d.key.hasX = d.key.x.Event != ""
		d.started, d.current, d.dropping = started != 0, cur != 0, drop != 0
		out = append(out, &d)
	}
	return out, rows.Err()
}

// ArmStatStatus is the state of one maintained statistic.
type ArmStatStatus struct {
	Query ArmQuery `json:"query"`
	// Current says compaction keeps it up to date and ArmStats reads it;
	// otherwise it is being built: in unit order (attribute, then unit),
	// up to BuiltTo (empty before the first batch).
	Current     bool   `json:"current"`
	BuiltToAttr string `json:"builtToAttr,omitempty"`
	BuiltToUnit string `json:"builtToUnit,omitempty"`
	// Dropping says it is no longer wanted: compaction deletes it.
	Dropping bool `json:"dropping,omitempty"`
}

// MaintainedArmStats lists the maintained statistics and their state.
func (s *Store) MaintainedArmStats(ctx context.Context) ([]ArmStatStatus, error) {
	var out []ArmStatStatus
	err := s.read(ctx, "maintained statistics", func(db *gorm.DB) error {
		defs, err := loadStatDefs(db, "")
		for _, d := range defs {
			st := ArmStatStatus{Query: d.key.query(), Current: d.current, Dropping: d.dropping}
			if d.started && !d.current {
				st.BuiltToAttr, st.BuiltToUnit = d.builtAttr, d.builtUnit
			}
			out = append(out, st)
		}
		return err
	})
	return out, err
}

// wantedStats validates and canonicalizes the statistics asked for, each
// once, in order.
func wantedStats(qs []ArmQuery) ([]armStatKey, error) {
	var out []armStatKey
	for _, q := range qs {
		if err := q.Validate(); err != nil {
			return nil, err
		}
		if q.Before != 0 {
			return nil, invalidTracking("maintained statistic of %q: an as-of cut-off cannot be maintained", q.Experiment)
		}
		k := canonicalArmStat(q)
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// ArmStatsDue reports whether MaintainArmStats(qs) would change the
// maintained set, or a statistic is still to build or to drop: work for
// the next compaction. It only reads. Before compaction has taken in any
// exposure there is nothing to maintain, and it reports false: a server
// over a database without tracking data stays idle and writes nothing
// (so that the file can be replaced under it; see CompactionDue).
func (s *Store) ArmStatsDue(ctx context.Context, qs []ArmQuery) (bool, error) {
	want, err := wantedStats(qs)
	if err != nil {
		return false, err
	}
	due := false
	err = s.read(ctx, "maintained statistics due", func(db *gorm.DB) error {
		if x, err := scanInt64(db, "SELECT COALESCE((SELECT exposures_done FROM tracking_state WHERE id = 1), 0)"); err != nil || x == 0 {
			return err
		}
		defs, err := loadStatDefs(db, "")
		if err != nil {
			return err
		}
		have := map[armStatKey]bool{}
		for _, d := range defs {
			if d.dropping || !d.current {
				due = true
				return nil
			}
			have[d.key] = true
		}
		due = len(have) != len(want)
		for _, k := range want {
			due = due || !have[k]
		}
		return nil
	})
	return due, err
}

// MaintainArmStats sets the statistics compaction maintains: each query
// (its cut-off must be 0) not maintained yet is added, to be built from
// the per-unit totals by the next compactions, and the maintained ones not
// asked for any more are dropped (compaction deletes their rows). With
// rebuild, every statistic asked for is built again from scratch (the old
// copy dropped); ArmStats falls back to its grouped query until the new
// one is current. It writes nothing when nothing changes.
func (s *Store) MaintainArmStats(ctx context.Context, qs []ArmQuery, rebuild bool) error {
	want, err := wantedStats(qs)
	if err != nil {
		return err
	}
	if !rebuild {
		// Most calls change nothing: read first, write only then.
		same := false
		err := s.read(ctx, "maintained statistics", func(db *gorm.DB) error {
			defs, err := loadStatDefs(db, "WHERE dropping = 0")
			same = err == nil && len(defs) == len(want)
			for _, d := range defs {
				same = same && slices.Contains(want, d.key)
			}
			return err
		})
		if err != nil || same {
			return err
		}
	}
	return s.wrap("maintain statistics", s.retry(ctx, func() error {
		return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := lockCompaction(tx, s.d); err != nil {
				return err
			}
			defs, err := loadStatDefs(tx, "WHERE dropping = 0")
			if err != nil {
				return err
			}
			var next int64
			if next, err = scanInt64(tx, "SELECT COALESCE(MAX(id), 0) + 1 FROM tracking_stat_defs"); err != nil {
				return err
			}
			have := map[armStatKey]*armStatDef{}
			for _, d := range defs {
				if rebuild || !slices.Contains(want, d.key) {
					if err := tx.Exec("UPDATE tracking_stat_defs SET dropping = 1 WHERE id = ?", d.id).Error; err != nil {
						return fmt.Errorf("drop statistic %d: %w", d.id, err)
					}
					continue
				}
				have[d.key] = d
			}
			now := micros(s.now())
			for _, k := range want {
				if have[k] != nil {
					continue
				}
				args := append([]any{next}, k.keyArgs()...)
				args = append(args, now)
				if err := tx.Exec(`INSERT INTO tracking_stat_defs (`+statDefCols+`, created_at, current_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', '', 0, 0, ?, 0)`, args...).Error; err != nil {
					return fmt.Errorf("add statistic: %w", err)
				}
				next++
			}
			return nil
		})
	}))
}

// lockCompaction takes compaction's turn: tracking_state's row, locked
// until the transaction ends (SQLite's write transaction holds it anyway).
func lockCompaction(tx *gorm.DB, d *dialect) error {
	if err := tx.Exec(ensureTrackingState).Error; err != nil {
		return fmt.Errorf("read watermarks: %w", err)
	}
	if trackingSQLite(d) {
		return nil
	}
	return tx.Exec("SELECT 1 FROM tracking_state WHERE id = 1 FOR UPDATE").Error
}

// statValue is a unit's value from its accumulators.
func statValue(v *UnitValue, n int64, total float64) float64 {
	if v.Indicator {
		if n > 0 {
			return 1
		}
		return 0
	}
	return total
}

// statUnit is a unit's row of tracking_stat_units.
type statUnit struct {
	arm    string
	multi  bool
	yn, xn int64
	yt, xt float64
}

// contrib returns what u adds to its arm's sums: y, y², x, x², xy.
func (k *armStatKey) contrib(u *statUnit) [5]float64 {
	y := statValue(&k.y, u.yn, u.yt)
	x := 0.0
	if k.hasX {
		x = statValue(&k.x, u.xn, u.xt)
	}
	return [5]float64{y, y * y, x, x * x, x * y}
}

// unitChange is what happens to one unit of one statistic.
type unitChange struct {
	arm string
	// enter: the unit is new to the statistic (multi its flag then);
	// otherwise it is covered already (counted, with a row or as zeros).
	enter, multi bool
	// leave: the unit turned multi-arm.
	leave  bool
	yn, xn int64
	yt, xt float64
}

type unitKey struct{ attr, unit string }

// statChanges gathers the changes of one transaction, per statistic and
// unit, in the order first seen.
type statChanges struct {
	defs  []*armStatDef
	units []map[unitKey]*unitChange
	order [][]unitKey
}

func (c *statChanges) unit(i int, attr, unit, arm string) *unitChange {
	for len(c.units) < len(c.defs) {
		c.units = append(c.units, map[unitKey]*unitChange{})
		c.order = append(c.order, nil)
	}
	k := unitKey{attr, unit}
	u := c.units[i][k]
	if u == nil {
		u = &unitChange{arm: arm}
		c.units[i][k] = u
		c.order[i] = append(c.order[i], k)
	}
	return u
}

// add adds a totals change (n events of value total on day, for event)
// to the unit's accumulators of statistic i.
func (c *statChanges) add(i int, u *unitChange, event string, day int64, n int64, total float64) {
	k := &c.defs[i].key
	in := func(v *UnitValue) bool { return v.Event == event && day >= int64(v.FromDay) && day < int64(v.ToDay) }
	if in(&k.y) {
		u.yn += n
		u.yt += total
	}
	if k.hasX && in(&k.x) {
		u.xn += n
		u.xt += total
	}
}

// statBatch bounds the rows one statement reads or writes.
const statBatch = 500

// apply writes the changes: one upsert per touched unit row, one per
// touched arm, in multi-row statements.
func (c *statChanges) apply(tx *gorm.DB) error {
	for i, d := range c.defs {
		if i >= len(c.order) || len(c.order[i]) == 0 {
			continue
		}
		if err := applyStat(tx, d, c.units[i], c.order[i]); err != nil {
			return fmt.Errorf("statistic %d (%s): %w", d.id, d.key.y.Event, err)
		}
	}
	return nil
}

type armDelta struct {
	n, multi int64
	sums     [5]float64
}

func applyStat(tx *gorm.DB, d *armStatDef, units map[unitKey]*unitChange, order []unitKey) error {
	// The rows of the units already covered.
	old := map[unitKey]*statUnit{}
	byAttr := map[string][]any{}
	var attrs []string
	for _, k := range order {
		if units[k].enter {
			continue
		}
		if byAttr[k.attr] == nil {
			attrs = append(attrs, k.attr)
		}
		byAttr[k.attr] = append(byAttr[k.attr], k.unit)
	}
	for _, attr := range attrs {
		list := byAttr[attr]
		for len(list) > 0 {
			part := list[:min(statBatch, len(list))]
			list = list[len(part):]
			args := append([]any{d.id, attr}, part...)
			rows, err := tx.Raw(`SELECT unit, arm, multi_arm, y_n, y_total, x_n, x_total FROM tracking_stat_units
				WHERE stat = ? AND unit_attr = ? AND unit IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args...).Rows()
			if err != nil {
				return fmt.Errorf("read units: %w", err)
			}
			for rows.Next() {
				var unit string
				var u statUnit
				var multi int
				if err := rows.Scan(&unit, &u.arm, &multi, &u.yn, &u.yt, &u.xn, &u.xt); err != nil {
					rows.Close()
					return fmt.Errorf("read units: %w", err)
				}
				u.multi = multi != 0
				old[unitKey{attr, unit}] = &u
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("read units: %w", err)
			}
		}
	}
	arms := map[string]*armDelta{}
	arm := func(name string) *armDelta {
		a := arms[name]
		if a == nil {
			a = &armDelta{}
			arms[name] = a
		}
		return a
	}
	var write []any
	nwrite := 0
	for _, k := range order {
		ch := units[k]
		prev, had := old[k]
		if !had {
			prev = &statUnit{arm: ch.arm, multi: ch.enter && ch.multi}
		}
		next := *prev
		next.yn += ch.yn
		next.yt += ch.yt
		next.xn += ch.xn
		next.xt += ch.xt
		a := arm(next.arm)
		switch {
		case ch.enter:
			if next.multi {
				a.multi++
			} else {
				a.n++
				for j, v := range d.key.contrib(&next) {
					a.sums[j] += v
				}
			}
		case ch.leave:
			if !prev.multi {
				next.multi = true
				a.n--
				a.multi++
				for j, v := range d.key.contrib(prev) {
					a.sums[j] -= v
				}
			}
		case !prev.multi:
			before, after := d.key.contrib(prev), d.key.contrib(&next)
			for j := range after {
				a.sums[j] += after[j] - before[j]
			}
		}
		if !had && !next.multi && next.yn == 0 && next.xn == 0 {
			continue // zeros without a row
		}
		if had && next == *prev {
			continue
		}
		write = append(write, d.id, k.attr, k.unit, next.arm, boolInt(next.multi), next.yn, next.yt, next.xn, next.xt)
		if nwrite++; nwrite == statBatch {
			if err := upsertStatUnits(tx, write, nwrite); err != nil {
				return err
			}
			write, nwrite = write[:0], 0
		}
	}
	if nwrite > 0 {
		if err := upsertStatUnits(tx, write, nwrite); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(arms))
	for name := range arms {
		names = append(names, name)
	}
	slices.Sort(names)
	var args []any
	for _, name := range names {
		a := arms[name]
		args = append(args, d.id, name, a.n, a.multi, a.sums[0], a.sums[1], a.sums[2], a.sums[3], a.sums[4])
	}
	if len(names) == 0 {
		return nil
	}
	err := tx.Exec(`INSERT INTO tracking_stat_arms (stat, arm, n, multi_arm, sum_y, sum_y2, sum_x, sum_x2, sum_xy) VALUES `+
		rowsOf(9, len(names))+` ON CONFLICT (stat, arm) DO UPDATE SET
			n = tracking_stat_arms.n + excluded.n,
			multi_arm = tracking_stat_arms.multi_arm + excluded.multi_arm,
			sum_y = tracking_stat_arms.sum_y + excluded.sum_y,
			sum_y2 = tracking_stat_arms.sum_y2 + excluded.sum_y2,
			sum_x = tracking_stat_arms.sum_x + excluded.sum_x,
			sum_x2 = tracking_stat_arms.sum_x2 + excluded.sum_x2,
			sum_xy = tracking_stat_arms.sum_xy + excluded.sum_xy`, args...).Error
	if err != nil {
		return fmt.Errorf("add to arm sums: %w", err)
	}
	return nil
}

// rowsOf is the VALUES list of n rows of cols placeholders.
func rowsOf(cols, n int) string {
	one := "(?" + strings.Repeat(", ?", cols-1) + ")"
	return one + strings.Repeat(", "+one, n-1)
}

func upsertStatUnits(tx *gorm.DB, args []any, n int) error {
	err := tx.Exec(`INSERT INTO tracking_stat_units (stat, unit_attr, unit, arm, multi_arm, y_n, y_total, x_n, x_total) VALUES `+
		rowsOf(9, n)+` ON CONFLICT (stat, unit_attr, unit) DO UPDATE SET
			multi_arm = excluded.multi_arm, y_n = excluded.y_n, y_total = excluded.y_total,
			x_n = excluded.x_n, x_total = excluded.x_total`, args...).Error
	if err != nil {
		return fmt.Errorf("write units: %w", err)
	}
	return nil
}

// maintainedDefs returns the statistics a compaction chunk maintains:
// those not dropping that cover something (current, or built part way).
func maintainedDefs(tx *gorm.DB) ([]*armStatDef, error) {
	return loadStatDefs(tx, "WHERE dropping = 0 AND (current = 1 OR started = 1)")
}

// covers reports whether d counts the unit (attr, unit), once its
// exposure is taken in (up to X): a current statistic every unit, one
// being built the units up to where the build got, in key order (bytewise,
// as both engines compare keys: SQLite's BINARY, Postgres' "C").
func (d *armStatDef) covers(attr, unit string) bool {
	switch {
	case d.current:
		return true
	case !d.started:
		return false
	}
	if c := strings.Compare(attr, d.builtAttr); c != 0 {
		return c < 0
	}
	return unit <= d.builtUnit
}

// inList is "?, ?, …" for n values.
func inList(n int) string { return "?" + strings.Repeat(", ?", n-1) }

// statEvents lists the events and the experiments of defs, each once.
func statEvents(defs []*armStatDef) (events, experiments []any) {
	var ev, ex []string
	for _, d := range defs {
		for _, e := range []string{d.key.y.Event, d.key.x.Event} {
			if e != "" && !slices.Contains(ev, e) {
				ev = append(ev, e)
			}
		}
		if !slices.Contains(ex, d.key.experiment) {
			ex = append(ex, d.key.experiment)
		}
	}
	for _, e := range ev {
		events = append(events, e)
	}
	for _, e := range ex {
		experiments = append(experiments, e)
	}
	return events, experiments
}

// statsForward applies the totals the forward step added for events
// (lo, hi] with exposures up to x to the statistics: the same join as
// forwardTotals, restricted to the statistics' events and experiments.
func statsForward(tx *gorm.DB, d *dialect, lo, hi, x int64) error {
	defs, err := maintainedDefs(tx)
	if err != nil || len(defs) == 0 {
		return err
	}
	events, experiments := statEvents(defs)
	args := append([]any{lo, hi, x}, events...)
	args = append(args, experiments...)
	rows, err := tx.Raw(statsForwardSQL(d, len(events), len(experiments)), args...).Rows()
	if err != nil {
		return fmt.Errorf("read totals added: %w", err)
	}
	c := statChanges{defs: defs}
	for rows.Next() {
		var id, day, n int64
		var phase int
		var exp, attr, unit, arm, event string
		var total float64
		if err := rows.Scan(&id, &exp, &phase, &attr, &unit, &arm, &event, &day, &n, &total); err != nil {
			rows.Close()
			return fmt.Errorf("read totals added: %w", err)
		}
		for i, def := range defs {
			if def.key.experiment == exp && def.key.phase == phase && def.covers(attr, unit) {
				c.add(i, c.unit(i, attr, unit, arm), event, day, n, total)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read totals added: %w", err)
	}
	return c.apply(tx)
}

// statsForwardSQL reads the totals deltas of events (?, ?] with
// exposures up to ?, of events events and experiments experiments.
// x.experiment || ” keeps SQLite from reading the experiments' exposures
// through their index and joining events to them (all of the
// experiments' units for a chunk of events): the plan must stay
// forwardTotals' (the chunk's events, then each unit's exposures).
func statsForwardSQL(d *dialect, events, experiments int) string {
	day := utcDay("e.at") + ` - ` + utcDay("x.first_at")
	return `SELECT x.id, x.experiment, x.phase, x.unit_attr, x.unit, x.arm, e.name, ` + day + `, COUNT(*), SUM(e.value)
		FROM ` + eventUnits(d) + ` JOIN tracking_exposures x ON x.unit = u.value AND (x.unit_attr = u.key OR u.key = '*')
		WHERE e.id > ? AND e.id <= ? AND x.id <= ? AND e.name IN (` + inList(events) + `) AND x.experiment || '' IN (` + inList(experiments) + `)
		GROUP BY x.id, x.experiment, x.phase, x.unit_attr, x.unit, x.arm, e.name, ` + day
}

// statsBackfillSQL reads the exposures (?, ?] of one phase (experiment ?,
// phase ?) with their totals of events events. || ” and + 0: the id
// range, not the phase's index, which would read all of the phase's
// exposures for one chunk.
func statsBackfillSQL(events int) string {
	return `SELECT x.unit_attr, x.unit, x.arm, x.multi_arm, t.event, t.day, t.n, t.total
		FROM tracking_exposures x LEFT JOIN tracking_totals t
			ON t.experiment = x.experiment AND t.phase = x.phase AND t.unit_attr = x.unit_attr AND t.unit = x.unit
			AND t.event IN (` + inList(events) + `)
		WHERE x.id > ? AND x.id <= ? AND x.experiment || '' = ? AND x.phase + 0 = ?`
}

// statsBackfill enters the exposures (lo, hi] into the statistics of
// their phase that cover them, with the totals the backfill just gave
// them.
func statsBackfill(tx *gorm.DB, lo, hi int64) error {
	defs, err := maintainedDefs(tx)
	if err != nil || len(defs) == 0 {
		return err
	}
	c := statChanges{defs: defs}
	type phaseKey struct {
		experiment string
		phase      int
	}
	var done []phaseKey
	for _, def := range defs {
		p := phaseKey{def.key.experiment, def.key.phase}
		if slices.Contains(done, p) {
			continue
		}
		done = append(done, p)
		var mine []*armStatDef
		for _, o := range defs {
			if o.key.experiment == p.experiment && o.key.phase == p.phase {
				mine = append(mine, o)
			}
		}
		events, _ := statEvents(mine)
		args := append([]any{}, events...)
		args = append(args, lo, hi, p.experiment, p.phase)
		rows, err := tx.Raw(statsBackfillSQL(len(events)), args...).Rows()
		if err != nil {
			return fmt.Errorf("read exposures taken in: %w", err)
		}
		for rows.Next() {
			var attr, unit, arm string
			var multi int
			var event *string
			var day, n *int64
			var total *float64
			if err := rows.Scan(&attr, &unit, &arm, &multi, &event, &day, &n, &total); err != nil {
				rows.Close()
				return fmt.Errorf("read exposures taken in: %w", err)
			}
			for i, def := range defs {
				if def.key.experiment != p.experiment || def.key.phase != p.phase || !def.covers(attr, unit) {
					continue
				}
				u := c.unit(i, attr, unit, arm)
				u.enter, u.multi = true, multi != 0
				if event != nil {
					c.add(i, u, *event, *day, *n, *total)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read exposures taken in: %w", err)
		}
	}
	return c.apply(tx)
}

// statTotalsSQL is the sum of a unit's totals rows t in v's window, and
// their count n: the accumulators, by the database.
func statTotalsSQL(v *UnitValue, args *[]any) string {
	*args = append(*args, v.Event, v.FromDay, v.ToDay, v.Event, v.FromDay, v.ToDay)
	return `COALESCE(SUM(CASE WHEN t.event = ? AND t.day >= ? AND t.day < ? THEN t.n END), 0),
		COALESCE(SUM(CASE WHEN t.event = ? AND t.day >= ? AND t.day < ? THEN t.total END), 0)`
}

// buildStatBatch builds one batch of statistic id: the next width
// exposed units of its phase in key order, those taken in (up to X), with
// their totals. It reports whether the statistic is current.
func (s *Store) buildStatBatch(ctx context.Context, id int64, width int64) (current bool, err error) {
	err = s.retry(ctx, func() error {
		current = false
		return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := lockCompaction(tx, s.d); err != nil {
				return err
			}
			defs, err := loadStatDefs(tx, "WHERE id = ?", id)
			if err != nil || len(defs) == 0 || defs[0].dropping || defs[0].current {
				current = err == nil
				return err
			}
			def := defs[0]
			x, err := scanInt64(tx, "SELECT COALESCE((SELECT exposures_done FROM tracking_state WHERE id = 1), 0)")
			if err != nil {
				return err
			}
			n, attr, unit, err := buildStatRange(tx, def, x, width)
			if err != nil {
				return err
			}
			current = n < width
			if current {
				return tx.Exec("UPDATE tracking_stat_defs SET current = 1, current_at = ? WHERE id = ?", micros(s.now()), id).Error
			}
			return tx.Exec("UPDATE tracking_stat_defs SET started = 1, built_attr = ?, built_unit = ? WHERE id = ?", attr, unit, id).Error
		})
	})
	return current, err
}

// buildStatRange enters the next width units of def's phase after where
// its build got, in key order, of those whose exposure is taken in (id up
// to x), their accumulators summed from tracking_totals by the database.
// It returns how many it entered and the last one's key. The exposures
// are read through tracking_exposures_arms in key order, the order of
// tracking_totals' and tracking_stat_units' keys: both are read and
// written in order.
func buildStatRange(tx *gorm.DB, def *armStatDef, x, width int64) (n int64, attr, unit string, err error) {
	k := &def.key
	var args []any
	cols := statTotalsSQL(&k.y, &args)
	if k.hasX {
		cols += ", " + statTotalsSQL(&k.x, &args)
	} else {
		cols += ", 0, 0"
	}
	after := ""
	var inner []any
	inner = append(inner, k.experiment, k.phase)
	if def.started {
		// A row value: both engines seek to it in tracking_exposures_arms
		// (EXPLAIN: SQLite's "(unit_attr,unit)>(?,?)", Postgres' Index
		// Cond); an OR of column comparisons would scan from the phase's
		// first unit at every batch.
		after = " AND (unit_attr, unit) > (?, ?)"
		inner = append(inner, def.builtAttr, def.builtUnit)
	}
	inner = append(inner, x, width)
	args = append(args, inner...)
	on := "t.event = ? AND t.day >= ? AND t.day < ?"
	switch {
	case !k.hasX || k.x.Event == k.y.Event:
		from, to := k.y.FromDay, k.y.ToDay
		if k.hasX {
			from, to = min(from, k.x.FromDay), max(to, k.x.ToDay)
		}
		args = append(args, k.y.Event, from, to)
	default:
		on = "t.event IN (?, ?)"
		args = append(args, k.y.Event, k.x.Event)
	}
	rows, err := tx.Raw(`SELECT x.unit_attr, x.unit, x.arm, x.multi_arm, `+cols+`
		FROM (SELECT experiment, phase, unit_attr, unit, arm, multi_arm FROM tracking_exposures
			WHERE experiment = ? AND phase = ?`+after+` AND id <= ?
			ORDER BY experiment, phase, unit_attr, unit LIMIT ?) x
		LEFT JOIN tracking_totals t
			ON t.experiment = x.experiment AND t.phase = x.phase AND t.unit_attr = x.unit_attr AND t.unit = x.unit AND `+on+`
		GROUP BY x.unit_attr, x.unit, x.arm, x.multi_arm
		ORDER BY x.unit_attr, x.unit`, args...).Rows()
	if err != nil {
		return 0, "", "", fmt.Errorf("read exposed units with their totals: %w", err)
	}
	c := statChanges{defs: []*armStatDef{def}}
	for rows.Next() {
		var arm string
		var multi int
		var yn, xn int64
		var yt, xt float64
		if err := rows.Scan(&attr, &unit, &arm, &multi, &yn, &yt, &xn, &xt); err != nil {
			rows.Close()
			return 0, "", "", fmt.Errorf("read exposed units with their totals: %w", err)
		}
		u := c.unit(0, attr, unit, arm)
		u.enter, u.multi = true, multi != 0
		u.yn, u.yt, u.xn, u.xt = yn, yt, xn, xt
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, "", "", fmt.Errorf("read exposed units with their totals: %w", err)
	}
	return n, attr, unit, c.apply(tx)
}

// foldMoves folds up to limit pending moves (units turned multi-arm) into
// the statistics covering them, and forgets them. It reports whether any
// were left.
func (s *Store) foldMoves(ctx context.Context, limit int) (more bool, err error) {
	err = s.retry(ctx, func() error {
		more = false
		return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := lockCompaction(tx, s.d); err != nil {
				return err
			}
			x, err := scanInt64(tx, "SELECT exposures_done FROM tracking_state WHERE id = 1")
			if err != nil {
				return err
			}
			defs, err := maintainedDefs(tx)
			if err != nil {
				return err
			}
			// The moves first, then their exposures by id: a join would
			// let Postgres, which guesses an unanalysed table's size,
			// scan every exposure.
			ids, err := moveIDs(tx, limit)
			if err != nil {
				return err
			}
			c := statChanges{defs: defs}
			err = exposuresByID(tx, ids, func(id int64, exp string, phase int, attr, unit, arm string) {
				if id > x {
					return // not taken in yet: it will be read flagged
				}
				for i, def := range defs {
					if def.key.experiment == exp && def.key.phase == phase && def.covers(attr, unit) {
						c.unit(i, attr, unit, arm).leave = true
					}
				}
			})
			if err != nil {
				return fmt.Errorf("read moves: %w", err)
			}
			if err := c.apply(tx); err != nil {
				return err
			}
			more = len(ids) == limit
			for len(ids) > 0 {
				part := ids[:min(statBatch, len(ids))]
				ids = ids[len(part):]
				if err := tx.Exec("DELETE FROM tracking_arm_moves WHERE exposure_id IN ("+inList(len(part))+")", part...).Error; err != nil {
					return fmt.Errorf("forget moves: %w", err)
				}
			}
			return nil
		})
	})
	return more, err
}

// dropStatBatch deletes up to limit unit rows of a dropped statistic, and
// the statistic once none is left. It reports whether it is gone.
func (s *Store) dropStatBatch(ctx context.Context, id int64, limit int) (gone bool, err error) {
	err = s.retry(ctx, func() error {
		return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := lockCompaction(tx, s.d); err != nil {
				return err
			}
			r := tx.Exec(`DELETE FROM tracking_stat_units WHERE stat = ? AND (unit_attr, unit) IN
				(SELECT unit_attr, unit FROM tracking_stat_units WHERE stat = ? ORDER BY unit_attr, unit LIMIT ?)`, id, id, limit)
			if r.Error != nil {
				return fmt.Errorf("delete units of statistic %d: %w", id, r.Error)
			}
			gone = r.RowsAffected < int64(limit)
			if !gone {
				return nil
			}
			return exec(tx, fmt.Sprintf("DELETE FROM tracking_stat_arms WHERE stat = %d", id),
				fmt.Sprintf("DELETE FROM tracking_stat_defs WHERE id = %d", id))
		})
	})
	return gone, err
}

// compactStats runs after the watermarks moved: it folds the pending
// moves, deletes dropped statistics, and unless opt.SkipStatBuild builds
// the statistics not current yet, batch by batch (opt.ChunkRows units
// each, at most opt.StatBuildBatches batches when positive).
func (s *Store) compactStats(ctx context.Context, opt CompactOptions, res *CompactResult) error {
	width := opt.ChunkRows
	for {
		more, err := s.foldMoves(ctx, int(width))
		if err != nil {
			return fmt.Errorf("fold units turned multi-arm: %w", err)
		}
		if !more {
			break
		}
	}
	var defs []*armStatDef
	err := s.read(ctx, "", func(db *gorm.DB) error {
		var err error
		defs, err = loadStatDefs(db, "WHERE dropping = 1 OR current = 0")
		return err
	})
	if err != nil {
		return err
	}
	for _, d := range defs {
		for d.dropping {
			gone, err := s.dropStatBatch(ctx, d.id, int(width))
			if err != nil {
				return err
			}
			if gone {
				break
			}
		}
	}
	if opt.SkipStatBuild {
		return nil
	}
	batches := 0
	for _, d := range defs {
		if d.dropping {
			continue
		}
		start := time.Now()
		current := false
		for !current {
			if opt.StatBuildBatches > 0 && batches == opt.StatBuildBatches {
				break
			}
			batches++
			if current, err = s.buildStatBatch(ctx, d.id, width); err != nil {
				return fmt.Errorf("build statistic %d: %w", d.id, err)
			}
		}
		res.StatsBuildTime += time.Since(start)
		if !current {
			break
		}
		res.StatsBuilt++
	}
	return nil
}

// maintainedArmStats answers q from a current maintained statistic, with
// the pending moves applied; ok is false when none matches.
func maintainedArmStats(db *gorm.DB, q ArmQuery) (arms []ArmStats, multiArm int64, ok bool, err error) {
	k := canonicalArmStat(q)
	defs, err := loadStatDefs(db, "WHERE dropping = 0 AND current = 1 AND "+statKeyMatch, k.keyArgs()...)
	if err != nil || len(defs) == 0 {
		return nil, 0, false, err
	}
	byArm, multi, err := readMaintained(db, defs[0])
	if err != nil {
		return nil, 0, false, err
	}
	for _, a := range byArm {
		if a.N == 0 {
			*a = ArmStats{Arm: a.Arm}
		}
		arms = append(arms, *a)
		multiArm += multi[a.Arm]
	}
	slices.SortFunc(arms, func(a, b ArmStats) int { return strings.Compare(a.Arm, b.Arm) })
	return arms, multiArm, true, nil
}

// MaintainedExposureCounts returns the exposed units per arm of one
// experiment phase as a current maintained statistic of the phase counts
// them (any: they all count the same units), without reading the
// exposures: the units compaction has taken in (those ArmStats counts),
// each under its first arm, MultiArm those of them seen in another arm
// too. ok is false when no statistic of the phase is current; then
// ExposureCounts (which reads every exposure, seconds at millions of
// units) is the way.
func (s *Store) MaintainedExposureCounts(ctx context.Context, experiment string, phase int) (counts []ExposureCount, ok bool, err error) {
	err = s.read(ctx, "maintained exposure counts", func(db *gorm.DB) error {
		defs, err := loadStatDefs(db, "WHERE dropping = 0 AND current = 1 AND experiment = ? AND phase = ?", experiment, phase)
		if err != nil || len(defs) == 0 {
			return err
		}
		ok = true
		byArm, multi, err := readMaintained(db, defs[0])
		for arm, a := range byArm {
			counts = append(counts, ExposureCount{Phase: phase, Arm: arm, Units: a.N + multi[arm], MultiArm: multi[arm]})
		}
		slices.SortFunc(counts, func(a, b ExposureCount) int { return strings.Compare(a.Arm, b.Arm) })
		return err
	})
	return counts, ok, err
}

// readMaintained reads a statistic's per-arm sums and multi-arm counts,
// with the pending moves (units flagged multi-arm since the last
// compaction) applied.
func readMaintained(db *gorm.DB, def *armStatDef) (byArm map[string]*ArmStats, multi map[string]int64, err error) {
	k := &def.key
	rows, err := db.Raw(`SELECT arm, n, multi_arm, sum_y, sum_y2, sum_x, sum_x2, sum_xy FROM tracking_stat_arms WHERE stat = ?`, def.id).Rows()
	if err != nil {
		return nil, nil, err
	}
	byArm, multi = map[string]*ArmStats{}, map[string]int64{}
	for rows.Next() {
		var a ArmStats
		var m int64
		if err := rows.Scan(&a.Arm, &a.N, &m, &a.SumY, &a.SumY2, &a.SumX, &a.SumX2, &a.SumXY); err != nil {
			rows.Close()
			return nil, nil, err
		}
		byArm[a.Arm] = &a
		multi[a.Arm] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// Units flagged multi-arm since the last compaction: the moves
	// first, then their exposures and unit rows by key (a join would let
	// Postgres, which guesses an unanalysed table's size, scan every
	// exposure).
	ids, err := moveIDs(db, 0)
	if err != nil || len(ids) == 0 {
		return byArm, multi, err
	}
	x, err := scanInt64(db, "SELECT COALESCE((SELECT exposures_done FROM tracking_state WHERE id = 1), 0)")
	if err != nil {
		return nil, nil, err
	}
	for len(ids) > 0 {
		part := ids[:min(statBatch, len(ids))]
		ids = ids[len(part):]
		args := append([]any{def.id}, part...)
		args = append(args, k.experiment, k.phase, x)
		rows, err := db.Raw(`SELECT x.arm, u.multi_arm, u.y_n, u.y_total, u.x_n, u.x_total
			FROM tracking_exposures x
			LEFT JOIN tracking_stat_units u ON u.stat = ? AND u.unit_attr = x.unit_attr AND u.unit = x.unit
			WHERE x.id IN (`+inList(len(part))+`) AND x.experiment || '' = ? AND x.phase + 0 = ? AND x.id <= ?`, args...).Rows()
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var arm string
			var um, yn, xn *int64
			var yt, xt *float64
			if err := rows.Scan(&arm, &um, &yn, &yt, &xn, &xt); err != nil {
				rows.Close()
				return nil, nil, err
			}
			if um != nil && *um != 0 {
				continue
			}
			u := statUnit{}
			if um != nil {
				u.yn, u.yt, u.xn, u.xt = *yn, *yt, *xn, *xt
			}
			a := byArm[arm]
			if a == nil {
				continue // cannot happen: a covered unit is in its arm
			}
			c := k.contrib(&u)
			a.N--
			multi[arm]++
			a.SumY -= c[0]
			a.SumY2 -= c[1]
			a.SumX -= c[2]
			a.SumX2 -= c[3]
			a.SumXY -= c[4]
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return byArm, multi, nil
}

// moveIDs reads the pending moves' exposure ids, in order, at most limit
// when positive.
func moveIDs(db *gorm.DB, limit int) ([]any, error) {
	q := "SELECT exposure_id FROM tracking_arm_moves ORDER BY exposure_id"
	var args []any
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := db.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// exposuresByID calls fn with each exposure of ids that exists.
func exposuresByID(db *gorm.DB, ids []any, fn func(id int64, experiment string, phase int, attr, unit, arm string)) error {
	for len(ids) > 0 {
		part := ids[:min(statBatch, len(ids))]
		ids = ids[len(part):]
		rows, err := db.Raw(`SELECT id, experiment, phase, unit_attr, unit, arm FROM tracking_exposures WHERE id IN (`+inList(len(part))+`)`, part...).Rows()
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var phase int
			var exp, attr, unit, arm string
			if err := rows.Scan(&id, &exp, &phase, &attr, &unit, &arm); err != nil {
				rows.Close()
				return err
			}
			fn(id, exp, phase, attr, unit, arm)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

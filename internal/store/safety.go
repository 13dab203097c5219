package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Automatic safety (issue #13): what the controller's sample-ratio check
// keeps between passes.
//
// srm_checks holds, per experiment phase, the last check: when, the counts
// and weights it read, its p-value, and the least p-value any check of the
// phase has seen (min_p). The anytime-valid sample-ratio p-value of Lindon
// and Malek is a running minimum: a check that finds a larger p than an
// earlier one does not undo the earlier evidence, so the minimum must
// outlive the pass that computed it. Writing a check records nothing in the
// audit log and does not bump the configuration version: servers do not
// reload for it. Only the pause a check decides is a change of the
// configuration (MoveExperiment, audited).
//
// The same migration adds to the experiments table who paused a paused
// experiment and why, and the phase whose sample-ratio pause a person
// overrode (experiment.Experiment's PausedBy, PauseReason and
// SampleRatioOverridden).

// migrateSafety creates srm_checks and adds paused_by, pause_reason and
// srm_overridden to the experiments table. Each part is made only when missing, so that the
// migration runs again on a database taken back to an earlier schema
// version by hand.
func migrateSafety(tx *gorm.DB, d *dialect) error {
	for _, c := range []struct{ name, def string }{
		{"paused_by", "TEXT NOT NULL DEFAULT ''"},
		{"pause_reason", "TEXT NOT NULL DEFAULT ''"},
		{"srm_overridden", "INTEGER NOT NULL DEFAULT 0"},
	} {
		if tx.Migrator().HasColumn("experiments", c.name) {
			continue
		}
		if err := exec(tx, fmt.Sprintf("ALTER TABLE experiments ADD COLUMN %s %s", c.name, c.def)); err != nil {
			return err
		}
	}
	return exec(tx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS srm_checks (
		experiment %[1]s NOT NULL,
		phase INTEGER NOT NULL,
		checked_at %[2]s NOT NULL,
		arms TEXT NOT NULL,
		p DOUBLE PRECISION NOT NULL,
		min_p DOUBLE PRECISION NOT NULL,
		PRIMARY KEY (experiment, phase)
	)`, d.text, d.timestamp))
}

// CheckedArm is one arm as a sample-ratio check read it: its exposed units
// (those seen in another arm too left out) and its weight in the phase, as
// a share (0.34 for 34%).
type CheckedArm struct {
	Arm    string  `json:"arm"`
	Units  int64   `json:"units"`
	Weight float64 `json:"weight"`
}

// SampleRatioCheck is the last sample-ratio check of one experiment phase.
type SampleRatioCheck struct {
	Experiment string       `json:"experiment"`
	Phase      int          `json:"phase"`
	At         time.Time    `json:"at"`
	Arms       []CheckedArm `json:"arms"`
	// P is the check's p-value; MinP the least p-value of every check of
	// the phase so far, this one included.
	P    float64 `json:"p"`
	MinP float64 `json:"minP"`
}

// srmRow is a row of srm_checks.
type srmRow struct {
	Experiment string
	Phase      int
	CheckedAt  time.Time
	Arms       string
	P          float64
	MinP       float64
}

func (srmRow) TableName() string { return "srm_checks" }

func (r *srmRow) check() (SampleRatioCheck, error) {
	c := SampleRatioCheck{Experiment: r.Experiment, Phase: r.Phase, At: r.CheckedAt.UTC(), P: r.P, MinP: r.MinP}
	if err := json.Unmarshal([]byte(r.Arms), &c.Arms); err != nil {
		return c, fmt.Errorf("decode sample-ratio check of %s phase %d: %w", r.Experiment, r.Phase, err)
	}
	return c, nil
}

// SampleRatioChecks returns the last check of each phase of an experiment
// that has been checked, in phase order.
func (s *Store) SampleRatioChecks(ctx context.Context, experiment string) ([]SampleRatioCheck, error) {
	var rows []srmRow
	err := s.read(ctx, "read sample-ratio checks", func(db *gorm.DB) error {
		return db.Where("experiment = ?", experiment).Order("phase").Find(&rows).Error
	})
	if err != nil {
		return nil, err
	}
	out := make([]SampleRatioCheck, 0, len(rows))
	for i := range rows {
		c, err := rows[i].check()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// RecordSampleRatio stores c as the last check of its phase, at the
// store's time, keeping the least MinP of c and of the checks stored
// before, and returns the check as stored. Several servers recording
// checks of one phase at once keep the least of their minima. actor is
// who checks (rollout.Scheduler for the controller); nothing is audited.
func (s *Store) RecordSampleRatio(ctx context.Context, c SampleRatioCheck, actor string) (SampleRatioCheck, error) {
	arms, err := json.Marshal(c.Arms)
	if err != nil {
		return c, fmt.Errorf("encode sample-ratio check of %s phase %d: %w", c.Experiment, c.Phase, err)
	}
	var out SampleRatioCheck
	err = s.write(ctx, "record sample-ratio check", actor, func(w *writeTx) error {
		minP := c.MinP
		if minP <= 0 || minP > c.P {
			minP = c.P
		}
		// The minimum is kept by the statement itself, so two servers
		// writing at once cannot lose the smaller one.
		if err := w.db.Exec(`INSERT INTO srm_checks (experiment, phase, checked_at, arms, p, min_p) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (experiment, phase) DO UPDATE SET checked_at = excluded.checked_at, arms = excluded.arms, p = excluded.p,
				min_p = CASE WHEN excluded.min_p < srm_checks.min_p THEN excluded.min_p ELSE srm_checks.min_p END`,
			c.Experiment, c.Phase, w.now, string(arms), c.P, minP).Error; err != nil {
			return fmt.Errorf("record sample-ratio check of %s phase %d: %w", c.Experiment, c.Phase, err)
		}
		var row srmRow
		if err := w.db.Where("experiment = ? AND phase = ?", c.Experiment, c.Phase).Take(&row).Error; err != nil {
			return fmt.Errorf("read sample-ratio check of %s phase %d: %w", c.Experiment, c.Phase, err)
		}
		out, err = row.check()
		return err
	})
	return out, err
}

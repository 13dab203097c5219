package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// Experiments are stored in three tables: layers, experiments (the
// declared fields with the ramp-up schedule, the status, the shipped arm
// and how it is served, where the ramp-up stands, with a version for
// optimistic updates) and experiment_phases (one row per phase: its
// traffic, arms, bucket set, arm table, start, end and who started it).
// Sets and lists are JSON columns, percentages basis points. The tables
// carry no foreign keys: an experiment names its flag and layer by key,
// and validation (experiment.Validate), not the schema, keeps them
// consistent, as it does for a flag's cohorts. Every write goes through
// writeTx: it bumps the configuration version, so that servers reload,
// and records the object before and after in the audit log.

// layerRow is a declared experiment layer.
type layerRow struct {
	Key       string `gorm:"primaryKey"`
	BucketBy  string
	Holdout   int // basis points
	Salt      string
	Version   int64
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
	UpdatedBy string
}

func (layerRow) TableName() string { return "layers" }

// experimentRow is an experiment's declared fields and state; its phases
// are rows of experiment_phases.
type experimentRow struct {
	Key        string `gorm:"primaryKey"`
	Flag       string
	Layer      string
	Hypothesis string
	Owner      string
	Audience   string // JSON experiment.Audience
	Traffic    int    // basis points
	Arms       string // JSON []storedArm
	Control    string
	Metrics    string // JSON experiment.Metrics
	Salt       string
	Status     string
	Shipped    string
	RampUp     string     // JSON []storedStep
	RampedAt   *time.Time // when the ramp-up last moved
	PausedAt   *time.Time // when a paused experiment was paused
	PausedBy   string     // who paused it, and why (migrateSafety)
	Reason     string     `gorm:"column:pause_reason"`
	Overridden int        `gorm:"column:srm_overridden"`
	ShipVia    string
	Version    int64
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt  time.Time `gorm:"autoUpdateTime:false"`
	UpdatedBy  string
}

func (experimentRow) TableName() string { return "experiments" }

// phaseRow is one phase of an experiment.
type phaseRow struct {
	ExperimentKey string `gorm:"primaryKey"`
	Number        int    `gorm:"primaryKey;autoIncrement:false"`
	Traffic       int    // basis points
	Arms          string // JSON []storedArm
	Buckets       string // JSON []flags.BucketRange
	Allocation    string // JSON []flags.VariantRange: the phase's arm table
	StartedAt     time.Time
	EndedAt       *time.Time
	StartedBy     string
}

func (phaseRow) TableName() string { return "experiment_phases" }

// storedArm is an arm as the tables keep it: its weight in basis points,
// whatever JSON experiment.Arm writes for people.
type storedArm struct {
	Variant string `json:"variant"`
	Weight  int    `json:"weight"`
}

// storedStep is a ramp-up step as the experiments table keeps it: its
// traffic in basis points, its After as Go writes durations.
type storedStep struct {
	Traffic int    `json:"traffic"`
	After   string `json:"after,omitempty"`
}

func encodeSteps(steps []experiment.Step) (string, error) {
	out := make([]storedStep, len(steps))
	for i, st := range steps {
		out[i] = storedStep{Traffic: int(st.Traffic)}
		if st.After != 0 {
			out[i].After = st.After.String()
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeSteps(s string) ([]experiment.Step, error) {
	var stored []storedStep
	if err := json.Unmarshal([]byte(s), &stored); err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		return nil, nil
	}
	out := make([]experiment.Step, len(stored))
	for i, st := range stored {
		out[i] = experiment.Step{Traffic: flags.Percent(st.Traffic)}
		if st.After != "" {
			d, err := rollout.ParseDuration(st.After)
			if err != nil {
				return nil, err
			}
			out[i].After = d
		}
	}
	return out, nil
}

// migrateExperimentRampUp adds to the experiments table the ramp-up
// schedule (ramp_up: JSON steps), where it stands (ramped_at, paused_at)
// and how a shipped arm is served (ship_via). Each column is added only
// when missing, so that the migration runs again on a database taken back
// to an earlier schema version by hand.
func migrateExperimentRampUp(tx *gorm.DB, d *dialect) error {
	for _, c := range []struct{ name, def string }{
		{"ramp_up", "TEXT NOT NULL DEFAULT '[]'"},
		{"ramped_at", d.timestamp},
		{"paused_at", d.timestamp},
		{"ship_via", "TEXT NOT NULL DEFAULT ''"},
	} {
		if tx.Migrator().HasColumn("experiments", c.name) {
			continue
		}
		if err := exec(tx, fmt.Sprintf("ALTER TABLE experiments ADD COLUMN %s %s", c.name, c.def)); err != nil {
			return err
		}
	}
	return nil
}

// migrateExperiments creates the layers, experiments and
// experiment_phases tables. It is idempotent (IF NOT EXISTS), so that a
// database taken back to an earlier schema version by hand, as the
// migration tests do, migrates again.
func migrateExperiments(tx *gorm.DB, d *dialect) error {
	return exec(tx,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS layers (
			key %[1]s PRIMARY KEY,
			bucket_by TEXT NOT NULL DEFAULT '',
			holdout INTEGER NOT NULL DEFAULT 0,
			salt TEXT NOT NULL DEFAULT '',
			version BIGINT NOT NULL,
			created_at %[2]s NOT NULL,
			updated_at %[2]s NOT NULL,
			updated_by TEXT NOT NULL
		)`, d.text, d.timestamp),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS experiments (
			key %[1]s PRIMARY KEY,
			flag %[1]s NOT NULL,
			layer %[1]s NOT NULL DEFAULT '',
			hypothesis TEXT NOT NULL DEFAULT '',
			owner TEXT NOT NULL DEFAULT '',
			audience TEXT NOT NULL DEFAULT '{}',
			traffic INTEGER NOT NULL,
			arms TEXT NOT NULL,
			control TEXT NOT NULL,
			metrics TEXT NOT NULL DEFAULT '{}',
			salt TEXT NOT NULL DEFAULT '',
			status TEXT NOT NULL,
			shipped TEXT NOT NULL DEFAULT '',
			version BIGINT NOT NULL,
			created_at %[2]s NOT NULL,
			updated_at %[2]s NOT NULL,
			updated_by TEXT NOT NULL
		)`, d.text, d.timestamp),
		`CREATE INDEX IF NOT EXISTS experiments_flag ON experiments (flag)`,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS experiment_phases (
			experiment_key %[1]s NOT NULL,
			number INTEGER NOT NULL,
			traffic INTEGER NOT NULL,
			arms TEXT NOT NULL,
			buckets TEXT NOT NULL,
			allocation TEXT NOT NULL,
			started_at %[2]s NOT NULL,
			ended_at %[2]s,
			started_by TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (experiment_key, number)
		)`, d.text, d.timestamp),
	)
}

// StoredLayer is a layer with its version and last change.
type StoredLayer struct {
	Layer     experiment.Layer `json:"layer"`
	Version   int64            `json:"version"`
	UpdatedBy string           `json:"updatedBy,omitempty"`
	UpdatedAt time.Time        `json:"updatedAt,omitzero"`
}

// StoredExperiment is an experiment, with its status and phases, and its
// version and last change.
type StoredExperiment struct {
	Experiment experiment.Experiment `json:"experiment"`
	Version    int64                 `json:"version"`
	UpdatedBy  string                `json:"updatedBy,omitempty"`
	UpdatedAt  time.Time             `json:"updatedAt,omitzero"`
}

func encodeArms(arms []experiment.Arm) (string, error) {
	out := make([]storedArm, len(arms))
	for i, a := range arms {
		out[i] = storedArm{Variant: a.Variant, Weight: int(a.Weight)}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeArms(s string) ([]experiment.Arm, error) {
	var stored []storedArm
	if err := json.Unmarshal([]byte(s), &stored); err != nil {
		return nil, err
	}
	out := make([]experiment.Arm, len(stored))
	for i, a := range stored {
		out[i] = experiment.Arm{Variant: a.Variant, Weight: flags.Percent(a.Weight)}
	}
	return out, nil
}

func encodeLayer(l *experiment.Layer) layerRow {
	return layerRow{Key: l.Key, BucketBy: l.BucketBy, Holdout: int(l.Holdout), Salt: l.Salt}
}

func decodeLayer(r *layerRow) StoredLayer {
	return StoredLayer{Layer: experiment.Layer{Key: r.Key, BucketBy: r.BucketBy, Holdout: flags.Percent(r.Holdout), Salt: r.Salt},
		Version: r.Version, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt.UTC()}
}

// encodeExperiment returns an experiment's row and the rows of its phases.
func encodeExperiment(e *experiment.Experiment) (experimentRow, []phaseRow, error) {
	fail := func(err error) (experimentRow, []phaseRow, error) {
		return experimentRow{}, nil, fmt.Errorf("encode experiment %q: %w", e.Key, err)
	}
	audience, err := json.Marshal(e.Audience)
	if err != nil {
		return fail(err)
	}
	metrics, err := json.Marshal(e.Metrics)
	if err != nil {
		return fail(err)
	}
	arms, err := encodeArms(e.Arms)
	if err != nil {
		return fail(err)
	}
	steps, err := encodeSteps(e.RampUp)
	if err != nil {
		return fail(err)
	}
	status := e.Status
	if status == "" {
		status = experiment.Draft
	}
	row := experimentRow{Key: e.Key, Flag: e.Flag, Layer: e.Layer, Hypothesis: e.Hypothesis, Owner: e.Owner,
		Audience: string(audience), Traffic: int(e.Traffic), Arms: arms, Control: e.Control, Metrics: string(metrics),
		Salt: e.Salt, Status: string(status), Shipped: e.Shipped, RampUp: steps, ShipVia: e.ShipVia,
		PausedBy: e.PausedBy, Reason: e.PauseReason, Overridden: e.SampleRatioOverridden}
	if !e.RampedAt.IsZero() {
		at := e.RampedAt.UTC()
		row.RampedAt = &at
	}
	if e.PausedAt != nil {
		at := e.PausedAt.UTC()
		row.PausedAt = &at
	}
	phases := make([]phaseRow, len(e.Phases))
	for i := range e.Phases {
		p := &e.Phases[i]
		arms, err := encodeArms(p.Arms)
		if err != nil {
			return fail(err)
		}
		buckets, err := json.Marshal(nonNil(p.Buckets))
		if err != nil {
			return fail(err)
		}
		table, err := json.Marshal(nonNil(p.Table))
		if err != nil {
			return fail(err)
		}
		phases[i] = phaseRow{ExperimentKey: e.Key, Number: p.Number, Traffic: int(p.Traffic), Arms: arms,
			Buckets: string(buckets), Allocation: string(table), StartedAt: p.Started.UTC(), StartedBy: p.StartedBy}
		if p.Ended != nil {
			end := p.Ended.UTC()
			phases[i].EndedAt = &end
		}
	}
	return row, phases, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// decodeExperiment rebuilds an experiment from its row and its phases'
// rows, in number order.
func decodeExperiment(r *experimentRow, phases []phaseRow) (StoredExperiment, error) {
	fail := func(what string, err error) (StoredExperiment, error) {
		return StoredExperiment{}, fmt.Errorf("decode experiment %q %s: %w", r.Key, what, err)
	}
	e := experiment.Experiment{Key: r.Key, Flag: r.Flag, Layer: r.Layer, Hypothesis: r.Hypothesis, Owner: r.Owner,
		Traffic: flags.Percent(r.Traffic), Control: r.Control, Salt: r.Salt, Status: experiment.Status(r.Status), Shipped: r.Shipped,
		ShipVia: r.ShipVia, PausedBy: r.PausedBy, PauseReason: r.Reason, SampleRatioOverridden: r.Overridden}
	if r.RampedAt != nil {
		e.RampedAt = r.RampedAt.UTC()
	}
	if r.PausedAt != nil {
		at := r.PausedAt.UTC()
		e.PausedAt = &at
	}
	if err := json.Unmarshal([]byte(r.Audience), &e.Audience); err != nil {
		return fail("audience", err)
	}
	if err := json.Unmarshal([]byte(r.Metrics), &e.Metrics); err != nil {
		return fail("metrics", err)
	}
	var err error
	if e.Arms, err = decodeArms(r.Arms); err != nil {
		return fail("arms", err)
	}
	if r.RampUp != "" {
		if e.RampUp, err = decodeSteps(r.RampUp); err != nil {
			return fail("ramp-up", err)
		}
	}
	for i := range phases {
		pr := &phases[i]
		p := experiment.Phase{Number: pr.Number, Traffic: flags.Percent(pr.Traffic), Started: pr.StartedAt.UTC(), StartedBy: pr.StartedBy}
		if p.Arms, err = decodeArms(pr.Arms); err != nil {
			return fail(fmt.Sprintf("phase %d arms", pr.Number), err)
		}
		if err := json.Unmarshal([]byte(pr.Buckets), &p.Buckets); err != nil {
			return fail(fmt.Sprintf("phase %d buckets", pr.Number), err)
		}
		if err := json.Unmarshal([]byte(pr.Allocation), &p.Table); err != nil {
			return fail(fmt.Sprintf("phase %d table", pr.Number), err)
		}
		if pr.EndedAt != nil {
			end := pr.EndedAt.UTC()
			p.Ended = &end
		}
		e.Phases = append(e.Phases, p)
	}
	return StoredExperiment{Experiment: e, Version: r.Version, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt.UTC()}, nil
}

// loadLayers reads every layer in key order.
func loadLayers(db *gorm.DB) ([]StoredLayer, error) {
	var rows []layerRow
	if err := db.Order("key").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]StoredLayer, len(rows))
	for i := range rows {
		out[i] = decodeLayer(&rows[i])
	}
	return out, nil
}

// loadExperiments reads every experiment with its phases, in key order.
func loadExperiments(db *gorm.DB) ([]StoredExperiment, error) {
	var rows []experimentRow
	if err := db.Order("key").Find(&rows).Error; err != nil {
		return nil, err
	}
	var phases []phaseRow
	if err := db.Order("experiment_key, number").Find(&phases).Error; err != nil {
		return nil, err
	}
	byKey := map[string][]phaseRow{}
	for _, p := range phases {
		byKey[p.ExperimentKey] = append(byKey[p.ExperimentKey], p)
	}
	out := make([]StoredExperiment, len(rows))
	for i := range rows {
		var err error
		if out[i], err = decodeExperiment(&rows[i], byKey[rows[i].Key]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// findExperiment reads one experiment with its phases, or returns a
// *NotFoundError of kind "experiment".
func findExperiment(db *gorm.DB, key string) (*StoredExperiment, error) {
	return readExperiment(db, key, false)
}

// readExperiment reads one experiment with its phases, locking its row
// with lock, or returns a *NotFoundError of kind "experiment".
func readExperiment(db *gorm.DB, key string, lock bool) (*StoredExperiment, error) {
	q := db
	if lock {
		q = forUpdate(db)
	}
	var rows []experimentRow
	if err := q.Where("key = ?", key).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &NotFoundError{Kind: "experiment", Key: key}
	}
	var phases []phaseRow
	if err := db.Where("experiment_key = ?", key).Order("number").Find(&phases).Error; err != nil {
		return nil, err
	}
	e, err := decodeExperiment(&rows[0], phases)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// withExperiments adds the layers and experiments to a configuration that
// loadConfig read without error (err), in the same read: the hook every
// ramp.Config the store builds goes through.
func withExperiments(db *gorm.DB, c *ramp.Config, err error) error {
	if err != nil {
		return err
	}
	ls, err := loadLayers(db)
	if err != nil {
		return fmt.Errorf("read layers: %w", err)
	}
	es, err := loadExperiments(db)
	if err != nil {
		return fmt.Errorf("read experiments: %w", err)
	}
	c.Layers, c.Experiments = Layers(ls), Experiments(es)
	return nil
}

// Layers returns the layers of stored layers.
func Layers(ls []StoredLayer) []experiment.Layer {
	out := make([]experiment.Layer, len(ls))
	for i := range ls {
		out[i] = ls[i].Layer
	}
	return out
}

// Experiments returns the experiments of stored experiments.
func Experiments(es []StoredExperiment) []experiment.Experiment {
	out := make([]experiment.Experiment, len(es))
	for i := range es {
		out[i] = es[i].Experiment
	}
	return out
}

// ExperimentsAndLayers returns every layer and every experiment (with its
// phases), each with its version, in key order, in one read.
func (s *Store) ExperimentsAndLayers(ctx context.Context) ([]StoredLayer, []StoredExperiment, error) {
	var (
		ls []StoredLayer
		es []StoredExperiment
	)
	err := s.read(ctx, "read experiments", func(db *gorm.DB) error {
		var err error
		if ls, err = loadLayers(db); err != nil {
			return err
		}
		es, err = loadExperiments(db)
		return err
	})
	return ls, es, err
}

// Experiment returns one experiment with its phases and version, or a
// *NotFoundError of kind "experiment".
func (s *Store) Experiment(ctx context.Context, key string) (StoredExperiment, error) {
	var out StoredExperiment
	err := s.read(ctx, "read experiment", func(db *gorm.DB) error {
		e, err := findExperiment(db, key)
		if err != nil {
			return err
		}
		out = *e
		return nil
	})
	return out, err
}

// LayerChange creates, updates or deletes one layer.
type LayerChange struct {
	Action flags.Action `json:"action"`
	Key    string       `json:"key"`
	// Layer is the layer as it is to be stored (not for a deletion).
	Layer experiment.Layer `json:"layer,omitzero"`
	// BaseVersion is the stored version the change was computed from (0
	// for a creation).
	BaseVersion int64 `json:"-"`
	// Fields names what an update changes.
	Fields []string `json:"fields,omitempty"`
}

// ExperimentChange creates, updates or deletes one experiment.
type ExperimentChange struct {
	Action flags.Action `json:"action"`
	Key    string       `json:"key"`
	// BaseVersion is the stored version the change was computed from (0
	// for a creation).
	BaseVersion int64 `json:"-"`
	// Steps are the experiment's successive states, each recorded in the
	// audit log under its action (such as "apply.create" then
	// "experiment.start"), the last one written. A deletion has none.
	Steps []ExperimentStep `json:"-"`
}

// ExperimentStep is one state an experiment goes through in a change,
// recorded in the audit log as Action, with the previous state as before.
type ExperimentStep struct {
	Action string
	After  experiment.Experiment
}

// ExperimentChanges are the layer and experiment changes of an apply,
// written in its transaction after the flags and cohorts.
type ExperimentChanges struct {
	Layers      []LayerChange
	Experiments []ExperimentChange
}

// empty reports whether there is nothing to write.
func (c *ExperimentChanges) empty() bool {
	return c == nil || len(c.Layers) == 0 && len(c.Experiments) == 0
}

// applyExperiments writes an apply's layer and experiment changes:
// experiment deletions, then layers, then experiment creations and
// updates.
func (w *writeTx) applyExperiments(ch *ExperimentChanges) error {
	if ch.empty() {
		return nil
	}
	for i := range ch.Experiments {
		if c := &ch.Experiments[i]; c.Action == flags.Delete {
			if err := w.writeExperimentChange(c); err != nil {
				return err
			}
		}
	}
	for i := range ch.Layers {
		if err := w.writeLayerChange(&ch.Layers[i]); err != nil {
			return err
		}
	}
	for i := range ch.Experiments {
		if c := &ch.Experiments[i]; c.Action != flags.Delete {
			if err := w.writeExperimentChange(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// lockLayer reads and locks a layer's row; nil when there is none.
func lockLayer(db *gorm.DB, key string) (*layerRow, error) {
	var rows []layerRow
	if err := forUpdate(db).Where("key = ?", key).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

func (w *writeTx) writeLayerChange(c *LayerChange) error {
	old, err := lockLayer(w.db, c.Key)
	if err != nil {
		return err
	}
	var before any
	if old != nil {
		before = decodeLayer(old).Layer
	}
	if err := checkVersioned("layer", c.Key, c.Action, c.BaseVersion, old != nil, func() (int64, string, time.Time) {
		return old.Version, old.UpdatedBy, old.UpdatedAt
	}); err != nil {
		return err
	}
	action := "apply." + string(c.Action)
	if c.Action == flags.Delete {
		res := w.db.Where("key = ? AND version = ?", c.Key, c.BaseVersion).Delete(&layerRow{})
		if err := w.guardRow(res, "layer", c.Key, c.BaseVersion); err != nil {
			return err
		}
		return w.record(action, "layer", c.Key, before, nil)
	}
	row := encodeLayer(&c.Layer)
	row.Version, row.UpdatedAt, row.UpdatedBy = c.BaseVersion+1, w.now, w.actor
	if c.Action == flags.Create {
		row.Version, row.CreatedAt = 1, w.now
		if err := w.db.Create(&row).Error; err != nil {
			return fmt.Errorf("create layer %q: %w", c.Key, err)
		}
	} else {
		res := w.db.Model(&layerRow{}).Where("key = ? AND version = ?", c.Key, c.BaseVersion).
			Select("*").Omit("key", "created_at").Updates(&row)
		if err := w.guardRow(res, "layer", c.Key, c.BaseVersion); err != nil {
			return err
		}
	}
	return w.record(action, "layer", c.Key, before, c.Layer)
}

// lockExperiment reads and locks an experiment's row and reads its
// phases; nil when there is none.
func lockExperiment(db *gorm.DB, key string) (*StoredExperiment, error) {
	e, err := readExperiment(db, key, true)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return e, err
}

// writeExperimentChange carries out one experiment change, checking the
// stored version, and records each of its steps.
func (w *writeTx) writeExperimentChange(c *ExperimentChange) error {
	old, err := lockExperiment(w.db, c.Key)
	if err != nil {
		return err
	}
	if err := checkVersioned("experiment", c.Key, c.Action, c.BaseVersion, old != nil, func() (int64, string, time.Time) {
		return old.Version, old.UpdatedBy, old.UpdatedAt
	}); err != nil {
		return err
	}
	if c.Action == flags.Delete {
		res := w.db.Where("key = ? AND version = ?", c.Key, c.BaseVersion).Delete(&experimentRow{})
		if err := w.guardRow(res, "experiment", c.Key, c.BaseVersion); err != nil {
			return err
		}
		if err := w.db.Where("experiment_key = ?", c.Key).Delete(&phaseRow{}).Error; err != nil {
			return fmt.Errorf("delete phases of experiment %q: %w", c.Key, err)
		}
		return w.record("apply.delete", "experiment", c.Key, old.Experiment, nil)
	}
	if len(c.Steps) == 0 {
		return fmt.Errorf("change to experiment %q: no state to write", c.Key)
	}
	var before any
	if old != nil {
		before = old.Experiment
	}
	last := &c.Steps[len(c.Steps)-1].After
	if err := w.putExperiment(last, c.Action == flags.Create, c.BaseVersion); err != nil {
		return err
	}
	for _, s := range c.Steps {
		if err := w.record(s.Action, "experiment", c.Key, before, s.After); err != nil {
			return err
		}
		before = s.After
	}
	return nil
}

// putExperiment writes an experiment and replaces its phases: with
// create, a new one; otherwise the next version of one stored at version
// base.
func (w *writeTx) putExperiment(e *experiment.Experiment, create bool, base int64) error {
	row, phases, err := encodeExperiment(e)
	if err != nil {
		return err
	}
	row.Version, row.UpdatedAt, row.UpdatedBy = base+1, w.now, w.actor
	if create {
		row.Version, row.CreatedAt = 1, w.now
		if err := w.db.Create(&row).Error; err != nil {
			return fmt.Errorf("create experiment %q: %w", e.Key, err)
		}
	} else {
		res := w.db.Model(&experimentRow{}).Where("key = ? AND version = ?", e.Key, base).
			Select("*").Omit("key", "created_at").Updates(&row)
		if err := w.guardRow(res, "experiment", e.Key, base); err != nil {
			return err
		}
	}
	if err := w.db.Where("experiment_key = ?", e.Key).Delete(&phaseRow{}).Error; err != nil {
		return fmt.Errorf("write phases of experiment %q: %w", e.Key, err)
	}
	if len(phases) > 0 {
		if err := w.db.Create(&phases).Error; err != nil {
			return fmt.Errorf("write phases of experiment %q: %w", e.Key, err)
		}
	}
	return nil
}

// checkVersioned checks a change against the stored object (exists, and
// then stamp gives its version and last change).
func checkVersioned(kind, key string, action flags.Action, base int64, exists bool, stamp func() (int64, string, time.Time)) error {
	cur := ConflictError{Kind: kind, Key: key, Expected: base}
	if exists {
		cur.Actual, cur.UpdatedBy, cur.UpdatedAt = stamp()
	}
	switch action {
	case flags.Create:
		if exists {
			cur.Expected = 0
			return &cur
		}
	case flags.Update, flags.Delete:
		if !exists || cur.Actual != base {
			return &cur
		}
	default:
		return fmt.Errorf("change to %s %q: unknown action %q", kind, key, action)
	}
	return nil
}

// guardRow checks that a write conditioned on a layer's or experiment's
// version wrote one row (the row lock taken before makes it so).
func (w *writeTx) guardRow(res *gorm.DB, kind, key string, expected int64) error {
	if res.Error != nil {
		return fmt.Errorf("write %s %q: %w", kind, key, res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	return &ConflictError{Kind: kind, Key: key, Expected: expected}
}

// ExperimentEnv is what an ExperimentMove decides from, as the move's
// transaction reads it.
type ExperimentEnv struct {
	// Layers are every layer; Experiments every experiment, the one moved
	// included, as stored before the move.
	Layers      []experiment.Layer
	Experiments []experiment.Experiment
	// State holds the flags and the cohorts, without members (MemberCount
	// is not set).
	State *flags.State
	Now   time.Time
	Actor string
	// Version is the moved experiment's stored version, before the move.
	Version int64
	// Rollout is the rollout plan of the moved experiment's flag, as
	// stored (its row locked), or nil when the flag has none.
	Rollout *rollout.Rollout
}

// ExperimentMove describes a lifecycle change of one experiment for
// MoveExperiment.
type ExperimentMove struct {
	// Key is the experiment's key; Action the audit action, such as
	// "experiment.start".
	Key, Action string
	// BaseVersion is the version the caller decided from (for instance
	// the one it showed when asking for confirmation); if the experiment
	// has changed since, MoveExperiment refuses with a *ConflictError. 0
	// skips the check.
	BaseVersion int64
	// Apply changes e, the experiment as stored now, in place; its error
	// is returned as it is, and ErrNoChange writes nothing.
	Apply func(e *experiment.Experiment, env *ExperimentEnv) error
	// ActionOf, when set, names the audit action from the experiment as
	// stored before the move and as Apply changed it, in place of Action:
	// "experiment.resume.override" for a resume that overrides the
	// sample-ratio check's pause.
	ActionOf func(before, after *experiment.Experiment) string
	// Handoff, when set, runs after Apply and returns a plan to create
	// for the experiment's flag in the same transaction, with its
	// progress (its first stage live from the start): the flag must have
	// no plan (env.Rollout nil), else the move is refused. A nil plan
	// creates none. The plan is recorded in the audit log as
	// "rollout.handoff". Its error is returned as it is.
	Handoff func(e *experiment.Experiment, env *ExperimentEnv) (*rollout.Rollout, error)
}

// MoveExperiment changes one experiment in one write transaction: it
// reads and locks it, checks its version, reads the layers, the other
// experiments, the flags, the cohorts (without members) and its flag's
// rollout plan, lets m.Apply change it, writes it with its version
// incremented and records m.Action with the experiment before and after;
// with m.Handoff, it creates the plan Handoff returns in the same
// transaction. It returns the experiment as
// stored, or m.Apply's error as it is.
func (s *Store) MoveExperiment(ctx context.Context, m ExperimentMove, actor string) (StoredExperiment, error) {
	var (
		out     StoredExperiment
		refused error
	)
	err := s.write(ctx, m.Action, actor, func(w *writeTx) error {
		refused = nil
		cur, err := lockExperiment(w.db, m.Key)
		if err != nil {
			return err
		}
		if cur == nil {
			return &NotFoundError{Kind: "experiment", Key: m.Key}
		}
		if m.BaseVersion != 0 && cur.Version != m.BaseVersion {
			return &ConflictError{Kind: "experiment", Key: m.Key, Expected: m.BaseVersion, Actual: cur.Version,
				UpdatedBy: cur.UpdatedBy, UpdatedAt: cur.UpdatedAt, Now: string(cur.Experiment.Status)}
		}
		env := &ExperimentEnv{State: &flags.State{}, Now: w.now, Actor: w.actor, Version: cur.Version}
		ls, err := loadLayers(w.db)
		if err != nil {
			return err
		}
		es, err := loadExperiments(w.db)
		if err != nil {
			return err
		}
		env.Layers, env.Experiments = Layers(ls), Experiments(es)
		if env.State.Flags, err = loadFlags(w.db); err != nil {
			return err
		}
		if env.State.Cohorts, err = loadCohorts(w.db); err != nil {
			return err
		}
		switch row, err := findRollout(forUpdate(w.db), cur.Experiment.Flag); {
		case err == nil:
			r, err := decodeRollout(row)
			if err != nil {
				return err
			}
			env.Rollout = &r
		case !errors.Is(err, ErrNotFound):
			return err
		}
		next := cloneExperiment(&cur.Experiment)
		if err := m.Apply(&next, env); err != nil {
			refused = err
			return err
		}
		var plan *rollout.Rollout
		if m.Handoff != nil {
			if plan, err = m.Handoff(&next, env); err != nil {
				refused = err
				return err
			}
		}
		if err := w.putExperiment(&next, false, cur.Version); err != nil {
			return err
		}
		out = StoredExperiment{Experiment: next, Version: cur.Version + 1, UpdatedBy: w.actor, UpdatedAt: w.now}
		action := m.Action
		if m.ActionOf != nil {
			action = m.ActionOf(&cur.Experiment, &next)
		}
		if err := w.record(action, "experiment", m.Key, cur.Experiment, next); err != nil {
			return err
		}
		if plan != nil {
			return w.createHandoff(plan, env.Rollout)
		}
		return nil
	})
	if refused != nil && errors.Is(err, refused) {
		return StoredExperiment{}, refused
	}
	if err != nil {
		return StoredExperiment{}, err
	}
	return out, nil
}

// createHandoff creates the rollout plan a stopped experiment hands its
// flag to, with its progress, and records it as "rollout.handoff". A flag
// that has a plan (existing, as the move read it) is refused.
func (w *writeTx) createHandoff(plan, existing *rollout.Rollout) error {
	if existing != nil {
		return ramp.Errorf(ramp.KindRefused, "flag %s already has a rollout plan (rolling out %s, %s): a flag has one plan", plan.Flag, existing.Variant, describeProgress(existing))
	}
	next := *plan
	next.Version, next.UpdatedAt, next.UpdatedBy = 1, w.now, w.actor
	row, err := encodeRollout(&next)
	if err != nil {
		return err
	}
	row.CreatedAt = w.now
	if err := w.db.Create(&row).Error; err != nil {
		return fmt.Errorf("create rollout %q: %w", plan.Flag, err)
	}
	return w.record("rollout.handoff", "rollout", plan.Flag, nil, next)
}

// cloneExperiment copies an experiment deeply enough that changing the
// copy's slices leaves e as it is.
func cloneExperiment(e *experiment.Experiment) experiment.Experiment {
	c := *e
	c.Arms = append([]experiment.Arm(nil), e.Arms...)
	c.Audience.Regions = append([]string(nil), e.Audience.Regions...)
	c.Audience.Cohorts = append([]string(nil), e.Audience.Cohorts...)
	c.Audience.When = append([]cohorts.Condition(nil), e.Audience.When...)
	c.RampUp = append([]experiment.Step(nil), e.RampUp...)
	if e.PausedAt != nil {
		at := *e.PausedAt
		c.PausedAt = &at
	}
	c.Phases = make([]experiment.Phase, len(e.Phases))
	for i, p := range e.Phases {
		p.Arms = append([]experiment.Arm(nil), p.Arms...)
		p.Buckets = append([]flags.BucketRange(nil), p.Buckets...)
		p.Table = append([]flags.VariantRange(nil), p.Table...)
		if p.Ended != nil {
			end := *p.Ended
			p.Ended = &end
		}
		c.Phases[i] = p
	}
	if len(e.Phases) == 0 {
		c.Phases = nil
	}
	return c
}

// CloneExperiment returns a deep copy of e: callers that change an
// experiment they read (an apply planning a new phase) leave what they
// read as it was.
func CloneExperiment(e *experiment.Experiment) experiment.Experiment { return cloneExperiment(e) }

// ExperimentsAndLayers returns every layer and experiment, with their
// versions, as the apply's transaction sees them.
func (t *ApplyTx) ExperimentsAndLayers() ([]StoredLayer, []StoredExperiment, error) {
	ls, err := loadLayers(t.db)
	if err != nil {
		return nil, nil, err
	}
	es, err := loadExperiments(t.db)
	return ls, es, err
}

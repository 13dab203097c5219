package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// Metrics are stored in the metrics table, one row per metric: its
// declared fields (the window and the covariate's as Go writes durations,
// the covariate as JSON, '' for none), with a version for optimistic
// updates. Experiments name metrics by key; validation, not the schema,
// keeps the names consistent.
//
// A metric takes no part in evaluation: ramp.Compose, the snapshot and the
// wire format never read one, so a change to metrics alone does not bump
// the configuration version (see writeTx.recordInert). Bumping it would
// make every server reload and recompile its snapshot, reading every
// cohort's member list again, for a change none of them can see. The
// change is recorded in the audit log like any other (kind "metric").

// metricRow is a declared metric.
type metricRow struct {
	Key         string `gorm:"primaryKey"`
	Description string
	Kind        string
	Event       string
	Numerator   string
	Denominator string
	// WindowLength is the window as Go writes durations ("168h"), ''
	// for none (window is a reserved word in SQL).
	WindowLength string
	Direction    int
	Margin       float64
	// Covariate is JSON storedCovariate, '' for none.
	Covariate string
	Version   int64
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
	UpdatedBy string
}

func (metricRow) TableName() string { return "metrics" }

// storedCovariate is a covariate as the metrics table keeps it.
type storedCovariate struct {
	Event  string `json:"event,omitempty"`
	Window string `json:"window,omitempty"`
}

// migrateMetrics creates the metrics table. It is idempotent (IF NOT
// EXISTS), so that a database taken back to an earlier schema version by
// hand migrates again.
func migrateMetrics(tx *gorm.DB, d *dialect) error {
	return exec(tx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS metrics (
		key %[1]s PRIMARY KEY,
		description TEXT NOT NULL DEFAULT '',
		kind TEXT NOT NULL,
		event TEXT NOT NULL DEFAULT '',
		numerator TEXT NOT NULL DEFAULT '',
		denominator TEXT NOT NULL DEFAULT '',
		window_length TEXT NOT NULL DEFAULT '',
		direction INTEGER NOT NULL DEFAULT 1,
		margin DOUBLE PRECISION NOT NULL DEFAULT 0,
		covariate TEXT NOT NULL DEFAULT '',
		version BIGINT NOT NULL,
		created_at %[2]s NOT NULL,
		updated_at %[2]s NOT NULL,
		updated_by TEXT NOT NULL
	)`, d.text, d.timestamp))
}

// StoredMetric is a metric with its version and last change.
type StoredMetric struct {
	Metric    experiment.Metric `json:"metric"`
	Version   int64             `json:"version"`
	UpdatedBy string            `json:"updatedBy,omitempty"`
	UpdatedAt time.Time         `json:"updatedAt,omitzero"`
}

// encodeMetric returns a metric's row. Its direction is stored as its
// Sign: a metric stored without one reads back as experiment.Increase.
func encodeMetric(m *experiment.Metric) (metricRow, error) {
	row := metricRow{Key: m.Key, Description: m.Description, Kind: string(m.Kind), Event: m.Event,
		Numerator: m.Numerator, Denominator: m.Denominator, Direction: m.Sign(), Margin: m.Margin}
	if m.Window != 0 {
		row.WindowLength = m.Window.String()
	}
	if c := m.Covariate; c != nil {
		sc := storedCovariate{Event: c.Event}
		if c.Window != 0 {
			sc.Window = c.Window.String()
		}
		b, err := json.Marshal(sc)
		if err != nil {
			return metricRow{}, fmt.Errorf("encode metric %q: %w", m.Key, err)
		}
		row.Covariate = string(b)
	}
	return row, nil
}

// decodeMetric rebuilds a metric from its row.
func decodeMetric(r *metricRow) (StoredMetric, error) {
	fail := func(what string, err error) (StoredMetric, error) {
		return StoredMetric{}, fmt.Errorf("decode metric %q %s: %w", r.Key, what, err)
	}
	m := experiment.Metric{Key: r.Key, Description: r.Description, Kind: experiment.MetricKind(r.Kind), Event: r.Event,
		Numerator: r.Numerator, Denominator: r.Denominator, Direction: r.Direction, Margin: r.Margin}
	var err error
	if r.WindowLength != "" {
		if m.Window, err = rollout.ParseDuration(r.WindowLength); err != nil {
			return fail("window", err)
		}
	}
	if r.Covariate != "" {
		var sc storedCovariate
		if err := json.Unmarshal([]byte(r.Covariate), &sc); err != nil {
			return fail("covariate", err)
		}
		m.Covariate = &experiment.Covariate{Event: sc.Event}
		if sc.Window != "" {
			if m.Covariate.Window, err = rollout.ParseDuration(sc.Window); err != nil {
				return fail("covariate window", err)
			}
		}
	}
	return StoredMetric{Metric: m, Version: r.Version, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt.UTC()}, nil
}

// loadMetrics reads every metric in key order.
func loadMetrics(db *gorm.DB) ([]StoredMetric, error) {
	var rows []metricRow
	if err := db.Order("key").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]StoredMetric, len(rows))
	for i := range rows {
		var err error
		if out[i], err = decodeMetric(&rows[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readMetric reads one metric, locking its row with lock; nil when there
// is none.
func readMetric(db *gorm.DB, key string, lock bool) (*metricRow, error) {
	q := db
	if lock {
		q = forUpdate(db)
	}
	var rows []metricRow
	if err := q.Where("key = ?", key).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// MetricsOf returns the metrics of stored metrics.
func MetricsOf(ms []StoredMetric) []experiment.Metric {
	out := make([]experiment.Metric, len(ms))
	for i := range ms {
		out[i] = ms[i].Metric
	}
	return out
}

// Metrics returns every metric with its version, in key order.
func (s *Store) Metrics(ctx context.Context) ([]StoredMetric, error) {
	var out []StoredMetric
	err := s.read(ctx, "read metrics", func(db *gorm.DB) error {
		var err error
		out, err = loadMetrics(db)
		return err
	})
	return out, err
}

// Metric returns one metric with its version, or a *NotFoundError of kind
// "metric".
func (s *Store) Metric(ctx context.Context, key string) (StoredMetric, error) {
	var out StoredMetric
	err := s.read(ctx, "read metric", func(db *gorm.DB) error {
		row, err := readMetric(db, key, false)
		if err != nil {
			return err
		}
		if row == nil {
			return &NotFoundError{Kind: "metric", Key: key}
		}
		out, err = decodeMetric(row)
		return err
	})
	return out, err
}

// Metrics returns every metric, with its version, as the apply's
// transaction sees it.
func (t *ApplyTx) Metrics() ([]StoredMetric, error) { return loadMetrics(t.db) }

// MetricChange creates, updates or deletes one metric.
type MetricChange struct {
	Action flags.Action `json:"action"`
	Key    string       `json:"key"`
	// Metric is the metric as it is to be stored (not for a deletion).
	Metric experiment.Metric `json:"metric,omitzero"`
	// BaseVersion is the stored version the change was computed from (0
	// for a creation).
	BaseVersion int64 `json:"-"`
	// Fields names what an update changes.
	Fields []string `json:"fields,omitempty"`
}

// applyMetrics writes an apply's metric changes, each recorded in the
// audit log as "apply.create", "apply.update" or "apply.delete" of kind
// "metric", without bumping the configuration version on their own.
func (w *writeTx) applyMetrics(changes []MetricChange) error {
	for i := range changes {
		if err := w.writeMetricChange(&changes[i]); err != nil {
			return err
		}
	}
	return nil
}

func (w *writeTx) writeMetricChange(c *MetricChange) error {
	old, err := readMetric(w.db, c.Key, true)
	if err != nil {
		return err
	}
	var before any
	if old != nil {
		sm, err := decodeMetric(old)
		if err != nil {
			return err
		}
		before = sm.Metric
	}
	if err := checkVersioned("metric", c.Key, c.Action, c.BaseVersion, old != nil, func() (int64, string, time.Time) {
		return old.Version, old.UpdatedBy, old.UpdatedAt
	}); err != nil {
		return err
	}
	action := "apply." + string(c.Action)
	if c.Action == flags.Delete {
		res := w.db.Where("key = ? AND version = ?", c.Key, c.BaseVersion).Delete(&metricRow{})
		if err := w.guardRow(res, "metric", c.Key, c.BaseVersion); err != nil {
			return err
		}
		return w.recordInert(action, "metric", c.Key, before, nil)
	}
	row, err := encodeMetric(&c.Metric)
	if err != nil {
		return err
	}
	row.Version, row.UpdatedAt, row.UpdatedBy = c.BaseVersion+1, w.now, w.actor
	if c.Action == flags.Create {
		row.Version, row.CreatedAt = 1, w.now
		if err := w.db.Create(&row).Error; err != nil {
			return fmt.Errorf("create metric %q: %w", c.Key, err)
		}
	} else {
		res := w.db.Model(&metricRow{}).Where("key = ? AND version = ?", c.Key, c.BaseVersion).
			Select("*").Omit("key", "created_at").Updates(&row)
		if err := w.guardRow(res, "metric", c.Key, c.BaseVersion); err != nil {
			return err
		}
	}
	after, err := decodeMetric(&row)
	if err != nil {
		return err
	}
	return w.recordInert(action, "metric", c.Key, before, after.Metric)
}

// withMetrics adds the metrics to a configuration read without error
// (err), in the same read.
func withMetrics(db *gorm.DB, metrics *[]experiment.Metric, err error) error {
	if err != nil {
		return err
	}
	ms, err := loadMetrics(db)
	if err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	*metrics = MetricsOf(ms)
	return nil
}

package admin

import (
	"context"
	"fmt"
	"io"

	"github.com/ramp-flags/ramp/internal/clickhouse"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/tracking"
)

// Events is where exposures and tracking events are stored and read: the
// sink of `ramp serve`, the per-arm sums of the report and of the
// automatic safety, the counts of `ramp events stats`. The database
// (*store.Store: SQLite or PostgreSQL) is one, and the default; a
// ClickHouse database (*clickhouse.Store) is the other, for events at a
// scale one database server cannot hold, while the configuration stays in
// the database (see OpenEvents).
type Events interface {
	tracking.Sink
	// ExposureCounts returns an experiment's exposed units per phase and
	// arm, in phase and arm order.
	ExposureCounts(ctx context.Context, experiment string) ([]store.ExposureCount, error)
	// ArmStats returns one metric's per-arm sufficient statistics in one
	// phase, and the multi-arm units left out (see store.ArmQuery).
	ArmStats(ctx context.Context, q store.ArmQuery) ([]store.ArmStats, int64, error)
	// CompactionDue reports whether Compact has anything to do.
	CompactionDue(ctx context.Context) (bool, error)
	// MaintainArmStats sets the statistics Compact keeps ready for
	// ArmStats (the SQL store updates them with every change, ClickHouse
	// refreshes them), and with rebuild has them all computed again.
	MaintainArmStats(ctx context.Context, qs []store.ArmQuery, rebuild bool) error
	// ArmStatsDue reports whether maintained statistics have work for the
	// next Compact.
	ArmStatsDue(ctx context.Context, qs []store.ArmQuery) (bool, error)
	// Compact folds raw events into what the report reads and applies
	// retention.
	Compact(ctx context.Context, opt store.CompactOptions) (store.CompactResult, error)
	// UnitTotals calls fn with each per-unit total of an experiment's
	// phase, ordered by unit, event and day.
	UnitTotals(ctx context.Context, experiment string, phase int, fn func(store.UnitTotal) error) error
	// TrackingStats counts what is stored.
	TrackingStats(ctx context.Context) (store.TrackingStats, error)
	// ImportEvents stores imported rows (of unit attribute
	// tracking.AnyUnit), all or nothing.
	ImportEvents(ctx context.Context, next func() (store.ImportedEvent, error)) (store.EventImportResult, error)
}

var (
	_ Events = (*store.Store)(nil)
	_ Events = (*clickhouse.Store)(nil)
)

// events returns where events go: the ClickHouse database OpenEvents
// opened, else the database.
func (s *Service) events() Events {
	if s.ev != nil {
		return s.ev
	}
	return s.db()
}

// OpenEvents routes exposures and events, their reports and the safety
// checks that read them to the events database dsn names: a ClickHouse
// URL, clickhouse://host:port/database (see clickhouse.Open). An empty dsn
// keeps them in the database. Call it once, before the Service is used;
// Close closes the events database too. Events already in the database are
// not moved: the report reads only the events database.
func (s *Service) OpenEvents(ctx context.Context, dsn string) error {
	if dsn == "" {
		return nil
	}
	if s.ev != nil {
		return fmt.Errorf("open events database: one is open already")
	}
	ch, err := clickhouse.Open(ctx, dsn, clickhouse.Options{})
	if err != nil {
		return err
	}
	ch.Now = s.Now
	s.ev = ch
	return nil
}

// closeEvents closes the events database OpenEvents opened, if any.
func (s *Service) closeEvents() error {
	if c, ok := s.ev.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

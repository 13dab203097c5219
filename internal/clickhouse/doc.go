// Package clickhouse stores exposures and tracking events in ClickHouse,
// for populations whose events one SQLite file or one PostgreSQL server
// cannot hold. The configuration stays in SQLite or PostgreSQL
// (internal/store); a Store here is the events side only: the sink `ramp
// serve` writes to (tracking.Sink) and the grouped queries the report and
// the automatic safety read (ArmStats, ExposureCounts), with the same
// signatures and the same numbers as the store's.
//
// It speaks the native protocol through the official driver
// (github.com/ClickHouse/clickhouse-go/v2), with explicit column lists,
// and needs nothing newer than ClickHouse 18.16: no DateTime64 (times are
// Int64 Unix microseconds, as in the SQL store), no CTEs, no window
// functions.
//
// # Tables
//
//   - exposures: one row per exposure written (experiment, phase,
//     unit_attr, unit, arm, flag, at), a ReplacingMergeTree ordered by
//     (experiment, phase, bucket, unit_attr, unit, arm) whose version is
//     the exposure time reversed, so that merges keep each unit's earliest
//     exposure to each arm. A unit's first exposure is read by argMin(arm,
//     at) over its rows; a unit with rows in two arms is multi-arm.
//     Replicas that record the same unit, and retried batches, add rows
//     that the query folds (and merges later remove): nothing is counted
//     twice.
//   - events: one row per event and identifying attribute of its context
//     (name, attr, unit, at, day, value, first, and h, a 64-bit hash of
//     the event's time and id), a ReplacingMergeTree partitioned by week of the
//     event's UTC day and ordered by (name, bucket, h, attr): a metric
//     reads only its events, and a retried event's copies, which share
//     every column, are folded by merges; until they are, the queries count
//     each event of a unit once (they count the copies and fold them where
//     there are any; see armStatsSQL). The key has no string but the event's name and
//     attribute: sorting by unit and id made inserts four times slower.
//     first marks one row per event (the one of its first attribute),
//     which is how events are counted. The event's id is not stored, only
//     h: an id's one use is to make a retried event's copies one, which h
//     does, and ids, mostly random, do not compress: they were two thirds
//     of the table's bytes, and a third of the CPU ingest cost ClickHouse
//     and ramp. (Tables created before have a column id, which inserts
//     leave empty.) An imported event's attr is tracking.AnyUnit. Its merges are vertical (the setting
//     vertical_merge_algorithm_min_columns_to_activate = 1): the key
//     columns are merged first and the others gathered column by column,
//     which took a third less of the server's CPU than merging whole rows
//     (ClickHouse's default below 11 columns). Databases created before
//     keep the default: 18.16 cannot change a table's settings.
//   - refreshed_sums and refreshes: the statistics compaction refreshed,
//     and one row per statistic and refresh, written last (see
//     refresh.go).
//
// bucket, cityHash64(unit) % 1024, computed by the server, is the same for a
// unit in both tables: queries read the units bucket range by bucket range
// (see ArmStats), so that memory stays bounded and per-arm sums add up.
//
// # Writes
//
// ClickHouse wants few, large inserts (each makes a part on disk that
// merges must later fold). WriteExposures and WriteEvents therefore join a
// shared block: concurrent calls append their rows to it, and one insert
// sends it as soon as an insert may start (at most two in flight per
// table, Options.MinInterval apart); every call returns when the insert
// holding its rows has succeeded or failed (group commit), so a write
// acknowledged is stored, as with the SQL store. The events block is sent
// in the table's order, (name, bucket, h, attr): the writer computes each
// row's bucket with ClickHouse's CityHash64, and the server, finding the
// block sorted, neither sorts it nor permutes its columns (that was half of
// an insert's CPU on the server). The driver is handed a block in pieces
// of insertChunkRows rows, sent within the one insert, so that its column
// memory is reused; the server joins them into one part.
package clickhouse

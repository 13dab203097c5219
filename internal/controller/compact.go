package controller

import (
	"context"
	"log/slog"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
)

// BuildBatchesPerPass bounds the building of new maintained statistics
// (a metric added or changed) in one pass of RunCompaction: 20 batches of
// 50,000 units, a million units per pass (about a minute on the shared
// 2-core machine of BENCHMARKS.md), so that events keep being folded in
// between; the build goes
// on at the next pass, and reports read the grouped query until it is
// done.
const BuildBatchesPerPass = 20

// RunCompaction folds the raw tracking events stored so far into per-unit
// totals every interval until ctx is done (admin.Service.Compact), so that
// what the controller judges (a guarded stage's guardrails) and what a
// report reads keep up with the events arriving, without anyone running
// `ramp events compact`. Compaction is idempotent and takes turns on one
// state row, so several servers may all run it. A pass with nothing new
// to fold writes nothing (CompactionDue), so an idle server leaves the
// database untouched. It runs one pass at the start; a failed pass is
// logged and tried again at the next interval.
func RunCompaction(ctx context.Context, a *admin.Service, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		var res admin.CompactResult
		due, err := a.CompactionDue(ctx)
		if err == nil && due {
			res, err = a.Compact(ctx, admin.CompactOptions{StatBuildBatches: BuildBatchesPerPass})
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("compaction of tracking events failed; trying again later", "err", err)
		case res.Events > 0 || res.Exposures > 0:
			log.Debug("compacted tracking events", "eventSeqs", res.Events, "exposureSeqs", res.Exposures,
				"totalsWritten", res.Totals, "took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

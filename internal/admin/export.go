package admin

import (
	"context"
	"io"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/internal/config"
	"github.com/ramp-flags/ramp/internal/store"
)

// ExportResult counts what an export wrote.
type ExportResult struct {
	Cohorts  int `json:"cohorts"`
	Flags    int `json:"flags"`
	Rollouts int `json:"rollouts"`
	Metrics  int `json:"metrics"`
	// Members counts the member ids written, all cohorts together.
	Members int `json:"members"`
	// Revision is the configuration exported.
	Revision ramp.Revision `json:"revision"`
}

// Export writes the whole configuration to w in format config.YAML or
// config.JSON, in the form Apply reads: every cohort with its member list,
// every flag, every rollout plan with its progress (which Apply gives only
// to plans it creates), every layer, metric and experiment. It reads one
// consistent snapshot and streams member lists from the database to w, so
// that its memory does not grow with them. Applying the export to the same database changes nothing;
// applying it to a new one reproduces the configuration, live rollouts
// included (not the audit log, API keys or versions).
func (s *Service) Export(ctx context.Context, w io.Writer, format string) (ExportResult, error) {
	if format != config.YAML && format != config.JSON {
		return ExportResult{}, ramp.Errorf(ramp.KindInvalid, "an export is %s or %s, not %q", config.YAML, config.JSON, format)
	}
	var res ExportResult
	err := s.db().Export(ctx, func(cfg *ramp.Config, members store.MemberFunc) error {
		res = ExportResult{Cohorts: len(cfg.State.Cohorts), Flags: len(cfg.State.Flags), Rollouts: len(cfg.Rollouts), Metrics: len(cfg.Metrics),
			Revision: cfg.Revision}
		return config.Export(w, cfg, format, func(key string, fn func(cohorts.Member) error) error {
			return members(key, func(m cohorts.Member) error {
				res.Members++
				return fn(m)
			})
		})
	})
	if err != nil {
		return ExportResult{}, err
	}
	return res, nil
}

package admin

import (
	"context"

	"github.com/ramp-flags/ramp"

	"github.com/ramp-flags/ramp/flags"
)

// Evaluate decides a flag for one context as services would at this
// moment: from the stored configuration composed with the rollout plans'
// live stages (Snapshot). A decision that carries an OpenFeature error
// code (an unknown flag, a context without a bucketing key…) is returned
// as it is, not as an error: the error is for failing to read the
// configuration.
func (s *Service) Evaluate(ctx context.Context, key string, evalCtx map[string]any) (flags.Decision, error) {
	snap, err := s.SnapshotFor(ctx, evalCtx)
	if err != nil {
		return flags.Decision{}, err
	}
	return snap.Evaluate(key, evalCtx), nil
}

// Explain decides a flag for one context as Evaluate does and says why:
// each rule tried and what it found, and for a split the bucketing key,
// salt and bucket. A rule a rollout stage added carries the stage as its
// origin (Explanation.Decision.Origin).
func (s *Service) Explain(ctx context.Context, key string, evalCtx map[string]any) (flags.Explanation, error) {
	snap, err := s.SnapshotFor(ctx, evalCtx)
	if err != nil {
		return flags.Explanation{}, err
	}
	return snap.Explain(key, evalCtx), nil
}

// SnapshotFor compiles the configuration as Snapshot does, for deciding
// one context only: cohort lists are read for its targeting key alone
// (store.ConfigurationFor), so that it costs nothing per listed member. Its
// decisions for that context are Snapshot's; for any other context they
// are not.
func (s *Service) SnapshotFor(ctx context.Context, evalCtx map[string]any) (*flags.Snapshot, error) {
	cfg, err := s.ConfigurationFor(ctx, evalCtx)
	if err != nil {
		return nil, err
	}
	return compile(&cfg)
}

// ConfigurationFor returns the configuration as stored, with cohort lists
// read for the context's targeting key alone: what SnapshotFor compiles,
// for front-ends that ship it elsewhere to be compiled (the admin API's
// snapshot for one context).
func (s *Service) ConfigurationFor(ctx context.Context, evalCtx map[string]any) (ramp.Config, error) {
	return s.db().ConfigurationFor(ctx, targetingKeys(evalCtx))
}

// targetingKeys returns the ids a context's cohort lists are matched on.
func targetingKeys(evalCtx map[string]any) []string {
	if tk, ok := evalCtx[flags.TargetingKey].(string); ok && tk != "" {
		return []string{tk}
	}
	return nil
}

package admin

import (
	"context"
	"errors"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// stagePlanner compiles the configuration with a flag's plan at any stage,
// to compare stages: the composed configuration, with the flag enabled and
// its plan at the stage asked for.
type stagePlanner struct {
	cfg  ramp.Config
	flag flags.Flag
	r    rollout.Rollout
}

// For one context (evalCtx not nil), cohort lists hold only its targeting
// key (store.ConfigurationFor): enough to compare stages for it, at no cost
// per listed member. With a nil evalCtx every list is read.
func (s *Service) newStagePlanner(ctx context.Context, r *rollout.Rollout, f *flags.Flag, evalCtx map[string]any) (*stagePlanner, error) {
	var cfg ramp.Config
	var err error
	if evalCtx != nil {
		cfg, err = s.db().ConfigurationFor(ctx, targetingKeys(evalCtx))
	} else {
		cfg, err = s.db().Configuration(ctx)
	}
	if err != nil {
		return nil, err
	}
	return &stagePlanner{cfg: cfg, flag: *f, r: *r}, nil
}

// at compiles the configuration with the plan at stage k (-1: not
// started), the flag enabled.
func (p *stagePlanner) at(k int) (*flags.Snapshot, error) {
	x := p.r
	x.Progress.Stage = ""
	if k >= 0 {
		x.Progress.Stage = p.r.Stages[k].Name
	}
	cfg := p.cfg
	cfg.State.Flags = append([]flags.Flag(nil), p.cfg.State.Flags...)
	for i := range cfg.State.Flags {
		if cfg.State.Flags[i].Key == p.flag.Key {
			cfg.State.Flags[i] = p.flag
			cfg.State.Flags[i].Enabled = true
		}
	}
	cfg.Rollouts = []rollout.Rollout{x}
	return compile(&cfg)
}

// estimate counts the listed users who gain or lose the variant between
// stages from and to (see Estimate).
func (s *Service) estimate(ctx context.Context, r *rollout.Rollout, f *flags.Flag, from, to int) (*KnownEstimate, error) {
	planner, err := s.newStagePlanner(ctx, r, f, nil)
	if err != nil {
		return nil, err
	}
	before, err := planner.at(from)
	if err != nil {
		return nil, err
	}
	after, err := planner.at(to)
	if err != nil {
		return nil, err
	}
	st := &planner.cfg.State
	est := &KnownEstimate{}
	seen := map[string]bool{}
	evalCtx := map[string]any{}
	for _, c := range st.Cohorts {
		if st.MemberSets[c.Key] == nil {
			continue
		}
		err := s.db().EachMember(ctx, c.Key, func(m cohorts.Member) error {
			if seen[m.ID] {
				return nil
			}
			seen[m.ID] = true
			est.Listed++
			evalCtx[flags.TargetingKey] = m.ID
			if m.Region != "" {
				evalCtx[flags.RegionAttribute] = string(m.Region)
			} else {
				delete(evalCtx, flags.RegionAttribute)
			}
			a := before.Evaluate(f.Key, evalCtx).Variant == r.Variant
			b := after.Evaluate(f.Key, evalCtx).Variant == r.Variant
			switch {
			case b && !a:
				est.Gain++
			case a && !b:
				est.Lose++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return est, nil
}

// RolloutExplanation says what a flag's plan did for one context.
type RolloutExplanation struct {
	// Stage is the live stage ("" before the first).
	Stage string `json:"stage"`
	// AdmittedBy is the stage whose rule served the variant, and Since the
	// first stage at which the context got it; both empty when the plan
	// did not give it the variant.
	AdmittedBy string `json:"admittedBy,omitempty"`
	Since      string `json:"since,omitempty"`
	// Killed is set when the kill switch overrides the plan.
	Killed bool `json:"killed,omitempty"`
}

// ExplainRollout says what a flag's plan did for a context that was
// decided d: the live stage, the stage that admitted the context (from
// d.Origin, never from rule names) and the first stage since which it has
// had the variant. It returns nil for a flag without a plan.
func (s *Service) ExplainRollout(ctx context.Context, flag string, evalCtx map[string]any, d *flags.Decision) (*RolloutExplanation, error) {
	r, err := s.db().Rollout(ctx, flag)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := s.db().Flag(ctx, flag)
	if err != nil {
		return nil, err
	}
	ex := &RolloutExplanation{Stage: r.Progress.Stage, Killed: !f.Enabled}
	if o := d.Origin; o != nil && o.Kind == rollout.OriginKind && o.Key == flag && d.Variant == r.Variant {
		ex.AdmittedBy = o.Part
	}
	if ex.AdmittedBy == "" {
		return ex, nil
	}
	if evalCtx == nil {
		evalCtx = map[string]any{}
	}
	planner, err := s.newStagePlanner(ctx, &r, &f, evalCtx)
	if err != nil {
		return nil, err
	}
	for k := 0; k <= r.Live(); k++ {
		snap, err := planner.at(k)
		if err != nil {
			return nil, err
		}
		if snap.Evaluate(flag, evalCtx).Variant == r.Variant {
			ex.Since = r.Stages[k].Name
			break
		}
	}
	return ex, nil
}

package admin

import (
	"context"
	"errors"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// FlagInfo is a flag as stored, with its rollout plan and where the plan
// stands, if it has one.
type FlagInfo struct {
	Flag flags.Flag
	// Rollout is the flag's plan with its progress; nil without one.
	Rollout *rollout.Rollout
	// Experiments are the experiments on the flag, in any status (Flag
	// only; Flags leaves it empty).
	Experiments []ExperimentInfo
}

// Flags lists the flags, by key, each with its rollout plan if it has one.
// It reads no member lists.
func (s *Service) Flags(ctx context.Context) ([]FlagInfo, error) {
	fs, err := s.db().Flags(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := s.db().Rollouts(ctx)
	if err != nil {
		return nil, err
	}
	plans := make(map[string]*rollout.Rollout, len(rs))
	for i := range rs {
		plans[rs[i].Flag] = &rs[i]
	}
	out := make([]FlagInfo, len(fs))
	for i := range fs {
		out[i] = FlagInfo{Flag: fs[i], Rollout: plans[fs[i].Key]}
	}
	return out, nil
}

// Flag returns one flag with its rollout plan and its experiments; an
// unknown key is not found.
func (s *Service) Flag(ctx context.Context, key string) (FlagInfo, error) {
	fl, err := s.db().Flag(ctx, key)
	if err != nil {
		return FlagInfo{}, err
	}
	info := FlagInfo{Flag: fl}
	switch r, err := s.db().Rollout(ctx, key); {
	case err == nil:
		info.Rollout = &r
	case !errors.Is(err, store.ErrNotFound):
		return FlagInfo{}, err
	}
	xs, err := s.Experiments(ctx)
	if err != nil {
		return FlagInfo{}, err
	}
	for _, x := range xs {
		if x.Flag == key {
			info.Experiments = append(info.Experiments, x)
		}
	}
	return info, nil
}

// SetEnabled sets a flag's kill switch: disabled, every context gets its
// default variant, whatever its rules and its rollout plan; enabled, they
// decide again. It returns the flag as stored. A flag already in that
// state is left as it is (same version, nothing in the audit log); an
// unknown key is not found.
func (s *Service) SetEnabled(ctx context.Context, key string, enabled bool) (flags.Flag, error) {
	return s.db().SetEnabled(ctx, key, enabled, Actor(ctx))
}

// DeleteFlag deletes a flag and its rollout plan; services asking for it
// then get their own default with FLAG_NOT_FOUND. An unknown key is not
// found.
func (s *Service) DeleteFlag(ctx context.Context, key string) error {
	return s.db().DeleteFlag(ctx, key, Actor(ctx))
}

// Package ramp holds what every layer of ramp shares: the whole
// configuration as stored (Config), the one function that composes the
// rules evaluation runs on from it (Compose), the revision that names a
// configuration, and the vocabulary of failures (Kind) that the CLI maps to
// exit codes and the admin API to HTTP statuses.
//
// Layers, from the bottom: the pure engine (cohorts, flags, rollout), this
// package, the store (internal/store), the control plane (internal/admin),
// and the front-ends (internal/cli, the data plane internal/server). See
// docs/architecture.md.
package ramp

import (
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/rollout"
)

// Config is the whole configuration as stored, at one revision: cohorts and
// flags with their own rules (State), and the rollout plans with their
// progress. A store returns it as stored; Compose derives the rules the
// plans add.
//
// Depending on the read, State's cohorts carry their listed members as ids
// (Members), as hashed sets (State.MemberSets, for evaluation), or only
// their count (MemberCount, for edits and validation).
type Config struct {
	State    flags.State
	Rollouts []rollout.Rollout
	// Layers and Experiments are the declared experiment layers and the
	// experiments with their status and phases.
	Layers      []experiment.Layer
	Experiments []experiment.Experiment
	Revision    Revision
}

// Rollout returns the rollout plan of a flag.
func (c *Config) Rollout(flag string) (*rollout.Rollout, bool) {
	for i := range c.Rollouts {
		if c.Rollouts[i].Flag == flag {
			return &c.Rollouts[i], true
		}
	}
	return nil, false
}

// Compose returns the state evaluation runs on: each flag's own rules, then
// the rules of its rollout plan's live stage (each carrying its Origin),
// then the default. It is pure and the one place where the control plane's
// objects become rules: `ramp serve`, `ramp eval`, `--explain`, `simulate`
// and dry-run estimates all compile what it returns. c is not modified;
// flags without a live plan are shared with it.
func Compose(c *Config) flags.State {
	return rollout.Apply(c.State, c.Rollouts)
}

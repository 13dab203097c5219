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
// flags with their own rules (State), the rollout plans with their
// progress, the experiments with the layers they run in, each with its
// status and phases, and the metrics they are judged by. A store returns it
// as stored; Compose derives the rules the plans and the experiments add.
//
// Depending on the read, State's cohorts carry their listed members as ids
// (Members), as hashed sets (State.MemberSets, for evaluation), or only
// their count (MemberCount, for edits and validation).
type Config struct {
	State    flags.State
	Rollouts []rollout.Rollout
	// Layers are the declared experiment layers; an experiment without a
	// layer runs alone in one of its own (experiment.LayerOf).
	Layers []experiment.Layer
	// Experiments are the declared experiments with their state (status,
	// phases, shipped arm).
	Experiments []experiment.Experiment
	// Metrics are the declared metrics experiments are judged by. They
	// take no part in evaluation (Compose does not read them), so a
	// change to them alone does not move the Revision: a reader that
	// caches a Config by revision must read metrics afresh.
	Metrics []experiment.Metric
	// SetVersions has, by cohort key, the version of the cohort's listed
	// members: it changes when they change, and only then (a cohort's
	// other fields, and everything else, change without it). A reader
	// that keeps built member sets by (cohort, version) need not build
	// them again. Nil when the source does not version member lists.
	SetVersions map[string]int64
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

// Metric returns the declared metric whose key is key.
func (c *Config) Metric(key string) (*experiment.Metric, bool) {
	return experiment.FindMetric(c.Metrics, key)
}

// Compose returns the state evaluation runs on: each flag's own rules, then
// the rules of its experiments (experiment.Apply: a running experiment's
// arms, a stopped one's shipped arm), then the rules of its rollout plan's
// live stage, each added rule carrying its Origin, then the default. It is
// pure and the one place where the control plane's objects become rules:
// `ramp serve`, `ramp eval`, `--explain`, `simulate` and dry-run estimates
// all compile what it returns. c is not modified; flags without added
// rules are shared with it.
//
// Experiments come before the rollout because a rollout stage's rules match
// every context of their targets (a 5% stage serves its variant to 5% and
// the default to the other 95%), so an experiment after them would never be
// reached by those targets and its arms would be starved; an experiment's
// rule matches only its own share of its layer, so everyone else falls
// through to the rollout as if the experiment were not there. The flag's
// own rules still come first, to force a variant on a group whatever the
// experiment says.
func Compose(c *Config) flags.State {
	st := experiment.Apply(c.State, c.Layers, c.Experiments)
	return rollout.Apply(st, c.Rollouts)
}

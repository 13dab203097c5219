package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/ramp-flags/ramp"
	"io"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// stagePlanner compiles a configuration with a flag's plan at any stage, to
// compare stages: the evaluation state with the flag's own rules and the
// plan's rules for the stage asked for.
type stagePlanner struct {
	base    flags.State
	version int64
	flag    flags.Flag
	r       rollout.Rollout
}

func newStagePlanner(ctx context.Context, s *store.Store, r *rollout.Rollout, fl *flags.Flag) (*stagePlanner, error) {
	cfg, err := s.Configuration(ctx)
	if err != nil {
		return nil, err
	}
	return &stagePlanner{base: ramp.Compose(&cfg), version: cfg.Revision.Version, flag: *fl, r: *r}, nil
}

// at compiles the configuration with the plan at stage k (-1: not started),
// the flag enabled.
func (p *stagePlanner) at(k int) (*flags.Snapshot, error) {
	x := p.r
	x.Progress.Stage = ""
	if k >= 0 {
		x.Progress.Stage = p.r.Stages[k].Name
	}
	st := p.base
	st.Flags = append([]flags.Flag(nil), p.base.Flags...)
	for i := range st.Flags {
		if st.Flags[i].Key == p.flag.Key {
			st.Flags[i] = p.flag
			st.Flags[i].Enabled = true
		}
	}
	snap, err := flags.Compile(rollout.Apply(st, []rollout.Rollout{x}), p.version)
	if err != nil {
		return nil, fmt.Errorf("stored configuration does not compile: %w", err)
	}
	return snap, nil
}

// rolloutExplanation says what a flag's plan did for one context.
type rolloutExplanation struct {
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

// explainRollout finds the flag's plan, if any, and which of its stages
// admitted the context. It returns nil for a flag without a plan.
func explainRollout(ctx context.Context, s *store.Store, key string, evalCtx map[string]any, d *flags.Decision) (*rolloutExplanation, error) {
	r, err := s.Rollout(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	fl, err := s.Flag(ctx, key)
	if err != nil {
		return nil, err
	}
	ex := &rolloutExplanation{Stage: r.Progress.Stage, Killed: !fl.Enabled}
	if o := d.Origin; o != nil && o.Kind == rollout.OriginKind && o.Key == key && d.Variant == r.Variant {
		ex.AdmittedBy = o.Part
	}
	if ex.AdmittedBy == "" {
		return ex, nil
	}
	planner, err := newStagePlanner(ctx, s, &r, &fl)
	if err != nil {
		return nil, err
	}
	for k := 0; k <= r.Live(); k++ {
		snap, err := planner.at(k)
		if err != nil {
			return nil, err
		}
		if snap.Evaluate(key, evalCtx).Variant == r.Variant {
			ex.Since = r.Stages[k].Name
			break
		}
	}
	return ex, nil
}

func printRolloutExplanation(w io.Writer, ex *rolloutExplanation, d *flags.Decision) {
	if ex == nil {
		return
	}
	stage := ex.Stage
	if stage == "" {
		stage = "none (not started)"
	}
	switch {
	case ex.Killed:
		fmt.Fprintf(w, "  rollout: live stage %s, overridden by the kill switch\n", stage)
	case ex.AdmittedBy != "":
		fmt.Fprintf(w, "  rollout: live stage %s; admitted by stage %s; has had %s since stage %s\n", stage, ex.AdmittedBy, d.Variant, ex.Since)
	default:
		fmt.Fprintf(w, "  rollout: live stage %s; not admitted by any stage so far\n", stage)
	}
}

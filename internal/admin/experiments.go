package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/bucket"
	"github.com/ramp-flags/ramp/internal/store"
	"github.com/ramp-flags/ramp/rollout"
)

// The experiment use cases: reading experiments with their phases, and
// their lifecycle (start, pause, resume, stop with or without shipping an
// arm, raising traffic, changing weights as a new phase). Each change is
// one store.MoveExperiment transaction that reads the experiment, its
// layer and the layer's other experiments as stored at that moment,
// refuses there (experiment's ErrLocked and ErrLayerFull are
// ramp.ErrRefused), writes with the version bumped (servers reload) and
// records the experiment before and after in the audit log. Changes made
// through files are in apply_experiments.go.

// Percent is a percentage that JSON writes in percent units (12.5 for
// 12.5%), as everything people and scripts read does (see
// docs/rollouts.md, "Percentages").
type Percent flags.Percent

// MarshalJSON writes the percentage in percent units.
func (p Percent) MarshalJSON() ([]byte, error) { return []byte(flags.Percent(p).String()), nil }

// UnmarshalJSON reads a percentage in percent units.
func (p *Percent) UnmarshalJSON(b []byte) error {
	v, err := flags.ParsePercent(string(b))
	if err != nil {
		return err
	}
	*p = Percent(v)
	return nil
}

// String writes the percentage without its sign: "12.5".
func (p Percent) String() string { return flags.Percent(p).String() }

// ArmWeight is an arm and its share of the experiment's units.
type ArmWeight struct {
	Variant string  `json:"variant"`
	Weight  Percent `json:"weight"`
}

// PhaseInfo is one phase of an experiment as people and scripts read it.
type PhaseInfo struct {
	Number  int         `json:"number"`
	Traffic Percent     `json:"traffic"`
	Arms    []ArmWeight `json:"arms"`
	// Buckets are the layer buckets the phase owns; Table its arm table
	// on the experiment's own 10,000-bucket scale.
	Buckets   []flags.BucketRange  `json:"buckets"`
	Table     []flags.VariantRange `json:"table"`
	Started   time.Time            `json:"started"`
	Ended     *time.Time           `json:"ended,omitempty"`
	StartedBy string               `json:"startedBy,omitempty"`
}

// LayerInfo is the layer an experiment runs in.
type LayerInfo struct {
	Key      string  `json:"key"`
	BucketBy string  `json:"bucketBy,omitempty"`
	Holdout  Percent `json:"holdout"`
	// Own says the experiment declares no layer and runs alone in one of
	// its own.
	Own bool `json:"own,omitempty"`
}

// ExperimentInfo is an experiment as `ramp experiments get` and `list`
// show it: its declaration, its state and, for Experiment, its phases.
type ExperimentInfo struct {
	Key        string              `json:"key"`
	Flag       string              `json:"flag"`
	Layer      LayerInfo           `json:"layer"`
	Status     experiment.Status   `json:"status"`
	Hypothesis string              `json:"hypothesis,omitempty"`
	Owner      string              `json:"owner,omitempty"`
	Audience   experiment.Audience `json:"audience,omitzero"`
	// Traffic is the declared traffic: with a ramp-up, the ceiling the
	// schedule grows toward; PhaseTraffic what the current phase takes
	// (0 before the first start).
	Traffic      Percent            `json:"traffic"`
	PhaseTraffic Percent            `json:"phaseTraffic,omitempty"`
	Arms         []ArmWeight        `json:"arms"`
	Control      string             `json:"control"`
	Metrics      experiment.Metrics `json:"metrics,omitzero"`
	// RampUp is the traffic schedule, NextStep its next step and when it
	// is due (nil when there is none).
	RampUp   []RampStep    `json:"rampUp,omitempty"`
	NextStep *NextRampStep `json:"nextStep,omitempty"`
	Shipped  string        `json:"shipped,omitempty"`
	// ShipVia is experiment.ShipViaRollout when the shipped arm was handed
	// to a rollout plan of the flag (the experiment serves nothing).
	ShipVia string `json:"shipVia,omitempty"`
	// Phase is the current phase's number, 0 before the first start;
	// Since when it started and By whom.
	Phase int       `json:"phase"`
	Since time.Time `json:"since,omitzero"`
	By    string    `json:"by,omitempty"`
	// Pause says who paused a paused experiment, when and why: the
	// sample-ratio check pauses as rollout.Scheduler with the counts and
	// the p-value it saw.
	Pause *Pause `json:"pause,omitempty"`
	// SampleRatio is the last sample-ratio check of the current phase
	// (Experiment only; safety_srm.go), nil before the first.
	SampleRatio *SampleRatioInfo `json:"sampleRatio,omitempty"`
	// Phases are every phase, oldest first (Experiment only).
	Phases    []PhaseInfo `json:"phases,omitempty"`
	Version   int64       `json:"version"`
	UpdatedBy string      `json:"updatedBy,omitempty"`
	UpdatedAt time.Time   `json:"updatedAt,omitzero"`
}

func armWeights(arms []experiment.Arm) []ArmWeight {
	out := make([]ArmWeight, len(arms))
	for i, a := range arms {
		out[i] = ArmWeight{Variant: a.Variant, Weight: Percent(a.Weight)}
	}
	return out
}

// infoOf builds an experiment's info at now; phases adds its phases.
func infoOf(x *store.StoredExperiment, layers []experiment.Layer, st *flags.State, phases bool, now time.Time) ExperimentInfo {
	e := &x.Experiment
	status := e.Status
	if status == "" {
		status = experiment.Draft
	}
	info := ExperimentInfo{Key: e.Key, Flag: e.Flag, Status: status, Hypothesis: e.Hypothesis, Owner: e.Owner,
		Audience: e.Audience, Traffic: Percent(e.Traffic), Arms: armWeights(e.Arms), Control: e.Control, Metrics: e.Metrics,
		Shipped: e.Shipped, ShipVia: e.ShipVia, Version: x.Version, UpdatedBy: x.UpdatedBy, UpdatedAt: x.UpdatedAt}
	rampInfo(&info, e, now)
	if status == experiment.Paused && (e.PausedBy != "" || e.PauseReason != "" || e.PausedAt != nil) {
		info.Pause = &Pause{By: e.PausedBy, Reason: e.PauseReason}
		if e.PausedAt != nil {
			info.Pause.At = *e.PausedAt
		}
	}
	l, _ := experiment.LayerOf(e, layers, st)
	info.Layer = LayerInfo{Key: l.Key, BucketBy: l.BucketBy, Holdout: Percent(l.Holdout), Own: e.Layer == ""}
	if cur := e.Current(); cur != nil {
		info.Phase, info.Since, info.By, info.PhaseTraffic = cur.Number, cur.Started, cur.StartedBy, Percent(cur.Traffic)
	}
	if phases {
		for _, p := range e.Phases {
			info.Phases = append(info.Phases, PhaseInfo{Number: p.Number, Traffic: Percent(p.Traffic), Arms: armWeights(p.Arms),
				Buckets: p.Buckets, Table: p.Table, Started: p.Started, Ended: p.Ended, StartedBy: p.StartedBy})
		}
	}
	return info
}

// Experiments returns every experiment, by key, without its phases.
func (s *Service) Experiments(ctx context.Context) ([]ExperimentInfo, error) {
	ls, es, err := s.db().ExperimentsAndLayers(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := s.db().Flags(ctx)
	if err != nil {
		return nil, err
	}
	st := &flags.State{Flags: fs}
	layers := store.Layers(ls)
	out := make([]ExperimentInfo, len(es))
	for i := range es {
		out[i] = infoOf(&es[i], layers, st, false, s.Now())
	}
	return out, nil
}

// Experiment returns one experiment with its phases, or an error matching
// ramp.ErrNotFound.
func (s *Service) Experiment(ctx context.Context, key string) (ExperimentInfo, error) {
	x, err := s.db().Experiment(ctx, key)
	if err != nil {
		return ExperimentInfo{}, err
	}
	ls, _, err := s.db().ExperimentsAndLayers(ctx)
	if err != nil {
		return ExperimentInfo{}, err
	}
	fs, err := s.db().Flags(ctx)
	if err != nil {
		return ExperimentInfo{}, err
	}
	info := infoOf(&x, store.Layers(ls), &flags.State{Flags: fs}, true, s.Now())
	if info.SampleRatio, err = s.sampleRatioInfo(ctx, &x.Experiment); err != nil {
		return ExperimentInfo{}, err
	}
	return info, nil
}

// ExperimentResult is what a lifecycle change did, or with DryRun would
// do.
type ExperimentResult struct {
	Key    string `json:"key"`
	Action string `json:"action"`
	DryRun bool   `json:"dryRun"`
	// From and To are the status before and after.
	From experiment.Status `json:"from"`
	To   experiment.Status `json:"to"`
	// Phase is the current phase after the change; NewPhase says the
	// change started it.
	Phase    int  `json:"phase"`
	NewPhase bool `json:"newPhase,omitempty"`
	// TrafficFrom and TrafficTo are the traffic before and after.
	TrafficFrom Percent `json:"trafficFrom"`
	TrafficTo   Percent `json:"trafficTo"`
	// Moved is the share of the experiment's units whose arm a weight
	// change moves: the total-variation distance between the old and the
	// new weights.
	Moved *Percent `json:"moved,omitempty"`
	// Known counts the known units that change arm (see KnownUnits).
	Known *KnownUnits `json:"knownUnits,omitempty"`
	// Experiment is the experiment after a change that was written.
	Experiment *ExperimentInfo `json:"experiment,omitempty"`
	// Rollout is the status of the plan a stop handed the flag to.
	Rollout *RolloutStatus `json:"rollout,omitempty"`
	// Overrode is, for a resume that overrides the sample-ratio check's
	// pause, what the check had found (the pause's reason).
	Overrode string `json:"overrode,omitempty"`
	// Version is the experiment's version the change was computed from,
	// to confirm a refused change with.
	Version int64 `json:"-"`
}

// KnownUnits counts the units ramp knows by id that a change of weights
// moves. The known units are those exposed to the experiment's current
// phase (Source "exposures"). Before any exposure is recorded they are the
// ids listed in the cohorts the experiment's audience names (Source
// "cohort lists"), each taken as the unit (exact when the layer buckets by
// targetingKey, the id the lists hold) and kept when its listed region, if
// any, is in the audience's regions; the audience's conditions are not
// checked (lists do not carry app versions).
type KnownUnits struct {
	// Source says where the units come from: "exposures" or "cohort
	// lists".
	Source string `json:"source"`
	// Listed counts the distinct ids considered; InExperiment those in
	// the experiment's share of its layer; Move those among them whose arm
	// changes.
	Listed       int `json:"listed"`
	InExperiment int `json:"inExperiment"`
	Move         int `json:"move"`
}

// KnownSourceCohorts is KnownUnits.Source for units taken from the
// audience's cohort lists.
const KnownSourceCohorts = "cohort lists"

// KnownSourceExposures is KnownUnits.Source for the units exposed to the
// experiment's current phase.
const KnownSourceExposures = "exposures"

// ExperimentConfirmError refuses a change that moves units between arms or
// ends an experiment (a weight change, a stop) when the request does not
// say it is confirmed. Result says what would happen; a front-end that
// asks its user repeats the request with Confirmed set and BaseVersion set
// to Result.Version, so that what is confirmed is what gets written. It
// matches ramp.ErrRefused.
type ExperimentConfirmError struct {
	Result   ExperimentResult
	Question string
}

func (e *ExperimentConfirmError) Error() string {
	return e.Question + " (not confirmed: nothing was changed)"
}

// Is makes ExperimentConfirmError match ramp.ErrRefused.
func (e *ExperimentConfirmError) Is(target error) bool { return target == ramp.ErrRefused }

// LockedError refuses a change to a running or paused experiment's
// audience, arms, weights or traffic made in its current phase (or a
// lower traffic): such a change is made as a new phase. Fields names what
// the change touches; Where, when set, locates it in a file. It matches
// ramp.ErrRefused.
type LockedError struct {
	Key    string
	Status experiment.Status
	Phase  int
	Fields []string
	Where  string
}

func (e *LockedError) Error() string {
	where, how := "", ""
	if e.Where != "" {
		where, how = e.Where+": ", " (say phase: next for it in the file)"
	}
	why := "units would change arm mid-phase and the phase's analysis would mix allocations"
	if slices.Equal(e.Fields, []string{"traffic (lowered)"}) {
		why = "units would leave the phase mid-way"
	}
	return fmt.Sprintf("%sexperiment %s is %s in phase %d: its %s cannot change within a phase (%s); make the change a new phase%s",
		where, e.Key, e.Status, e.Phase, strings.Join(e.Fields, ", "), why, how)
}

// Is makes LockedError match ramp.ErrRefused.
func (e *LockedError) Is(target error) bool { return target == ramp.ErrRefused }

// envLayer returns the layer of e in a move's environment.
func envLayer(e *experiment.Experiment, env *store.ExperimentEnv) (experiment.Layer, error) {
	l, ok := experiment.LayerOf(e, env.Layers, env.State)
	if !ok {
		return l, ramp.Errorf(ramp.KindInvalid, "experiment %s: its layer %q or its flag %q is not stored", e.Key, e.Layer, e.Flag)
	}
	return l, nil
}

// move runs one lifecycle change through store.MoveExperiment: change
// edits the experiment as stored now and fills the result's specifics.
func (s *Service) move(ctx context.Context, key, action string, base int64, change func(e *experiment.Experiment, env *store.ExperimentEnv, res *ExperimentResult) error) (ExperimentResult, error) {
	return s.moveWith(ctx, key, action, base, change, nil, nil)
}

// moveWith is move with a handoff: the rollout plan, if handoff returns
// one, is created in the change's transaction (store.ExperimentMove's
// Handoff); and with actionOf, which names the audit action from the
// experiment before and after the change (store.ExperimentMove's
// ActionOf).
func (s *Service) moveWith(ctx context.Context, key, action string, base int64, change func(e *experiment.Experiment, env *store.ExperimentEnv, res *ExperimentResult) error,
	handoff func(*experiment.Experiment, *store.ExperimentEnv) (*rollout.Rollout, error), actionOf func(before, after *experiment.Experiment) string) (ExperimentResult, error) {
	var res ExperimentResult
	moved, err := s.db().MoveExperiment(ctx, store.ExperimentMove{Key: key, Action: "experiment." + action, BaseVersion: base, Handoff: handoff, ActionOf: actionOf,
		Apply: func(e *experiment.Experiment, env *store.ExperimentEnv) error {
			res = ExperimentResult{Key: key, Action: action, From: statusOf(e), TrafficFrom: Percent(e.Traffic)}
			if cur := e.Current(); cur != nil {
				res.Phase = cur.Number
			}
			if err := change(e, env, &res); err != nil {
				return err
			}
			res.To, res.TrafficTo = statusOf(e), Percent(e.Traffic)
			if cur := e.Current(); cur != nil {
				res.Phase = cur.Number
			}
			return nil
		}}, Actor(ctx))
	if err != nil {
		return res, err
	}
	info, err := s.Experiment(ctx, moved.Experiment.Key)
	if err != nil {
		return res, err
	}
	res.Experiment = &info
	return res, nil
}

func statusOf(e *experiment.Experiment) experiment.Status {
	if e.Status == "" {
		return experiment.Draft
	}
	return e.Status
}

// StartExperiment starts a draft experiment: phase 1 with its declared
// arms and traffic, the layer buckets that the holdout and the layer's
// other running and paused experiments leave free. It refuses (matching
// ramp.ErrRefused) an experiment that is not a draft or a layer without
// enough free buckets.
func (s *Service) StartExperiment(ctx context.Context, key string) (ExperimentResult, error) {
	return s.move(ctx, key, "start", 0, func(e *experiment.Experiment, env *store.ExperimentEnv, _ *ExperimentResult) error {
		l, err := envLayer(e, env)
		if err != nil {
			return err
		}
		return e.Start(l, env.Experiments, env.Now, env.Actor)
	})
}

// PauseExperiment pauses a running experiment: it serves nothing and
// records nothing, and keeps its buckets and phase; its ramp-up waits. It refuses (matching
// ramp.ErrRefused) an experiment that is not running.
func (s *Service) PauseExperiment(ctx context.Context, key string) (ExperimentResult, error) {
	return s.move(ctx, key, "pause", 0, func(e *experiment.Experiment, env *store.ExperimentEnv, _ *ExperimentResult) error {
		return e.PauseFor(env.Now, env.Actor, "")
	})
}

// ResumeExperiment resumes a paused experiment in its current phase: every
// unit gets its arm back, and its ramp-up's next step is due as much later
// as it stayed paused. It refuses (matching ramp.ErrRefused) an
// experiment that is not paused.
//
// Resuming an experiment the sample-ratio check paused overrides the
// check: the result's Overrode says what it had found, the audit log
// records the resume as "experiment.resume.override", and the check no
// longer pauses the phase (experiment.Experiment.SampleRatioOverridden).
func (s *Service) ResumeExperiment(ctx context.Context, key string) (ExperimentResult, error) {
	return s.ResumeExperimentAt(ctx, key, 0)
}

// ResumeExperimentAt is ResumeExperiment decided at the experiment's
// version base (0: whatever it is): if it moved since (resumed and paused
// again, by a person or by the sample-ratio check), the resume is refused
// with a ConflictError rather than override a pause its caller did not
// see.
func (s *Service) ResumeExperimentAt(ctx context.Context, key string, base int64) (ExperimentResult, error) {
	var overrode string
	res, err := s.moveWith(ctx, key, "resume", base, func(e *experiment.Experiment, env *store.ExperimentEnv, _ *ExperimentResult) error {
		overrode = ""
		if cur := e.Current(); e.Status == experiment.Paused && e.PausedBy == rollout.Scheduler && cur != nil &&
			strings.HasPrefix(e.PauseReason, safety.MismatchPrefix(cur.Number)) {
			// Paused by the sample-ratio check in this phase (a new
			// phase started while paused is checked afresh).
			overrode = e.PauseReason
		}
		if err := e.ResumeAt(env.Now); err != nil {
			return err
		}
		if overrode != "" {
			e.SampleRatioOverridden = e.Current().Number
		}
		return nil
	}, nil, func(before, after *experiment.Experiment) string {
		if after.SampleRatioOverridden != before.SampleRatioOverridden {
			return "experiment.resume.override"
		}
		return "experiment.resume"
	})
	res.Overrode = overrode
	return res, err
}

// StopRequest asks to end an experiment.
type StopRequest struct {
	Key string
	// Ship is the arm to serve to the experiment's whole audience from now
	// on; "" serves nothing (the flag's other rules decide again).
	Ship string
	// Rollout hands the flag to a rollout plan that serves Ship instead
	// of serving it to the whole audience at once (see StopExperiment);
	// it needs Ship.
	Rollout bool
	// Confirmed accepts ending the experiment for good; without it the
	// stop is refused with an *ExperimentConfirmError.
	Confirmed bool
	// BaseVersion, when not 0, is the version the caller decided from.
	BaseVersion int64
}

// StopExperiment ends a running or paused experiment for good: its phase
// ends, its layer buckets become free, and it serves req.Ship (an arm of
// the current phase) to its whole audience, or nothing.
//
// With req.Rollout the experiment serves nothing and records req.Ship as
// shipped through a rollout plan (ShipVia experiment.ShipViaRollout): in
// the same transaction its flag gets a plan that serves the arm to the
// experiment's audience, its first stage live at once at the share of the
// audience the experiment's current phase took (handoffPlan), then 50%
// and 100% by hand (ramp rollout advance). A flag that already has a plan,
// and an arm that is the flag's default variant (which needs no plan), are
// refused.
//
// It refuses (matching ramp.ErrRefused) a draft or stopped experiment,
// and an unconfirmed stop (*ExperimentConfirmError); a Ship that is not an
// arm, or Rollout without Ship, is invalid.
func (s *Service) StopExperiment(ctx context.Context, req StopRequest) (ExperimentResult, error) {
	if req.Rollout && req.Ship == "" {
		return ExperimentResult{}, ramp.Errorf(ramp.KindInvalid, "experiment %s: a handoff to a rollout plan needs the arm to ship", req.Key)
	}
	var plan *rollout.Rollout
	res, err := s.moveWith(ctx, req.Key, "stop", req.BaseVersion, func(e *experiment.Experiment, env *store.ExperimentEnv, res *ExperimentResult) error {
		res.Version = env.Version
		share := phaseTraffic(e)
		if err := e.Stop(req.Ship, env.Now); err != nil {
			return err
		}
		q := fmt.Sprintf("Stop experiment %s for good", e.Key)
		switch {
		case req.Rollout:
			p, err := handoff(e, env, share)
			if err != nil {
				return err
			}
			plan = p
			e.ShipVia = experiment.ShipViaRollout
			q += fmt.Sprintf(" and hand flag %s to a rollout plan serving %s to %s", e.Flag, req.Ship, stageWords(p))
		case req.Ship != "":
			q += fmt.Sprintf(" and serve %s to its whole audience", req.Ship)
		default:
			q += " (its units get what the flag's other rules give them)"
		}
		if !req.Confirmed {
			return &ExperimentConfirmError{Result: *res, Question: q + "?"}
		}
		return nil
	}, func(*experiment.Experiment, *store.ExperimentEnv) (*rollout.Rollout, error) { return plan, nil }, nil)
	if err != nil || plan == nil {
		return res, err
	}
	st, err := s.RolloutStatus(ctx, plan.Flag)
	if err != nil {
		return res, err
	}
	res.Rollout = &st
	return res, nil
}

// TrafficRequest asks to change an experiment's traffic.
type TrafficRequest struct {
	Key     string
	Traffic flags.Percent
	// BaseVersion, when not 0, is the version the caller decided from.
	BaseVersion int64
}

// SetExperimentTraffic changes an experiment's traffic. A draft's declared
// traffic changes; a running or paused experiment's may only grow within
// its phase, which adds units of the layer and keeps every assignment.
// Lowering it (which would take units out of the phase) is refused with a
// *LockedError: lower it as a new phase (SetExperimentWeights with
// NewPhase and the current arms). With a ramp-up, the traffic compared is
// the current phase's: raising it by hand reaches the steps at or below
// it, restarts the schedule's clock, and lifts the declared traffic (the
// ceiling) only when above it. A layer without enough free buckets and
// a stopped experiment are refused too (ramp.ErrRefused).
func (s *Service) SetExperimentTraffic(ctx context.Context, req TrafficRequest) (ExperimentResult, error) {
	return s.move(ctx, req.Key, "set-traffic", req.BaseVersion, func(e *experiment.Experiment, env *store.ExperimentEnv, res *ExperimentResult) error {
		switch statusOf(e) {
		case experiment.Draft:
			if req.Traffic <= 0 || req.Traffic > flags.Hundred {
				return ramp.Errorf(ramp.KindInvalid, "experiment %s: traffic %s%% is outside 0–100 (exclusive of 0)", e.Key, req.Traffic)
			}
			if req.Traffic == e.Traffic {
				return store.ErrNoChange
			}
			e.Traffic = req.Traffic
			// A ramp-up must stay at or below the declared traffic.
			return validateOne(e, env)
		case experiment.Running, experiment.Paused:
			cur := e.Current()
			if cur != nil && req.Traffic < cur.Traffic {
				return &LockedError{Key: e.Key, Status: e.Status, Phase: cur.Number, Fields: []string{"traffic (lowered)"}}
			}
			if cur != nil && req.Traffic == cur.Traffic {
				return store.ErrNoChange
			}
		}
		l, err := envLayer(e, env)
		if err != nil {
			return err
		}
		if err := e.SetTraffic(l, env.Experiments, req.Traffic); err != nil {
			return err
		}
		if len(e.RampUp) > 0 {
			// A raise by hand reaches the steps at or below it; the
			// next step's After counts from it.
			e.RampedAt = env.Now
		}
		return nil
	})
}

// WeightsRequest asks to change an experiment's arms and weights.
type WeightsRequest struct {
	Key string
	// Arms are the new arms with their weights (summing to 100%).
	Arms []experiment.Arm
	// NewPhase makes the change a new phase, as a running or paused
	// experiment's weights need: without it such a change is refused with
	// a *LockedError. A draft's declared arms change without it.
	NewPhase bool
	// Traffic, when not 0, is the new phase's traffic; else the current
	// phase's (below the declared ceiling while a ramp-up grows it).
	Traffic flags.Percent
	// DryRun computes the change, the share that moves and the known
	// units that change arm, and writes nothing.
	DryRun bool
	// Confirmed accepts moving units between arms; without it a change
	// that moves any is refused with an *ExperimentConfirmError whose
	// result carries the counts.
	Confirmed bool
	// BaseVersion, when not 0, is the version the caller decided from.
	BaseVersion int64
}

// SetExperimentWeights changes an experiment's arms and weights. For a
// running or paused experiment it needs req.NewPhase: the current phase
// ends and the next starts with an arm table that moves as few units as
// possible between arms, exactly the total-variation distance between the
// old and new weights (Moved). The known units that change arm are counted
// (KnownUnits) before anything is written: with req.DryRun nothing is, and
// without req.Confirmed a change that moves units is refused with an
// *ExperimentConfirmError carrying the counts.
func (s *Service) SetExperimentWeights(ctx context.Context, req WeightsRequest) (ExperimentResult, error) {
	x, err := s.db().Experiment(ctx, req.Key)
	if err != nil {
		return ExperimentResult{}, err
	}
	// The known units are counted outside the write: they only inform
	// the person, and reading lists must not hold the write lock.
	var known *KnownUnits
	if e := &x.Experiment; e.Current() != nil && (e.Status == experiment.Running || e.Status == experiment.Paused) {
		trial := store.CloneExperiment(e)
		if moved, err := s.weightsChange(&trial, &req); err == nil && moved > 0 {
			if known, err = s.knownMoves(ctx, e, &trial); err != nil {
				return ExperimentResult{}, err
			}
		}
	}
	if req.DryRun {
		return s.dryRunWeights(ctx, &x, &req, known)
	}
	return s.move(ctx, req.Key, "set-weights", req.BaseVersion, func(e *experiment.Experiment, env *store.ExperimentEnv, res *ExperimentResult) error {
		res.Known = known
		return s.applyWeights(e, env, &req, res, env.Version)
	})
}

// weightsChange applies a weight change to e with no layer (traffic must
// not grow), to measure it: the share moved.
func (s *Service) weightsChange(e *experiment.Experiment, req *WeightsRequest) (flags.Percent, error) {
	now := phaseTraffic(e)
	traffic := req.Traffic
	if traffic == 0 || traffic > now {
		traffic = now
	}
	return e.NewPhase(experiment.Layer{}, nil, req.Arms, traffic, time.Time{}, "")
}

// applyWeights changes e's weights as req asks, inside the move.
func (s *Service) applyWeights(e *experiment.Experiment, env *store.ExperimentEnv, req *WeightsRequest, res *ExperimentResult, readVersion int64) error {
	switch statusOf(e) {
	case experiment.Draft:
		if slices.Equal(e.Arms, req.Arms) && (req.Traffic == 0 || req.Traffic == e.Traffic) {
			return store.ErrNoChange
		}
		e.Arms = slices.Clone(req.Arms)
		if req.Traffic != 0 {
			e.Traffic = req.Traffic
		}
		return validateOne(e, env)
	case experiment.Stopped:
		return fmt.Errorf("experiment %s is stopped: its weights no longer matter; declare a new experiment: %w", e.Key, experiment.ErrLocked)
	}
	cur := e.Current()
	if !req.NewPhase {
		return &LockedError{Key: e.Key, Status: e.Status, Phase: cur.Number, Fields: []string{"arms and weights"}}
	}
	traffic := req.Traffic
	if traffic == 0 {
		traffic = cur.Traffic
	}
	l, err := envLayer(e, env)
	if err != nil {
		return err
	}
	moved, err := e.NewPhase(l, env.Experiments, req.Arms, traffic, env.Now, env.Actor)
	if err != nil {
		return err
	}
	m := Percent(moved)
	res.Moved, res.NewPhase = &m, true
	if err := validateOne(e, env); err != nil {
		return err
	}
	if moved > 0 && !req.Confirmed {
		res.Version = readVersion
		return &ExperimentConfirmError{Result: *res, Question: fmt.Sprintf("Phase %d moves %s%% of experiment %s's units to another arm%s. Start it?",
			cur.Number+1, m, e.Key, knownWords(res.Known))}
	}
	return nil
}

// knownWords says how many known units move, for a question.
func knownWords(k *KnownUnits) string {
	if k == nil {
		return ""
	}
	if k.Source == KnownSourceExposures {
		return fmt.Sprintf(" (%d of the %d units exposed to this phase)", k.Move, k.InExperiment)
	}
	return fmt.Sprintf(" (%d of the %d units listed in its audience's cohorts that are in the experiment)", k.Move, k.InExperiment)
}

// phaseTraffic is the traffic e's current phase takes, or its declared
// traffic before it starts.
func phaseTraffic(e *experiment.Experiment) flags.Percent {
	if cur := e.Current(); cur != nil {
		return cur.Traffic
	}
	return e.Traffic
}

// validateOne validates the experiment as changed, with every stored
// layer and experiment, against the flags and cohorts.
func validateOne(e *experiment.Experiment, env *store.ExperimentEnv) error {
	exps := slices.Clone(env.Experiments)
	for i := range exps {
		if exps[i].Key == e.Key {
			exps[i] = *e
		}
	}
	return experiment.ValidationError(experiment.Validate(env.State, env.Layers, exps))
}

// dryRunWeights computes a weight change on a read and writes nothing.
func (s *Service) dryRunWeights(ctx context.Context, x *store.StoredExperiment, req *WeightsRequest, known *KnownUnits) (ExperimentResult, error) {
	cfg, err := s.db().Catalogue(ctx)
	if err != nil {
		return ExperimentResult{}, err
	}
	e := store.CloneExperiment(&x.Experiment)
	res := ExperimentResult{Key: e.Key, Action: "set-weights", DryRun: true, From: statusOf(&e), TrafficFrom: Percent(e.Traffic), Known: known}
	env := &store.ExperimentEnv{Layers: cfg.Layers, Experiments: cfg.Experiments, State: &cfg.State, Now: s.Now(), Actor: Actor(ctx)}
	dry := *req
	dry.Confirmed = true
	if err := s.applyWeights(&e, env, &dry, &res, x.Version); err != nil {
		return res, err
	}
	res.To, res.TrafficTo = statusOf(&e), Percent(e.Traffic)
	if cur := e.Current(); cur != nil {
		res.Phase = cur.Number
	}
	return res, nil
}

// knownMoves counts the known units (those exposed to the current phase,
// else those listed in the audience's cohorts) in the experiment's share
// of its layer before and after, and those whose arm changes.
func (s *Service) knownMoves(ctx context.Context, before, after *experiment.Experiment) (*KnownUnits, error) {
	cfg, err := s.db().Catalogue(ctx)
	if err != nil {
		return nil, err
	}
	if k, err := s.exposedMoves(ctx, before, after, &cfg); err != nil || k.Listed > 0 {
		return k, err
	}
	return countKnown(before, after, &cfg, func(key string, fn func(cohorts.Member) error) error {
		ms, err := s.db().Members(ctx, key)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	})
}

// exposedMoves counts the units exposed to the experiment's current phase
// and those among them whose arm the new table changes. Every exposed unit
// is in the experiment: its layer buckets only grow within a phase.
func (s *Service) exposedMoves(ctx context.Context, before, after *experiment.Experiment, cfg *ramp.Config) (*KnownUnits, error) {
	k := &KnownUnits{Source: KnownSourceExposures}
	f, ok := cfg.State.Flag(before.Flag)
	old, cur := before.Current(), after.Current()
	if !ok || old == nil || cur == nil {
		return k, nil
	}
	salt := before.EffectiveSalt()
	err := s.db().EachExposedUnit(ctx, before.Key, old.Number, func(_, unit string) error {
		k.Listed++
		k.InExperiment++
		b := bucket.Bucket(f.Bucketing, salt, unit)
		if experiment.ArmAt(old.Table, b) != experiment.ArmAt(cur.Table, b) {
			k.Move++
		}
		return nil
	})
	return k, err
}

// countKnown counts, among the ids listed in the audience's cohorts (see
// KnownUnits), those in the experiment before (in the current phase's
// buckets of its layer) and, of them, those whose arm differs after.
func countKnown(before, after *experiment.Experiment, cfg *ramp.Config, each func(cohort string, fn func(cohorts.Member) error) error) (*KnownUnits, error) {
	k := &KnownUnits{Source: KnownSourceCohorts}
	l, ok := experiment.LayerOf(before, cfg.Layers, &cfg.State)
	f, fok := cfg.State.Flag(before.Flag)
	old, cur := before.Current(), after.Current()
	if !ok || !fok || old == nil || cur == nil {
		return k, nil
	}
	regions := map[cohorts.Region]bool{}
	everywhere := len(before.Audience.Regions) == 0
	for _, sel := range before.Audience.Regions {
		cs, all, err := cohorts.ExpandSelector(sel)
		if err != nil {
			continue
		}
		everywhere = everywhere || all
		for _, c := range cs {
			regions[c] = true
		}
	}
	seen := map[string]bool{}
	for _, c := range before.Audience.Cohorts {
		err := each(c, func(m cohorts.Member) error {
			if seen[m.ID] || !everywhere && m.Region != "" && !regions[m.Region] {
				return nil
			}
			seen[m.ID] = true
			k.Listed++
			sample := flags.Sample{Buckets: old.Buckets}
			if !sample.Contains(bucket.Bucket(f.Bucketing, l.EffectiveSalt(), m.ID)) {
				return nil
			}
			k.InExperiment++
			k.Move += experiment.MovedUnits(f.Bucketing, before.EffectiveSalt(), []string{m.ID}, old.Table, cur.Table)
			return nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return k, nil
}

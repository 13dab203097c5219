package api

import (
	"slices"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/experiment"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/rollout"
)

// Request and response bodies the control plane's own types do not
// serialize as the API wants (requests without JSON names, results whose
// versions are not in their JSON). Every other body is the admin type
// itself.

// Flag is a flag as the API returns it: admin.FlagInfo with the flag's
// version, which flags.Flag leaves out of its JSON.
type Flag struct {
	Flag        flags.Flag             `json:"flag"`
	Version     int64                  `json:"version"`
	Rollout     *rollout.Rollout       `json:"rollout,omitempty"`
	Experiments []admin.ExperimentInfo `json:"experiments,omitempty"`
}

// FlagOf is the API's form of a flag.
func FlagOf(fi admin.FlagInfo) Flag {
	return Flag{Flag: fi.Flag, Version: fi.Flag.Version, Rollout: fi.Rollout, Experiments: fi.Experiments}
}

// Info is the control plane's form of a flag: variant values typed as
// the flag's type says (JSON reads every number as a float64).
func (f Flag) Info() admin.FlagInfo {
	fi := admin.FlagInfo{Flag: f.Flag, Rollout: f.Rollout, Experiments: f.Experiments}
	fi.Flag.Version = f.Version
	if len(f.Flag.Variants) > 0 {
		fi.Flag.Variants = slices.Clone(f.Flag.Variants)
		for i := range fi.Flag.Variants {
			if v, err := flags.NormalizeValue(f.Flag.Type, fi.Flag.Variants[i].Value); err == nil {
				fi.Flag.Variants[i].Value = v
			}
		}
	}
	return fi
}

// AdvanceBody asks POST /rollouts/{flag}/advance to start a later stage.
type AdvanceBody struct {
	To        string `json:"to,omitempty"`
	DryRun    bool   `json:"dryRun,omitempty"`
	Force     bool   `json:"force,omitempty"`
	Confirmed bool   `json:"confirmed,omitempty"`
}

// ApproveBody approves the stage awaiting approval.
type ApproveBody struct {
	Stage string `json:"stage"`
	Force bool   `json:"force,omitempty"`
}

// PauseBody holds a plan.
type PauseBody struct {
	Reason string `json:"reason,omitempty"`
}

// RollbackBody asks to go back to an earlier stage ("none": before the
// first).
type RollbackBody struct {
	To        string `json:"to,omitempty"`
	Reason    string `json:"reason,omitempty"`
	DryRun    bool   `json:"dryRun,omitempty"`
	Confirmed bool   `json:"confirmed,omitempty"`
}

// EstimateBody asks how many listed users a move from one stage to
// another changes ("" for the live stage and the next).
type EstimateBody struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// AddStageBody adds a stage to a plan (creating it with Variant).
type AddStageBody struct {
	Variant string        `json:"variant,omitempty"`
	Stage   rollout.Stage `json:"stage"`
	Before  string        `json:"before,omitempty"`
}

// EditStageBody sets the fields Fields names of a stage to Set's values.
type EditStageBody struct {
	Set    rollout.Stage `json:"set"`
	Fields []string      `json:"fields"`
}

// ContextBody is an evaluation context.
type ContextBody struct {
	Context map[string]any `json:"context"`
}

// Explanation is a decision explained, with the rollout stage that
// admitted it when one did.
type Explanation struct {
	Explanation flags.Explanation         `json:"explanation"`
	Rollout     *admin.RolloutExplanation `json:"rollout,omitempty"`
}

// MembersBody adds members to a cohort's list.
type MembersBody struct {
	Members []cohorts.Member `json:"members"`
	Create  bool             `json:"create,omitempty"`
}

// RemoveMembersBody removes ids from a cohort's list.
type RemoveMembersBody struct {
	IDs []string `json:"ids"`
}

// ImportAnswer is what a streamed import answers: the result, the file's
// header and the rows it skipped (with skipInvalid), so that the client
// writes its rejects file as it would locally.
type ImportAnswer struct {
	Result   admin.ImportResult `json:"result"`
	Header   []string           `json:"header,omitempty"`
	Rejected []Rejected         `json:"rejected,omitempty"`
}

// Rejected is an invalid row an import skipped.
type Rejected struct {
	Line   int      `json:"line"`
	Reason string   `json:"reason"`
	Record []string `json:"record,omitempty"`
}

// StopBody stops an experiment, shipping an arm or handing the flag to a
// rollout plan.
type StopBody struct {
	Ship      string `json:"ship,omitempty"`
	Rollout   bool   `json:"rollout,omitempty"`
	Confirmed bool   `json:"confirmed,omitempty"`
}

// TrafficBody sets a running experiment's share of its layer.
type TrafficBody struct {
	Traffic flags.Percent `json:"traffic"`
}

// WeightsBody sets an experiment's arm weights.
type WeightsBody struct {
	Arms      []experiment.Arm `json:"arms"`
	NewPhase  bool             `json:"newPhase,omitempty"`
	Traffic   flags.Percent    `json:"traffic,omitempty"`
	DryRun    bool             `json:"dryRun,omitempty"`
	Confirmed bool             `json:"confirmed,omitempty"`
}

// CompactBody folds tracking events into per-unit totals; Retention (a Go
// duration, "720h") drops raw rows older than it.
type CompactBody struct {
	Retention string `json:"retention,omitempty"`
	// RebuildStats builds every maintained per-arm statistic again from
	// the per-unit totals (admin.CompactOptions.RebuildStats).
	RebuildStats bool `json:"rebuildStats,omitempty"`
}

// Deleted answers a deletion.
type Deleted struct {
	Deleted string `json:"deleted"`
}

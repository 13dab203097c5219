package rollout

import (
	"reflect"
	"slices"
	"strings"

	"github.com/ramp-flags/ramp/flags"
)

// Change is a plan that applying a configuration creates, updates or
// deletes. Progress is never part of a change: an updated plan keeps its
// live stage.
type Change struct {
	Flag   string       `json:"flag"`
	Action flags.Action `json:"action"`
	// Fields lists, for updates, what differs: "variant" or the stages
	// added, removed or changed ("stages.us-10").
	Fields []string `json:"fields,omitempty"`
	// Plan is the desired plan (for creations and updates).
	Plan Plan `json:"-"`
	// BaseVersion is the stored rollout version the change was computed
	// against.
	BaseVersion int64 `json:"-"`
}

// Diff computes what turns the stored plans into the desired ones, by flag
// key. Stored plans that desired does not declare are deleted only with
// prune.
func Diff(current []Rollout, desired []Plan, prune bool) (changes []Change, unchanged int) {
	cur := make(map[string]*Rollout, len(current))
	for i := range current {
		cur[current[i].Flag] = &current[i]
	}
	declared := map[string]bool{}
	want := slices.Clone(desired)
	slices.SortStableFunc(want, func(a, b Plan) int { return strings.Compare(a.Flag, b.Flag) })
	for _, p := range want {
		declared[p.Flag] = true
		old, ok := cur[p.Flag]
		if !ok {
			changes = append(changes, Change{Flag: p.Flag, Action: flags.Create, Plan: p})
			continue
		}
		fields := planFields(&old.Plan, &p)
		if len(fields) == 0 {
			unchanged++
			continue
		}
		changes = append(changes, Change{Flag: p.Flag, Action: flags.Update, Fields: fields, Plan: p, BaseVersion: old.Version})
	}
	if prune {
		for i := range current {
			if !declared[current[i].Flag] {
				changes = append(changes, Change{Flag: current[i].Flag, Action: flags.Delete, BaseVersion: current[i].Version})
			}
		}
	}
	return changes, unchanged
}

// planFields lists what differs between two plans of one flag.
func planFields(a, b *Plan) []string {
	var out []string
	if a.Variant != b.Variant {
		out = append(out, "variant")
	}
	names := func(p *Plan) []string {
		var n []string
		for _, s := range p.Stages {
			n = append(n, s.Name)
		}
		return n
	}
	if !slices.Equal(names(a), names(b)) {
		out = append(out, "stages")
	}
	for _, s := range b.Stages {
		if i := a.StageIndex(s.Name); i >= 0 && !sameStage(&a.Stages[i], &s) {
			out = append(out, "stages."+s.Name)
		}
	}
	return out
}

func sameStage(a, b *Stage) bool {
	if (a.At == nil) != (b.At == nil) || a.At != nil && !a.At.Equal(*b.At) {
		return false
	}
	x, y := *a, *b
	x.At, y.At = nil, nil
	norm := func(s *Stage) {
		if len(s.Cohorts) == 0 {
			s.Cohorts = nil
		}
		if len(s.Regions) == 0 {
			s.Regions = nil
		}
		if len(s.When) == 0 {
			s.When = nil
		}
		if len(s.Guardrails) == 0 {
			s.Guardrails = nil
		}
	}
	norm(&x)
	norm(&y)
	return reflect.DeepEqual(x, y)
}

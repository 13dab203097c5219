package flags

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/ramp-flags/ramp/cohorts"
)

// Action is what applying a configuration does to one object.
type Action string

// The actions of a ChangeSet.
const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
)

// Kind names the sort of object a Change is about.
type Kind string

// The kinds of object a configuration declares.
const (
	KindCohort Kind = "cohort"
	KindFlag   Kind = "flag"
)

// Change is one object that applying a configuration creates, updates or
// deletes.
type Change struct {
	Kind   Kind     `json:"kind"`
	Key    string   `json:"key"`
	Action Action   `json:"action"`
	Fields []string `json:"fields,omitempty"` // for updates: the fields that differ
	// BaseVersion is the stored version the change was computed against; a
	// store refuses the change if the object has changed since.
	BaseVersion int64 `json:"-"`
}

// ChangeSet is the difference between the stored state and a desired one:
// what applying a configuration creates, updates and deletes. (A rollout
// plan is rollout.Plan.)
type ChangeSet struct {
	Changes []Change `json:"changes"`
	// Unchanged counts the declared objects that are already as declared.
	Unchanged int `json:"unchanged"`
}

// Empty reports whether applying the change set changes nothing.
func (s *ChangeSet) Empty() bool { return len(s.Changes) == 0 }

// Count returns how many changes have the given action.
func (s *ChangeSet) Count(a Action) int {
	n := 0
	for _, c := range s.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Diff computes what turns current into desired: cohorts first, then flags,
// each in key order. Objects that desired does not declare are deleted only
// with prune. A desired cohort whose Members is nil leaves the stored member
// list alone (lists imported from CSV are not part of the file); a non-nil
// Members, even empty, replaces it.
func Diff(current, desired *State, prune bool) ChangeSet {
	var p ChangeSet
	cur := make(map[string]*cohorts.Cohort, len(current.Cohorts))
	for i := range current.Cohorts {
		cur[current.Cohorts[i].Key] = &current.Cohorts[i]
	}
	declared := make(map[string]bool)
	for _, c := range sortedCohorts(desired.Cohorts) {
		declared[c.Key] = true
		old, ok := cur[c.Key]
		if !ok {
			p.Changes = append(p.Changes, Change{Kind: KindCohort, Key: c.Key, Action: Create})
			continue
		}
		var fields []string
		if old.Description != c.Description {
			fields = append(fields, "description")
		}
		if !sameJSON(old.When, c.When) {
			fields = append(fields, "when")
		}
		if c.Members != nil && !sameMembers(old.Members, c.Members) {
			fields = append(fields, "members")
		}
		if len(fields) == 0 {
			p.Unchanged++
			continue
		}
		p.Changes = append(p.Changes, Change{Kind: KindCohort, Key: c.Key, Action: Update, Fields: fields, BaseVersion: old.Version})
	}
	if prune {
		for _, c := range sortedCohorts(current.Cohorts) {
			if !declared[c.Key] {
				p.Changes = append(p.Changes, Change{Kind: KindCohort, Key: c.Key, Action: Delete, BaseVersion: c.Version})
			}
		}
	}

	curFlags := make(map[string]*Flag, len(current.Flags))
	for i := range current.Flags {
		curFlags[current.Flags[i].Key] = &current.Flags[i]
	}
	declared = make(map[string]bool)
	for _, f := range sortedFlags(desired.Flags) {
		declared[f.Key] = true
		old, ok := curFlags[f.Key]
		if !ok {
			p.Changes = append(p.Changes, Change{Kind: KindFlag, Key: f.Key, Action: Create})
			continue
		}
		fields := flagFieldsChanged(old, &f)
		if len(fields) == 0 {
			p.Unchanged++
			continue
		}
		p.Changes = append(p.Changes, Change{Kind: KindFlag, Key: f.Key, Action: Update, Fields: fields, BaseVersion: old.Version})
	}
	if prune {
		for _, f := range sortedFlags(current.Flags) {
			if !declared[f.Key] {
				p.Changes = append(p.Changes, Change{Kind: KindFlag, Key: f.Key, Action: Delete, BaseVersion: f.Version})
			}
		}
	}
	return p
}

func flagFieldsChanged(a, b *Flag) []string {
	var fields []string
	check := func(name string, x, y any) {
		if !sameJSON(x, y) {
			fields = append(fields, name)
		}
	}
	check("description", a.Description, b.Description)
	check("owner", a.Owner, b.Owner)
	check("tags", nonNil(a.Tags), nonNil(b.Tags))
	check("type", a.Type, b.Type)
	check("variants", normalizedVariants(a), normalizedVariants(b))
	check("defaultVariant", a.DefaultVariant, b.DefaultVariant)
	check("enabled", a.Enabled, b.Enabled)
	check("bucketBy", a.BucketBy, b.BucketBy)
	check("salt", a.Salt, b.Salt)
	check("bucketing", a.Bucketing, b.Bucketing)
	check("rules", nonNil(a.Rules), nonNil(b.Rules))
	return fields
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func normalizedVariants(f *Flag) []Variant {
	out := make([]Variant, len(f.Variants))
	for i, v := range f.Variants {
		nv, err := NormalizeValue(f.Type, v.Value)
		if err != nil {
			nv = v.Value
		}
		out[i] = Variant{Key: v.Key, Value: nv}
	}
	return out
}

// sameJSON compares two values by their JSON encoding, which is how the
// store keeps them; it treats nil and empty lists inside rules alike because
// both encode with omitempty.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return reflect.DeepEqual(a, b)
	}
	return string(ja) == string(jb)
}

func sameMembers(a, b []cohorts.Member) bool {
	if len(a) != len(b) {
		return false
	}
	sa, sb := upperRegions(a), upperRegions(b)
	byID := func(x, y cohorts.Member) int {
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	}
	slices.SortFunc(sa, byID)
	slices.SortFunc(sb, byID)
	return slices.Equal(sa, sb)
}

// upperRegions copies a member list with regions in upper case, as stores
// keep them.
func upperRegions(ms []cohorts.Member) []cohorts.Member {
	out := slices.Clone(ms)
	for i := range out {
		out[i].Region = cohorts.Region(strings.ToUpper(string(out[i].Region)))
	}
	return out
}

func sortedCohorts(cs []cohorts.Cohort) []cohorts.Cohort {
	out := slices.Clone(cs)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func sortedFlags(fs []Flag) []Flag {
	out := slices.Clone(fs)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

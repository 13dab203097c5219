package flags

import (
	"encoding/json"
	"fmt"
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
	// Members says, for a cohort whose member list the change creates or
	// changes, how many members come and go.
	Members *MemberDelta `json:"members,omitempty"`
	// BaseVersion is the stored version the change was computed against; a
	// store refuses the change if the object has changed since.
	BaseVersion int64 `json:"-"`
}

// MemberDelta is what a change does to a cohort's member list.
type MemberDelta struct {
	Before  int `json:"before"`  // members listed before
	After   int `json:"after"`   // members listed after
	Added   int `json:"added"`   // users listed after and not before
	Removed int `json:"removed"` // users listed before and not after
	Updated int `json:"updated"` // users listed before and after whose region changed
	// Kept counts the members listed before that the file does not list
	// and that stay listed, because imports own the list.
	Kept int `json:"kept,omitempty"`
}

// Changed reports whether the list changes.
func (d *MemberDelta) Changed() bool { return d.Added+d.Removed+d.Updated > 0 }

// String describes the delta for people: "members: 7 → 5, 2 removed".
func (d *MemberDelta) String() string {
	s := fmt.Sprintf("members: %d → %d", d.Before, d.After)
	for _, part := range []struct {
		n    int
		what string
	}{{d.Added, "added"}, {d.Removed, "removed"}, {d.Updated, "with a new region"}, {d.Kept, "imported kept"}} {
		if part.n > 0 {
			s += fmt.Sprintf(", %d %s", part.n, part.what)
		}
	}
	return s
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
	return diff(current, desired, prune, func(old, c *cohorts.Cohort) *MemberDelta {
		d := compareMembers(old.Members, c.Members)
		return &d
	})
}

// DiffMembers is Diff for a current state read without member ids (a
// catalogue, with MemberCount): the caller, who compared the declared
// member lists with the stored ones, gives their deltas by cohort key. A
// declared list without an entry in members is taken as unchanged.
func DiffMembers(current, desired *State, prune bool, members map[string]MemberDelta) ChangeSet {
	return diff(current, desired, prune, func(old, c *cohorts.Cohort) *MemberDelta {
		if d, ok := members[c.Key]; ok {
			return &d
		}
		return &MemberDelta{Before: old.MemberCount, After: old.MemberCount}
	})
}

// diff is Diff with the comparison of a stored cohort's member list with a
// declared one (non-nil) given.
func diff(current, desired *State, prune bool, members func(old, c *cohorts.Cohort) *MemberDelta) ChangeSet {
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
			ch := Change{Kind: KindCohort, Key: c.Key, Action: Create}
			if c.Members != nil {
				ch.Members = &MemberDelta{After: len(c.Members), Added: len(c.Members)}
			}
			p.Changes = append(p.Changes, ch)
			continue
		}
		var fields []string
		if old.Description != c.Description {
			fields = append(fields, "description")
		}
		if !sameJSON(old.When, c.When) {
			fields = append(fields, "when")
		}
		var delta *MemberDelta
		if c.Members != nil {
			if delta = members(old, &c); delta.Changed() {
				fields = append(fields, "members")
			}
		}
		if len(fields) == 0 {
			p.Unchanged++
			continue
		}
		ch := Change{Kind: KindCohort, Key: c.Key, Action: Update, Fields: fields, BaseVersion: old.Version}
		if delta != nil && delta.Changed() {
			ch.Members = delta
		}
		p.Changes = append(p.Changes, ch)
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

// compareMembers counts what replacing the member list a with b changes;
// regions compare in upper case, as stores keep them.
func compareMembers(a, b []cohorts.Member) MemberDelta {
	old := make(map[string]cohorts.Region, len(a))
	for _, m := range upperRegions(a) {
		old[m.ID] = m.Region
	}
	d := MemberDelta{Before: len(old)}
	seen := make(map[string]bool, len(b))
	for _, m := range upperRegions(b) {
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		switch r, ok := old[m.ID]; {
		case !ok:
			d.Added++
		case r != m.Region:
			d.Updated++
		}
	}
	d.After = len(seen)
	d.Removed = d.Before - (d.After - d.Added)
	return d
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

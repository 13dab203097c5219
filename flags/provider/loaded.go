package provider

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/flags/wire"
	"github.com/ramp-flags/ramp/tracking"
)

// loaded is a snapshot with what the provider derives from it once, off the
// hot path: the flag metadata of every decision it can make, and a
// fingerprint of every flag to tell which flags the next snapshot changes.
// The provider swaps whole loaded values, so that an evaluation sees a
// snapshot and its metadata from the same version.
type loaded struct {
	snap    *flags.Snapshot
	version int64
	// epoch names the database the snapshot came from (wire.Document);
	// empty for a document from a ramp before epochs.
	epoch string
	meta  map[string]flagMeta
	// bare is the metadata of a decision about no flag in particular (an
	// unknown flag): the configuration version alone.
	bare   openfeature.FlagMetadata
	prints map[string][sha256.Size]byte
	// units are the attributes the snapshot places units by
	// (tracking.UnitAttributes): what a tracked event keeps of its
	// context besides targetingKey.
	units []string
	// setIDs names each cohort's member set (wire.SetID), and sets holds
	// the sets by ID: what the next snapshot may take as they are.
	setIDs map[string]string
	sets   map[string]*cohorts.Set
}

type flagMeta struct {
	version int64
	byRule  []ruleMeta // index: Decision.Rule+1
}

// ruleMeta is the metadata of a rule's decisions: one map, or one per
// variant for a rule of an experiment (whose metadata names the arm).
type ruleMeta struct {
	md   openfeature.FlagMetadata
	arms []armMeta
}

type armMeta struct {
	variant string
	md      openfeature.FlagMetadata
}

func newLoaded(snap *flags.Snapshot, epoch string) *loaded {
	return newLoadedSets(snap, epoch, nil)
}

// newLoadedSets is newLoaded for a snapshot whose member sets' IDs are
// known (from a wire.FormatV2 manifest); nil ids are computed.
func newLoadedSets(snap *flags.Snapshot, epoch string, ids map[string]string) *loaded {
	st := snap.State()
	if ids == nil {
		ids = make(map[string]string, len(st.MemberSets))
		for key, set := range st.MemberSets {
			if set.Len() > 0 {
				ids[key] = wire.SetID(set)
			}
		}
	}
	sets := make(map[string]*cohorts.Set, len(ids))
	for key, id := range ids {
		sets[id] = st.MemberSets[key]
	}
	l := &loaded{
		snap:    snap,
		version: snap.Version(),
		epoch:   epoch,
		meta:    make(map[string]flagMeta, len(st.Flags)),
		prints:  fingerprints(st, ids),
		units:   tracking.UnitAttributes(st),
		setIDs:  ids,
		sets:    sets,
	}
	l.bare = (&flags.Decision{Rule: -1, SnapshotVersion: l.version}).Metadata()
	for i := range st.Flags {
		f := &st.Flags[i]
		m := flagMeta{version: f.Version, byRule: make([]ruleMeta, len(f.Rules)+1)}
		for r := -1; r < len(f.Rules); r++ {
			d := flags.Decision{Rule: r, FlagVersion: f.Version, SnapshotVersion: l.version}
			if r >= 0 {
				d.RuleName, d.Origin = f.Rules[r].Name, f.Rules[r].Origin
			}
			m.byRule[r+1].md = d.Metadata()
			if d.Origin.Exposes() {
				for _, v := range f.Variants {
					d.Variant = v.Key
					m.byRule[r+1].arms = append(m.byRule[r+1].arms, armMeta{v.Key, d.Metadata()})
				}
			}
		}
		l.meta[f.Key] = m
	}
	return l
}

// supersedes reports whether a snapshot at version of epoch should replace
// held: when nothing is held; when it comes from another database (both
// epochs known and different), whatever the versions, since versions only
// grow within one database and a moved or restored one starts again lower;
// when it is newer; and, at the same version, when it brings the epoch of
// a snapshot held without one (from a ramp before epochs), so that the
// provider learns it.
func supersedes(held *loaded, version int64, epoch string) bool {
	switch {
	case held == nil:
		return true
	case epoch != "" && held.epoch != "":
		return epoch != held.epoch || version > held.version
	case version > held.version:
		return true
	}
	return held.epoch == "" && epoch != "" && version == held.version
}

// tag is the snapshot feed's ETag for the snapshot, as `ramp serve` makes
// it: "<version>-<epoch>", or "<version>" for a snapshot without an epoch.
func (l *loaded) tag() string {
	v := strconv.FormatInt(l.version, 10)
	if l.epoch == "" {
		return `"` + v + `"`
	}
	return `"` + v + "-" + l.epoch + `"`
}

// metadata returns d.Metadata(), from the precomputed maps when d was
// decided by this snapshot (always, on the hot path).
func (l *loaded) metadata(d *flags.Decision) openfeature.FlagMetadata {
	if d.SnapshotVersion == l.version {
		if m, ok := l.meta[d.Key]; ok && d.FlagVersion == m.version && d.Rule >= -1 && d.Rule+1 < len(m.byRule) {
			rm := &m.byRule[d.Rule+1]
			if rm.arms == nil {
				return rm.md
			}
			for i := range rm.arms {
				if rm.arms[i].variant == d.Variant {
					return rm.arms[i].md
				}
			}
		}
		if d.Rule < 0 && d.FlagVersion == 0 {
			return l.bare
		}
	}
	return d.Metadata()
}

// fingerprints hashes each flag's definition together with the definitions
// and member lists of the cohorts it targets, so that a change to a cohort
// counts as a change to every flag that uses it. A member set counts by its
// ID (wire.SetID: its count and digest), which names its content.
func fingerprints(st *flags.State, setIDs map[string]string) map[string][sha256.Size]byte {
	cohortSums := make(map[string][]byte, len(st.Cohorts))
	for _, c := range st.Cohorts {
		h := sha256.New()
		// What decides membership: the conditions, and the member list
		// (a set from the wire, or ids in a state compiled locally).
		_ = json.NewEncoder(h).Encode([]any{c.When, c.Members, setIDs[c.Key]})
		cohortSums[c.Key] = h.Sum(nil)
	}
	out := make(map[string][sha256.Size]byte, len(st.Flags))
	for i := range st.Flags {
		f := &st.Flags[i]
		h := sha256.New()
		_ = json.NewEncoder(h).Encode(f)
		for _, r := range f.Rules {
			for _, key := range r.Cohorts {
				h.Write([]byte(key))
				h.Write(cohortSums[key])
			}
		}
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		out[f.Key] = sum
	}
	return out
}

// changedFlags lists, sorted, the keys of the flags that next adds, removes
// or changes relative to prev.
func changedFlags(prev, next *loaded) []string {
	var keys []string
	for k, sum := range next.prints {
		if old, ok := prev.prints[k]; !ok || old != sum {
			keys = append(keys, k)
		}
	}
	for k := range prev.prints {
		if _, ok := next.prints[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

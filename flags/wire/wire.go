// Package wire is the portable form of a compiled configuration: what
// `ramp serve` sends to in-process providers and what a provider persists
// to start offline. It is JSON: every flag as configured, and every cohort
// with its conditions and its member list as 64-bit hashes (XXH64 of each id,
// see cohorts.HashID), never as raw user ids.
//
// The format is versioned by its "format" field; readers refuse formats they
// do not know rather than misread them. Fields added to a format without
// changing its meaning keep its name: "epoch" was added to
// ramp.snapshot/v1 (readers ignore fields they do not know, so older
// readers read newer documents, treating them as they always did).
//
// Rules travel as flags.Rule encodes them, with their sample (a bucket set
// under a salt of its own), their allocation (a bucket table) and their
// origin (what added the rule: a rollout stage, an experiment and its
// phase). Readers need no notion of an experiment to decide one: a sample
// and an allocation are evaluated like any rule (docs/bucketing.md).
// These fields were added to ramp.snapshot/v1 too, with one caveat for
// readers built before them: such a reader refuses a document with an
// allocation (the rule has neither serve nor rollout, and fails
// validation), keeping the snapshot it holds, but it would ignore a sample
// on a rule that serves one variant or a rollout, and so serve that rule
// to its whole audience.
//
// # Whole documents and manifests
//
// Format (ramp.snapshot/v1) carries every cohort's member list inline. A
// FormatV2 document, a manifest, names each list by the ID of its member
// set (SetID: the set's count and digest) instead, and the sets travel on
// their own in SetFormat, so a reader keeps the sets it holds across
// documents and fetches a set only when a list changes (manifest.go,
// set.go). Servers send FormatV2 only to readers that ask for it
// (FormatQuery), so readers built before it keep working.
//
// # Versions and epochs
//
// A document's version only grows within one database. Its epoch names that
// database: a random identifier that each database draws once, different in
// a database moved with `ramp export` and `ramp apply` or renewed after a
// restore from a backup, where versions start again lower. A reader holding
// a document should take another one when its version is greater, or when
// both epochs are known (not empty: documents from a ramp before epochs
// have none) and differ, whatever the versions.
package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
)

// Format names this version of the wire form.
const Format = "ramp.snapshot/v1"

// Document is the wire form of a configuration.
type Document struct {
	Format string `json:"format"`
	// Version is the configuration version the document was made from; it
	// only grows within one epoch, so a reader can ignore older documents
	// of the epoch it holds.
	Version int64 `json:"version"`
	// Epoch identifies the database the document was made from (see the
	// package documentation); empty in documents from a ramp before epochs.
	Epoch   string       `json:"epoch,omitempty"`
	Cohorts []Cohort     `json:"cohorts"`
	Flags   []flags.Flag `json:"flags"`
	// FlagVersions holds each flag's store version (decisions report it in
	// their metadata); flags.Flag keeps it out of its own JSON.
	FlagVersions map[string]int64 `json:"flagVersions,omitempty"`
}

// Cohort is a cohort with its member list hashed.
type Cohort struct {
	Key         string              `json:"key"`
	Description string              `json:"description,omitempty"`
	When        []cohorts.Condition `json:"when,omitempty"`
	// Members is the count of listed members; MemberHashes their XXH64
	// hashes, ascending, as little-endian 8-byte words, base64 (standard
	// encoding, padded).
	Members      int    `json:"members"`
	MemberHashes []byte `json:"memberHashes,omitempty"`
	// Set is the ID of the member set (SetID) in FormatV2 documents,
	// which carry no MemberHashes; empty for a cohort without members.
	Set string `json:"set,omitempty"`
}

// Marshal encodes a state as of a configuration version, without an epoch.
// Member lists come from st.MemberSets when present, else from each cohort's
// Members.
func Marshal(st *flags.State, version int64) ([]byte, error) {
	return MarshalEpoch(st, version, "")
}

// MarshalEpoch encodes a state as of a configuration version of the
// database whose epoch is given.
func MarshalEpoch(st *flags.State, version int64, epoch string) ([]byte, error) {
	doc := Document{Format: Format, Version: version, Epoch: epoch, Cohorts: make([]Cohort, 0, len(st.Cohorts)), Flags: st.Flags}
	if doc.Flags == nil {
		doc.Flags = []flags.Flag{}
	}
	doc.FlagVersions = flagVersions(doc.Flags)
	for _, c := range st.Cohorts {
		set := st.MemberSets[c.Key]
		if set == nil && len(c.Members) > 0 {
			ids := make([]string, len(c.Members))
			for i, m := range c.Members {
				ids[i] = m.ID
			}
			set = cohorts.NewSet(ids)
		}
		wc := Cohort{Key: c.Key, Description: c.Description, When: c.When, Members: set.Len()}
		if hashes := set.Hashes(); len(hashes) > 0 {
			wc.MemberHashes = make([]byte, 8*len(hashes))
			for i, h := range hashes {
				binary.LittleEndian.PutUint64(wc.MemberHashes[8*i:], h)
			}
		}
		doc.Cohorts = append(doc.Cohorts, wc)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return b, nil
}

// Unmarshal decodes a document into a state (cohorts carry no Members; their
// lists are in MemberSets) and its configuration version. It checks the
// format and the member lists, but not the configuration itself: pass the
// state to flags.Compile, which validates it.
func Unmarshal(data []byte) (flags.State, int64, error) {
	st, doc, err := unmarshal(data)
	return st, doc.Version, err
}

// unmarshal is Unmarshal, returning the document's header fields (Cohorts
// and Flags are left out).
func unmarshal(data []byte) (flags.State, Document, error) {
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // integers beyond 2^53 stay exact
	if err := dec.Decode(&doc); err != nil {
		return flags.State{}, Document{}, fmt.Errorf("decode snapshot: %w", err)
	}
	if doc.Format != Format {
		return flags.State{}, Document{}, fmt.Errorf("decode snapshot: format %q, want %q (a newer ramp?)", doc.Format, Format)
	}
	for _, c := range doc.Cohorts {
		if c.Set != "" {
			return flags.State{}, Document{}, fmt.Errorf("decode snapshot: cohort %s: a set reference in a %s document", c.Key, Format)
		}
	}
	head := Document{Format: doc.Format, Version: doc.Version, Epoch: doc.Epoch}
	st := flags.State{Flags: doc.Flags, MemberSets: make(map[string]*cohorts.Set, len(doc.Cohorts))}
	if err := normalizeFlags(st.Flags, doc.FlagVersions); err != nil {
		return flags.State{}, Document{}, err
	}
	for _, c := range doc.Cohorts {
		if len(c.MemberHashes)%8 != 0 {
			return flags.State{}, Document{}, fmt.Errorf("decode snapshot: cohort %s: member hashes are %d bytes, not a multiple of 8", c.Key, len(c.MemberHashes))
		}
		hashes := make([]uint64, len(c.MemberHashes)/8)
		for i := range hashes {
			hashes[i] = binary.LittleEndian.Uint64(c.MemberHashes[8*i:])
		}
		if len(hashes) != c.Members {
			return flags.State{}, Document{}, fmt.Errorf("decode snapshot: cohort %s: %d member hashes for %d members", c.Key, len(hashes), c.Members)
		}
		st.Cohorts = append(st.Cohorts, cohorts.Cohort{Key: c.Key, Description: c.Description, When: c.When, MemberCount: c.Members})
		if len(hashes) > 0 {
			st.MemberSets[c.Key] = cohorts.NewSetFromHashes(hashes)
		}
	}
	return st, head, nil
}

// Decode decodes and compiles a document into a ready Snapshot.
func Decode(data []byte) (*flags.Snapshot, error) {
	snap, _, err := DecodeEpoch(data)
	return snap, err
}

// DecodeEpoch is Decode, also returning the document's epoch (empty if it
// has none).
func DecodeEpoch(data []byte) (*flags.Snapshot, string, error) {
	st, head, err := unmarshal(data)
	if err != nil {
		return nil, "", err
	}
	snap, err := flags.Compile(st, head.Version)
	if err != nil {
		return nil, "", fmt.Errorf("decode snapshot: %w", err)
	}
	return snap, head.Epoch, nil
}

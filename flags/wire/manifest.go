package wire

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
)

// FormatV2 names the snapshot that references member sets rather than
// carrying them: a Document whose cohorts have a Set (the set's ID, see
// SetID) instead of MemberHashes. A reader fetches the sets it does not
// hold already (GET /v1/snapshot/sets/{id}, in SetFormat) and keeps the
// ones it has, so a change that leaves a cohort's members alone costs
// the document only: a few kilobytes, whatever the lists' sizes.
//
// `ramp serve` answers GET /v1/snapshot with FormatV2 when the request
// says it understands it (the query parameter format=2, FormatQuery), and
// with Format otherwise, so providers built before FormatV2 keep getting
// whole snapshots. A reader that asks for FormatV2 must accept Format too:
// a server built before it ignores the parameter.
const FormatV2 = "ramp.snapshot/v2"

// FormatQuery is the query string a reader adds to GET /v1/snapshot to
// say it understands FormatV2.
const FormatQuery = "format=2"

// Manifest is a decoded FormatV2 document: the state without member sets,
// and the ID of each cohort's set.
type Manifest struct {
	// State has the flags and cohorts (MemberCount set, no Members);
	// MemberSets is empty: the caller fills it from Sets.
	State   flags.State
	Version int64
	Epoch   string
	// Sets maps each cohort with members to its set's ID.
	Sets map[string]string
}

// MarshalManifest encodes a state as a FormatV2 document, each cohort with
// members referring to its set by the ID ids gives (SetID of
// st.MemberSets[key], which the caller computes once per set, not once
// per configuration). Cohorts whose members are given as ids rather than
// a set are refused: a manifest is made from sets.
func MarshalManifest(st *flags.State, version int64, epoch string, ids map[string]string) ([]byte, error) {
	doc := Document{Format: FormatV2, Version: version, Epoch: epoch, Cohorts: make([]Cohort, 0, len(st.Cohorts)), Flags: st.Flags}
	if doc.Flags == nil {
		doc.Flags = []flags.Flag{}
	}
	doc.FlagVersions = flagVersions(doc.Flags)
	for _, c := range st.Cohorts {
		set := st.MemberSets[c.Key]
		if set == nil && len(c.Members) > 0 {
			return nil, fmt.Errorf("encode snapshot: cohort %s: members as ids, not as a set", c.Key)
		}
		wc := Cohort{Key: c.Key, Description: c.Description, When: c.When, Members: set.Len()}
		if set.Len() > 0 {
			id, ok := ids[c.Key]
			if !ok {
				return nil, fmt.Errorf("encode snapshot: cohort %s: no set id", c.Key)
			}
			wc.Set = id
		}
		doc.Cohorts = append(doc.Cohorts, wc)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return b, nil
}

// flagVersions returns each flag's store version, or nil when none has one.
func flagVersions(fs []flags.Flag) map[string]int64 {
	var out map[string]int64
	for _, f := range fs {
		if f.Version != 0 {
			if out == nil {
				out = make(map[string]int64, len(fs))
			}
			out[f.Key] = f.Version
		}
	}
	return out
}

// FormatOf returns a document's format (its "format" field), reading no
// more of it than needed to find it when it comes first, as ramp writes
// it.
func FormatOf(data []byte) (string, error) {
	var head struct {
		Format string `json:"format"`
	}
	// ramp writes "format" first; fall back to decoding the whole object.
	if i := bytes.Index(data[:min(len(data), 64)], []byte(`"format":`)); i >= 0 {
		dec := json.NewDecoder(bytes.NewReader(data[i+len(`"format":`):]))
		var f string
		if err := dec.Decode(&f); err == nil {
			return f, nil
		}
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("decode snapshot: %w", err)
	}
	return head.Format, nil
}

// DecodeManifest decodes a FormatV2 document. It checks the format and the
// set IDs against the member counts, but not the configuration: compile
// the state, with its MemberSets filled, with flags.Compile.
func DecodeManifest(data []byte) (*Manifest, error) {
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if doc.Format != FormatV2 {
		return nil, fmt.Errorf("decode snapshot: format %q, want %q", doc.Format, FormatV2)
	}
	m := &Manifest{Version: doc.Version, Epoch: doc.Epoch, Sets: make(map[string]string)}
	st := &m.State
	st.Flags = doc.Flags
	if err := normalizeFlags(st.Flags, doc.FlagVersions); err != nil {
		return nil, err
	}
	st.MemberSets = make(map[string]*cohorts.Set, len(doc.Cohorts))
	seen := make(map[string]bool, len(doc.Cohorts))
	for _, c := range doc.Cohorts {
		if len(c.MemberHashes) > 0 {
			return nil, fmt.Errorf("decode snapshot: cohort %s: member hashes in a %s document", c.Key, FormatV2)
		}
		if seen[c.Key] {
			return nil, fmt.Errorf("decode snapshot: cohort %s listed twice", c.Key)
		}
		seen[c.Key] = true
		n := 0
		if c.Set != "" {
			var err error
			if n, _, err = ParseSetID(c.Set); err != nil {
				return nil, fmt.Errorf("decode snapshot: cohort %s: %w", c.Key, err)
			}
		}
		if n != c.Members {
			return nil, fmt.Errorf("decode snapshot: cohort %s: set %q for %d members", c.Key, c.Set, c.Members)
		}
		if n > 0 {
			m.Sets[c.Key] = c.Set
		}
		st.Cohorts = append(st.Cohorts, cohorts.Cohort{Key: c.Key, Description: c.Description, When: c.When, MemberCount: c.Members})
	}
	return m, nil
}

// normalizeFlags sets each flag's version and normalises its variants'
// values, as flags.Compile expects them.
func normalizeFlags(fs []flags.Flag, versions map[string]int64) error {
	for i := range fs {
		f := &fs[i]
		f.Version = versions[f.Key]
		for j := range f.Variants {
			v, err := flags.NormalizeValue(f.Type, f.Variants[j].Value)
			if err != nil {
				return fmt.Errorf("decode snapshot: flag %s variant %s: %w", f.Key, f.Variants[j].Key, err)
			}
			f.Variants[j].Value = v
		}
	}
	return nil
}

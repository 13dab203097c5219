package server

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/ofrep"
)

// outcomes remembers, for one configuration, what the server does with each
// distinct decision it makes: the ramp_evaluations_total counter it counts
// in and the OFREP JSON it answers with. A flag has few outcomes (a variant
// served by a rule for a reason), and a configuration never changes, so
// both are made once per outcome rather than once per decision: counting
// hashes no label values, and encoding is a copy. A new configuration gets
// new outcomes, so flags it drops are forgotten here as in the registry.
type outcomes struct {
	vec     *prometheus.CounterVec
	flags   []flagOutcomes // in the order of Snapshot.Keys
	byKey   map[string]*flagOutcomes
	unknown flagOutcomes // flags the configuration lacks
}

// flagOutcomes are one flag's outcomes, added as they first happen. The
// list is copied on write, so readers take no lock.
type flagOutcomes struct {
	label string // the flag label: the key, or unknownFlag
	known bool   // whether decisions here are all about the flag label names
	mu    sync.Mutex
	list  atomic.Pointer[[]outcome]
}

// outcome is one kind of decision about a flag. In a configuration, a
// flag's decisions that agree on these fields agree on every field
// AppendJSON writes: the value is the variant's, the versions and the rule
// name the configuration's.
type outcome struct {
	variant  string
	reason   flags.Reason
	code     flags.ErrorCode
	rule     int
	ruleName string
	versions [2]int64 // flag, configuration

	counter prometheus.Counter
	json    []byte // the OFREP body; nil for errors, whose details vary
}

func (o *outcome) is(d *flags.Decision) bool {
	return o.variant == d.Variant && o.reason == d.Reason && o.code == d.ErrorCode && o.rule == d.Rule &&
		o.ruleName == d.RuleName && o.versions == [2]int64{d.FlagVersion, d.SnapshotVersion}
}

func newOutcomes(snap *flags.Snapshot, vec *prometheus.CounterVec) *outcomes {
	keys := snap.Keys()
	o := &outcomes{vec: vec, flags: make([]flagOutcomes, len(keys)), byKey: make(map[string]*flagOutcomes, len(keys))}
	for i, k := range keys {
		o.flags[i].label, o.flags[i].known = k, true
		o.byKey[k] = &o.flags[i]
	}
	o.unknown.label = unknownFlag
	return o
}

// record counts a decision about any flag key and appends its OFREP body.
func (o *outcomes) record(dst []byte, d *flags.Decision) ([]byte, error) {
	f := o.byKey[d.Key]
	if f == nil {
		f = &o.unknown
	}
	return f.record(dst, o.vec, d)
}

// recordAt is record for a decision about the i-th of the snapshot's keys.
func (o *outcomes) recordAt(dst []byte, i int, d *flags.Decision) ([]byte, error) {
	return o.flags[i].record(dst, o.vec, d)
}

func (f *flagOutcomes) record(dst []byte, vec *prometheus.CounterVec, d *flags.Decision) ([]byte, error) {
	oc := f.find(d)
	if oc == nil {
		var err error
		if oc, err = f.add(vec, d); err != nil {
			return dst, err
		}
	}
	oc.counter.Inc()
	if oc.json != nil {
		return append(dst, oc.json...), nil
	}
	return ofrep.AppendJSON(dst, d)
}

func (f *flagOutcomes) find(d *flags.Decision) *outcome {
	if l := f.list.Load(); l != nil {
		for i := range *l {
			if oc := &(*l)[i]; oc.is(d) {
				return oc
			}
		}
	}
	return nil
}

// add makes the outcome of a decision that has none yet.
func (f *flagOutcomes) add(vec *prometheus.CounterVec, d *flags.Decision) (*outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if oc := f.find(d); oc != nil { // added while this one waited for the lock
		return oc, nil
	}
	oc := outcome{variant: d.Variant, reason: d.Reason, code: d.ErrorCode, rule: d.Rule, ruleName: d.RuleName,
		versions: [2]int64{d.FlagVersion, d.SnapshotVersion},
		counter:  vec.WithLabelValues(f.label, d.Variant, string(d.Reason), string(d.ErrorCode))}
	if f.known && !d.IsError() && d.Key == f.label {
		b, err := ofrep.AppendJSON(nil, d)
		if err != nil {
			return nil, err
		}
		oc.json = b
	}
	var list []outcome
	if l := f.list.Load(); l != nil {
		list = *l
	}
	list = append(list[:len(list):len(list)], oc)
	f.list.Store(&list)
	return &list[len(list)-1], nil
}

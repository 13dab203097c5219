package flags

// Explanation tells why a context got its decision: each rule tried in order
// and what it found, and where the user fell on the percentage scale.
type Explanation struct {
	Decision Decision   `json:"-"`
	Steps    []RuleStep `json:"rules"`
	// Bucketing is set when a percentage split or an allocation was
	// consulted: for an allocation, its salt and the unit's arm bucket.
	Bucketing *BucketingTrace `json:"bucketing,omitempty"`
	// Samples holds the placement of each rule sample consulted (an
	// experiment's share of its layer), by rule index.
	Samples []SampleTrace `json:"samples,omitempty"`
}

// RuleStep is what one rule found.
type RuleStep struct {
	Rule    int    `json:"rule"`
	Name    string `json:"name,omitempty"`
	Matched bool   `json:"matched"`
	Detail  string `json:"detail"`
}

// BucketingTrace shows the inputs and outputs of the bucketing function.
type BucketingTrace struct {
	Attribute string `json:"attribute"`
	Key       string `json:"key"`
	Salt      string `json:"salt"`
	Version   int    `json:"version"`
	Position  uint32 `json:"position"`
	// Bucket is in [0, 10000): the user gets a variant whose cumulative
	// percentage, in hundredths, exceeds it.
	Bucket uint32 `json:"bucket"`
}

// SampleTrace is where a unit fell on a rule sample's scale.
type SampleTrace struct {
	Rule int `json:"rule"`
	// Origin is the rule's Origin (an experiment's, for the rules an
	// experiment adds), so that an explanation can name the experiment a
	// unit fell outside of; nil for the flag's own rules. It is shared
	// with the snapshot and must not be modified.
	Origin *Origin `json:"origin,omitempty"`
	BucketingTrace
	// In reports whether the bucket is in the sample's set.
	In bool `json:"in"`
}

type explainer struct {
	f  *compiledFlag
	ex *Explanation
}

func (e explainer) rule(i int, matched bool, why string) {
	steps := e.ex.Steps
	if n := len(steps); n > 0 && steps[n-1].Rule == i {
		steps[n-1].Matched = matched
		steps[n-1].Detail += "; " + why
		return
	}
	e.ex.Steps = append(steps, RuleStep{Rule: i, Name: e.f.rules[i].name, Matched: matched, Detail: why})
}

func (e explainer) placed(i int, attr, key, salt string, position, b uint32) {
	bt := BucketingTrace{Attribute: attr, Key: key, Salt: salt, Version: int(e.f.bucketing), Position: position, Bucket: b}
	if i < 0 {
		e.ex.Bucketing = &bt
		return
	}
	r := &e.f.rules[i]
	in := r.sample != nil && inRanges(r.sample.buckets, b)
	e.ex.Samples = append(e.ex.Samples, SampleTrace{Rule: i, Origin: r.origin, BucketingTrace: bt, In: in})
}

// Explain evaluates like Evaluate and records why. It is meant for people
// (ramp eval --explain) and allocates freely.
func (s *Snapshot) Explain(key string, ctx map[string]any) Explanation {
	ex := &Explanation{}
	if f := s.lookup(&ex.Decision, key); f != nil {
		s.decide(&ex.Decision, f, ctx, explainer{f: f, ex: ex})
	}
	return *ex
}

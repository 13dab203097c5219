package experiment

// EffectiveSalt returns the salt of the layer's hash: Salt, or
// "layer-" + Key.
func (l *Layer) EffectiveSalt() string {
	if l.Salt != "" {
		return l.Salt
	}
	return "layer-" + l.Key
}

// EffectiveSalt returns the salt of the experiment's arm hash: Salt, or
// "experiment-" + Key.
func (e *Experiment) EffectiveSalt() string {
	if e.Salt != "" {
		return e.Salt
	}
	return "experiment-" + e.Key
}

// Current returns the experiment's current (last) phase, or nil before it
// first starts.
func (e *Experiment) Current() *Phase {
	if len(e.Phases) == 0 {
		return nil
	}
	return &e.Phases[len(e.Phases)-1]
}

// Package experiment holds ramp's experiments: layers that keep
// experiments mutually exclusive, holdouts, phases with their allocation
// tables, and how a running experiment becomes rules of its flag. It is
// pure: the store keeps experiments, the control plane changes them, and
// the engine never learns what an experiment is (it sees a rule with a
// sample, an allocation and an Origin).
package experiment

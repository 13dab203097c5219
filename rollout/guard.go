package rollout

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/flags"
)

// Guarded stages (issue #13). A percentage stage is a randomised split of
// its targets: by the flag's bucketing, Percent of each target's users get
// the plan's variant and the rest the default, at random. A stage that
// names guardrails turns that split into a comparison while it is live:
// both sides are recorded as exposures (Rules gives the stage's splits an
// Origin with a phase, the stage's number, under ExperimentKey), and the
// controller compares, metric by metric, the units that get the variant
// with those that do not (package experiment/safety). When a guardrail is
// worse than its margin with confidence, the controller halts the plan
// (Halt): it pauses it, or rolls it back to the previous stage, as the
// stage says. A guarded stage may also refuse to be left forward, by a
// person or the schedule, until each side of its split holds MinSample
// exposed units (MayLeave).
//
// Only the targets the live stage itself sets (its own targets, at its
// percentage) are compared: targets earlier stages set keep their rules
// without a phase. Every target a stage sets gets the stage's one
// percentage, so the comparison's two sides have the same weights
// everywhere it runs.

// Guardrail is a metric a guarded stage watches while it is live.
type Guardrail struct {
	// Metric is the key of a metric declared in configuration.
	Metric string `json:"metric"`
	// Margin is the non-inferiority margin, relative, in percent as
	// written (0.5 for 0.5%): the variant worse than the default by more
	// than Margin percent, with confidence, is a regression. nil takes
	// the metric's own margin.
	Margin *float64 `json:"margin,omitempty"`
}

// String writes the guardrail as configuration writes it when it has no
// margin of its own: its metric; "metric (margin 1%)" otherwise.
func (g Guardrail) String() string {
	if g.Margin == nil {
		return g.Metric
	}
	return g.Metric + " (margin " + strconv.FormatFloat(*g.Margin, 'f', -1, 64) + "%)"
}

// Reaction is what the controller does when a guardrail of the live stage
// regresses.
type Reaction string

// The reactions to a regression.
const (
	// ReactPause pauses the plan where it is (the default).
	ReactPause Reaction = "pause"
	// ReactRollback rolls the plan back to the previous stage (before the
	// first, for the first stage) and pauses it: nobody outside the
	// previous stage's audience keeps the variant.
	ReactRollback Reaction = "rollback"
)

// Guarded reports whether the stage watches guardrails while it is live.
func (s *Stage) Guarded() bool { return len(s.Guardrails) > 0 }

// Reaction returns what a regression of the stage's guardrails does:
// OnRegression, or ReactPause when it is empty.
func (s *Stage) Reaction() Reaction {
	if s.OnRegression == "" {
		return ReactPause
	}
	return s.OnRegression
}

// Compares reports whether the stage's split compares anything: it is
// guarded and gives its targets a percentage strictly between 0 and 100
// (at 100% nobody in its targets is left without the variant to compare
// with, at 0% nobody gets it).
func (s *Stage) Compares() bool {
	return s.Guarded() && s.Percent > 0 && s.Percent < flags.Hundred
}

// ExperimentKey is the key a plan's guarded stages record exposures under
// ("rollout:" and the flag), so that they never mix with an experiment's
// (experiment keys have no colon). The phase is the stage's number,
// counted from 1 (Phase).
func ExperimentKey(flag string) string { return RulePrefix + flag }

// Phase returns the phase a stage's exposures are recorded under: its
// number in the plan, from 1.
func Phase(stage int) int { return stage + 1 }

// Sample is how many exposed units each side of a guarded stage's split
// holds: Treatment those that got the plan's variant, Control those that
// got the default (units seen on both sides left out).
type Sample struct {
	Treatment int64 `json:"treatment"`
	Control   int64 `json:"control"`
}

// SampleError refuses to leave a guarded stage forward while either side
// of its split holds fewer than MinSample exposed units. It matches
// ErrMove.
type SampleError struct {
	Flag, Stage string
	MinSample   int64
	Sample      Sample
}

func (e *SampleError) Error() string {
	return fmt.Sprintf("stage %s of rollout %s waits for its guardrails' data: %d units with %s and %d without, of the %d each side needs",
		e.Stage, e.Flag, e.Sample.Treatment, "the variant", e.Sample.Control, e.MinSample)
}

// Is makes SampleError match ErrMove.
func (e *SampleError) Is(target error) bool { return target == ErrMove }

// MayLeave says whether the live stage may be left forward (an advance, an
// approval, the schedule's next stage): not while it is guarded with a
// MinSample that either side of its split, sample (the exposed units of
// the live stage's phase), has not reached. The refusal is a
// *SampleError. Going back (a rollback) is always allowed; a person's
// forced move overrides it, as it overrides a pause.
func (r *Rollout) MayLeave(sample Sample) error {
	live := r.Live()
	if live < 0 {
		return nil
	}
	st := &r.Stages[live]
	if !st.Compares() || st.MinSample <= 0 || (sample.Treatment >= st.MinSample && sample.Control >= st.MinSample) {
		return nil
	}
	return &SampleError{Flag: r.Flag, Stage: st.Name, MinSample: st.MinSample, Sample: sample}
}

// Halt is the controller's halt of a plan for a guardrail regression at a
// stage: when, why, and whether it rolled back.
type Halt struct {
	Stage  string    `json:"stage"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	// RolledBack says the halt rolled the plan back to the previous stage
	// (Progress.Stage), as the stage's OnRegression asked.
	RolledBack bool `json:"rolledBack,omitempty"`
}

// Judged reports whether the controller judges the live stage's
// guardrails now: the stage compares (Compares), the plan is not paused,
// and the controller has not halted this stage since it began: a person
// who resumes a halted stage overrides the halt until the stage is left
// and reached again.
func (r *Rollout) Judged() bool {
	live := r.Live()
	if live < 0 || r.Progress.Paused || !r.Stages[live].Compares() {
		return false
	}
	h := r.Progress.Halted
	return h == nil || h.Stage != r.Progress.Stage || h.At.Before(r.Progress.Since)
}

// Halt halts the plan on actor's behalf (the schedule) for a regression of
// the live stage's guardrails, reason saying which metric, by how much
// and when: it pauses the plan with that reason, or, when the stage's
// Reaction is ReactRollback, rolls it back to the previous stage (before
// the first, for the first) and pauses it. Progress.Halted records the
// halt. It refuses a plan that is paused or not started.
func (r *Rollout) Halt(actor string, now time.Time, reason string) (Progress, error) {
	live := r.Live()
	if live < 0 {
		return r.Progress, refuse("rollout %s has no live stage to halt", r.Flag)
	}
	h := &Halt{Stage: r.Stages[live].Name, At: now, Reason: reason}
	var (
		p   Progress
		err error
	)
	if r.Stages[live].Reaction() == ReactRollback {
		p, err = r.Rollback(live-1, actor, now, reason)
		h.RolledBack = true
	} else {
		p, err = r.Pause(actor, now, reason)
	}
	if err != nil {
		return r.Progress, err
	}
	p.Halted = h
	return p, nil
}

// guardWords writes a stage's guardrails for status and errors: "reply-rate,
// send-errors (margin 1%); at least 5000 units each side; rollback".
func guardWords(s *Stage) string {
	parts := make([]string, len(s.Guardrails))
	for i, g := range s.Guardrails {
		parts[i] = g.String()
	}
	w := strings.Join(parts, ", ")
	if s.MinSample > 0 {
		w += fmt.Sprintf("; at least %d units each side", s.MinSample)
	}
	return w + "; on regression " + string(s.Reaction())
}

// GuardWords describes a stage's guardrails, minimum sample and reaction.
func (s *Stage) GuardWords() string { return guardWords(s) }

// validateGuards checks a stage's guardrails: metric keys well formed and
// distinct, margins finite and not negative, a split to compare (a
// percentage strictly between 0 and 100), and a minimum sample and a
// reaction only with guardrails. Whether the metrics are declared is
// checked where metrics are known (the configuration's resolution).
func validateGuards(s *Stage, sp string, add func(string, string, ...any)) {
	seen := map[string]int{}
	for k, g := range s.Guardrails {
		gp := fmt.Sprintf("%s.guardrails[%d]", sp, k)
		if err := cohorts.ValidateKey(g.Metric); err != nil {
			add(gp+".metric", "metric key: %v", err)
		} else if i, dup := seen[g.Metric]; dup {
			add(gp+".metric", "metric %q is already a guardrail of the stage (guardrails[%d])", g.Metric, i)
		}
		seen[g.Metric] = k
		if m := g.Margin; m != nil && (!(*m >= 0) || math.IsInf(*m, 1)) {
			add(gp+".margin", "margin %v: want a relative margin in percent, 0 or more (0.5 for 0.5%%)", *m)
		}
	}
	switch {
	case s.Guarded() && (s.Percent <= 0 || s.Percent >= flags.Hundred):
		add(sp+".guardrails", "stage %s gives its targets %s%%: guardrails compare the users of a split, so the stage needs a percentage between 0 and 100 (at 100%% nobody in its targets is left without the variant to compare with)", s.Name, s.Percent)
	case s.MinSample < 0:
		add(sp+".minSample", "minSample %d is negative", s.MinSample)
	case s.MinSample > 0 && !s.Guarded():
		add(sp+".minSample", "minSample holds the stage until its guardrails have data: the stage names no guardrails")
	}
	switch {
	case s.OnRegression != "" && s.OnRegression != ReactPause && s.OnRegression != ReactRollback:
		add(sp+".onRegression", "unknown onRegression %q: want pause or rollback", s.OnRegression)
	case s.OnRegression != "" && !s.Guarded():
		add(sp+".onRegression", "onRegression says what a guardrail regression does: the stage names no guardrails")
	}
}

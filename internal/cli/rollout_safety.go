package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/rollout"
)

// stageGuardWord describes a guarded stage's guardrails for describeStage:
// ", guardrails send-errors (margin 1%); at least 5000 units each side; on
// regression rollback"; "" for an unguarded stage.
func stageGuardWord(s *rollout.Stage) string {
	if !s.Guarded() {
		return ""
	}
	return ", guardrails " + s.GuardWords()
}

// printHalt writes the controller's last halt of a plan: "  halted:   stage
// us-10 at 2026-…Z (5m00s ago), rolled back: guardrail regression in …".
func printHalt(w io.Writer, st *rolloutStatus, now time.Time) {
	h := st.Halted
	if h == nil {
		return
	}
	how := "paused"
	if h.RolledBack {
		how = "rolled back to the previous stage"
	}
	fmt.Fprintf(w, "  halted:   stage %s at %s, %s: %s\n", h.Stage, ago(h.At, now), how, h.Reason)
}

// printGuard writes the live guarded stage's comparison: the units each
// side holds, then each guardrail's verdict and data.
func printGuard(w io.Writer, st *rolloutStatus) {
	g := st.Guard
	if g == nil {
		return
	}
	enough := ""
	if g.MinSample > 0 {
		enough = fmt.Sprintf(" (at least %s each side before it may advance: ", safety.Thousands(g.MinSample))
		if g.Enough {
			enough += "reached)"
		} else {
			enough += "waiting)"
		}
	}
	fmt.Fprintf(w, "  guarded:  stage %s compares %s units with %q and %s without%s\n", g.Stage,
		safety.Thousands(g.Sample.Treatment), st.Variant, safety.Thousands(g.Sample.Control), enough)
	switch {
	case g.Overridden:
		fmt.Fprintln(w, "            the controller halted this stage and a person resumed it: it does not halt it again until the stage is left and reached again")
	case g.Judged:
		fmt.Fprintf(w, "            a regression %s the plan (the controller judges it on its passes)\n", map[rollout.Reaction]string{
			rollout.ReactPause: "pauses", rollout.ReactRollback: "rolls back and pauses"}[g.Reaction])
	default:
		fmt.Fprintln(w, "            not judged while the plan is paused")
	}
	for i := range g.Verdicts {
		v := &g.Verdicts[i]
		fmt.Fprintf(w, "    %-28s %s\n", v.Metric, v.Words())
		if v.Control.Units > 0 || v.Treatment.Units > 0 {
			fmt.Fprintf(w, "    %-28s without %s of %s units, with %s of %s\n", "", valueWord(v.Kind, v.Control.Value), safety.Thousands(v.Control.Units),
				valueWord(v.Kind, v.Treatment.Value), safety.Thousands(v.Treatment.Units))
		}
	}
}

// valueWord writes a side's value: a rate as a percentage, a mean or a
// ratio as a number.
func valueWord(kind string, x float64) string {
	if kind == safety.KindConversion {
		return fmt.Sprintf("%.3f%%", 100*x)
	}
	return fmt.Sprintf("%.4g", x)
}

// printSafetyTick writes what a pass's automatic safety stopped: the
// plans it halted and the experiments it paused; it returns how many.
func printSafetyTick(w io.Writer, res *admin.TickResult) int {
	n := 0
	for _, e := range res.Guards {
		if e.Halted {
			how := "paused"
			if e.RolledBack {
				how = "rolled back to the previous stage and paused"
			}
			fmt.Fprintf(w, "%s: halted by a guardrail, %s: %s\n", e.Flag, how, e.Judgement.Reason)
			n++
		}
	}
	for _, e := range res.SampleRatios {
		if e.Paused {
			fmt.Fprintf(w, "experiment %s: paused: %s\n", e.Experiment, e.Check.Reason)
			n++
		}
	}
	return n
}

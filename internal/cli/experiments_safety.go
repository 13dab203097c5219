package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/experiment/safety"
	"github.com/ramp-flags/ramp/internal/admin"
)

// printPause writes who paused a paused experiment, when and why:
// "  paused:     by ramp-scheduler at 2026-12-04T20:30:15Z: sample ratio
// mismatch in phase 1: …".
func printPause(w io.Writer, e *admin.ExperimentInfo) {
	p := e.Pause
	if p == nil {
		return
	}
	s := "paused"
	if p.By != "" {
		s = "by " + p.By
	}
	if !p.At.IsZero() {
		s += " at " + p.At.UTC().Format(time.RFC3339)
	}
	if p.Reason != "" {
		s += ": " + p.Reason
	}
	fmt.Fprintf(w, "  paused:     %s\n", s)
	if p.By != "" && strings.HasPrefix(p.Reason, safety.MismatchPrefix(e.Phase)) {
		fmt.Fprintf(w, "              (the controller paused it: check assignment and exposure recording, then ramp experiments resume %s to override)\n", e.Key)
	}
}

// printSRMCheck writes the last sample-ratio check of the current
// phase: "  srm check:  2026-…Z (3m00s ago): off 3,010 (50.17%, expected
// 50.00%), inline 2,990 (49.83%, expected 50.00%); p = 0.93: ok".
func printSRMCheck(w io.Writer, c *admin.SampleRatioInfo, now time.Time) {
	if c == nil {
		return
	}
	var arms []string
	for _, a := range c.Arms {
		arms = append(arms, fmt.Sprintf("%s %s (%s, expected %s)", a.Arm, safety.Thousands(a.Units), safety.Share(a.Observed), safety.Share(a.Expected)))
	}
	p := "p = " + safety.PValue(c.MinP)
	if c.MinP < c.P {
		p += " (least of the phase's checks; now " + safety.PValue(c.P) + ")"
	}
	var verdict string
	switch {
	case c.Units == 0:
		verdict, p = "no exposures yet", ""
	case !c.Enough:
		verdict = fmt.Sprintf("waiting for the minimum sample (%s units expected in every arm)", safety.Thousands(c.MinSample))
	case c.Pause && c.Overridden:
		verdict = fmt.Sprintf("mismatch (p < %g), overridden by a person: not paused again in this phase", safety.SampleRatioAlpha)
	case c.Pause:
		verdict = fmt.Sprintf("mismatch (p < %g)", safety.SampleRatioAlpha)
	default:
		verdict = "ok"
	}
	line := ago(c.At, now) + ": " + strings.Join(arms, ", ")
	if p != "" {
		line += "; " + p
	}
	fmt.Fprintf(w, "  srm check:  %s: %s\n", line, verdict)
}

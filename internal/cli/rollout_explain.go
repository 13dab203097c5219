package cli

import (
	"fmt"
	"io"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
)

// rolloutExplanation says what a flag's plan did for one context.
type rolloutExplanation = admin.RolloutExplanation

func printRolloutExplanation(w io.Writer, ex *rolloutExplanation, d *flags.Decision) {
	if ex == nil {
		return
	}
	stage := ex.Stage
	if stage == "" {
		stage = "none (not started)"
	}
	switch {
	case ex.Killed:
		fmt.Fprintf(w, "  rollout: live stage %s, overridden by the kill switch\n", stage)
	case ex.AdmittedBy != "":
		fmt.Fprintf(w, "  rollout: live stage %s; admitted by stage %s; has had %s since stage %s\n", stage, ex.AdmittedBy, d.Variant, ex.Since)
	default:
		fmt.Fprintf(w, "  rollout: live stage %s; not admitted by any stage so far\n", stage)
	}
}

package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/admin"
)

// printApplyExperiments prints the layer and experiment changes of an
// apply on stdout, one line each (after the flags' and plans'), and the
// statuses it left as stored on stderr.
func printApplyExperiments(io *IOStreams, res *admin.ApplyResult) {
	signs := map[flags.Action]string{flags.Create: "+", flags.Update: "~", flags.Delete: "-"}
	for _, c := range res.Experiments {
		line := fmt.Sprintf("%s %s %s", signs[c.Action], c.Kind, c.Key)
		var parts []string
		for _, f := range c.Fields {
			if f != "traffic" || c.TrafficFrom == nil {
				parts = append(parts, f)
			}
		}
		if c.TrafficFrom != nil && c.TrafficTo != nil {
			parts = append(parts, fmt.Sprintf("traffic %s%% → %s%%", c.TrafficFrom, c.TrafficTo))
			if c.Phase == 0 {
				parts = append(parts, "same phase: adds units, keeps every assignment")
			}
		}
		switch {
		case c.Allocation:
			parts = append(parts, fmt.Sprintf("in phase %d with the file's allocation: every unit keeps its arm", c.Phase))
		case c.Start:
			parts = append(parts, "starts phase 1")
		case c.Phase > 0:
			parts = append(parts, fmt.Sprintf("new phase %d", c.Phase))
		}
		if c.Moved != nil {
			parts = append(parts, fmt.Sprintf("%s%% of units change arm", c.Moved))
		}
		if k := c.Known; k != nil {
			parts = append(parts, fmt.Sprintf("%d of %d known units in it change arm", k.Move, k.InExperiment))
		}
		if c.Kind == "experiment" && c.Action == flags.Create && !c.Start {
			parts = append(parts, "draft: serves nothing until started")
		}
		if len(parts) > 0 {
			line += " (" + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintln(io.Out, line)
	}
	for _, n := range res.ExperimentNotes {
		fmt.Fprintf(io.ErrOut, "note: experiment %s stays %s; the file says %s, which apply does not do to an existing experiment (ramp experiments start|pause|resume|stop %s)\n",
			n.Key, n.Stored, n.File, n.Key)
	}
}

// experimentApplyHint adds the command line's way out to an apply refused
// because it changes a running experiment's locked fields.
func experimentApplyHint(err error) error {
	var locked *admin.LockedError
	if errors.As(err, &locked) {
		return fmt.Errorf("%w, or run ramp experiments set-weights %s ARM=WEIGHT,… --new-phase", err, locked.Key)
	}
	return err
}

package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/flags"
	"github.com/ramp-flags/ramp/internal/synth"
)

type simulateOptions struct {
	f       *Factory
	users   int
	seed    uint64
	flags   []string
	regions int
	format  string
}

func newSimulateCmd(f *Factory, runF func(*simulateOptions) error) *cobra.Command {
	opts := &simulateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Show how a synthetic population is assigned, per region and variant",
		Long: `Generate a synthetic population shaped like the scenario's users (regions,
apps, platforms, app versions, business accounts, linked Instagram/WhatsApp
accounts), decide every flag for every user from the stored configuration, and
print the share of each variant per region. Use it to preview a rollout before
applying it. Linked accounts are checked to agree on flags that bucket by
accountCenterId.`,
		Example: `  ramp simulate --users 100000
  ramp simulate --flag messenger-ig-interop --regions 5 -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.users < 1 || opts.users > 10_000_000 {
				return &UsageError{Err: fmt.Errorf("--users must be between 1 and 10,000,000")}
			}
			if runF != nil {
				return runF(opts)
			}
			return simulateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.users, "users", "n", 100_000, "number of synthetic users")
	cmd.Flags().Uint64Var(&opts.seed, "seed", 1, "seed of the synthetic population")
	cmd.Flags().StringSliceVar(&opts.flags, "flag", nil, "only these flags (repeatable; default all)")
	cmd.Flags().IntVar(&opts.regions, "regions", 8, "regions shown per flag in tables (the rest are summed as \"other\")")
	addOutputFlag(cmd, &opts.format)
	return cmd
}

// Simulation is the result of `ramp simulate`.
type Simulation struct {
	Users int              `json:"users"`
	Seed  uint64           `json:"seed"`
	Flags []FlagSimulation `json:"flags"`
}

// FlagSimulation is one flag's assignment over the population.
type FlagSimulation struct {
	Key      string                    `json:"key"`
	Type     flags.Type                `json:"type"`
	Variants []string                  `json:"variants"`
	Total    map[string]int            `json:"total"`
	ByRegion map[string]map[string]int `json:"byRegion"`
	Reasons  map[flags.Reason]int      `json:"reasons"`
	Errors   map[flags.ErrorCode]int   `json:"errors,omitempty"`
	// LinkedPairs counts people with two linked accounts; LinkedAgree those
	// whose two accounts got the same variant.
	LinkedPairs int `json:"linkedPairs"`
	LinkedAgree int `json:"linkedAgree"`
}

func simulateRun(ctx context.Context, opts *simulateOptions) error {
	format, err := resolveFormat(opts.f.IO, opts.format)
	if err != nil {
		return err
	}
	var snap *flags.Snapshot
	if err := opts.f.withAdmin(ctx, false, func(ctx context.Context, a Control) (err error) {
		snap, err = a.Snapshot(ctx)
		return err
	}); err != nil {
		return err
	}
	keys := opts.flags
	if len(keys) == 0 {
		keys = snap.Keys()
	}
	if len(keys) == 0 {
		return &InvalidError{fmt.Errorf("no flags in %s: apply a configuration first (ramp apply -f testdata/scenario.yaml)", opts.f.where())}
	}
	start := time.Now()
	users := synth.Users(opts.users, opts.seed)
	sim := Simulation{Users: len(users), Seed: opts.seed}
	for _, key := range keys {
		typ, ok := snap.Type(key)
		if !ok {
			return fmt.Errorf("flag %q: %w", key, errFlagNotFound(key))
		}
		fs := FlagSimulation{Key: key, Type: typ, Total: map[string]int{}, ByRegion: map[string]map[string]int{},
			Reasons: map[flags.Reason]int{}, Errors: map[flags.ErrorCode]int{}}
		fs.Variants = variantKeys(snap, key)
		seenAC := map[any]string{}
		for _, u := range users {
			d := snap.Evaluate(key, u)
			variant := d.Variant
			if d.IsError() {
				variant = "(error)"
				fs.Errors[d.ErrorCode]++
			}
			fs.Total[variant]++
			fs.Reasons[d.Reason]++
			region, _ := u["region"].(string)
			if fs.ByRegion[region] == nil {
				fs.ByRegion[region] = map[string]int{}
			}
			fs.ByRegion[region][variant]++
			if ac, ok := u["accountCenterId"]; ok {
				if prev, seen := seenAC[ac]; seen {
					fs.LinkedPairs++
					if prev == variant {
						fs.LinkedAgree++
					}
				} else {
					seenAC[ac] = variant
				}
			}
		}
		if len(fs.Errors) == 0 {
			fs.Errors = nil
		}
		sim.Flags = append(sim.Flags, fs)
	}
	elapsed := time.Since(start)
	if format != formatTable {
		return writeData(opts.f.IO.Out, format, sim)
	}
	for _, fs := range sim.Flags {
		printFlagSimulation(opts.f.IO.Out, &fs, sim.Users, opts.regions)
	}
	fmt.Fprintf(opts.f.IO.ErrOut, "%s users × %d flags decided in %s\n", thousands(sim.Users), len(sim.Flags), elapsed.Round(time.Millisecond))
	return nil
}

func variantKeys(snap *flags.Snapshot, key string) []string {
	f, ok := snap.State().Flag(key)
	if !ok {
		return nil
	}
	out := make([]string, len(f.Variants))
	for i, v := range f.Variants {
		out[i] = v.Key
	}
	return out
}

func printFlagSimulation(w io.Writer, fs *FlagSimulation, users, topRegions int) {
	fmt.Fprintf(w, "%s (%s)\n", fs.Key, fs.Type)
	variants := append([]string(nil), fs.Variants...)
	if fs.Total["(error)"] > 0 {
		variants = append(variants, "(error)")
	}
	regions := make([]string, 0, len(fs.ByRegion))
	for r := range fs.ByRegion {
		regions = append(regions, r)
	}
	sort.Slice(regions, func(i, j int) bool {
		ni, nj := sum(fs.ByRegion[regions[i]]), sum(fs.ByRegion[regions[j]])
		if ni != nj {
			return ni > nj
		}
		return regions[i] < regions[j]
	})
	headers := append([]string{"  REGION", "USERS"}, variants...)
	t := newTable(w, headers...)
	other := map[string]int{}
	for i, r := range regions {
		if i >= topRegions {
			for v, n := range fs.ByRegion[r] {
				other[v] += n
			}
			continue
		}
		t.row(regionRow("  "+r, fs.ByRegion[r], variants)...)
	}
	if len(other) > 0 {
		t.row(regionRow("  other", other, variants)...)
	}
	t.row(regionRow("  all", fs.Total, variants)...)
	_ = t.flush()
	var reasons []string
	for _, r := range []flags.Reason{flags.ReasonTargetingMatch, flags.ReasonSplit, flags.ReasonDefault, flags.ReasonStatic, flags.ReasonDisabled, flags.ReasonError} {
		if n := fs.Reasons[r]; n > 0 {
			reasons = append(reasons, fmt.Sprintf("%s %s", r, thousands(n)))
		}
	}
	fmt.Fprintf(w, "  reasons: %s", strings.Join(reasons, ", "))
	if fs.LinkedPairs > 0 {
		fmt.Fprintf(w, "; linked accounts agreeing: %s of %s", thousands(fs.LinkedAgree), thousands(fs.LinkedPairs))
	}
	fmt.Fprintln(w)
	for code, n := range fs.Errors {
		fmt.Fprintf(w, "  %s: %s users got their default\n", code, thousands(n))
	}
	fmt.Fprintln(w)
}

func regionRow(label string, counts map[string]int, variants []string) []string {
	total := sum(counts)
	row := []string{label, thousands(total)}
	for _, v := range variants {
		n := counts[v]
		if total == 0 {
			row = append(row, "-")
			continue
		}
		row = append(row, fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total)))
	}
	return row
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// thousands formats 100000 as 100,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

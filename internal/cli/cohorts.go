package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/internal/store"
)

func newCohortsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cohorts",
		Aliases: []string{"cohort"},
		Short:   "List and inspect cohorts; add, remove, import and export listed members",
		Example: `  ramp cohorts list
  ramp cohorts get employees
  ramp cohorts add employees emp-6 emp-7 --region US
  ramp cohorts remove employees emp-7
  ramp cohorts import beta-testers testers.csv
  ramp cohorts export beta-testers -o testers.csv`,
	}
	cmd.AddCommand(newCohortsListCmd(f), newCohortsGetCmd(f), newCohortsAddCmd(f), newCohortsRemoveCmd(f),
		newCohortsImportCmd(f), newCohortsExportCmd(f), newCohortsDiffCmd(f))
	return cmd
}

func completeCohortKeys(cmd *cobra.Command, f *Factory, args []string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var keys []string
	_ = f.withStore(cmd.Context(), func(s *store.Store) error {
		cs, err := s.Cohorts(cmd.Context())
		for _, c := range cs {
			keys = append(keys, c.Key+"\t"+c.Description)
		}
		return err
	})
	return keys, cobra.ShellCompDirectiveNoFileComp
}

// cohortView is a cohort as -o json prints it.
type cohortView struct {
	Key         string              `json:"key"`
	Description string              `json:"description,omitempty"`
	When        []cohorts.Condition `json:"when,omitempty"`
	Members     int                 `json:"members"`
	ByRegion    map[string]int      `json:"membersByRegion,omitempty"`
	Version     int64               `json:"version"`
}

func newCohortsListCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List cohorts with their member counts",
		Example: `  ramp cohorts list
  ramp cohorts list -o json | jq -r '.[] | "\(.key) \(.members)"'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withStore(cmd.Context(), func(s *store.Store) error {
				cs, err := s.Cohorts(cmd.Context())
				if err != nil {
					return err
				}
				views := make([]cohortView, len(cs))
				for i, c := range cs {
					views[i] = cohortView{Key: c.Key, Description: c.Description, When: c.When, Members: c.MemberCount, Version: c.Version}
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, views)
				}
				if len(cs) == 0 {
					fmt.Fprintln(f.IO.ErrOut, "no cohorts yet: declare them in a file and run ramp apply -f FILE")
					return nil
				}
				t := newTable(f.IO.Out, "KEY", "MEMBERS", "CONDITIONS", "DESCRIPTION")
				for _, v := range views {
					t.row(v.Key, thousands(v.Members), conditionsText(v.When), truncate(v.Description, 50))
				}
				return t.flush()
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func conditionsText(cs []cohorts.Condition) string {
	if len(cs) == 0 {
		return "-"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, " and ")
}

func newCohortsGetCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "get COHORT",
		Short:   "Show a cohort: conditions, member count and members per region",
		Example: `  ramp cohorts get employees`,
		Args:    exactArgs(1, "one cohort key"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeCohortKeys(cmd, f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withStore(cmd.Context(), func(s *store.Store) error {
				c, err := s.Cohort(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				counts, err := s.MemberRegionCounts(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				v := cohortView{Key: c.Key, Description: c.Description, When: c.When, Members: c.MemberCount, Version: c.Version, ByRegion: map[string]int{}}
				for r, n := range counts {
					name := string(r)
					if name == "" {
						name = "(unknown)"
					}
					v.ByRegion[name] = n
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, v)
				}
				w := f.IO.Out
				fmt.Fprintf(w, "%s (version %d)\n", v.Key, v.Version)
				if v.Description != "" {
					fmt.Fprintf(w, "  %s\n", v.Description)
				}
				fmt.Fprintf(w, "conditions: %s\n", conditionsText(v.When))
				fmt.Fprintf(w, "members: %s\n", thousands(v.Members))
				if len(v.ByRegion) > 0 {
					regions := make([]string, 0, len(v.ByRegion))
					for r := range v.ByRegion {
						regions = append(regions, r)
					}
					sort.Slice(regions, func(i, j int) bool {
						if v.ByRegion[regions[i]] != v.ByRegion[regions[j]] {
							return v.ByRegion[regions[i]] > v.ByRegion[regions[j]]
						}
						return regions[i] < regions[j]
					})
					t := newTable(w, "  REGION", "MEMBERS")
					for _, r := range regions {
						t.row("  "+r, thousands(v.ByRegion[r]))
					}
					return t.flush()
				}
				return nil
			})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func newCohortsAddCmd(f *Factory) *cobra.Command {
	var region string
	cmd := &cobra.Command{
		Use:   "add COHORT USER...",
		Short: "Add users to a cohort's member list",
		Long: `Add user ids (targeting keys) to a cohort's explicit member list, optionally
with their home region. Ids already listed are kept (their region is updated
when --region is given). The cohort must exist: declare it with ramp apply.`,
		Example: `  ramp cohorts add employees emp-6 emp-7 --region US`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return &UsageError{Err: fmt.Errorf("%s takes a cohort key and at least one user id (usage: %s)", cmd.CommandPath(), cmd.UseLine()), Command: cmd.CommandPath()}
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeCohortKeys(cmd, f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var r cohorts.Region
			if region != "" {
				var err error
				if r, err = cohorts.ParseRegion(region); err != nil {
					return &UsageError{Err: fmt.Errorf("--region: %w", err)}
				}
			}
			members := make([]cohorts.Member, 0, len(args)-1)
			for _, id := range args[1:] {
				if err := cohorts.ValidateID(id); err != nil {
					return &InvalidError{err}
				}
				members = append(members, cohorts.Member{ID: id, Region: r})
			}
			return f.withStore(cmd.Context(), func(s *store.Store) error {
				added, err := s.AddMembers(cmd.Context(), args[0], members, f.Actor)
				if err != nil {
					return err
				}
				fmt.Fprintf(f.IO.ErrOut, "%s: %s added, %d already listed\n", args[0], plural(added, "member", "members"), len(members)-added)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "home region (ISO 3166-1 alpha-2) of the users added")
	return cmd
}

func newCohortsRemoveCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "remove COHORT USER...",
		Aliases: []string{"rm"},
		Short:   "Remove users from a cohort's member list",
		Example: `  ramp cohorts remove employees emp-7
  ramp cohorts import beta-testers testers.csv
  ramp cohorts export beta-testers -o testers.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return &UsageError{Err: fmt.Errorf("%s takes a cohort key and at least one user id (usage: %s)", cmd.CommandPath(), cmd.UseLine()), Command: cmd.CommandPath()}
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeCohortKeys(cmd, f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withStore(cmd.Context(), func(s *store.Store) error {
				removed, err := s.RemoveMembers(cmd.Context(), args[0], args[1:], f.Actor)
				if err != nil {
					return err
				}
				fmt.Fprintf(f.IO.ErrOut, "%s: %s removed, %d not listed\n", args[0], plural(removed, "member", "members"), len(args)-1-removed)
				return nil
			})
		},
	}
	return cmd
}

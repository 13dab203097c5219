package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/internal/admin"
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
  ramp cohorts import beta-testers testers.csv --create
  ramp cohorts export beta-testers --file testers.csv`,
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
	_ = f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
		cs, err := a.Cohorts(ctx)
		for _, c := range cs {
			keys = append(keys, c.Key+"\t"+c.Description)
		}
		return err
	})
	return keys, cobra.ShellCompDirectiveNoFileComp
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
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				views, err := a.Cohorts(ctx)
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, views)
				}
				if len(views) == 0 {
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
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				v, err := a.Cohort(ctx, args[0])
				if err != nil {
					return err
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
	var create bool
	cmd := &cobra.Command{
		Use:   "add COHORT USER...",
		Short: "Add users to a cohort's member list",
		Long: `Add user ids (targeting keys) to a cohort's explicit member list, optionally
with their home region. Ids already listed are kept; --region changes their
region, and the summary counts added ids, region changes and unchanged ids
apart. The cohort must exist (declare it with ramp apply), unless --create
is given.

--region is one country code: a group's name (EU, NA…, see ramp regions) is
refused. NA is North America in rules, so Namibia is written country:NA.`,
		Example: `  ramp cohorts add employees emp-6 emp-7 --region US
  ramp cohorts add partners biz-9 --region country:NA`,
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
				if r, err = cohorts.ParseMemberRegion(region); err != nil {
					return &UsageError{Err: fmt.Errorf("--region: %w", err), Command: cmd.CommandPath()}
				}
			}
			req := admin.AddMembersRequest{Cohort: args[0], Create: create, Members: make([]cohorts.Member, 0, len(args)-1)}
			for _, id := range args[1:] {
				req.Members = append(req.Members, cohorts.Member{ID: id, Region: cohorts.Region(cohorts.MemberRegionText(r))})
			}
			return f.withAdmin(cmd.Context(), create, func(ctx context.Context, a Control) error {
				res, err := a.AddMembers(ctx, req)
				if err != nil {
					return importHint(err)
				}
				printMemberEdit(f.IO.ErrOut, args[0], res, true)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "home region of the users added: one country code (ISO 3166-1 alpha-2; country:NA for Namibia)")
	cmd.Flags().BoolVar(&create, "create", false, "create the cohort if it does not exist")
	return cmd
}

// regionChangesShown is how many region changes an edit's summary lists.
const regionChangesShown = 10

// printMemberEdit prints what an addition (add) or removal did.
func printMemberEdit(w io.Writer, key string, res admin.MemberEdit, add bool) {
	if res.Created {
		fmt.Fprintf(w, "cohort %s did not exist and was created\n", key)
	}
	if !add {
		fmt.Fprintf(w, "%s: %s removed, %s not listed; %s now\n", key, pluralK(res.Removed, "member", "members"), thousands(res.Unchanged), pluralK(res.Members, "member", "members"))
		return
	}
	fmt.Fprintf(w, "%s: %s added, %s, %s unchanged; %s now\n", key, pluralK(res.Added, "member", "members"),
		pluralK(res.RegionChanged, "region changed", "regions changed"), thousands(res.Unchanged), pluralK(res.Members, "member", "members"))
	for i, c := range res.RegionChanges {
		if i == regionChangesShown {
			fmt.Fprintf(w, "  (%d more)\n", res.RegionChanged-i)
			break
		}
		from := string(c.From)
		if from == "" {
			from = "none"
		}
		fmt.Fprintf(w, "  %s: region %s → %s\n", c.ID, from, c.To)
	}
}

func newCohortsRemoveCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "remove COHORT USER...",
		Aliases: []string{"rm"},
		Short:   "Remove users from a cohort's member list",
		Example: `  ramp cohorts remove employees emp-7
  ramp cohorts import beta-testers gone.csv --mode remove`,
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
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				res, err := a.RemoveMembers(ctx, args[0], args[1:])
				if err != nil {
					return err
				}
				printMemberEdit(f.IO.ErrOut, args[0], res, false)
				return nil
			})
		},
	}
	return cmd
}

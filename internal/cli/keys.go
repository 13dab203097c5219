package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/admin"
)

func newKeysCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Aliases: []string{"key"},
		Short:   "Create, list and revoke the API keys services use to ask ramp serve",
		Long: `API keys authenticate requests to "ramp serve". An sdk key may ask for
decisions (OFREP) and read the snapshot feed; an admin key may do everything.
A key's secret is printed once, when it is created: ramp stores only its
SHA-256 hash. Revoked keys stop working on every server within a second.`,
		Example: `  ramp keys create --role sdk --name checkout-service
  ramp keys list
  ramp keys revoke checkout-service`,
	}
	cmd.AddCommand(newKeysCreateCmd(f), newKeysListCmd(f), newKeysRevokeCmd(f))
	return cmd
}

func newKeysCreateCmd(f *Factory) *cobra.Command {
	var role, name, format string
	cmd := &cobra.Command{
		Use:   "create --role sdk|admin --name NAME",
		Short: "Create a key and print its secret (shown only this once)",
		Example: `  ramp keys create --role sdk --name checkout-service
  SECRET=$(ramp keys create --role sdk --name ci -o json | jq -r .secret)`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role != admin.RoleSDK && role != admin.RoleAdmin {
				return &UsageError{Err: fmt.Errorf("--role must be sdk or admin"), Command: cmd.CommandPath()}
			}
			if name == "" {
				return &UsageError{Err: fmt.Errorf("--name is required"), Command: cmd.CommandPath()}
			}
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), true, func(ctx context.Context, a Control) error {
				k, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: name, Role: role})
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, k)
				}
				fmt.Fprintln(f.IO.Out, k.Secret)
				fmt.Fprintf(f.IO.ErrOut, "key %q (%s) created. Copy the secret now: it is not stored and cannot be shown again.\n", k.Name, k.Role)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "sdk (decisions and snapshot feed) or admin (everything)")
	cmd.Flags().StringVar(&name, "name", "", "a name for the key, unique among active keys (e.g. the service using it)")
	addOutputFlag(cmd, &format)
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{admin.RoleSDK, admin.RoleAdmin}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newKeysListCmd(f *Factory) *cobra.Command {
	var format string
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List keys (never their secrets)",
		Example: `  ramp keys list
  ramp keys list --all -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				shown, err := a.Keys(ctx, all)
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, shown)
				}
				t := newTable(f.IO.Out, "NAME", "ROLE", "PREFIX", "CREATED", "BY", "STATE")
				for _, k := range shown {
					state := "active"
					if !k.Active() {
						state = "revoked " + k.RevokedAt.Format("2006-01-02 15:04") + " by " + k.RevokedBy
					}
					t.row(k.Name, k.Role, k.Prefix+"…", k.CreatedAt.Format("2006-01-02 15:04"), k.CreatedBy, state)
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include revoked keys")
	addOutputFlag(cmd, &format)
	return cmd
}

func newKeysRevokeCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke NAME",
		Short:   "Revoke a key: servers refuse it within a second",
		Example: `  ramp keys revoke checkout-service`,
		Args:    exactArgs(1, "one key name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				k, err := a.RevokeKey(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(f.IO.ErrOut, "key %q (%s, %s…) revoked\n", k.Name, k.Role, k.Prefix)
				return nil
			})
		},
	}
}

package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/admin"
)

func newKeysCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Aliases: []string{"key"},
		Short:   "Create, list and revoke the API keys services and automation use",
		Long: `API keys authenticate services and automation to "ramp serve". A key has a
role: sdk (decisions, the snapshot feed and tracking: what services need),
viewer (read everything), editor (change flags, cohorts, rollouts and
experiments) or admin (manage keys, tokens and people too); an editor or admin
key may also hold the approve capability (--approve). A key's secret
("ramp_key_…") is printed once, when it is created: ramp stores only its
SHA-256 hash. Keys may expire (--expires). Revoked keys stop working on every
server within a second; creating or revoking one never makes providers
download the configuration again. People use personal tokens ("ramp
tokens"). See docs/security.md.`,
		Example: `  ramp keys create --role sdk --name checkout-service
  ramp keys create --role editor --approve --name release-train --expires 90d
  ramp keys list
  ramp keys revoke checkout-service`,
	}
	cmd.AddCommand(newKeysCreateCmd(f), newKeysListCmd(f), newKeysRevokeCmd(f))
	return cmd
}

var keyRoles = []string{admin.RoleSDK, admin.RoleViewer, admin.RoleEditor, admin.RoleAdmin}

func newKeysCreateCmd(f *Factory) *cobra.Command {
	var role, name, format, expires string
	var approve bool
	cmd := &cobra.Command{
		Use:   "create --role sdk|viewer|editor|admin --name NAME",
		Short: "Create a key and print its secret (shown only this once)",
		Example: `  ramp keys create --role sdk --name checkout-service
  ramp keys create --role editor --approve --name release-train --expires 2027-06-30
  SECRET=$(ramp keys create --role sdk --name ci -o json | jq -r .secret)`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !oneOf(role, keyRoles) {
				return &UsageError{Err: fmt.Errorf("--role must be sdk, viewer, editor or admin"), Command: cmd.CommandPath()}
			}
			if name == "" {
				return &UsageError{Err: fmt.Errorf("--name is required"), Command: cmd.CommandPath()}
			}
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			exp, err := parseExpiry(expires, time.Now(), true)
			if err != nil {
				return &UsageError{Err: fmt.Errorf("--expires: %w", err), Command: cmd.CommandPath()}
			}
			return f.withAdmin(cmd.Context(), true, func(ctx context.Context, a Control) error {
				k, err := a.CreateKey(ctx, admin.CreateKeyRequest{Name: name, Role: role, Approve: approve, Expires: exp})
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, k)
				}
				fmt.Fprintln(f.IO.Out, k.Secret)
				fmt.Fprintf(f.IO.ErrOut, "key %q (%s%s, %s) created. Copy the secret now: it is not stored and cannot be shown again.\n",
					k.Name, k.Role, approveNote(k.Approve), expiryNote(k.ExpiresAt))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "sdk (decisions, snapshot feed, tracking), viewer, editor or admin")
	cmd.Flags().StringVar(&name, "name", "", "a name for the key, unique among active keys (e.g. the service using it)")
	cmd.Flags().BoolVar(&approve, "approve", false, "may approve rollout stages (editor or admin keys only)")
	cmd.Flags().StringVar(&expires, "expires", "never", "when the key stops working: a duration (90d, 12h), a date (2027-06-30), a time (RFC 3339) or never")
	addOutputFlag(cmd, &format)
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(keyRoles, cobra.ShellCompDirectiveNoFileComp))
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
				now := time.Now()
				t := newTable(f.IO.Out, "NAME", "ROLE", "PREFIX", "CREATED", "BY", "EXPIRES", "LAST USED", "STATE")
				for _, k := range shown {
					t.row(k.Name, k.Role+approveNote(k.Approve), k.Prefix+"…", k.CreatedAt.Format("2006-01-02 15:04"), k.CreatedBy,
						shortTime(k.ExpiresAt, "never"), shortTime(k.LastUsedAt, "never"), credentialState(k.RevokedAt, k.RevokedBy, k.Expired(now)))
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
		Short:   "Revoke a key: every server refuses it within a second",
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

func newTokensCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Create, list and revoke people's personal tokens",
		Long: `Personal tokens authenticate people to "ramp serve" (the admin API, "ramp
--server", the dashboard): the token's person is the audit log's actor. A
token has a role (viewer, editor or admin), may hold the approve capability
(--approve), and expires (--expires, 90 days by default, a year at most). Its
secret ("ramp_pat_…") is printed once: ramp stores only its SHA-256 hash.
"ramp login" makes one through single sign-on when the server has it. Revoked
tokens stop working on every server within a second. See docs/security.md.`,
		Example: `  ramp tokens create alice@example.com --role editor --approve --expires 90d --note laptop
  ramp tokens list
  ramp tokens revoke 12`,
	}
	cmd.AddCommand(newTokensCreateCmd(f), newTokensListCmd(f), newTokensRevokeCmd(f))
	return cmd
}

var tokenRoles = []string{admin.RoleViewer, admin.RoleEditor, admin.RoleAdmin}

func newTokensCreateCmd(f *Factory) *cobra.Command {
	var role, format, expires, note string
	var approve bool
	cmd := &cobra.Command{
		Use:   "create PERSON --role viewer|editor|admin",
		Short: "Create a personal token for a person and print its secret (shown only this once)",
		Example: `  ramp tokens create alice@example.com --role editor --approve --expires 90d
  ramp tokens create bob --role viewer --note "on-call laptop" -o json`,
		Args: exactArgs(1, "the person the token is for"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !oneOf(role, tokenRoles) {
				return &UsageError{Err: fmt.Errorf("--role must be viewer, editor or admin"), Command: cmd.CommandPath()}
			}
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			exp, err := parseExpiry(expires, time.Now(), false)
			if err != nil {
				return &UsageError{Err: fmt.Errorf("--expires: %w", err), Command: cmd.CommandPath()}
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				tok, err := a.CreateToken(ctx, admin.CreateTokenRequest{Person: args[0], Role: role, Approve: approve, Expires: exp, Note: note})
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, tok)
				}
				fmt.Fprintln(f.IO.Out, tok.Secret)
				fmt.Fprintf(f.IO.ErrOut, "token %d for %q (%s%s, %s) created. Copy the secret now: it is not stored and cannot be shown again.\n",
					tok.ID, tok.Person, tok.Role, approveNote(tok.Approve), expiryNote(tok.ExpiresAt))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "viewer (read), editor (change) or admin (manage credentials too)")
	cmd.Flags().BoolVar(&approve, "approve", false, "may approve rollout stages (editor or admin only)")
	cmd.Flags().StringVar(&expires, "expires", "90d", "when the token stops working: a duration (90d, 12h), a date (2027-06-30) or a time (RFC 3339); a year at most")
	cmd.Flags().StringVar(&note, "note", "", "what the token is for (shown in the list)")
	addOutputFlag(cmd, &format)
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(tokenRoles, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newTokensListCmd(f *Factory) *cobra.Command {
	var format, person string
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List personal tokens (never their secrets)",
		Example: `  ramp tokens list
  ramp tokens list --person alice@example.com --all -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				shown, err := a.Tokens(ctx, admin.TokenFilter{Person: person, All: all})
				if err != nil {
					return err
				}
				if out != formatTable {
					return writeData(f.IO.Out, out, shown)
				}
				now := time.Now()
				t := newTable(f.IO.Out, "ID", "PERSON", "ROLE", "PREFIX", "NOTE", "CREATED", "BY", "EXPIRES", "LAST USED", "STATE")
				for _, k := range shown {
					t.row(strconv.FormatInt(k.ID, 10), k.Person, k.Role+approveNote(k.Approve), k.Prefix+"…", k.Note,
						k.CreatedAt.Format("2006-01-02 15:04"), k.CreatedBy, shortTime(k.ExpiresAt, "never"), shortTime(k.LastUsedAt, "never"),
						credentialState(k.RevokedAt, k.RevokedBy, k.Expired(now)))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&person, "person", "", "only this person's tokens")
	cmd.Flags().BoolVar(&all, "all", false, "include revoked tokens")
	addOutputFlag(cmd, &format)
	return cmd
}

func newTokensRevokeCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a personal token: every server refuses it within a second",
		Example: `  ramp tokens revoke 12`,
		Args:    exactArgs(1, "one token id (ramp tokens list shows them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				tok, err := a.RevokeToken(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(f.IO.ErrOut, "token %d of %q (%s, %s…) revoked\n", tok.ID, tok.Person, tok.Role, tok.Prefix)
				return nil
			})
		},
	}
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// parseExpiry reads an --expires flag: a duration from now ("90d", "12h",
// "1h30m"), a date ("2027-06-30", its start in UTC), a time (RFC 3339), or
// "never" (zero) when allowed.
func parseExpiry(s string, now time.Time, neverOK bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "never" || s == "":
		if !neverOK {
			return time.Time{}, fmt.Errorf("personal tokens expire: give a duration such as 90d, or a date")
		}
		return time.Time{}, nil
	case strings.HasSuffix(s, "d"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n <= 0 {
			return time.Time{}, fmt.Errorf("%q: want a positive number of days such as 90d", s)
		}
		return now.Add(time.Duration(n) * 24 * time.Hour), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: want a positive duration", s)
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want a duration (90d, 12h), a date (2027-06-30), a time (RFC 3339) or never", s)
}

func approveNote(approve bool) string {
	if approve {
		return "+approve"
	}
	return ""
}

func expiryNote(t *time.Time) string {
	if t == nil {
		return "never expires"
	}
	return "expires " + t.Format("2006-01-02 15:04 MST")
}

func shortTime(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.Format("2006-01-02 15:04")
}

func credentialState(revokedAt *time.Time, revokedBy string, expired bool) string {
	switch {
	case revokedAt != nil:
		return "revoked " + revokedAt.Format("2006-01-02 15:04") + " by " + revokedBy
	case expired:
		return "expired"
	}
	return "active"
}

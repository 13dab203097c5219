package cli

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/auth/sso"
)

// authOptions are ramp serve's flags about who may ask: the limit of
// failed authentications, the proxies trusted to name the client, and
// single sign-on.
type authOptions struct {
	failures       string
	trustedProxies string

	oidcIssuer, oidcClientID, oidcSecretFile, oidcRoles string
	oidcScopes                                          []string
	oidcTokenLifetime                                   time.Duration
}

// addAuthFlags registers ramp serve's authentication flags.
func addAuthFlags(cmd *cobra.Command, o *authOptions) {
	cmd.Flags().StringVar(&o.failures, "auth-failure-limit", strconv.Itoa(auth.DefaultFailureLimit),
		"failed authentications a second each client address may make before it is refused with 429, as N or N/s (0: no limit)")
	cmd.Flags().StringVar(&o.trustedProxies, "trusted-proxies", "",
		"reverse proxies (addresses or prefixes, comma-separated) whose X-Forwarded-For names the client's address for --auth-failure-limit")
	cmd.Flags().StringVar(&o.oidcIssuer, "oidc-issuer", "", "single sign-on: the OpenID Connect issuer's URL (see docs/security.md)")
	cmd.Flags().StringVar(&o.oidcClientID, "oidc-client-id", "", "single sign-on: ramp's client id at the issuer")
	cmd.Flags().StringVar(&o.oidcSecretFile, "oidc-client-secret-file", "", "single sign-on: a file holding ramp's client secret at the issuer (not on the command line, where ps shows it)")
	cmd.Flags().StringVar(&o.oidcRoles, "oidc-roles", "", `single sign-on: who may log in, with what role: a file of rules, or rules separated by commas ("group:release = editor+approve, domain:example.com = viewer"); people no rule names are refused`)
	cmd.Flags().StringSliceVar(&o.oidcScopes, "oidc-scopes", []string{"openid", "email", "profile"}, "single sign-on: the scopes asked for (add the issuer's groups scope for group: rules)")
	cmd.Flags().DurationVar(&o.oidcTokenLifetime, "oidc-token-lifetime", sso.DefaultTokenLifetime, `single sign-on: how long a token made by "ramp login" lives (at most a year)`)
}

// oidcConfig reads the single sign-on flags: nil without --oidc-issuer.
func (o *authOptions) oidcConfig(publicURL string, log *slog.Logger) (*sso.Config, error) {
	usage := func(format string, args ...any) error {
		return &UsageError{Err: fmt.Errorf(format, args...), Command: "ramp serve"}
	}
	if o.oidcIssuer == "" {
		if o.oidcClientID != "" || o.oidcSecretFile != "" || o.oidcRoles != "" {
			return nil, usage("--oidc-client-id, --oidc-client-secret-file and --oidc-roles need --oidc-issuer")
		}
		return nil, nil
	}
	if o.oidcClientID == "" || o.oidcRoles == "" {
		return nil, usage("--oidc-issuer needs --oidc-client-id and --oidc-roles")
	}
	if u, err := url.Parse(o.oidcIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, usage("--oidc-issuer %q: want the issuer's URL (https://…)", o.oidcIssuer)
	}
	if o.oidcTokenLifetime <= 0 || o.oidcTokenLifetime > admin.MaxTokenLifetime {
		return nil, usage("--oidc-token-lifetime %s: between a second and a year", o.oidcTokenLifetime)
	}
	var secret string
	if o.oidcSecretFile != "" {
		b, err := os.ReadFile(o.oidcSecretFile)
		if err != nil {
			return nil, &InvalidError{fmt.Errorf("--oidc-client-secret-file: %w", err)}
		}
		secret = strings.TrimSpace(string(b))
	}
	roles, err := sso.LoadRoleMap(o.oidcRoles)
	if err != nil {
		return nil, &InvalidError{fmt.Errorf("--oidc-roles: %w", err)}
	}
	return &sso.Config{Issuer: o.oidcIssuer, ClientID: o.oidcClientID, ClientSecret: secret, Scopes: o.oidcScopes, Roles: roles,
		PublicURL: publicURL, TokenLifetime: o.oidcTokenLifetime, Logger: log.With("component", "oidc")}, nil
}

// options reads the flags into the authenticator's options; ramp serve
// calls it before opening the database, so that a wrong flag is a usage
// error whatever the database.
func (o *authOptions) options(log *slog.Logger) (auth.Options, error) {
	perSecond, err := parseRate("auth-failure-limit", o.failures)
	if err != nil {
		return auth.Options{}, &UsageError{Err: err, Command: "ramp serve"}
	}
	if perSecond == 0 {
		perSecond = -1 // no limit
	}
	proxies, err := auth.ParseProxies(o.trustedProxies)
	if err != nil {
		return auth.Options{}, &UsageError{Err: fmt.Errorf("--trusted-proxies: %w", err), Command: "ramp serve"}
	}
	return auth.Options{FailureLimit: perSecond, TrustedProxies: proxies, Logger: log.With("component", "auth")}, nil
}

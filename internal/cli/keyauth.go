package cli

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/internal/auth"
)

// authOptions are ramp serve's flags about who may ask: the limit of
// failed authentications and the proxies trusted to name the client.
type authOptions struct {
	failures       string
	trustedProxies string
}

// addAuthFlags registers ramp serve's authentication flags.
func addAuthFlags(cmd *cobra.Command, o *authOptions) {
	cmd.Flags().StringVar(&o.failures, "auth-failure-limit", strconv.Itoa(auth.DefaultFailureLimit),
		"failed authentications a second each client address may make before it is refused with 429, as N or N/s (0: no limit)")
	cmd.Flags().StringVar(&o.trustedProxies, "trusted-proxies", "",
		"reverse proxies (addresses or prefixes, comma-separated) whose X-Forwarded-For names the client's address for --auth-failure-limit")
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

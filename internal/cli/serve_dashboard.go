package cli

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/auth/sso"
	"github.com/ramp-flags/ramp/internal/dashboard"
)

// dashboardOptions are ramp serve's dashboard flags.
type dashboardOptions struct {
	on         bool
	sessionTTL time.Duration
}

// newDashboard builds the web dashboard ramp serve mounts at /, or nil
// when it is off: by --dashboard=false, or because authentication is off
// (a dashboard anyone could use to throw kill switches is not served).
// People sign in with a personal token the server's checker accepts; the
// session is a row of the database, admitted by the same checker.
//
// oidcLogin is the path that starts single sign-on when the server has it
// ("" without): the sign-in page links to it.
func newDashboard(opts *serveOptions, a *admin.Service, authn auth.Authenticator, oidcLogin string, tls bool, log *slog.Logger) (*dashboard.Dashboard, error) {
	d := opts.dashboard
	switch {
	case !d.on:
		return nil, nil
	case opts.insecureNoAuth:
		log.Warn("the dashboard is off: it needs authentication, which --insecure-no-auth turns off")
		return nil, nil
	case d.sessionTTL <= 0:
		return nil, &UsageError{Err: fmt.Errorf("--dashboard-session-ttl %s: must be positive", d.sessionTTL), Command: "ramp serve"}
	}
	checker, ok := authn.(*auth.Checker)
	if !ok {
		return nil, fmt.Errorf("the dashboard needs the server's credential checker, not %T", authn)
	}
	dash, err := dashboard.New(dashboard.Options{Admin: a, Auth: checker,
		Sessions: dashboard.StoredSessions{Admin: a, Cookies: checker.Sessions()}, SessionTTL: d.sessionTTL, OIDCLogin: oidcLogin, Logger: log})
	if err != nil {
		return nil, err
	}
	if host, _, err := net.SplitHostPort(opts.addr); !tls && err == nil && !loopback(host) {
		log.Warn("the dashboard's session cookie is Secure: browsers keep it only over HTTPS or on localhost; serve with --tls-cert/--tls-key or behind a TLS proxy")
	}
	return dash, nil
}

// oidcLogin is the path that starts single sign-on, when the server has it.
func oidcLogin(h http.Handler) string {
	if h == nil {
		return ""
	}
	return sso.Prefix + "login"
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

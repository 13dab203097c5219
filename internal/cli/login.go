package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/client"
)

type loginOptions struct {
	f         *Factory
	server    string
	context   string
	withToken bool
	format    string
}

func newLoginCmd(f *Factory) *cobra.Command {
	opts := &loginOptions{f: f}
	cmd := &cobra.Command{
		Use:   "login --server URL",
		Short: "Log in to a ramp server: later commands work through its admin API",
		Long: `Log in to a ramp server with a personal token (or an API key), check it
with the server, and save it as a named context (the server's host by
default, --context NAME otherwise), which becomes the current one: every
command that works on a database then works through that server instead,
with the same output and exit codes, and the audit log records the person
the token stands for.

On a terminal, paste the token when asked (it is not echoed); in scripts and
CI pipe it with --with-token. When the server offers single sign-on and no
token is given, ramp opens the browser to sign in.

Contexts live in the user's configuration directory (contexts.json, readable
by the user alone; $RAMP_CONFIG_DIR overrides the directory). Precedence:
--server and --token, then $RAMP_SERVER and $RAMP_TOKEN, then the current
context, then the local database (--db, $RAMP_DB). ramp never prints a token.`,
		Example: `  ramp login --server https://flags.example.com
  echo "$RAMP_CI_TOKEN" | ramp login --server https://flags.example.com --with-token --context ci
  ramp auth status`,
		Args: exactArgs(0, "no arguments (the server is --server URL)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.server = f.Server
			return loginRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.context, "context", "", "name of the context to save (default: the server's host)")
	cmd.Flags().BoolVar(&opts.withToken, "with-token", false, "read the token from standard input")
	addOutputFlag(cmd, &opts.format)
	return cmd
}

// readToken reads a token: from stdin with --with-token, else from the
// terminal without echo, else through the browser when the server offers
// single sign-on (fresh is then true: the server issued it a moment ago).
func readToken(ctx context.Context, opts *loginOptions) (token string, fresh bool, err error) {
	token, err = readTokenFrom(ctx, opts, &fresh)
	return token, fresh, err
}

func readTokenFrom(ctx context.Context, opts *loginOptions, fresh *bool) (string, error) {
	streams := opts.f.IO
	if opts.withToken {
		line, err := bufio.NewReader(streams.In).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the token from standard input: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
	if oidcConfigured(ctx, opts.server) {
		*fresh = true
		return browserLogin(ctx, streams, opts.server)
	}
	if !streams.StdinTTY {
		return "", &UsageError{Err: errors.New("standard input is not a terminal: pipe the token with --with-token"), Command: "ramp login"}
	}
	fmt.Fprintf(streams.ErrOut, "Paste a token for %s (ramp tokens create, or ask an admin): ", redactURL(opts.server))
	if fd, ok := stdinFd(streams); ok {
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(streams.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read the token: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, _ := bufio.NewReader(streams.In).ReadString('\n')
	return strings.TrimSpace(line), nil
}

// oidcConfigured asks the server whether it offers single sign-on: it
// mounts /auth/oidc/ when it does.
func oidcConfigured(ctx context.Context, server string) bool {
	u, err := client.ParseServer(server)
	if err != nil {
		return false
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/auth/oidc/"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func loginRun(ctx context.Context, opts *loginOptions) error {
	f := opts.f
	if opts.server == "" {
		opts.server = f.Getenv("RAMP_SERVER")
	}
	if opts.server == "" {
		return &UsageError{Err: errors.New("ramp login needs --server URL"), Command: "ramp login"}
	}
	u, err := client.ParseServer(opts.server)
	if err != nil {
		return &UsageError{Err: err, Command: "ramp login"}
	}
	format, err := resolveFormat(f.IO, opts.format)
	if err != nil {
		return err
	}
	token, fresh := f.Token, false
	if token == "" {
		if token, fresh, err = readToken(ctx, opts); err != nil {
			return err
		}
	}
	if token == "" {
		return &InvalidError{errors.New("no token given: nothing saved")}
	}
	c, err := client.New(u.String(), token, client.Options{UserAgent: "ramp/" + Version()})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.WhoAmI(ctx)
	// A token the server just issued may not be known yet to the replica
	// that answers (credentials are reloaded every 250 ms): ask again for
	// a few seconds before giving up on it.
	for wait := 100 * time.Millisecond; fresh && ramp.KindOf(err) == ramp.KindUnauthorized && wait < 5*time.Second; wait *= 2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		p, err = c.WhoAmI(ctx)
	}
	if err != nil {
		return fmt.Errorf("log in to %s: %w", u.Redacted(), err)
	}
	cf, path, err := f.loadContexts()
	if err != nil {
		return err
	}
	name := opts.context
	if name == "" {
		name = u.Hostname()
		if u.Port() != "" {
			name += ":" + u.Port()
		}
	}
	cf.Contexts[name] = &savedServer{Server: u.String(), Token: token, Name: p.Name}
	cf.Current = name
	if err := saveContexts(path, cf); err != nil {
		return err
	}
	if format != formatTable {
		return writeData(f.IO.Out, format, loginView{Context: name, Server: u.String(), Principal: p})
	}
	fmt.Fprintf(f.IO.ErrOut, "Logged in to %s as %s (%s, role %s%s); context %q is now current.\n",
		u.Redacted(), p.Name, p.Kind, p.Role, approveWord(p), name)
	return nil
}

// loginView is what login and auth status print as JSON: never a token.
type loginView struct {
	Context   string         `json:"context,omitempty"`
	Server    string         `json:"server,omitempty"`
	Source    string         `json:"source,omitempty"`
	Principal auth.Principal `json:"principal"`
}

func approveWord(p auth.Principal) string {
	if p.Approve {
		return ", may approve"
	}
	return ""
}

func newLogoutCmd(f *Factory) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Revoke and forget the token of a context (the current one by default)",
		Long: `Log out of a context (the current one, or --context NAME): a personal
token is revoked on the server (so that a copy of it left anywhere stops
working too), then forgotten; an API key is only forgotten, as keys belong
to automation. The context keeps its server, so that
"ramp login --context NAME --server URL" logs in again. When the server
cannot be reached the token is forgotten anyway, and ramp says that it is
still valid.`,
		Example: "  ramp logout\n  ramp logout --context prod",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, path, err := f.loadContexts()
			if err != nil {
				return err
			}
			if name == "" {
				name = cf.Current
			}
			s, ok := cf.Contexts[name]
			if !ok {
				return ramp.Errorf(ramp.KindNotFound, "no context %q (ramp context list)", name)
			}
			if s.Token == "" {
				fmt.Fprintf(f.IO.ErrOut, "Not logged in to %s (context %q).\n", redactURL(s.Server), name)
				return nil
			}
			revoked := revokeOwn(cmd.Context(), s)
			s.Token, s.Name = "", ""
			if err := saveContexts(path, cf); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "Logged out of %s (context %q): %s.\n", redactURL(s.Server), name, revoked)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "context", "", "the context to log out of (default: the current one)")
	return cmd
}

// revokeOwn revokes the personal token a context holds, and says what
// became of it.
func revokeOwn(ctx context.Context, s *savedServer) string {
	c, err := client.New(s.Server, s.Token, client.Options{UserAgent: "ramp/" + Version()})
	if err != nil {
		return "the token was forgotten"
	}
	defer c.Close()
	p, err := c.WhoAmI(ctx)
	if err != nil {
		if ramp.KindOf(err) == ramp.KindUnauthorized {
			return "the token was no longer valid"
		}
		return fmt.Sprintf("the token was forgotten but is still valid (%v): ramp tokens revoke it", err)
	}
	id, ok := strings.CutPrefix(p.CredentialID, auth.KindToken+":")
	if p.Kind != auth.KindToken || !ok {
		return "the key was forgotten (keys are revoked with ramp keys revoke)"
	}
	if _, err := c.RevokeToken(ctx, id); err != nil {
		return fmt.Sprintf("the token was forgotten but is still valid (%v): ramp tokens revoke %s", err, id)
	}
	return "the token was revoked"
}

func newAuthCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "auth",
		Short:   "Show who commands act as",
		Example: "  ramp auth status",
	}
	var format string
	status := &cobra.Command{
		Use:   "status",
		Short: "Show where commands go (a server or a database) and who they act as there",
		Long: `Show where commands go and who they act as: the server (and whether it came
from --server, RAMP_SERVER or a context) with the principal the token stands
for as the server says (name, kind, role, the approve capability, expiry), or
the local database with the actor the audit log records. Never the token.
Exits 1 when the server refuses the token.`,
		Example: "  ramp auth status\n  ramp auth status -o json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			t, err := f.target()
			if err != nil {
				return err
			}
			if t.server == "" {
				view := struct {
					Database string `json:"database"`
					Actor    string `json:"actor"`
				}{admin.RedactDSN(f.dsn()), f.Actor}
				if out != formatTable {
					return writeData(f.IO.Out, out, view)
				}
				fmt.Fprintf(f.IO.Out, "database: %s (local)\nactor:    %s\n", view.Database, view.Actor)
				return nil
			}
			c, err := f.remoteClient(t)
			if err != nil {
				return err
			}
			defer c.Close()
			p, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return fmt.Errorf("%s (from %s): %w", redactURL(t.server), t.source, err)
			}
			view := loginView{Context: t.context, Server: redactURL(t.server), Source: t.source, Principal: p}
			if out != formatTable {
				return writeData(f.IO.Out, out, view)
			}
			w := f.IO.Out
			fmt.Fprintf(w, "server:  %s (from %s)\n", view.Server, t.source)
			fmt.Fprintf(w, "as:      %s (%s, role %s%s)\n", p.Name, p.Kind, p.Role, approveWord(p))
			if !p.Expires.IsZero() {
				fmt.Fprintf(w, "expires: %s\n", p.Expires.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	addOutputFlag(status, &format)
	cmd.AddCommand(status)
	return cmd
}

func newContextCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "List, switch and delete the saved servers (contexts) ramp login made",
		Example: `  ramp context list
  ramp context use prod
  ramp context delete staging`,
	}
	var format string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the contexts; * marks the current one",
		Example: "  ramp context list\n  ramp context list -o json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := resolveFormat(f.IO, format)
			if err != nil {
				return err
			}
			cf, _, err := f.loadContexts()
			if err != nil {
				return err
			}
			type row struct {
				Name     string `json:"name"`
				Server   string `json:"server"`
				As       string `json:"as,omitempty"`
				LoggedIn bool   `json:"loggedIn"`
				Current  bool   `json:"current"`
			}
			rows := []row{}
			for _, n := range cf.names() {
				s := cf.Contexts[n]
				rows = append(rows, row{Name: n, Server: redactURL(s.Server), As: s.Name, LoggedIn: s.Token != "", Current: n == cf.Current})
			}
			if out != formatTable {
				return writeData(f.IO.Out, out, rows)
			}
			t := newTable(f.IO.Out, "CURRENT", "NAME", "SERVER", "AS")
			for _, r := range rows {
				cur, as := "", r.As
				if r.Current {
					cur = "*"
				}
				if !r.LoggedIn {
					as = "(logged out)"
				}
				t.row(cur, r.Name, r.Server, as)
			}
			return t.flush()
		},
	}
	addOutputFlag(list, &format)
	use := &cobra.Command{
		Use:     "use NAME",
		Short:   "Make a context the current one (\"none\": work on the local database)",
		Example: "  ramp context use prod\n  ramp context use none",
		Args:    exactArgs(1, "a context name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, path, err := f.loadContexts()
			if err != nil {
				return err
			}
			name := args[0]
			if name == "none" {
				cf.Current = ""
			} else if _, ok := cf.Contexts[name]; !ok {
				return ramp.Errorf(ramp.KindNotFound, "no context %q (ramp context list)", name)
			} else {
				cf.Current = name
			}
			if err := saveContexts(path, cf); err != nil {
				return err
			}
			if cf.Current == "" {
				fmt.Fprintln(f.IO.ErrOut, "No current context: commands work on the local database.")
			} else {
				fmt.Fprintf(f.IO.ErrOut, "Switched to context %q (%s).\n", name, redactURL(cf.Contexts[name].Server))
			}
			return nil
		},
	}
	del := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a context and its saved token",
		Example: "  ramp context delete staging",
		Args:    exactArgs(1, "a context name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, path, err := f.loadContexts()
			if err != nil {
				return err
			}
			name := args[0]
			if _, ok := cf.Contexts[name]; !ok {
				return ramp.Errorf(ramp.KindNotFound, "no context %q (ramp context list)", name)
			}
			delete(cf.Contexts, name)
			if cf.Current == name {
				cf.Current = ""
			}
			if err := saveContexts(path, cf); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "Deleted context %q.\n", name)
			return nil
		},
	}
	cmd.AddCommand(list, use, del)
	return cmd
}

// stdinFd returns the process's stdin when it is the terminal the
// streams read, to read a secret without echo.
func stdinFd(io *IOStreams) (int, bool) {
	fd := int(os.Stdin.Fd())
	return fd, io.StdinTTY && term.IsTerminal(fd)
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/client"
)

// remoteControl is the control plane through a server's admin API.
type remoteControl struct{ *client.Client }

// contextFile is the user's file of named contexts: servers and their
// tokens, one of them current. It lives in the user's configuration
// directory (os.UserConfigDir()/ramp/contexts.json, or $RAMP_CONFIG_DIR),
// readable by the user alone (0600), and is replaced atomically.
type contextFile struct {
	Current  string                  `json:"current,omitempty"`
	Contexts map[string]*savedServer `json:"contexts"`
}

// savedServer is one context: a server and the token to act with there.
type savedServer struct {
	Server string `json:"server"`
	Token  string `json:"token,omitempty"`
	// Name is who the token stands for (as the server said at login).
	Name string `json:"name,omitempty"`
}

// configDir returns the directory of ramp's user configuration.
func (f *Factory) configDir() (string, error) {
	if d := f.Getenv("RAMP_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory for contexts (set RAMP_CONFIG_DIR): %w", err)
	}
	return filepath.Join(d, "ramp"), nil
}

// loadContexts reads the context file; a missing file is an empty one.
func (f *Factory) loadContexts() (*contextFile, string, error) {
	dir, err := f.configDir()
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "contexts.json")
	cf := &contextFile{Contexts: map[string]*savedServer{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cf, path, nil
	case err != nil:
		return nil, path, err
	}
	if err := json.Unmarshal(b, cf); err != nil {
		return nil, path, ramp.Errorf(ramp.KindInvalid, "%s: %v (fix or delete it)", path, err)
	}
	if cf.Contexts == nil {
		cf.Contexts = map[string]*savedServer{}
	}
	return cf, path, nil
}

// saveContexts writes the context file atomically (a temporary file in
// the same directory, synced, renamed over it), readable by the user
// alone.
func saveContexts(path string, cf *contextFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".contexts-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// names returns the contexts' names, sorted.
func (cf *contextFile) names() []string {
	out := make([]string, 0, len(cf.Contexts))
	for n := range cf.Contexts {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// target is where commands act: a server with a token, or a database.
type target struct {
	server, token string
	// source says where the server came from ("--server", "RAMP_SERVER",
	// `context "prod"`), for ramp auth status.
	source string
	// context names the context the server came from, if any.
	context string
}

// remote reports whether commands go through a server, and which: --server,
// else $RAMP_SERVER, else the current context; an explicit --db on the
// command line (without --server) keeps them on that database. The token
// comes from --token, else $RAMP_TOKEN, else the context the server came
// from (or any context naming the same server).
func (f *Factory) target() (target, error) {
	var t target
	switch {
	case f.Server != "":
		t.server, t.source = f.Server, "--server"
		if f.dbSet {
			return t, &UsageError{Err: errors.New("--db and --server exclude each other: a command works on a database or through a server")}
		}
	case f.dbSet:
		return t, nil
	case f.Getenv("RAMP_SERVER") != "":
		t.server, t.source = f.Getenv("RAMP_SERVER"), "RAMP_SERVER"
	}
	cf, _, err := f.loadContexts()
	if err != nil {
		return t, err
	}
	if t.server == "" {
		cur, ok := cf.Contexts[cf.Current]
		if !ok {
			return t, nil // local
		}
		t.server, t.token, t.source, t.context = cur.Server, cur.Token, fmt.Sprintf("context %q", cf.Current), cf.Current
	}
	switch {
	case f.Token != "":
		t.token = f.Token
	case f.Getenv("RAMP_TOKEN") != "":
		t.token = f.Getenv("RAMP_TOKEN")
	case t.token == "":
		for _, n := range cf.names() {
			if s := cf.Contexts[n]; sameServer(s.Server, t.server) && s.Token != "" {
				t.token, t.context = s.Token, n
				break
			}
		}
	}
	return t, nil
}

// sameServer compares server URLs as written, but for a trailing slash.
func sameServer(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// remoteClient returns the client of the target's server, refusing an
// actor named on the command line or in the environment: through a
// server, the audit log records the principal the token stands for.
func (f *Factory) remoteClient(t target) (*client.Client, error) {
	if f.actorSet {
		return nil, &UsageError{Err: fmt.Errorf("--actor and RAMP_ACTOR cannot be used with a server (%s, from %s): the server records who the token stands for; unset RAMP_ACTOR", redactURL(t.server), t.source)}
	}
	if f.Events != "" || f.Getenv("RAMP_EVENTS") != "" {
		return nil, &UsageError{Err: fmt.Errorf("--events and RAMP_EVENTS cannot be used with a server (%s, from %s): the server reads its own events database (ramp serve --events); unset RAMP_EVENTS", redactURL(t.server), t.source)}
	}
	if t.token == "" {
		return nil, &ramp.Error{Kind: ramp.KindUnauthorized,
			Msg: fmt.Sprintf("no token for %s: ramp login --server %s, or set RAMP_TOKEN", redactURL(t.server), redactURL(t.server))}
	}
	return client.New(t.server, t.token, client.Options{UserAgent: "ramp/" + Version()})
}

// redactURL shows a server URL without any credentials in it.
func redactURL(s string) string {
	u, err := client.ParseServer(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// withControl runs fn on the control plane: through the server the
// target names, else on the database (opened as withAdmin does).
func (f *Factory) withControl(ctx context.Context, create bool, fn func(ctx context.Context, a Control) error) error {
	t, err := f.target()
	if err != nil {
		return err
	}
	if t.server == "" {
		return f.withLocal(ctx, create, func(ctx context.Context, a Control) error { return fn(ctx, a) })
	}
	c, err := f.remoteClient(t)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(ctx, remoteControl{c})
}

// where names where commands go, for messages: the server, or the
// database.
func (f *Factory) where() string {
	if t, err := f.target(); err == nil && t.server != "" {
		return redactURL(t.server)
	}
	return admin.RedactDSN(f.dsn())
}

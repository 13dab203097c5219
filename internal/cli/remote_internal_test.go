package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTargetPrecedence: --server and --token, then RAMP_SERVER and
// RAMP_TOKEN, then the current context, then the database; an explicit
// --db keeps a command local.
func TestTargetPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "contexts.json")
	cf := &contextFile{Current: "prod", Contexts: map[string]*savedServer{
		"prod":    {Server: "https://prod.example", Token: "prod-token"},
		"staging": {Server: "https://staging.example", Token: "staging-token"},
	}}
	if err := saveContexts(path, cf); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("contexts file: %v %v", st.Mode(), err)
	}
	cases := []struct {
		name          string
		server, token string
		dbSet         bool
		env           map[string]string
		wantServer    string
		wantToken     string
		wantSource    string
	}{
		{name: "the current context", wantServer: "https://prod.example", wantToken: "prod-token", wantSource: `context "prod"`},
		{name: "RAMP_SERVER over the context, its token from the context of that server",
			env: map[string]string{"RAMP_SERVER": "https://staging.example/"}, wantServer: "https://staging.example/", wantToken: "staging-token", wantSource: "RAMP_SERVER"},
		{name: "RAMP_TOKEN over the context's", env: map[string]string{"RAMP_TOKEN": "env-token"},
			wantServer: "https://prod.example", wantToken: "env-token", wantSource: `context "prod"`},
		{name: "--server and --token over the environment", server: "https://flag.example", token: "flag-token",
			env:        map[string]string{"RAMP_SERVER": "https://staging.example", "RAMP_TOKEN": "env-token"},
			wantServer: "https://flag.example", wantToken: "flag-token", wantSource: "--server"},
		{name: "--server without a token of its own", server: "https://elsewhere.example", wantServer: "https://elsewhere.example", wantSource: "--server"},
		{name: "an explicit --db stays local", dbSet: true, env: map[string]string{"RAMP_SERVER": "https://staging.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"RAMP_CONFIG_DIR": dir}
			for k, v := range c.env {
				env[k] = v
			}
			f := &Factory{Server: c.server, Token: c.token, dbSet: c.dbSet, Getenv: func(k string) string { return env[k] }}
			got, err := f.target()
			if err != nil {
				t.Fatal(err)
			}
			if got.server != c.wantServer || got.token != c.wantToken || got.source != c.wantSource {
				t.Errorf("got server %q token %q source %q, want %q %q %q", got.server, got.token, got.source, c.wantServer, c.wantToken, c.wantSource)
			}
		})
	}
	f := &Factory{Server: "https://x.example", dbSet: true, Getenv: func(string) string { return dir }}
	if _, err := f.target(); ExitCode(err) != ExitUsage {
		t.Errorf("--db with --server: %v", err)
	}
	// No context file, no server: local.
	f = &Factory{Getenv: func(k string) string {
		if k == "RAMP_CONFIG_DIR" {
			return filepath.Join(dir, "none")
		}
		return ""
	}}
	if got, err := f.target(); err != nil || got.server != "" {
		t.Errorf("without contexts: %+v %v", got, err)
	}
}

package sso

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
)

func TestRoleMap(t *testing.T) {
	m, err := ParseRoleMap(`
# release managers approve
email:Intern@Example.com = viewer
group:release-managers = editor+approve
domain:@example.com = editor
group:admins = admin
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   Identity
		want *Rule
	}{
		{"named first", Identity{Email: "intern@example.com", EmailVerified: true, Groups: []string{"release-managers"}}, &Rule{Kind: "email", Value: "intern@example.com", Role: auth.RoleViewer}},
		{"group", Identity{Email: "x@other.org", EmailVerified: true, Groups: []string{"release-managers"}}, &Rule{Kind: "group", Value: "release-managers", Role: auth.RoleEditor, Approve: true}},
		{"domain, any case", Identity{Email: "Bob@EXAMPLE.com", EmailVerified: true}, &Rule{Kind: "domain", Value: "example.com", Role: auth.RoleEditor}},
		{"unverified address", Identity{Email: "bob@example.com"}, nil},
		{"unverified, but a group", Identity{Email: "bob@example.com", Groups: []string{"admins"}}, &Rule{Kind: "group", Value: "admins", Role: auth.RoleAdmin}},
		{"subdomain is another domain", Identity{Email: "a@eu.example.com", EmailVerified: true}, nil},
		{"nobody", Identity{Subject: "s"}, nil},
	}
	for _, tt := range tests {
		got, ok := m.Match(tt.id)
		if ok != (tt.want != nil) || ok && got != *tt.want {
			t.Errorf("%s: Match = %+v, %v; want %+v", tt.name, got, ok, tt.want)
		}
	}
	anyone, err := ParseRoleMap("group:x = admin\n* = viewer")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := anyone.Match(Identity{Subject: "s"}); !ok || r.Role != auth.RoleViewer {
		t.Errorf("* = viewer: %+v, %v", r, ok)
	}
}

func TestRoleMapErrors(t *testing.T) {
	for _, text := range []string{
		"", "# only a comment", "group:x", "group:x = root", "group:x = sdk", "group:x = viewer+approve",
		"group:x = editor+deploy", "team:x = editor", "email:nobody = editor", "group: = editor", "x = editor",
	} {
		if _, err := ParseRoleMap(text); !errors.Is(err, ramp.ErrInvalid) {
			t.Errorf("ParseRoleMap(%q) = %v, want invalid", text, err)
		}
	}
}

func TestLoadRoleMap(t *testing.T) {
	file := filepath.Join(t.TempDir(), "roles")
	if err := os.WriteFile(file, []byte("group:a = editor\n* = viewer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{file, "group:a = editor, * = viewer", "group:a=editor;*=viewer"} {
		m, err := LoadRoleMap(spec)
		if err != nil || len(m.Rules) != 2 || m.Rules[0].Role != auth.RoleEditor || m.Rules[1].Kind != "*" {
			t.Errorf("LoadRoleMap(%q) = %+v, %v", spec, m, err)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/flags": "/flags", "/flags?x=1": "/flags?x=1", "": "/", "https://evil.example/": "/", "//evil.example": "/",
		"/\\evil.example": "/", "flags": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRoleMap: a role map either parses into rules that each grant a
// person's role (never sdk, approve only with editor or admin) or is
// refused as invalid; never a panic.
func FuzzRoleMap(f *testing.F) {
	for _, seed := range []string{
		"group:release = editor+approve\ndomain:example.com = viewer", "* = admin", "email:a@b = viewer # c",
		"group:x = viewer+approve", "=", "::=+", "domain:@x = editor", "\x00 = admin",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseRoleMap(text)
		if err != nil {
			if !errors.Is(err, ramp.ErrInvalid) {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		for _, r := range m.Rules {
			switch {
			case r.Role != auth.RoleViewer && r.Role != auth.RoleEditor && r.Role != auth.RoleAdmin:
				t.Fatalf("rule %+v grants %q", r, r.Role)
			case r.Approve && r.Role == auth.RoleViewer:
				t.Fatalf("rule %+v: a viewer who approves", r)
			case r.Kind != "*" && (r.Value == "" || strings.ContainsAny(r.Value, "\n")):
				t.Fatalf("rule %+v has no value", r)
			}
		}
	})
}

// FuzzLocalPath: whatever return_to a login is given, the browser goes
// back to a path of this server.
func FuzzLocalPath(f *testing.F) {
	for _, seed := range []string{"/flags", "//evil", "/\\evil", "https://x", "/%2F%2Fevil", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := localPath(in)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || strings.ContainsAny(got, "\r\n") {
			t.Fatalf("localPath(%q) = %q", in, got)
		}
	})
}

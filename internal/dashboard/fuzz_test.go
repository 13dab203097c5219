package dashboard

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/flags"
)

// FuzzLocalPath: whatever "next" a sign-in form or link carries, the
// redirect stays on this server.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/flags", "/rollouts/x?done=advance", "//evil.example", "/\\evil", "https://evil.example/",
		"", "javascript:alert(1)", "/%2f%2fevil", "/\t/evil", "/a/../..//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := localPath(next, "/flags")
		if got != next && got != "/flags" {
			t.Fatalf("localPath(%q) = %q: neither the input nor the default", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("localPath(%q) = %q leaves the server", next, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("localPath(%q) = %q names a host (%v)", next, got, err)
		}
	})
}

// FuzzExplainContext: the explain form's fields either give a context with
// a targeting key, or an invalid-input error; never a panic.
func FuzzExplainContext(f *testing.F) {
	f.Add("u1", "US", "")
	f.Add("", "", `{"targetingKey":"u2","appVersion":"301.0.0"}`)
	f.Add("u3", "br", `{"n": 1.5, "list": [1,2]}`)
	f.Add("u4", "", `[1]`)
	f.Add("u5", "", `null`)
	f.Fuzz(func(t *testing.T, user, region, attrs string) {
		ctx, err := explainContext(user, region, attrs)
		if err != nil {
			if !errors.Is(err, ramp.ErrInvalid) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if ctx[flags.TargetingKey] == nil {
			t.Fatalf("a context without a targeting key: %v", ctx)
		}
		if region != "" && ctx[flags.RegionAttribute] != strings.ToUpper(region) {
			t.Fatalf("region %q became %v", region, ctx[flags.RegionAttribute])
		}
	})
}

// FuzzParseWhen: the audit log's time filters parse or refuse as invalid.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"2026-12-05T08:00", "2026-12-05", "2026-12-05T08:00:00.123Z", "yesterday", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		when, err := parseWhen("since", s)
		if err != nil && !errors.Is(err, ramp.ErrInvalid) {
			t.Fatalf("parseWhen(%q): error of another kind: %v", s, err)
		}
		if s == "" && (err != nil || !when.IsZero()) {
			t.Fatalf("an empty filter is not \"no filter\"")
		}
	})
}

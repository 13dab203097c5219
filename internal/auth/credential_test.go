package auth_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
)

const secret = "ramp_key_5t3qabcdefghijklmnopqrstuvwxyz23"

func TestParseCredential(t *testing.T) {
	tests := []struct {
		name string
		hdr  []string
		want string
		err  error
	}{
		{"bearer", []string{"Authorization", "Bearer " + secret}, secret, nil},
		{"lower-case scheme, spaces", []string{"Authorization", "  bearer   " + secret + " "}, secret, nil},
		{"X-API-Key", []string{"X-API-Key", " " + secret}, secret, nil},
		{"both, the same", []string{"Authorization", "Bearer " + secret, "X-API-Key", secret}, secret, nil},
		{"old key", []string{"X-API-Key", "ramp_sdk_abc"}, "ramp_sdk_abc", nil},
		{"none", nil, "", auth.ErrNoCredential},
		{"empty header", []string{"Authorization", ""}, "", auth.ErrMalformedCredential},
		{"bearer without secret", []string{"Authorization", "Bearer "}, "", auth.ErrMalformedCredential},
		{"basic", []string{"Authorization", "Basic " + secret}, "", auth.ErrMalformedCredential},
		{"no scheme", []string{"Authorization", secret}, "", auth.ErrMalformedCredential},
		{"two secrets", []string{"Authorization", "Bearer a b"}, "", auth.ErrMalformedCredential},
		{"both, different", []string{"Authorization", "Bearer " + secret, "X-API-Key", "other"}, "", auth.ErrMalformedCredential},
		{"two Authorization headers", []string{"Authorization", "Bearer a", "Authorization", "Bearer a"}, "", auth.ErrMalformedCredential},
		{"control character", []string{"X-API-Key", "ramp\x01key"}, "", auth.ErrMalformedCredential},
		{"non-ASCII", []string{"X-API-Key", "rämp"}, "", auth.ErrMalformedCredential},
		{"too long", []string{"X-API-Key", strings.Repeat("a", 257)}, "", auth.ErrMalformedCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				h.Add(tt.hdr[i], tt.hdr[i+1])
			}
			got, err := auth.ParseCredential(h)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("ParseCredential = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
			if err != nil && !errors.Is(err, ramp.ErrUnauthorized) {
				t.Errorf("%v does not match ErrUnauthorized", err)
			}
		})
	}
}

func TestSecretInQuery(t *testing.T) {
	tests := []struct {
		query string
		want  bool
	}{
		{"", false},
		{"flag=x&context=y", false},
		{"token=eyJuIjoiY2hlY2tvdXQifQ.c2ln", false}, // an event-stream token
		{"token=" + secret, true},
		{"x=" + url.QueryEscape("Bearer "+secret), true},
		{"q=%72amp_pat_abc", true},
		{"q=RAMP_SES_abc", true},
		{"access_token=abc", true},
		{"API_KEY=abc", true},
		{"api_key=", false},
		{"%zz=ramp_admin_x", true}, // unparseable, still refused
	}
	for _, tt := range tests {
		u := &url.URL{Path: "/v1/snapshot", RawQuery: tt.query}
		if got := auth.SecretInQuery(u); got != tt.want {
			t.Errorf("SecretInQuery(%q) = %v, want %v", tt.query, got, tt.want)
		}
	}
}

// FuzzParseCredential: whatever the headers hold, ParseCredential returns
// a secret of printable ASCII without spaces, at most 256 bytes, found in
// one of the headers, or an error matching ramp.ErrUnauthorized; and
// never panics.
func FuzzParseCredential(f *testing.F) {
	for _, seed := range [][2]string{
		{"Bearer " + secret, ""}, {"bearer\t" + secret, ""}, {"", secret}, {"Bearer a", "a"}, {"Bearer a", "b"},
		{"Basic dXNlcjpwYXNz", ""}, {"Bearer  ", ""}, {"Bearer a b", ""}, {"", "\x00"}, {"Bearer ramp_pat_é", ""},
		{"Bearer " + strings.Repeat("x", 300), ""}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, authorization, apiKey string) {
		h := http.Header{}
		if authorization != "" {
			h.Set("Authorization", authorization)
		}
		if apiKey != "" {
			h.Set("X-API-Key", apiKey)
		}
		got, err := auth.ParseCredential(h)
		if err != nil {
			if got != "" || !errors.Is(err, ramp.ErrUnauthorized) {
				t.Fatalf("ParseCredential = %q, %v", got, err)
			}
			for _, in := range []string{authorization, apiKey} {
				if len(in) >= 12 && strings.Contains(err.Error(), in) {
					t.Fatalf("the error %q repeats the header %q", err, in)
				}
			}
			return
		}
		if got == "" || len(got) > 256 || !strings.Contains(authorization+"\x00"+apiKey, got) {
			t.Fatalf("ParseCredential = %q from %q, %q", got, authorization, apiKey)
		}
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] >= 0x7f {
				t.Fatalf("ParseCredential = %q: byte %d is %#x", got, i, got[i])
			}
		}
	})
}

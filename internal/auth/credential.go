package auth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ramp-flags/ramp"
)

// Errors of authentication. Each matches ramp.ErrUnauthorized (401) and
// says what was wrong without repeating the secret.
var (
	ErrNoCredential        = unauthorized("no credential: send Authorization: Bearer <secret> (or X-API-Key: <secret>)")
	ErrMalformedCredential = unauthorized("malformed credential: send Authorization: Bearer <secret>, one secret of printable characters")
	ErrUnknownCredential   = unauthorized("unknown or revoked credential")
	ErrExpiredCredential   = unauthorized("expired credential: ask an admin for a new one, or log in again")
	ErrSecretInQuery       = unauthorized("a credential in the URL's query string is refused: URLs are logged and leak; send it in the Authorization header, and revoke this one")
	ErrSessionEnded        = unauthorized("no session, or it ended: log in again")
)

func unauthorized(msg string) error { return &ramp.Error{Kind: ramp.KindUnauthorized, Msg: msg} }

func invalidf(format string, args ...any) error {
	return &ramp.Error{Kind: ramp.KindInvalid, Msg: fmt.Sprintf(format, args...)}
}

// maxSecret bounds the length of a secret a request may present: ramp's
// are 41 characters, a session's too.
const maxSecret = 256

// SecretPrefixes are the beginnings of the secrets ramp makes: a key's, a
// personal token's, a session's, and those of keys made before personal
// tokens existed. A string that begins with one is taken for a secret
// wherever it appears (say, in a URL), so that it is refused.
var SecretPrefixes = []string{"ramp_key_", "ramp_pat_", "ramp_ses_", "ramp_sdk_", "ramp_admin_"}

// ParseCredential returns the secret a request's headers present:
// "Authorization: Bearer <secret>" (the scheme in any case) or "X-API-Key:
// <secret>". Without either it returns ErrNoCredential; another scheme,
// two Authorization headers, two different secrets, or a secret with
// spaces, control or non-ASCII characters, or longer than 256 bytes, is
// ErrMalformedCredential.
func ParseCredential(h http.Header) (string, error) {
	// The canonical keys, looked up as they are: "X-API-Key" is not
	// canonical, and Values would canonicalize it, allocating, on every
	// request.
	auths, keys := h["Authorization"], h["X-Api-Key"]
	if len(auths) > 1 || len(keys) > 1 {
		return "", ErrMalformedCredential
	}
	var bearer, key string
	if len(auths) == 1 {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(auths[0]), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", ErrMalformedCredential
		}
		bearer = strings.TrimLeft(rest, " ")
		if !validSecret(bearer) {
			return "", ErrMalformedCredential
		}
	}
	if len(keys) == 1 {
		key = strings.TrimSpace(keys[0])
		if !validSecret(key) {
			return "", ErrMalformedCredential
		}
	}
	switch {
	case bearer != "" && key != "" && bearer != key:
		return "", ErrMalformedCredential
	case bearer != "":
		return bearer, nil
	case key != "":
		return key, nil
	}
	return "", ErrNoCredential
}

// validSecret reports whether s may be a secret: 1 to 256 printable ASCII
// characters without spaces.
func validSecret(s string) bool {
	if s == "" || len(s) > maxSecret {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// queryCredentialNames are query parameters that carry credentials by
// convention; a URL with any of them is refused whatever their value.
var queryCredentialNames = map[string]bool{
	"access_token": true, "api_key": true, "apikey": true, "api-key": true, "x-api-key": true,
	"authorization": true, "bearer": true, "secret": true, "session": true,
}

// SecretInQuery reports whether a URL's query string carries what looks
// like a credential: a parameter named access_token, api_key, apikey,
// authorization, bearer, secret, session…, or any value that begins with
// one of SecretPrefixes. The event-stream tokens ramp serve puts in URLs
// ("token") are capabilities of their own and are not refused.
func SecretInQuery(u *url.URL) bool {
	if u == nil || u.RawQuery == "" {
		return false
	}
	raw := u.RawQuery
	if un, err := url.QueryUnescape(raw); err == nil {
		raw = un
	}
	lower := strings.ToLower(raw)
	for _, p := range SecretPrefixes {
		if strings.Contains(lower, p) {
			return true
		}
	}
	q, _ := url.ParseQuery(u.RawQuery)
	for name, vs := range q {
		if queryCredentialNames[strings.ToLower(name)] {
			for _, v := range vs {
				if v != "" {
					return true
				}
			}
		}
	}
	return false
}

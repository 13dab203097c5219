package cli

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/auth"
	"github.com/ramp-flags/ramp/internal/server"
)

// keyPrincipals authenticates admin API requests with the API keys the
// server already checks (keyAuth): an admin key is an admin who may
// approve, an sdk key may only evaluate. It refuses a secret in the URL's
// query string. It stands until the authenticator of personal tokens
// replaces it (one line in serveRun).
type keyPrincipals struct{ keys *keyAuth }

// querySecrets are query parameters that would put a secret in URLs, and
// so in logs and browser histories.
var querySecrets = []string{"token", "access_token", "api_key", "apikey", "key", "secret", "auth"}

// Authenticate implements auth.Authenticator.
func (k keyPrincipals) Authenticate(r *http.Request) (auth.Principal, error) {
	q := r.URL.Query()
	for _, name := range querySecrets {
		if q.Has(name) {
			return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "a credential in the URL's query string (%s) is refused: send it in the Authorization header", name)
		}
	}
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		secret = r.Header.Get("X-API-Key")
	}
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "no credential: send Authorization: Bearer <token>")
	}
	p, err := k.keys.Authenticate(r.Context(), secret)
	switch {
	case errors.Is(err, server.ErrUnknownKey), errors.Is(err, server.ErrRevokedKey):
		return auth.Principal{}, ramp.Errorf(ramp.KindUnauthorized, "unknown or revoked credential")
	case err != nil:
		return auth.Principal{}, err
	}
	role := auth.RoleSDK
	if p.Role == server.RoleAdmin {
		role = auth.RoleAdmin
	}
	return auth.Principal{Name: "key:" + p.Name, Kind: auth.KindKey, Role: role, Approve: role == auth.RoleAdmin, CredentialID: p.KeyID}, nil
}

// anyone is the admin API's authenticator under --insecure-no-auth: every
// request acts as an anonymous admin.
type anyone struct{}

func (anyone) Authenticate(*http.Request) (auth.Principal, error) {
	return auth.Principal{Name: "anonymous", Kind: auth.KindKey, Role: auth.RoleAdmin, Approve: true}, nil
}

package dashboard

import (
	"net/http"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

// KeyringAuth signs people in with the server's API keys (`ramp keys
// create --role admin`), for servers whose control plane has no personal
// tokens: an admin key acts as an admin holding the approve capability,
// named "key:<name>" in the audit log; an sdk key may not sign in. The
// keyring is the one `ramp serve` checks keys with, so a revoked key stops
// signing in at the server's next refresh.
type KeyringAuth struct {
	Ring *admin.Keyring
}

// Authenticate implements auth.Authenticator: the secret in
// "Authorization: Bearer" or "X-API-Key", never in the query string.
func (k KeyringAuth) Authenticate(r *http.Request) (auth.Principal, error) {
	if r.URL.Query().Has("token") || r.URL.Query().Has("key") {
		return auth.Principal{}, &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "a secret in the URL is refused"}
	}
	secret := r.Header.Get("X-API-Key")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return auth.Principal{}, &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "want Authorization: Bearer <secret>"}
		}
		secret = strings.TrimSpace(rest)
	}
	if secret == "" {
		return auth.Principal{}, &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "no secret"}
	}
	h, err := k.Ring.Check(r.Context(), secret)
	if err != nil {
		return auth.Principal{}, err
	}
	p := auth.Principal{Name: "key:" + h.Name, Kind: auth.KindKey, Role: auth.RoleSDK, CredentialID: h.KeyID}
	if h.Role == admin.RoleAdmin {
		p.Role, p.Approve = auth.RoleAdmin, true
	}
	return p, nil
}

package cli

import (
	"net/http"

	"github.com/ramp-flags/ramp/internal/auth"
)

// anyone is the admin API's authenticator under --insecure-no-auth: every
// request acts as an anonymous admin who may approve.
type anyone struct{}

func (anyone) Authenticate(*http.Request) (auth.Principal, error) {
	return auth.Principal{Name: "anonymous", Kind: auth.KindKey, Role: auth.RoleAdmin, Approve: true}, nil
}

package cli

import (
	"context"
	"errors"
)

// browserLogin signs in through the server's single sign-on (OpenID
// Connect in a browser) and returns a personal token. This build has no
// single sign-on: it always fails, and ramp login asks for a token.
func browserLogin(ctx context.Context, io *IOStreams, server string) (token string, err error) {
	return "", errors.New("single sign-on is not available in this build of ramp: paste a token (ramp login --server URL), or pipe one with --with-token")
}

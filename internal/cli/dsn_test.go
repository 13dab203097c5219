package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/internal/cli"
)

// TestNoPasswordInMessages: a PostgreSQL password, in the URL's user part
// or a password= parameter, never reaches stderr or stdout, whatever
// command fails to open the database (the server's log included: serve
// writes its log to stderr).
func TestNoPasswordInMessages(t *testing.T) {
	t.Setenv("RAMP_DB", "")
	// Nothing listens on port 1: every command fails to connect.
	dsn := "postgres://ramp:s3cret-user@127.0.0.1:1/ramp?sslmode=disable&password=s3cret-param&connect_timeout=2"
	for _, args := range [][]string{
		{"flags", "list"},
		{"apply", "-f", testdata("scenario.yaml")},
		{"cohorts", "import", "x", testdata("scenario.yaml"), "--create"},
		{"serve", "--addr", "127.0.0.1:0"},
		{"simulate", "--users", "10"},
		{"db", "status"},
		{"db", "copy", dsn, dsn},
		{"keys", "create", "--role", "sdk", "--name", "x"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			io, _, out, errOut := cli.Test()
			code := cli.Execute(context.Background(), append([]string{"--db", dsn}, args...), io)
			if code == 0 {
				t.Errorf("exit 0 against a closed port")
			}
			for _, secret := range []string{"s3cret-user", "s3cret-param"} {
				if strings.Contains(out.String()+errOut.String(), secret) {
					t.Errorf("the password %q is printed:\n%s%s", secret, out, errOut)
				}
			}
		})
	}
}

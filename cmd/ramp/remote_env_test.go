package main_test

import (
	"os"
	"path/filepath"
	"strconv"
)

// The tests' commands work on the databases they name: a developer's own
// ramp login (a current context, RAMP_SERVER, RAMP_TOKEN) must not send
// them to a server. Tests of remote mode set these themselves.
func init() {
	os.Setenv("RAMP_CONFIG_DIR", filepath.Join(os.TempDir(), "ramp-tests-no-contexts-"+strconv.Itoa(os.Getpid())))
	os.Unsetenv("RAMP_SERVER")
	os.Unsetenv("RAMP_TOKEN")
}

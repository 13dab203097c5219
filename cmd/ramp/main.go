// Command ramp is the feature-flag rollout and experiment controller's
// command line. See README.md for a tour and `ramp --help` for reference.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ramp-flags/ramp/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.System())
	stop()
	os.Exit(code)
}

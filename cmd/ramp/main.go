// Command ramp is the feature-flag rollout and experiment controller's
// command line. See README.md for a tour and `ramp --help` for reference.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ramp-flags/ramp/internal/cli"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal cancels: the command stops reading, its
		// transaction is rolled back, and it exits ExitInterrupted (or
		// `ramp serve` shuts down gracefully). A second one exits at once:
		// the database rolls back what was not committed.
		<-signals
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "ramp: interrupted again: exiting at once (nothing uncommitted is kept)")
		os.Exit(cli.ExitInterrupted)
	}()
	code := cli.Execute(ctx, os.Args[1:], cli.System())
	cancel()
	os.Exit(code)
}

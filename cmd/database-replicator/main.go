// Command database-replicator moves a PostgreSQL database to another server
// with zero downtime and keeps it in sync, driven by a declarative HCL
// configuration.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mattn/go-isatty"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &ioEnv{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		lookupEnv: os.LookupEnv,
		stdinTTY:  isatty.IsTerminal(os.Stdin.Fd()),
		stdoutTTY: isatty.IsTerminal(os.Stdout.Fd()),
		stderrTTY: isatty.IsTerminal(os.Stderr.Fd()),
	})
	stop()
	os.Exit(code)
}

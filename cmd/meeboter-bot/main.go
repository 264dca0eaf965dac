package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/meeboter/meeboter/pkg/botsim"
)

func main() {
	// Signals are handled here and only here: package botsim is also run
	// in-process, many bots at once, where a signal handler would be wrong.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	return botsim.Run(ctx, getenv, args, stderr)
}

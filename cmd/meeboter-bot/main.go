package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/meeboter/meeboter/pkg/botproto"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	opts, err := parseOptions(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "meeboter-bot:", err)
		return 2
	}
	if !opts.Simulate {
		fmt.Fprintln(stderr, "meeboter-bot: only --simulate is implemented by this reference agent; real meeting bots are built elsewhere")
		return 2
	}
	client, err := botproto.ClientFromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "meeboter-bot:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("bot_id", client.BotID())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	sim := &Simulator{API: client, Settings: opts.Settings, Log: log}
	return sim.Run(ctx)
}

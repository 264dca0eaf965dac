// Command meeboter is Meeboter's control plane: the controller and API
// (serve), schema migrations, API keys, and a CLI for bots.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: meeboter <command> [flags]

commands:
  serve [--migrate]                    run the controller and the HTTP API
  migrate                              apply database migrations (River's and Meeboter's)
  apikey create --owner O [--name N]   create an API key (printed once)
  apikey list                          list API keys
  apikey revoke <id>                   revoke an API key
  bots list|get|create|leave|cancel    talk to a running API (MEEBOTER_URL, MEEBOTER_API_KEY)
  version                              print the version
`

// run dispatches a command; it returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], getenv, stderr)
	case "migrate":
		err = migrate(ctx, getenv, stdout)
	case "apikey":
		err = apikey(ctx, args[1:], getenv, stdout)
	case "bots":
		err = bots(ctx, args[1:], getenv, stdout)
	case "version":
		err = printVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "meeboter: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "meeboter %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

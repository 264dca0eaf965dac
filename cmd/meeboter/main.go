// Command meeboter is Meeboter's control plane: the controller and API
// (serve), schema migrations, API keys, and a CLI for bots.
package main

import (
	"context"
	"errors"
	"flag"
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
  webhook-secret list                  tenants' webhook signing secrets (not their values)
  webhook-secret rotate --owner O [--overlap D]
                                       a new signing secret (printed once); the old one signs beside it for D (24h)
  tenants limits [<tenant> [--rate R] [--burst B] [--max-bots N] [--reset]]
                                       show (every tenant, or one) or set per-tenant limits
  bots list [--status S,...] [--platform P] [--limit N] [--all]
                                       list bots, newest first (--all follows every page)
  bots get <id>                        show a bot
  bots events <id> [--limit N]         show a bot's timeline
  bots leave <id>                      ask a bot to leave the call
  bots cancel <id>                     stop a bot at once
  bots create --meeting-url URL [--platform P] [--name N] [--join-at T] [--metadata JSON]
                                       create a bot
  jobs [--state S,...] [--queue Q,...] [--kind K,...] [--limit N]
                                       River's jobs, newest first (default: all but completed)
  jobs summary                         jobs by queue and state; the oldest available job's age
  jobs get <id>                        show a job and its error history
  jobs retry <id>                      make a discarded, cancelled or retryable job available now
  jobs cancel <id>                     cancel a job (a running one is asked to stop)
  pool                                 pool slots by state, queue and oldest wait per meeting platform
  platforms                            deployment platforms: limit, used, capacity; the queue
  version                              print the version

bots, pool and platforms call a running API: MEEBOTER_URL (default http://127.0.0.1:8080),
MEEBOTER_API_KEY (required). They take --output table|json (-o; default table).
migrate, apikey, webhook-secret, tenants and jobs use the database: DATABASE_URL (required); jobs takes --output too.
`

// run dispatches a command; it returns the process exit code: 0, 1 when
// the command failed, 2 for bad usage.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	env := cliEnv{getenv: getenv, stdout: stdout, stderr: stderr}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], getenv, stderr)
	case "migrate":
		err = migrate(ctx, getenv, stdout)
	case "apikey":
		err = apikey(ctx, args[1:], getenv, stdout)
	case "webhook-secret":
		err = webhookSecretCommand(ctx, args[1:], getenv, stdout)
	case "tenants":
		err = tenantsCommand(ctx, args[1:], getenv, stdout)
	case "bots":
		err = botsCommand(ctx, env, args[1:])
	case "jobs":
		err = jobsCommand(ctx, env, args[1:])
	case "pool":
		err = runSubcommand(ctx, env, "pool", &poolSubcommand, args[1:])
	case "platforms":
		err = runSubcommand(ctx, env, "platforms", &platformsSubcommand, args[1:])
	case "version":
		err = printVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "meeboter: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return exitCode(stderr, commandName(args), err)
}

// exitCode reports err, if any, prefixed with the command's name.
func exitCode(stderr io.Writer, name string, err error) int {
	var uerr *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp): // help went to stdout
		return 0
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "meeboter %s: %s\nusage: %s\n", name, uerr.msg, uerr.usage)
		return 2
	default:
		fmt.Fprintf(stderr, "meeboter %s: %v\n", name, err)
		return 1
	}
}

package botsim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/meeboter/meeboter/pkg/botproto"
)

// Exit codes of Run and RunWithEnv besides a meeting's own (0, 1 or
// Settings.ExitCode).
const (
	// ExitUsage is a bad command line, bad settings or an environment that
	// names neither a bot nor a pool slot.
	ExitUsage = 2
)

// Option customises RunWithEnv.
type Option func(*runConfig)

type runConfig struct {
	log             *slog.Logger
	clientOpts      []botproto.Option
	sleep           func(ctx context.Context, d time.Duration) error
	shutdownTimeout time.Duration
}

// WithLogger sends the bot's logs to l (default: discarded). The bot id,
// or the slot UUID, is already attached to every line; tokens never are.
func WithLogger(l *slog.Logger) Option { return func(c *runConfig) { c.log = l } }

// WithClientOptions configures the protocol clients, e.g.
// botproto.WithHTTPClient with one shared client (and a transport with
// enough idle connections per host) for thousands of in-process bots.
func WithClientOptions(opts ...botproto.Option) Option {
	return func(c *runConfig) { c.clientOpts = append(c.clientOpts, opts...) }
}

// WithSleep replaces how the bot waits (phases, heartbeats, polling). f
// must return ctx.Err() once ctx is done. A scaled-down sleep plays
// meetings faster than real time.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(c *runConfig) { c.sleep = f }
}

// WithShutdownTimeout bounds the best-effort LEAVING/DONE after ctx is
// cancelled (default 5 s).
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *runConfig) { c.shutdownTimeout = d }
}

// Run is the meeboter-bot command without the process: args are the
// command-line arguments after the program name (--simulate and the
// misbehaviour flags, each defaulting to its SIM_* variable), getenv reads
// the environment, logs and usage go to stderr. It returns the exit code;
// it never calls os.Exit and installs no signal handler — cancel ctx to
// stop the bot.
func Run(ctx context.Context, getenv func(string) string, args []string, stderr io.Writer) int {
	opts, err := parseOptions(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return ExitUsage
	case err != nil:
		fmt.Fprintln(stderr, "meeboter-bot:", err)
		return ExitUsage
	}
	if !opts.Simulate {
		fmt.Fprintln(stderr, "meeboter-bot: only --simulate is implemented by this reference agent; real meeting bots are built elsewhere")
		return ExitUsage
	}
	rc := runConfig{log: slog.New(slog.NewTextHandler(stderr, nil))}
	bot, err := newBot(getenv, opts.Settings, &rc)
	if err != nil {
		fmt.Fprintln(stderr, "meeboter-bot:", err)
		return ExitUsage
	}
	return bot(ctx)
}

// RunWithEnv runs one simulated bot in-process with env, exactly the
// environment a container would get: BOT_ID, MILO_AUTH_TOKEN and
// API_CALLBACK_URL play that one bot's meeting and return its exit code;
// POOL_SLOT_UUID, POOL_SLOT_TOKEN and API_CALLBACK_URL make a pool slot
// that plays assignment after assignment and returns 0 only when ctx is
// cancelled. SIM_* variables in env are ignored: settings apply (see
// SettingsFromEnv), overridden per bot by its metadata. A bad environment
// or invalid settings return ExitUsage at once.
//
// It touches no global state (no signals, no os.Exit, no default logger),
// so thousands can run concurrently. Cancelling ctx is the container being
// stopped: a meeting in progress reports LEAVING/DONE best effort within
// the shutdown timeout, then RunWithEnv returns.
func RunWithEnv(ctx context.Context, env map[string]string, settings Settings, opts ...Option) int {
	rc := runConfig{}
	for _, o := range opts {
		o(&rc)
	}
	if rc.log == nil {
		rc.log = slog.New(slog.DiscardHandler)
	}
	if err := settings.Validate(); err != nil {
		rc.log.Error("invalid settings", "err", err)
		return ExitUsage
	}
	bot, err := newBot(func(k string) string { return env[k] }, settings, &rc)
	if err != nil {
		rc.log.Error("cannot start bot", "err", err)
		return ExitUsage
	}
	return bot(ctx)
}

// newBot chooses the mode from the environment: BOT_ID means one bot
// attempt, otherwise POOL_SLOT_UUID means a pool slot.
func newBot(getenv func(string) string, set Settings, rc *runConfig) (func(context.Context) int, error) {
	switch {
	case strings.TrimSpace(getenv(botproto.EnvBotID)) != "":
		client, err := botproto.ClientFromEnv(getenv, rc.clientOpts...)
		if err != nil {
			return nil, err
		}
		sim := &Simulator{
			API: client, Settings: set, Log: rc.log.With("bot_id", client.BotID()),
			Sleep: rc.sleep, ShutdownTimeout: rc.shutdownTimeout,
		}
		return sim.Run, nil
	case strings.TrimSpace(getenv(botproto.EnvPoolSlotUUID)) != "":
		slot, err := botproto.SlotClientFromEnv(getenv, rc.clientOpts...)
		if err != nil {
			return nil, err
		}
		p := &PoolSlot{
			API: slot, NewBotAPI: func(botID, token string) API { return slot.BotClient(botID, token) },
			Settings: set, Log: rc.log.With("pool_slot", slot.SlotUUID()),
			Sleep: rc.sleep, ShutdownTimeout: rc.shutdownTimeout,
		}
		return p.Run, nil
	default:
		return nil, fmt.Errorf("no bot identity in the environment: set %s, %s and %s for one bot, or %s, %s and %s for a pool slot",
			botproto.EnvBotID, botproto.EnvAuthToken, botproto.EnvCallbackURL,
			botproto.EnvPoolSlotUUID, botproto.EnvPoolSlotToken, botproto.EnvCallbackURL)
	}
}

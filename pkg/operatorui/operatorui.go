package operatorui

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/riverqueue/river"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"riverqueue.com/riverui"
)

// Prefix is where the UI is mounted.
const Prefix = "/riverui"

// Config is what the operator chose.
type Config struct {
	// Token is the operator's password; it must not be empty.
	Token string
	// Writable lets the UI change jobs and queues (cancel, retry, delete,
	// pause); otherwise only GET and HEAD reach it.
	Writable bool
	// View, when set, is what a job answer may show of its args and
	// errors (a webhook's URL and body are a customer's secrets).
	View View
}

// New starts the UI's background work (until ctx ends) and returns its
// handler for Prefix+"/", guarded by cfg. client may be insert-only.
func New[TTx any](ctx context.Context, cfg Config, client *river.Client[TTx], log *zap.Logger) (http.Handler, error) {
	if cfg.Token == "" {
		return nil, fmt.Errorf("operatorui: a token is required")
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    slog.New(zapslog.NewHandler(log.Core())),
		Prefix:    Prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("operatorui: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("operatorui: start: %w", err)
	}
	h := redactJobs(cfg.View, ui)
	if !cfg.Writable {
		h = readOnly(h)
	}
	return requireToken(cfg.Token, h), nil
}

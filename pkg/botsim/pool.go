package botsim

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/meeboter/meeboter/pkg/botproto"
)

// SlotAPI is the part of *botproto.SlotClient a pool slot needs.
type SlotAPI interface {
	Assignment(ctx context.Context) (*botproto.Assignment, error)
}

// Pool slot defaults.
const (
	// DefaultIdleInterval is how long an idle slot waits before asking
	// again when the controller gives no retry_after_seconds.
	DefaultIdleInterval = 5 * time.Second
	// DefaultRetryBase and DefaultRetryCap bound the backoff after a
	// failed assignment request (bad slot credentials, controller gone).
	DefaultRetryBase = time.Second
	DefaultRetryCap  = time.Minute
)

// PoolSlot plays meetings for one Coolify pool slot: it asks the controller
// for an assignment, plays the assigned bot's meeting exactly as a BOT_ID
// bot would (with that attempt's token), and asks again, forever. It never
// gives up on its own — a container that exits is restarted by Docker and
// after ten restarts Coolify deletes the app — so Run returns only when ctx
// is cancelled (the slot is stopped).
type PoolSlot struct {
	API SlotAPI
	// NewBotAPI (required) returns the client for an assigned bot attempt;
	// see (*botproto.SlotClient).BotClient.
	NewBotAPI func(botID, token string) API
	// Settings are the base settings of every meeting; each bot's
	// metadata overrides win, as for a single bot.
	Settings Settings
	Log      *slog.Logger
	// Sleep, Now and ShutdownTimeout are passed to each meeting's
	// Simulator; Sleep also paces the polling.
	Sleep           func(ctx context.Context, d time.Duration) error
	Now             func() time.Time
	ShutdownTimeout time.Duration
	// IdleInterval is the wait between polls when the controller names
	// none, and after an assignment that did not end in DONE.
	IdleInterval time.Duration
	// RetryBase and RetryCap bound the jittered exponential backoff after
	// failed assignment requests.
	RetryBase, RetryCap time.Duration
}

func (p *PoolSlot) defaults() {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.IdleInterval <= 0 {
		p.IdleInterval = DefaultIdleInterval
	}
	if p.RetryBase <= 0 {
		p.RetryBase = DefaultRetryBase
	}
	if p.RetryCap <= 0 {
		p.RetryCap = DefaultRetryCap
	}
	p.RetryCap = max(p.RetryCap, p.RetryBase)
}

// Run polls for assignments and plays them until ctx is cancelled, then
// returns 0. A meeting in progress at that moment says goodbye first
// (LEAVING/DONE, best effort within ShutdownTimeout).
func (p *PoolSlot) Run(ctx context.Context) int {
	p.defaults()
	p.Log.Info("pool slot waiting for assignments")
	failures := 0
	for {
		a, err := p.API.Assignment(ctx)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			p.Log.Info("pool slot stopped")
			return 0
		case err != nil:
			failures++
			wait = p.backoff(failures)
			if botproto.IsStatus(err, http.StatusUnauthorized) || botproto.IsStatus(err, http.StatusForbidden) {
				p.Log.Error("slot credentials rejected; asking again", "err", err, "retry_in", wait, "failures", failures)
			} else {
				p.Log.Warn("asking for an assignment failed; asking again", "err", err, "retry_in", wait, "failures", failures)
			}
		case !a.Assigned:
			failures = 0
			wait = a.RetryAfter(p.IdleInterval)
		default:
			failures = 0
			if !p.play(ctx, a) {
				// Do not spin on an assignment that ends at once (should_exit,
				// a crash, a refused transition).
				wait = p.IdleInterval
			}
		}
		if p.Sleep(ctx, wait) != nil {
			p.Log.Info("pool slot stopped")
			return 0
		}
	}
}

// play runs one assigned meeting and reports whether it reached DONE.
func (p *PoolSlot) play(ctx context.Context, a *botproto.Assignment) bool {
	log := p.Log.With("bot_id", a.BotID)
	log.Info("assignment received")
	sim := &Simulator{
		API:             p.NewBotAPI(a.BotID, a.Token),
		Settings:        p.Settings,
		Log:             log,
		Config:          a.Config,
		Sleep:           p.Sleep,
		Now:             p.Now,
		ShutdownTimeout: p.ShutdownTimeout,
	}
	code := sim.Run(ctx)
	log.Info("assignment over; back to idle", "exit_code", code, "completed", sim.completed())
	return sim.completed()
}

// backoff is the wait after the n-th failure in a row (n >= 1):
// exponential from RetryBase, capped at RetryCap, with equal jitter so a
// pool whose credentials were rotated does not retry in lockstep.
func (p *PoolSlot) backoff(n int) time.Duration {
	d := p.RetryCap
	if n <= 32 {
		if b := p.RetryBase << (n - 1); b > 0 && b < d {
			d = b
		}
	}
	return d/2 + rand.N(d/2+1)
}

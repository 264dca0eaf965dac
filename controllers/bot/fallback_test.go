package bot_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/platformtest"
	"github.com/meeboter/meeboter/pkg/store"
)

// setupBot is a store with one Zoom bot in it, created at now.
func setupBot(t *testing.T, now time.Time) (*store.Store, store.CreateResult) {
	t.Helper()
	pool := storetest.NewPool(t)
	client, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	st := store.New(pool, controllers.NewEnqueuer(client))
	res, err := st.CreateBot(context.Background(), store.NewBot{Owner: "acme", MeetingURL: "https://zoom.us/j/1234567890",
		MeetingPlatform: "zoom", BotName: "b"}, nil, now, func(b store.Bot) ([]byte, error) { return json.Marshal(b.ID) })
	require.NoError(t, err)
	return st, res
}

// A capacity failure on the first platform moves the attempt to the next one
// with room (PLATFORM_PRIORITY), without failing the bot or a new attempt.
func TestCapacityFailureFallsBackToNextPlatform(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	st, res := setupBot(t, now)

	full := &platformtest.Fake{PlatformName: "coolify"}
	full.FailCreate(platform.ErrCapacity)
	spare := &platformtest.Fake{PlatformName: "aws"}
	priority := []bot.PlatformLimit{{Platform: "coolify", Limit: 10}, {Platform: "aws", Limit: 10}}
	admitted, err := st.Admit(ctx, store.PlatformLimit{Platform: "coolify", Limit: 10}, now)
	require.NoError(t, err)
	require.Len(t, admitted, 1)

	r := &bot.Reconciler{Store: st, Platforms: map[string]platform.Platform{"coolify": full, "aws": spare},
		Clock: fakeclock.New(now), Priority: priority, Logger: zap.NewNop(),
		Config: bot.Config{DeployTimeout: time.Minute, HeartbeatTimeout: time.Minute, LeaveTimeout: time.Minute,
			MaxBotLifetime: time.Hour, QueueTimeout: time.Minute, MaxAttempts: 3, MaxCreateErrors: 5, MissingGrace: time.Second}}
	_, err = r.Reconcile(ctx, res.Bot.ID)
	require.NoError(t, err)

	b, d, err := st.LoadBot(ctx, res.Bot.ID)
	require.NoError(t, err)
	require.Equal(t, "aws", *b.Platform)
	require.Equal(t, "aws", d.Platform)
	require.Equal(t, 1, d.Attempt, "the same attempt, not a new one")
	require.Equal(t, store.DeploymentRunning, d.State)
	require.Len(t, spare.Created(), 1)
	require.Equal(t, store.StatusDeploying, b.Status)

	// With no platform left with room, the attempt waits where it is.
	res2, err := st.CreateBot(ctx, store.NewBot{Owner: "acme", MeetingURL: "https://zoom.us/j/1234567891", MeetingPlatform: "zoom",
		BotName: "b"}, nil, now, func(b store.Bot) ([]byte, error) { return json.Marshal(b.ID) })
	require.NoError(t, err)
	_, err = st.Admit(ctx, store.PlatformLimit{Platform: "coolify", Limit: 10}, now)
	require.NoError(t, err)
	r.Priority = []bot.PlatformLimit{{Platform: "coolify", Limit: 10}, {Platform: "aws", Limit: 1}}
	_, err = r.Reconcile(ctx, res2.Bot.ID)
	require.NoError(t, err)
	b2, d2, err := st.LoadBot(ctx, res2.Bot.ID)
	require.NoError(t, err)
	require.Equal(t, "coolify", d2.Platform)
	require.Equal(t, store.StatusDeploying, b2.Status, "waiting, not failed")
	require.NotNil(t, b2.NextCheckAt)
}

// With every platform full, an attempt moves once and then waits for
// capacity where it is: it neither bounces between the full platforms nor
// is left without a wake-up (issue 10's chaos runs found both).
func TestEveryPlatformFullWaitsInsteadOfBouncing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	st, res := setupBot(t, now)
	coolify, aws := &platformtest.Fake{PlatformName: "coolify"}, &platformtest.Fake{PlatformName: "aws"}
	coolify.FailCreate(platform.ErrCapacity)
	aws.FailCreate(platform.ErrCapacity)
	_, err := st.Admit(ctx, store.PlatformLimit{Platform: "coolify", Limit: 10}, now)
	require.NoError(t, err)
	r := &bot.Reconciler{Store: st, Platforms: map[string]platform.Platform{"coolify": coolify, "aws": aws},
		Clock: fakeclock.New(now), Logger: zap.NewNop(),
		Priority: []bot.PlatformLimit{{Platform: "coolify", Limit: 10}, {Platform: "aws", Limit: 10}},
		Config: bot.Config{DeployTimeout: time.Minute, HeartbeatTimeout: time.Minute, LeaveTimeout: time.Minute,
			MaxBotLifetime: time.Hour, QueueTimeout: 5 * time.Minute, MaxAttempts: 3, MaxCreateErrors: 5, MissingGrace: time.Second}}
	_, err = r.Reconcile(ctx, res.Bot.ID)
	require.NoError(t, err)

	b, d, err := st.LoadBot(ctx, res.Bot.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusDeploying, b.Status)
	require.Equal(t, "aws", d.Platform, "moved once, to the next platform")
	require.NotNil(t, d.RetryAt, "then waits for capacity there")
	require.NotNil(t, b.NextCheckAt)
	require.WithinDuration(t, *d.RetryAt, *b.NextCheckAt, 0, "woken when the wait is over")
	events, err := st.ListEvents(ctx, "acme", b.ID, 0, 100)
	require.NoError(t, err)
	moves := 0
	for _, e := range events {
		if e.Type == "PLATFORM_FALLBACK" {
			moves++
		}
	}
	require.Equal(t, 1, moves)
	require.Len(t, aws.Created(), 0)
}

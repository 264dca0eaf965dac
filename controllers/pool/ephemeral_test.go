package pool_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/store"
)

// TestEphemeralModeAppPerAttempt runs COOLIFY_MODE=ephemeral: each attempt
// is its own application, named meeboter-bot-<id>-<attempt>, carrying the
// attempt's identity, and deleted when the bot is done.
func TestEphemeralModeAppPerAttempt(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.ephemeral = true
	b := setup(t, o)
	v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 0})
	b.WaitStatus(t, v.ID, 30*time.Second, store.StatusInCall)
	apps := b.sim.Apps()
	require.Len(t, apps, 1)
	require.Equal(t, "meeboter-bot-"+v.ID.String()+"-1", apps[0].Name)
	require.Equal(t, v.ID.String(), apps[0].Env[botproto.EnvBotID])
	require.True(t, strings.HasPrefix(apps[0].Env[botproto.EnvAuthToken], "mbt_"))
	require.Empty(t, b.slots(t), "no pool in ephemeral mode")

	require.Equal(t, http.StatusAccepted, b.Call(t, http.MethodDelete, "/api/v1/bots/"+v.ID.String(), nil, nil))
	require.Equal(t, store.ReasonCancelled, *b.WaitStatus(t, v.ID, 20*time.Second, store.StatusDone, store.StatusFatal).StatusReason)
	require.Eventually(t, func() bool { return !b.appExists(apps[0].UUID) }, 20*time.Second, 50*time.Millisecond,
		"the attempt's application was not deleted")
}

// A create whose answer is lost (Coolify made the application, then a 500
// came back) must not make a second application on retry: Coolify does not
// make names unique. The retry adopts it by name and finishes its setup
// with the same token, so its bot can talk to the controller (issue 10).
func TestEphemeralLostCreateAnswerIsAdopted(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.ephemeral = true
	b := setup(t, o)
	b.sim.SetErrorAfterRate(0.3)
	var ids []api.BotView
	for range 4 {
		ids = append(ids, b.CreateBot(t, meetURL, nil))
	}
	for _, v := range ids {
		done := b.WaitStatus(t, v.ID, time.Minute, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.StatusDone, done.Status, "bot %s: reason %v", v.ID, done.StatusReason)
	}
	b.sim.SetErrorAfterRate(0)
	names := map[string]int{}
	for _, a := range b.sim.Apps() {
		names[a.Name]++
	}
	for name, n := range names {
		require.Equal(t, 1, n, "applications named %s", name)
	}
	require.Positive(t, b.sim.Stats().InjectedErrors)
}

package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/store"
)

// A scheduled bot is told its join_at, reports READY while it waits, and
// its lateness (first JOINING_CALL minus join_at) is shown once it entered
// (issue 11).
func TestScheduledBotReadyAndLateness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	joinAt := t0.Add(10 * time.Minute)
	bot := b.create(t, b.acme, `{"meeting_url":"`+meetURL+`","join_at":"`+joinAt.Format(time.RFC3339)+`"}`)
	require.Equal(t, store.StatusScheduled, bot.Status)
	b.clock.Set(joinAt.Add(-time.Minute))
	require.NoError(t, b.st.QueueBot(t.Context(), bot.ID, b.clock.Now()))
	tok := b.deploy(t, bot.ID)[0]

	r := b.botDo(t, http.MethodGet, botproto.PathConfig, tok, bot.ID, "")
	r.requireStatus(t, http.StatusOK)
	var cfg botproto.Config
	require.NoError(t, json.Unmarshal(r.body, &cfg))
	require.NotNil(t, cfg.JoinAt)
	require.True(t, joinAt.Equal(*cfg.JoinAt))

	b.botDo(t, http.MethodPost, botproto.PathStatus, tok, bot.ID, `{"status":"READY"}`).requireStatus(t, http.StatusOK)
	got := b.get(t, b.acme, bot.ID)
	require.Equal(t, store.StatusReady, got.Status)
	require.Nil(t, got.JoinLatenessSeconds, "not entered yet")
	// Waiting READY, its container asks for its config again: a restart.
	b.botDo(t, http.MethodGet, botproto.PathConfig, tok, bot.ID, "").requireStatus(t, http.StatusOK)
	require.Equal(t, store.StatusReady, b.get(t, b.acme, bot.ID).Status, "a restart before the call ends the attempt, not the bot")

	bot2 := b.create(t, b.acme, `{"meeting_url":"`+meetURL+`","join_at":"`+joinAt.Format(time.RFC3339)+`"}`)
	require.NoError(t, b.st.QueueBot(t.Context(), bot2.ID, b.clock.Now()))
	tok2 := b.deploy(t, bot2.ID)[0]
	b.botDo(t, http.MethodPost, botproto.PathStatus, tok2, bot2.ID, `{"status":"READY"}`).requireStatus(t, http.StatusOK)
	b.clock.Set(joinAt.Add(1500 * time.Millisecond))
	b.botDo(t, http.MethodPost, botproto.PathStatus, tok2, bot2.ID, `{"status":"JOINING_CALL"}`).requireStatus(t, http.StatusOK)
	b.clock.Set(joinAt.Add(time.Minute))
	b.botDo(t, http.MethodPost, botproto.PathStatus, tok2, bot2.ID, `{"status":"IN_CALL"}`).requireStatus(t, http.StatusOK)
	got = b.get(t, b.acme, bot2.ID)
	requireTime(t, joinAt.Add(1500*time.Millisecond), got.EnteredAt)
	require.NotNil(t, got.JoinLatenessSeconds)
	require.InDelta(t, 1.5, *got.JoinLatenessSeconds, 1e-6)
	b.botDo(t, http.MethodPost, botproto.PathStatus, tok2, bot2.ID, `{"status":"READY"}`).requireStatus(t, http.StatusConflict)
}

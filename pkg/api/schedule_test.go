package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/leadtime"
	"github.com/meeboter/meeboter/pkg/store"
)

// fixedLeads are lead times that do not learn.
type fixedLeads map[string]time.Duration

func (f fixedLeads) All(context.Context) []leadtime.Lead {
	var out []leadtime.Lead
	for _, p := range []string{"coolify", "local"} {
		out = append(out, leadtime.Estimate(leadtime.Key{Platform: p, Start: leadtime.Cold}, nil, f[p]))
	}
	return out
}

func (f fixedLeads) ForPlatform(_ context.Context, p string) time.Duration { return f[p] }

const leaveTimeout = 5 * time.Minute

func setupScheduling(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, func(s *Server) {
		s.LeadTimes = fixedLeads{"coolify": 30 * time.Second, "local": 5 * time.Second}
		s.Config.ReserveAhead, s.Config.LeaveTimeout = 10*time.Minute, leaveTimeout
	})
}

func scheduledBody(joinAt time.Time) string {
	return `{"meeting_url":"` + meetURL + `","join_at":"` + joinAt.Format(time.RFC3339) + `"}`
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// A bot scheduled RESERVE_AHEAD or more ahead gets a window on the first
// platform that can guarantee it; when none can it is accepted best effort.
func TestCreateReservesCapacityForAScheduledBot(t *testing.T) {
	t.Parallel()
	b := setupScheduling(t)
	join := t0.Add(30 * time.Minute)
	var got []BotView
	for range 8 {
		got = append(got, b.create(t, b.acme, scheduledBody(join)))
	}
	first := got[0]
	require.True(t, first.CapacityReserved)
	require.Equal(t, ReservationView{Platform: "coolify", From: join.Add(-time.Minute), Until: join.Add(maxLifetime + leaveTimeout)},
		*first.Reservation, "from: twice the lead before join_at; until: the longest life after it")
	platforms := map[string]int{}
	for _, v := range got[:7] {
		require.True(t, v.CapacityReserved)
		platforms[v.Reservation.Platform]++
	}
	require.Equal(t, map[string]int{"coolify": 2, "local": 5}, platforms, "in priority order, up to each limit")
	require.False(t, got[7].CapacityReserved, "no platform can guarantee the window: best effort")
	require.Nil(t, got[7].Reservation)

	short := b.create(t, b.acme, `{"meeting_url":"`+meetURL+`","join_at":"`+join.Add(4*time.Hour).Format(time.RFC3339)+
		`","max_duration_seconds":1800}`)
	require.Equal(t, 1800, *short.MaxDurationSeconds)
	require.Equal(t, join.Add(4*time.Hour+30*time.Minute+leaveTimeout), short.Reservation.Until,
		"a short meeting reserves a short window")
	b.do(t, http.MethodPost, "/api/v1/bots", b.acme, `{"meeting_url":"`+meetURL+`","max_duration_seconds":9}`).
		requireStatus(t, http.StatusUnprocessableEntity)

	soon := b.create(t, b.acme, scheduledBody(t0.Add(5*time.Minute)))
	require.False(t, soon.CapacityReserved, "less than RESERVE_AHEAD ahead: nothing reserved")

	r := b.do(t, http.MethodGet, "/api/v1/platforms", b.acme, "")
	r.requireStatus(t, http.StatusOK)
	pv := decodeJSON[PlatformsView](t, r)
	require.InDelta(t, 30, pv.Platforms[0].LeadTimeSeconds, 1e-9)
	require.Equal(t, "floor", pv.Platforms[0].LeadTimes[0].Basis)

	// Cancelling a reserved bot gives its window to the next that asks.
	b.do(t, http.MethodDelete, "/api/v1/bots/"+first.ID.String(), b.acme, "").requireStatus(t, http.StatusAccepted)
	require.False(t, b.get(t, b.acme, first.ID).CapacityReserved)
	moved := b.patch(t, got[7].ID, `{"join_at":"`+join.Add(time.Minute).Format(time.RFC3339)+`"}`, http.StatusOK)
	require.True(t, moved.CapacityReserved)
	require.Equal(t, "coolify", moved.Reservation.Platform)
	b.requireValidated(t)
}

func (b *testBundle) patch(t *testing.T, id uuid.UUID, body string, status int) BotView {
	t.Helper()
	r := b.do(t, http.MethodPatch, "/api/v1/bots/"+id.String(), b.acme, body)
	r.requireStatus(t, status)
	if status != http.StatusOK {
		return BotView{}
	}
	return decodeJSON[BotView](t, r)
}

// PATCH changes a bot that is not admitted yet; bad input is refused with
// a clear 4xx and changes nothing.
func TestPatchBot(t *testing.T) {
	t.Parallel()
	b := setupScheduling(t)
	join := t0.Add(time.Hour)
	bot := b.create(t, b.acme, scheduledBody(join))
	newJoin := join.Add(30 * time.Minute)
	got := b.patch(t, bot.ID, `{"join_at":"`+newJoin.Format(time.RFC3339)+`","bot_name":"Notes","metadata":{"m":1},
		"automatic_leave":{"noone_joined_timeout_seconds":120},"callback_url":"https://hooks.example.com/x"}`, http.StatusOK)
	requireTime(t, newJoin, got.JoinAt)
	require.Equal(t, "Notes", got.BotName)
	require.JSONEq(t, `{"m":1}`, string(got.Metadata))
	require.Equal(t, 120, got.AutomaticLeave.NooneJoinedTimeoutSeconds)
	require.Equal(t, bot.AutomaticLeave.InactivityTimeoutSeconds, got.AutomaticLeave.InactivityTimeoutSeconds, "fields not sent are kept")
	require.Equal(t, newJoin.Add(-time.Minute), got.Reservation.From, "the window moved with join_at")
	require.Equal(t, bot.Generation+1, got.Generation)
	got = b.patch(t, bot.ID, `{"callback_url":null}`, http.StatusOK)
	require.Nil(t, got.CallbackURL)

	before := b.get(t, b.acme, bot.ID)
	for body, status := range map[string]int{
		`{"status":"DONE"}`:  http.StatusBadRequest,
		`{"bot_name":"x"} 1`: http.StatusBadRequest,
		`{}`:                 http.StatusUnprocessableEntity,
		`{"join_at":null}`:   http.StatusUnprocessableEntity,
		`{"join_at":"` + t0.Add(-time.Hour).Format(time.RFC3339) + `"}`:       http.StatusUnprocessableEntity,
		`{"join_at":"` + t0.Add(100*24*time.Hour).Format(time.RFC3339) + `"}`: http.StatusUnprocessableEntity,
		`{"bot_name":" "}`:           http.StatusUnprocessableEntity,
		`{"metadata":[1]}`:           http.StatusUnprocessableEntity,
		`{"callback_url":"ftp://x"}`: http.StatusUnprocessableEntity,
		`{"automatic_leave":{"inactivity_timeout_seconds":1}}`:     http.StatusUnprocessableEntity,
		`{"join_at":"` + newJoin.Format(time.RFC3339) + `","x":1}`: http.StatusBadRequest,
	} {
		b.patch(t, bot.ID, body, status)
	}
	r := b.do(t, http.MethodPatch, "/api/v1/bots/"+bot.ID.String(), b.globex, `{"bot_name":"mine"}`)
	r.requireStatus(t, http.StatusNotFound)
	require.Equal(t, before, b.get(t, b.acme, bot.ID), "refused changes wrote nothing")

	// Admitted: too late to change.
	b.clock.Set(newJoin.Add(-time.Minute))
	require.NoError(t, b.st.QueueBot(t.Context(), bot.ID, b.clock.Now()))
	_, err := b.st.Admit(t.Context(), store.PlatformLimit{Platform: "coolify", Limit: 2}, b.clock.Now())
	require.NoError(t, err)
	b.patch(t, bot.ID, `{"bot_name":"late"}`, http.StatusConflict)
	b.requireValidated(t)
}

// Moving a reserved bot to a window no platform can guarantee fails and
// keeps the bot as it was.
func TestPatchToAFullWindowKeepsTheReservation(t *testing.T) {
	t.Parallel()
	b := setupScheduling(t)
	full := t0.Add(5 * time.Hour)
	for range 7 {
		require.True(t, b.create(t, b.acme, scheduledBody(full)).CapacityReserved)
	}
	bot := b.create(t, b.acme, scheduledBody(t0.Add(time.Hour)))
	require.True(t, bot.CapacityReserved)
	r := b.do(t, http.MethodPatch, "/api/v1/bots/"+bot.ID.String(), b.acme, `{"join_at":"`+full.Format(time.RFC3339)+`"}`)
	r.requireStatus(t, http.StatusConflict)
	require.Contains(t, string(r.body), full.Add(-time.Minute).Format(time.RFC3339), "the problem names the window")
	require.Equal(t, bot.Reservation, b.get(t, b.acme, bot.ID).Reservation)
	requireTime(t, t0.Add(time.Hour), b.get(t, b.acme, bot.ID).JoinAt)
	b.requireValidated(t)
}

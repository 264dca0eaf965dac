package api

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/store"
)

// eventsBody is a POST /bot/v1/events body of one event per type.
func eventsBody(t *testing.T, occurredAt time.Time, types ...string) string {
	t.Helper()
	req := botproto.EventsRequest{}
	for _, typ := range types {
		req.Events = append(req.Events, botproto.Event{Type: typ, OccurredAt: occurredAt})
	}
	body, err := json.Marshal(req)
	require.NoError(t, err)
	return string(body)
}

// A bot cannot write what the controller records: each controller-owned
// type is refused (alone or hidden in a batch), and what a bot may write is
// shown as its claim.
func TestBotCannotForgeControllerEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))
	tok := b.deploy(t, bot.ID)[0]
	before := b.counts(t)

	for _, typ := range botproto.ControllerEventTypes {
		for _, body := range []string{eventsBody(t, time.Time{}, typ), eventsBody(t, time.Time{}, "PARTICIPANT_JOIN", typ)} {
			r := b.botDo(t, http.MethodPost, botproto.PathEvents, tok, bot.ID, body)
			r.requireStatus(t, http.StatusUnprocessableEntity)
			p := r.problem(t)
			require.Equal(t, []string{"events.type"}, p.fields(), typ)
			require.Contains(t, p.Errors[0].Message, typ+" is written only by the controller")
		}
	}
	require.Equal(t, before, b.counts(t), "no forged event is stored, nor the batch around it")
	for _, typ := range []string{"DONE", "WEBHOOK_DELIVERY", "RECORDING_UPLOADED", "STOP_REQUESTED"} {
		require.True(t, botproto.ControllerEventType(typ), typ)
	}

	b.botDo(t, http.MethodPost, botproto.PathEvents, tok, bot.ID, eventsBody(t, time.Time{}, "PARTICIPANT_JOIN")).
		requireStatus(t, http.StatusOK)
	timeline := b.events(t, b.acme, bot.ID, "")
	require.Equal(t, []string{"QUEUED", "DEPLOYING", "PARTICIPANT_JOIN"}, eventTypes(timeline))
	for _, e := range timeline.Events[:2] {
		require.Equal(t, store.SourceController, e.Source, e.Type)
		require.Nil(t, e.Attempt, e.Type)
	}
	claim := timeline.Events[2]
	require.Equal(t, store.SourceBot, claim.Source)
	require.NotNil(t, claim.Attempt)
	require.Equal(t, 1, *claim.Attempt)
	b.requireValidated(t)
}

// A bot's occurred_at is clamped to its attempt's lifetime: not before the
// attempt's deployment was created, not after the event arrived.
func TestBotEventTimeClamped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))
	created := b.clock.Now()
	tok := b.deploy(t, bot.ID)[0]
	now := b.clock.Advance(10 * time.Minute)

	for _, tc := range []struct {
		name      string
		claim     time.Time
		want      time.Time
		wantExact bool
	}{
		{name: "2001", claim: time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC), want: created},
		{name: "before the attempt", claim: created.Add(-time.Second), want: created},
		{name: "within", claim: created.Add(time.Minute), want: created.Add(time.Minute)},
		{name: "in the future", claim: now.Add(time.Hour), want: now},
		{name: "2099", claim: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), want: now},
	} {
		b.botDo(t, http.MethodPost, botproto.PathEvents, tok, bot.ID, eventsBody(t, tc.claim, "PARTICIPANT_JOIN")).
			requireStatus(t, http.StatusOK)
		timeline := b.events(t, b.acme, bot.ID, "")
		got := timeline.Events[len(timeline.Events)-1].OccurredAt
		require.True(t, tc.want.Equal(got), "%s: want %s, got %s", tc.name, tc.want, got)
	}
	b.requireValidated(t)
}

// An attempt posts at most MaxEventsPerAttempt events; the batch that would
// pass it is refused whole, and a new attempt has its own allowance.
func TestBotEventsPerAttemptCap(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(s *Server) { s.Config.MaxEventsPerAttempt = 5 })
	bot := b.create(t, b.acme, meetingBody(meetURL))
	tok := b.deploy(t, bot.ID)[0]
	post := func(tok string, n int) reply {
		types := make([]string, n)
		for i := range types {
			types[i] = botproto.EventParticipantJoin
		}
		return b.botDo(t, http.MethodPost, botproto.PathEvents, tok, bot.ID, eventsBody(t, time.Time{}, types...))
	}

	post(tok, 3).requireStatus(t, http.StatusOK)
	before := b.counts(t)
	r := post(tok, 3)
	r.requireStatus(t, http.StatusConflict)
	require.Contains(t, r.problem(t).Detail, "3 of its 5 events")
	require.Equal(t, before, b.counts(t), "a batch that does not fit is refused whole")
	post(tok, 2).requireStatus(t, http.StatusOK)
	r = post(tok, 1)
	r.requireStatus(t, http.StatusConflict)
	require.Contains(t, r.problem(t).Detail, "5 of its 5 events")

	now := b.clock.Advance(time.Minute)
	retried, err := b.st.RetryAttempt(t.Context(), bot.ID, 1, now)
	require.NoError(t, err)
	require.True(t, retried)
	newTok := newAttempt(t, b, bot.ID, 2, now)
	post(newTok, 5).requireStatus(t, http.StatusOK)
	b.requireValidated(t)
}

// botRoutes are every /bot/v1 route a bot token is accepted on, with a
// body each would otherwise accept.
func botRoutes(key string) []struct{ method, path, body string } {
	return []struct{ method, path, body string }{
		{http.MethodGet, botproto.PathConfig, ""},
		{http.MethodPost, botproto.PathHeartbeat, "{}"},
		{http.MethodPost, botproto.PathStatus, `{"status":"LEAVING"}`},
		{http.MethodPost, botproto.PathEvents, `{"events":[{"type":"PARTICIPANT_JOIN"}]}`},
		{http.MethodPost, botproto.PathRecording, `{}`},
		{http.MethodPost, botproto.PathRecording + "/complete", `{"key":"` + key + `"}`},
	}
}

// Once its bot has ended the token is fenced (409) on every route but the
// recording's complete, which its own rules judge (a finishing bot's upload,
// TestRecordingUploadVerifyDownload, passes through the fence); once its
// deployment is GONE, on every route (410). A fenced call writes nothing.
func TestBotTokenFencedAfterEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, recordingBody)
	tok := b.deploy(t, bot.ID)[0]
	key := "bots/" + bot.ID.String() + "/a-key" // never uploaded: only the fence matters here
	fenceReport(t, b, bot.ID, tok, "JOINING_CALL", "IN_CALL", "LEAVING", "DONE")
	v := b.get(t, b.acme, bot.ID)
	require.Equal(t, store.StatusFatal, v.Status, "DONE without its recording")
	b.clock.Advance(time.Minute)

	before := b.counts(t)
	for _, rt := range botRoutes(key) {
		r := b.botDo(t, rt.method, rt.path, tok, bot.ID, rt.body)
		if rt.path == botproto.PathRecording+"/complete" {
			require.NotContains(t, string(r.body), store.ErrBotEnded.Error(), "complete is not fenced by the end")
			continue
		}
		r.requireStatus(t, http.StatusConflict)
		require.Equal(t, store.ErrBotEnded.Error(), r.problem(t).Detail, "%s %s", rt.method, rt.path)
	}
	require.Equal(t, before, b.counts(t), "no fenced call wrote anything")

	requireGone(t, b, bot.ID, tok, key)
	require.Equal(t, v, b.get(t, b.acme, bot.ID), "nothing changed the ended bot")
	b.requireValidated(t)
}

// A bot whose deployment is GONE is fenced even before the controller ends
// it: what runs under its token is a zombie.
func TestBotTokenFencedWhenDeploymentGone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, recordingBody)
	tok := b.deploy(t, bot.ID)[0]
	fenceReport(t, b, bot.ID, tok, "JOINING_CALL")
	requireGone(t, b, bot.ID, tok, "bots/"+bot.ID.String()+"/a-key")
	v := b.get(t, b.acme, bot.ID)
	require.Equal(t, store.StatusJoiningCall, v.Status, "the zombie's reports were refused")
	b.requireValidated(t)
}

// requireGone marks the bot's attempt 1 GONE and checks that its token gets
// 410 on every bot route, writing nothing.
func requireGone(t *testing.T, b *testBundle, id uuid.UUID, tok, key string) {
	t.Helper()
	now := b.clock.Advance(time.Minute)
	require.NoError(t, b.st.MarkGone(t.Context(), id, 1, now))
	beatBefore := b.get(t, b.acme, id).LastHeartbeatAt
	before := b.counts(t)
	for _, rt := range botRoutes(key) {
		r := b.botDo(t, rt.method, rt.path, tok, id, rt.body)
		r.requireStatus(t, http.StatusGone)
		require.Equal(t, store.ErrDeploymentGone.Error(), r.problem(t).Detail, "%s %s", rt.method, rt.path)
	}
	require.Equal(t, before, b.counts(t), "no fenced call wrote anything")
	require.Equal(t, beatBefore, b.get(t, b.acme, id).LastHeartbeatAt, "a fenced heartbeat is not recorded")
}

// fenceReport reports statuses as the bot, each accepted.
func fenceReport(t *testing.T, b *testBundle, id uuid.UUID, tok string, statuses ...string) {
	t.Helper()
	for _, st := range statuses {
		b.botDo(t, http.MethodPost, botproto.PathStatus, tok, id, `{"status":"`+st+`"}`).requireStatus(t, http.StatusOK)
	}
}

// newAttempt starts attempt of bot id the way the reconciler does; it
// returns the attempt's token.
func newAttempt(t *testing.T, b *testBundle, id uuid.UUID, attempt int, now time.Time) string {
	t.Helper()
	tok := rand.Text()
	storetest.BeginCreate(t, b.st, id, attempt, tok, now)
	require.NoError(t, b.st.MarkRunning(t.Context(), id, attempt, "2", now))
	return tok
}

package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/store"
)

// TestMetadataJSONBEdges: metadata Postgres's jsonb would refuse (a 500 at
// insert) is a 422 naming the field, on create and on PATCH, and writes
// nothing; what jsonb holds at the edge of its limits is stored.
func TestMetadataJSONBEdges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	withMeta := func(meta string) string { return `{"meeting_url":"` + meetURL + `","metadata":` + meta + `}` }
	bot := b.create(t, b.acme, `{"meeting_url":"`+meetURL+`","join_at":"`+t0.Add(time.Hour).Format(time.RFC3339)+`"}`)
	before := b.counts(t)
	refused := []string{
		`{"a":"\ud800"}`, `{"a":"\udc00x"}`, `{"a":"\ud800\u0041"}`, `{"a":"x\ud83d"}`,
		`{"a":1e1000000}`, `{"a":1e-20000}`, `{"a":-1e131072}`, `{"a":0.5e-16383}`, `{"a":0e-16384}`,
		`{"a":1e99999999999999999999}`, `{"a":"\u0000"}`,
		`{"a":` + strings.Repeat("[", MaxMetadataDepth) + strings.Repeat("]", MaxMetadataDepth) + `}`,
		"{\"a\":\"\xff\xfe\"}",
	}
	for _, meta := range refused {
		r := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, withMeta(meta))
		r.requireStatus(t, http.StatusUnprocessableEntity)
		require.Equal(t, []string{"metadata"}, r.problem(t).fields(), "metadata %s", meta)
		r = b.do(t, http.MethodPatch, "/api/v1/bots/"+bot.ID.String(), b.acme, `{"metadata":`+meta+`}`)
		r.requireStatus(t, http.StatusUnprocessableEntity)
		require.Equal(t, []string{"metadata"}, r.problem(t).fields(), "PATCH metadata %s", meta)
	}
	require.Equal(t, before, b.counts(t), "nothing written")

	stored := []string{`{"a":"\ud83d\ude00 \\ud800"}`, `{"a":1e131071}`, `{"a":1e-16383}`, `{"a":0e1000000}`,
		`{"a":-12.5e-3,"b":` + strings.Repeat("[", MaxMetadataDepth-1) + strings.Repeat("]", MaxMetadataDepth-1) + `}`}
	for _, meta := range stored {
		got := b.create(t, b.acme, withMeta(meta))
		require.True(t, json.Valid(got.Metadata) && got.Metadata[0] == '{', "metadata %.40s", meta)
		b.patch(t, bot.ID, `{"metadata":`+meta+`}`, http.StatusOK)
	}
	b.requireValidated(t)
}

// TestBotNameRefusesControlAndFormatCharacters: controls, bidi overrides
// and invisible format characters in bot_name are a 422 on create and
// PATCH; other Unicode is a name.
func TestBotNameRefusesControlAndFormatCharacters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, `{"meeting_url":"`+meetURL+`","join_at":"`+t0.Add(time.Hour).Format(time.RFC3339)+`"}`)
	for _, name := range []string{`Notes\u202egnp.exe`, `a\u0007b`, `a\u001b[31mred`, `zero\u200bwidth`, `a\u2066b\u2069`,
		`line\u2028sep`, `a\u0085b`, `tag\udb40\udc01`, `a\u0000b`} {
		r := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, `{"meeting_url":"`+meetURL+`","bot_name":"`+name+`"}`)
		r.requireStatus(t, http.StatusUnprocessableEntity)
		require.Equal(t, []string{"bot_name"}, r.problem(t).fields(), "bot_name %s", name)
		r = b.do(t, http.MethodPatch, "/api/v1/bots/"+bot.ID.String(), b.acme, `{"bot_name":"`+name+`"}`)
		r.requireStatus(t, http.StatusUnprocessableEntity)
		require.Equal(t, []string{"bot_name"}, r.problem(t).fields(), "PATCH bot_name %s", name)
	}
	got := b.create(t, b.acme, `{"meeting_url":"`+meetURL+`","bot_name":"  Émile's notes 🤖 (עברית) "}`)
	require.Equal(t, "Émile's notes 🤖 (עברית)", got.BotName)
	b.requireValidated(t)
}

// panicStore panics where a handler reads a bot, as a bug would.
type panicStore struct{ Store }

func (panicStore) GetBot(context.Context, string, uuid.UUID) (store.Bot, error) { panic("boom: a bug") }

// TestHandlerPanicIs500 : a panicking handler answers a 500 problem naming
// the request id, logs it with that id, counts it, and the server serves on.
func TestHandlerPanicIs500(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	met := metrics.New(metrics.Options{})
	b := setupWith(t, func(s *Server) {
		s.Store, s.Logger, s.Metrics = panicStore{s.Store}, zap.New(core), met
	})
	r := b.do(t, http.MethodGet, "/api/v1/bots/"+uuid.NewString(), b.acme, "")
	r.requireStatus(t, http.StatusInternalServerError)
	id := r.header.Get(RequestIDHeader)
	require.NotEmpty(t, id)
	require.Contains(t, r.problem(t).Detail, id)
	require.NotContains(t, string(r.body), "boom", "the panic's text stays in the log")

	require.InDelta(t, 1, testutil.ToFloat64(met.HTTPPanics.WithLabelValues("GET /api/v1/bots/{id}")), 0)
	require.InDelta(t, 1, testutil.ToFloat64(met.HTTPRequests.WithLabelValues("GET /api/v1/bots/{id}", "500")), 0)
	panics := logs.FilterMessage("handler panicked").All()
	require.Len(t, panics, 1)
	require.Equal(t, id, panics[0].ContextMap()["request_id"])
	require.Contains(t, panics[0].ContextMap()["panic"], "boom")

	b.list(t, b.acme, "") // the server is still up
	b.requireValidated(t)
}

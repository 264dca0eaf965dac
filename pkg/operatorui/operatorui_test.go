package operatorui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/operatorui"
	"github.com/meeboter/meeboter/pkg/store"
)

const token = "operator-token-for-tests"

type testBundle struct {
	url   string
	store *store.Store
}

// setup serves the UI over a real migrated database and an insert-only
// River client, as meeboter serve does beside /metrics.
func setup(t *testing.T, cfg operatorui.Config) *testBundle {
	t.Helper()
	pool := storetest.NewPool(t)
	client, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	h, err := operatorui.New(t.Context(), cfg, client, zap.NewNop())
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(operatorui.Prefix+"/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testBundle{url: srv.URL + operatorui.Prefix, store: store.New(pool, controllers.NewEnqueuer(client))}
}

// do sends a request with the given token ("" for none).
func (b *testBundle) do(t *testing.T, method, path, tok string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, strings.NewReader("{}"))
	require.NoError(t, err)
	if tok != "" {
		req.SetBasicAuth("operator", tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestUIShowsReconcileJobs(t *testing.T) {
	t.Parallel()
	b := setup(t, operatorui.Config{Token: token})
	res, err := b.store.CreateBot(t.Context(), store.NewBot{Owner: "acme", MeetingURL: "https://meet.google.com/abc-defg-hij",
		MeetingPlatform: "google-meet", BotName: "Meeboter"}, nil, time.Now(),
		func(store.Bot) ([]byte, error) { return []byte("{}"), nil })
	require.NoError(t, err)

	code, page := b.do(t, http.MethodGet, "/", token)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, "<html", "the UI's page")

	code, body := b.do(t, http.MethodGet, "/api/jobs?state=available&limit=20", token)
	require.Equal(t, http.StatusOK, code, body)
	var jobs struct {
		Data []struct {
			Kind string          `json:"kind"`
			Args json.RawMessage `json:"args"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &jobs))
	require.Len(t, jobs.Data, 1, body)
	require.Equal(t, controllers.ReconcileArgs{}.Kind(), jobs.Data[0].Kind)
	require.Contains(t, string(jobs.Data[0].Args), res.Bot.ID.String())
}

func TestUIRequiresTheOperatorToken(t *testing.T) {
	t.Parallel()
	b := setup(t, operatorui.Config{Token: token})
	for _, tok := range []string{"", "wrong-token-of-some-length"} {
		code, body := b.do(t, http.MethodGet, "/api/jobs?state=available", tok)
		require.Equal(t, http.StatusUnauthorized, code, "token %q", tok)
		require.NotContains(t, body, "data")
	}
	code, _ := b.do(t, http.MethodGet, "/", "")
	require.Equal(t, http.StatusUnauthorized, code, "the page too")
}

func TestUIIsReadOnlyUnlessWritable(t *testing.T) {
	t.Parallel()
	code, body := setup(t, operatorui.Config{Token: token}).do(t, http.MethodPost, "/api/jobs/cancel", token)
	require.Equal(t, http.StatusForbidden, code, body)
	code, _ = setup(t, operatorui.Config{Token: token}).do(t, http.MethodPut, "/api/queues/default/pause", token)
	require.Equal(t, http.StatusForbidden, code)

	// Writable: the change reaches riverui, which judges the (empty) request.
	code, body = setup(t, operatorui.Config{Token: token, Writable: true}).do(t, http.MethodPost, "/api/jobs/cancel", token)
	require.NotEqual(t, http.StatusForbidden, code, body)
	require.NotEqual(t, http.StatusUnauthorized, code, body)
}

func TestNewRefusesAnEmptyToken(t *testing.T) {
	t.Parallel()
	_, err := operatorui.New[any](t.Context(), operatorui.Config{}, nil, zap.NewNop())
	require.Error(t, err)
}

func TestUIShowsOnlyTheArgsAllowed(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	client, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	h, err := operatorui.New(t.Context(), operatorui.Config{Token: token, View: controllers.OperatorView},
		client, zap.NewNop())
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &testBundle{url: srv.URL + operatorui.Prefix}

	const secretURL = "https://hooks.example.com/cb?token=customer-secret"
	res, err := client.Insert(t.Context(), controllers.WebhookArgs{EventID: 7, Target: "callback", URL: secretURL,
		Body: []byte(`{"customer":"payload"}`)}, nil)
	require.NoError(t, err)

	for _, path := range []string{"/api/jobs?state=available", "/api/jobs/" + strconv.FormatInt(res.Job.ID, 10)} {
		code, body := b.do(t, http.MethodGet, path, token)
		require.Equal(t, http.StatusOK, code, body)
		// riverui sends args as JSON text in a string.
		require.Contains(t, body, `\"event_id\":7`, path)
		require.Contains(t, body, `\"target\":\"callback\"`, path)
		require.NotContains(t, body, "customer-secret", path)
		require.NotContains(t, body, "hooks.example.com", path)
		require.NotContains(t, body, `"body"`, path)
	}
}

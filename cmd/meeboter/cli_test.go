package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/store"
)

const (
	cliMeetURL = "https://meet.google.com/abc-defg-hij"
	cliZoomURL = "https://us02web.zoom.us/j/85012345678?pwd=abc"
)

// cliAPI is the real user API (pkg/api over a migrated Postgres, River
// insert-only: jobs are queued, nothing runs them) that the CLI runs
// against in-process.
type cliAPI struct {
	st  *store.Store
	url string
	env map[string]string
}

func newCLIAPI(t *testing.T) *cliAPI {
	t.Helper()
	dbURL := storetest.NewDatabase(t)
	pool, err := pgxpool.New(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	rc, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	st := store.New(pool, controllers.NewEnqueuer(rc))
	// A clock that stands still makes the pool's queue age the same in the
	// CLI's answer and the API's.
	srv := &api.Server{Store: st, Clock: fakeclock.New(time.Now().Add(-3 * time.Minute)),
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Config: api.Config{MaxBotLifetime: time.Hour, BotHeartbeatInterval: 10 * time.Second, PoolPlatform: "coolify",
			Platforms: []api.PlatformLimit{{Name: "coolify", Limit: 2}, {Name: "local", Limit: 5}}}}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	a := &cliAPI{st: st, url: hs.URL, env: map[string]string{"DATABASE_URL": dbURL, "MEEBOTER_URL": hs.URL}}
	out := a.ok(t, "apikey", "create", "--owner", "cli", "--name", t.Name())
	for line := range strings.Lines(out) {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "key: "); ok {
			a.env["MEEBOTER_API_KEY"] = k
		}
	}
	require.NotEmpty(t, a.env["MEEBOTER_API_KEY"], out)
	return a
}

// runEnv runs the meeboter command in-process with env as its environment.
func runEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

// ok runs a command that must succeed and returns its stdout.
func (a *cliAPI) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runEnv(t, a.env, args...)
	require.Equal(t, 0, code, "meeboter %v: %s", args, errOut)
	return out
}

// createBot creates a bot through the CLI and returns its id.
func (a *cliAPI) createBot(t *testing.T, args ...string) string {
	t.Helper()
	var b struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.ok(t, append([]string{"bots", "create", "-o", "json"}, args...)...)), &b))
	require.NotEmpty(t, b.ID)
	return b.ID
}

// apiGet is what the API itself answers, to compare the CLI's JSON with.
func (a *cliAPI) apiGet(t *testing.T, path string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.url+path, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+a.env["MEEBOTER_API_KEY"])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// tableRows splits a table into lines of fields; rows[0] is the header.
func tableRows(out string) [][]string {
	var rows [][]string
	for line := range strings.Lines(strings.TrimSpace(out)) {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

// rowOf is the table row whose first cell is first.
func rowOf(t *testing.T, out, first string) []string {
	t.Helper()
	for _, r := range tableRows(out) {
		if len(r) > 0 && r[0] == first {
			return r
		}
	}
	t.Fatalf("no row %q in:\n%s", first, out)
	return nil
}

// keyValues reads `bots get`'s "key: value" lines.
func keyValues(out string) map[string]string {
	kv := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(line, ":"); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	return kv
}

func TestCLIBotsList(t *testing.T) {
	t.Parallel()
	a := newCLIAPI(t)
	meet1 := a.createBot(t, "--meeting-url", cliMeetURL)
	zoom := a.createBot(t, "--meeting-url", cliZoomURL)
	meet2 := a.createBot(t, "--meeting-url", cliMeetURL, "--name", "Notetaker")

	t.Run("table", func(t *testing.T) {
		t.Parallel()
		out := a.ok(t, "bots", "list")
		rows := tableRows(out)
		require.Equal(t, []string{"ID", "STATUS", "REASON", "PLATFORM", "MEETING_PLATFORM", "ATTEMPT", "CREATED"}, rows[0])
		require.Len(t, rows, 4, out)
		require.Equal(t, []string{meet2, zoom, meet1}, []string{rows[1][0], rows[2][0], rows[3][0]}, "newest first")
		r := rowOf(t, out, zoom)
		require.Equal(t, []string{zoom, "QUEUED", "-", "-", "zoom", "0"}, r[:6])
		require.Equal(t, "ago", r[len(r)-1])
	})
	t.Run("json is the API's", func(t *testing.T) {
		t.Parallel()
		require.JSONEq(t, a.apiGet(t, "/api/v1/bots"), a.ok(t, "bots", "list", "--output", "json"))
	})
	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		rows := tableRows(a.ok(t, "bots", "list", "--platform", "zoom", "--status", "queued,in_call"))
		require.Len(t, rows, 2)
		require.Equal(t, zoom, rows[1][0])
		require.Len(t, tableRows(a.ok(t, "bots", "list", "--status", "DONE")), 1, "header only")
	})
	t.Run("a page, then --all", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := runEnv(t, a.env, "bots", "list", "--limit", "1")
		require.Equal(t, 0, code)
		require.Len(t, tableRows(out), 2)
		require.Contains(t, errOut, "--all")

		var page botPage
		require.NoError(t, json.Unmarshal([]byte(a.ok(t, "bots", "list", "--limit", "1", "-o", "json")), &page))
		require.Len(t, page.Bots, 1)
		require.NotNil(t, page.NextCursor)

		all := a.ok(t, "bots", "list", "--limit", "1", "--all", "-o", "json")
		require.JSONEq(t, a.apiGet(t, "/api/v1/bots"), all, "three pages of one, merged")
		require.Len(t, tableRows(a.ok(t, "bots", "list", "--all", "--limit", "2")), 4)
	})
}

func TestCLIBotLifecycle(t *testing.T) {
	t.Parallel()
	a := newCLIAPI(t)
	out := a.ok(t, "bots", "create", "--meeting-url", cliMeetURL, "--name", "Notetaker", "--metadata", `{"team":"ops"}`)
	kv := keyValues(out)
	id := kv["id"]
	require.NotEmpty(t, id, out)
	require.Equal(t, "QUEUED", kv["status"])
	require.Equal(t, "Notetaker", kv["bot_name"])
	require.Equal(t, `{"team":"ops"}`, kv["metadata"])
	path := "/api/v1/bots/" + id

	kv = keyValues(a.ok(t, "bots", "get", id))
	require.Equal(t, "QUEUED", kv["status"])
	require.Equal(t, "-", kv["status_reason"])
	require.Equal(t, "google-meet", kv["meeting_platform"])
	require.Contains(t, kv["created_at"], "ago)")
	require.JSONEq(t, a.apiGet(t, path), a.ok(t, "bots", "get", id, "-o", "json"), "flags may follow the id")

	events := a.ok(t, "bots", "events", id)
	require.Equal(t, []string{"TIME", "TYPE", "DATA"}, tableRows(events)[0])
	require.Equal(t, "QUEUED", tableRows(events)[1][1])
	require.JSONEq(t, a.apiGet(t, path+"/events"), a.ok(t, "bots", "events", "-o", "json", id))

	kv = keyValues(a.ok(t, "bots", "leave", id))
	require.Equal(t, "STOPPED", kv["desired"])
	require.Equal(t, "leave", kv["stop_mode"])
	var b struct {
		StopMode string `json:"stop_mode"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.ok(t, "bots", "cancel", id, "--output=json")), &b))
	require.Equal(t, "cancel", b.StopMode, "a cancel overrides a leave")

	require.Contains(t, a.ok(t, "bots", "events", id), `STOP_REQUESTED  {"mode":"cancel"}`)
	require.Len(t, tableRows(a.ok(t, "bots", "events", id, "--limit", "1")), 2)
}

func TestCLIPoolAndPlatforms(t *testing.T) {
	t.Parallel()
	a := newCLIAPI(t)
	_, err := a.st.ReserveIdleSlots(t.Context(), "zoom", "spec", 2, 5, time.Now())
	require.NoError(t, err)
	a.createBot(t, "--meeting-url", cliMeetURL)

	pool := a.ok(t, "pool")
	require.Equal(t, []string{"MEETING_PLATFORM", "CREATING", "IDLE", "STARTING", "BUSY", "STOPPING", "ERROR",
		"DELETING", "TOTAL", "QUEUE", "OLDEST_QUEUED"}, tableRows(pool)[0])
	require.Equal(t, []string{"zoom", "2", "0", "0", "0", "0", "0", "0", "2", "0", "-"}, rowOf(t, pool, "zoom"))
	meet := rowOf(t, pool, "google-meet")
	require.Equal(t, []string{"google-meet", "0", "0", "0", "0", "0", "0", "0", "0", "1"}, meet[:10])
	require.Regexp(t, `^\d+s$`, meet[10], "queued a moment ago")
	require.JSONEq(t, a.apiGet(t, "/api/v1/pool"), a.ok(t, "pool", "-o", "json"))

	platforms := a.ok(t, "platforms")
	require.Equal(t, []string{"NAME", "PRIORITY", "LIMIT", "USED", "CAPACITY"}, tableRows(platforms)[0])
	require.Equal(t, []string{"coolify", "1", "2", "0", "2"}, rowOf(t, platforms, "coolify"))
	require.Equal(t, []string{"local", "2", "5", "0", "5"}, rowOf(t, platforms, "local"))
	require.Contains(t, platforms, "\nqueued: 1\n")
	require.JSONEq(t, a.apiGet(t, "/api/v1/platforms"), a.ok(t, "platforms", "--output", "json"))
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	a := newCLIAPI(t)
	noKey := map[string]string{"MEEBOTER_URL": a.url}
	badKey := map[string]string{"MEEBOTER_URL": a.url, "MEEBOTER_API_KEY": "mb_nope"}
	down := map[string]string{"MEEBOTER_URL": "http://127.0.0.1:1", "MEEBOTER_API_KEY": "mb_x"}
	missing := "0190a5c4-0000-7000-8000-000000000000"
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"missing API key", noKey, []string{"bots", "list"}, 1, "meeboter bots list: MEEBOTER_API_KEY: required"},
		{"wrong API key", badKey, []string{"pool"}, 1, "meeboter pool: 401 Unauthorized: invalid or revoked API key\n"},
		{"unknown bot", a.env, []string{"bots", "get", missing}, 1, "meeboter bots get: 404 Not Found: no such bot\n"},
		{"unknown bot's events", a.env, []string{"bots", "events", missing}, 1, "meeboter bots events: 404 Not Found: no such bot\n"},
		{"not an id", a.env, []string{"bots", "cancel", "../pool"}, 1, "meeboter bots cancel: 404 Not Found: no such bot\n"},
		{"bad status", a.env, []string{"bots", "list", "--status", "nope"}, 1, `400 Bad Request: invalid query (status: unknown status "NOPE")`},
		{"invalid bot", a.env, []string{"bots", "create", "--meeting-url", "https://example.com/x"}, 1, "422 Unprocessable Entity: the bot is not valid (meeting_url:"},
		{"API down", down, []string{"platforms"}, 1, "meeboter platforms: cannot reach the API at http://127.0.0.1:1 (MEEBOTER_URL):"},
		{"bad --output", a.env, []string{"bots", "list", "--output", "yaml"}, 2, "usage: meeboter bots list ["},
		{"bad -o", a.env, []string{"pool", "-o", "wide"}, 2, "want table or json\nusage: meeboter pool [-o table|json]\n"},
		{"missing id", a.env, []string{"bots", "get"}, 2, "meeboter bots get: missing argument\nusage: meeboter bots get <id>"},
		{"extra argument", a.env, []string{"bots", "leave", missing, "again"}, 2, `unexpected argument "again"`},
		{"unknown subcommand", a.env, []string{"bots", "frob"}, 2, "meeboter bots: unknown command \"frob\"\nusage: meeboter bots <command>"},
		{"no subcommand", a.env, []string{"bots"}, 2, "meeboter bots: missing command"},
		{"unknown flag", a.env, []string{"platforms", "--wide"}, 2, "flag provided but not defined: -wide"},
		{"create without a link", a.env, []string{"bots", "create"}, 2, "--meeting-url is required"},
		{"create with bad metadata", a.env, []string{"bots", "create", "--meeting-url", cliMeetURL, "--metadata", "{"}, 2, "--metadata: not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runEnv(t, tc.env, tc.args...)
			require.Equal(t, tc.code, code, errOut)
			require.Contains(t, errOut, tc.stderr)
			require.Empty(t, out)
		})
	}
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"bots", "list", "-h"}, {"bots", "help"}, {"pool", "--help"}, {"help"}} {
		code, out, errOut := runEnv(t, nil, args...)
		require.Equal(t, 0, code, "%v: %s", args, errOut)
		require.Contains(t, out, "usage: meeboter", args)
		require.Empty(t, errOut)
	}
}

func TestCLIAge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0:                                  "0s ago",
		1500 * time.Millisecond:            "1s ago",
		3*time.Minute + 12*time.Second:     "3m12s ago",
		5*time.Hour + 3*time.Minute + 59e9: "5h3m ago",
		50*time.Hour + 30*time.Minute:      "2d2h ago",
		-5 * time.Minute:                   "in 5m0s",
	} {
		require.Equal(t, want, ago(now, now.Add(-d)), d)
	}
}

package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
)

// A webhook job's secrets: the callback URL's token and the rendered body.
// No output of `meeboter jobs` may contain any of them.
const (
	jobsHookURL    = "https://hooks.example.com/cb?token=s3cr3t-tok"
	jobsBodySecret = "body-secret-marker"
)

var (
	jobsHookBody = []byte(`{"event_id":"7","bot":{"bot_name":"` + jobsBodySecret + `"}}`)
	// The body is stored base64, so that is how it would leak.
	jobsHookBody64 = base64.StdEncoding.EncodeToString(jobsHookBody)
	jobsSecrets    = []string{"s3cr3t-tok", "hooks.example.com", jobsBodySecret, jobsHookBody64[:24]}
)

// jobsFixture is a migrated database holding one job in each interesting
// state, queued by an insert-only River client (nothing works them) and
// moved into its state with SQL.
type jobsFixture struct {
	env  map[string]string
	pool *pgxpool.Pool
	rc   *river.Client[pgx.Tx]
	bot  uuid.UUID // the discarded reconcile_bot job's bot
	// Job ids by role.
	discarded, available, completed, scheduled, running, retryableHook, toCancel int64
}

func newJobsFixture(t *testing.T) *jobsFixture {
	t.Helper()
	dbURL := storetest.NewDatabase(t)
	pool, err := pgxpool.New(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	rc, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	f := &jobsFixture{env: map[string]string{"DATABASE_URL": dbURL}, pool: pool, rc: rc, bot: uuid.New()}

	f.discarded = f.insert(t, controllers.ReconcileArgs{BotID: f.bot}, nil)
	f.available = f.insert(t, controllers.ReconcileArgs{BotID: uuid.New()}, nil)
	f.completed = f.insert(t, controllers.ReconcileArgs{BotID: uuid.New()}, nil)
	f.scheduled = f.insert(t, controllers.ReconcileArgs{BotID: uuid.New()}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	f.running = f.insert(t, controllers.ReconcileArgs{BotID: uuid.New()}, nil)
	f.retryableHook = f.insert(t, controllers.WebhookArgs{EventID: 7, BotID: f.bot, Target: controllers.TargetCallback,
		URL: jobsHookURL, Body: jobsHookBody}, nil)
	f.toCancel = f.insert(t, controllers.WebhookArgs{EventID: 8, BotID: f.bot, Target: controllers.TargetCallback,
		URL: jobsHookURL, Body: jobsHookBody}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Minute)})

	f.setState(t, f.discarded, rivertype.JobStateDiscarded, "store: boom 1", "store: boom 2")
	f.setState(t, f.completed, rivertype.JobStateCompleted)
	f.setState(t, f.running, rivertype.JobStateRunning)
	// A *url.Error quotes the URL: the CLI must not, even if a worker did.
	f.setState(t, f.retryableHook, rivertype.JobStateRetryable,
		fmt.Sprintf("Post %q: dial tcp: connection refused", jobsHookURL))
	// The queue's oldest available job has waited five minutes.
	f.exec(t, `UPDATE river_job SET scheduled_at = now() - interval '5 minutes' WHERE id = $1`, f.available)
	return f
}

func (f *jobsFixture) insert(t *testing.T, args river.JobArgs, opts *river.InsertOpts) int64 {
	t.Helper()
	res, err := f.rc.Insert(t.Context(), args, opts)
	require.NoError(t, err)
	require.False(t, res.UniqueSkippedAsDuplicate)
	return res.Job.ID
}

// setState puts a job in state as River would leave it after one attempt
// per error (at least one), keeping River's constraints: finalized states
// have finalized_at, and a discarded job has used its attempts.
func (f *jobsFixture) setState(t *testing.T, id int64, state rivertype.JobState, errs ...string) {
	t.Helper()
	history := make([]string, len(errs))
	for i, e := range errs {
		b, err := json.Marshal(rivertype.AttemptError{At: time.Now().Add(time.Duration(i-len(errs)) * time.Minute),
			Attempt: i + 1, Error: e})
		require.NoError(t, err)
		history[i] = string(b)
	}
	f.exec(t, `
UPDATE river_job SET
    state = $2::river_job_state,
    errors = $3::jsonb[],
    attempt = greatest(1, cardinality($3::jsonb[])),
    max_attempts = CASE WHEN $2 = 'discarded' THEN greatest(1, cardinality($3::jsonb[])) ELSE max_attempts END,
    attempted_at = now(),
    attempted_by = ARRAY['worker-1'],
    finalized_at = CASE WHEN $2 IN ('cancelled', 'completed', 'discarded') THEN now() END
WHERE id = $1`, id, string(state), history)
}

func (f *jobsFixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	tag, err := f.pool.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())
}

// ok runs a jobs command that must succeed and returns its stdout; nothing
// it prints may hold a webhook's secrets.
func (f *jobsFixture) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runEnv(t, f.env, args...)
	require.Equal(t, 0, code, "meeboter %v: %s", args, errOut)
	requireNoSecrets(t, out+errOut)
	return out
}

func requireNoSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range jobsSecrets {
		require.NotContains(t, out, s)
	}
	require.NotContains(t, out, `"url"`)
	require.NotContains(t, out, `"body"`)
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// firstCells are a table's first column, below the header: the jobs' ids.
func firstCells(out string) []string {
	var ids []string
	for _, r := range tableRows(out)[1:] {
		ids = append(ids, r[0])
	}
	return ids
}

// jobsPage is `jobs -o json`.
type jobsPage struct {
	Jobs []struct {
		ID          int64                    `json:"id"`
		Kind        string                   `json:"kind"`
		State       string                   `json:"state"`
		Attempt     int                      `json:"attempt"`
		MaxAttempts int                      `json:"max_attempts"`
		Args        map[string]any           `json:"args"`
		Metadata    map[string]any           `json:"metadata"`
		Errors      []rivertype.AttemptError `json:"errors"`
	} `json:"jobs"`
}

func TestJobsList(t *testing.T) {
	t.Parallel()
	f := newJobsFixture(t)

	t.Run("default: all but completed, newest first", func(t *testing.T) {
		t.Parallel()
		out := f.ok(t, "jobs")
		require.Equal(t, []string{"ID", "KIND", "QUEUE", "STATE", "ATTEMPT", "ARGS", "AT", "LAST_ERROR"}, tableRows(out)[0])
		require.Equal(t, []string{id(f.toCancel), id(f.retryableHook), id(f.running), id(f.scheduled), id(f.available),
			id(f.discarded)}, firstCells(out))
		require.Equal(t, withoutAges(out), withoutAges(f.ok(t, "jobs", "list")), "list is the default")

		r := rowOf(t, out, id(f.discarded))
		require.Equal(t, []string{"reconcile_bot", "reconcile", "discarded", "2/2", `{"bot_id":"` + f.bot.String() + `"}`}, r[1:6])
		require.Equal(t, []string{"ago", "store:", "boom", "2"}, r[7:], "the last error")
		// In about an hour, 5 minutes ago: the fixture was made before the
		// subtests, which may wait minutes for a parallel slot.
		require.Regexp(t, `^in 5\dm\d+s -$`, strings.Join(rowOf(t, out, id(f.scheduled))[6:], " "), "when it will run")
		require.Regexp(t, `^[5-9]m\d+s ago -$`, strings.Join(rowOf(t, out, id(f.available))[6:], " "), "since when it waits")
	})
	t.Run("--state", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{id(f.discarded)}, firstCells(f.ok(t, "jobs", "--state", "discarded")))
		require.Equal(t, []string{id(f.completed), id(f.discarded)}, firstCells(f.ok(t, "jobs", "--state", "Completed,discarded")))
	})
	t.Run("--queue, --kind, --limit", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{id(f.toCancel), id(f.retryableHook)}, firstCells(f.ok(t, "jobs", "--queue", "webhook")))
		require.Equal(t, []string{id(f.running), id(f.scheduled), id(f.available), id(f.discarded)},
			firstCells(f.ok(t, "jobs", "--kind", "reconcile_bot")))
		require.Equal(t, []string{id(f.retryableHook)},
			firstCells(f.ok(t, "jobs", "--queue", "webhook,reconcile", "--kind", "webhook,test_kind", "--state", "retryable,running")))

		code, out, errOut := runEnv(t, f.env, "jobs", "--limit", "2")
		require.Equal(t, 0, code, errOut)
		require.Equal(t, []string{id(f.toCancel), id(f.retryableHook)}, firstCells(out))
		require.Equal(t, "the newest 2 shown: there may be more (--limit)\n", errOut)
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		var page jobsPage
		require.NoError(t, json.Unmarshal([]byte(f.ok(t, "jobs", "--state", "discarded", "-o", "json")), &page))
		require.Len(t, page.Jobs, 1)
		j := page.Jobs[0]
		require.Equal(t, f.discarded, j.ID)
		require.Equal(t, "discarded", j.State)
		require.Equal(t, map[string]any{"bot_id": f.bot.String()}, j.Args)
		require.Len(t, j.Errors, 2)
		require.Equal(t, "store: boom 1", j.Errors[0].Error)
	})
}

func TestJobsWebhookSecretsNeverShown(t *testing.T) {
	t.Parallel()
	f := newJobsFixture(t)
	hook := id(f.retryableHook)
	// f.ok checks every output for the secrets.
	list := f.ok(t, "jobs", "--kind", "webhook")
	args := `{"event_id":7,"target":"callback","bot_id":"` + f.bot.String() + `"}`
	require.Equal(t, []string{"retryable", "1/1000", args[:59] + "…"}, rowOf(t, list, hook)[3:6], "args cut at 60 characters")
	require.Contains(t, list, `Post "[url]": dial tcp: connection refused`)
	f.ok(t, "jobs", "--state", "retryable", "--limit", "10000")

	var page jobsPage
	require.NoError(t, json.Unmarshal([]byte(f.ok(t, "jobs", "-o", "json", "--queue", "webhook", "--state", "retryable")), &page))
	require.Len(t, page.Jobs, 1)
	require.Equal(t, map[string]any{"event_id": float64(7), "bot_id": f.bot.String(), "target": "callback"},
		page.Jobs[0].Args, "only what says which delivery it is")

	kv := keyValues(f.ok(t, "jobs", "get", hook))
	require.Equal(t, args, kv["args"], "uncut, short fields first")
	f.ok(t, "jobs", "get", hook, "-o", "json")
	f.ok(t, "jobs", "summary", "-o", "json")
	f.ok(t, "jobs", "retry", hook)
	f.ok(t, "jobs", "cancel", "-o", "json", hook)

	// The secrets are there to hide: the job still holds them.
	var raw string
	require.NoError(t, f.pool.QueryRow(t.Context(), `SELECT args::text FROM river_job WHERE id = $1`, f.retryableHook).Scan(&raw))
	require.Contains(t, raw, "s3cr3t-tok")
	require.Contains(t, raw, jobsHookBody64)
}

func TestJobsSummary(t *testing.T) {
	t.Parallel()
	f := newJobsFixture(t)
	f.insert(t, testArgs{}, &river.InsertOpts{Queue: "other"})

	out := f.ok(t, "jobs", "summary")
	require.Equal(t, []string{"QUEUE", "AVAILABLE", "SCHEDULED", "RUNNING", "RETRYABLE", "PENDING", "DISCARDED",
		"CANCELLED", "COMPLETED", "TOTAL", "OLDEST_AVAILABLE"}, tableRows(out)[0])
	require.Equal(t, []string{"reconcile", "webhook", "other"}, firstCells(out), "Meeboter's queues first")
	reconcile := rowOf(t, out, "reconcile")
	require.Equal(t, []string{"1", "1", "1", "0", "0", "1", "0", "1", "5"}, reconcile[1:10])
	require.True(t, strings.HasPrefix(reconcile[10], "5m"), reconcile[10])
	require.Equal(t, []string{"webhook", "0", "1", "0", "1", "0", "0", "0", "0", "2", "-"}, rowOf(t, out, "webhook"))
	require.Equal(t, "1", rowOf(t, out, "other")[1])

	var view struct {
		Queues []queueSummary `json:"queues"`
	}
	require.NoError(t, json.Unmarshal([]byte(f.ok(t, "jobs", "summary", "-o", "json")), &view))
	require.Len(t, view.Queues, 3)
	q := view.Queues[0]
	require.Equal(t, "reconcile", q.Queue)
	require.Equal(t, int64(5), q.Total)
	require.Equal(t, int64(1), q.States[rivertype.JobStateDiscarded])
	require.Equal(t, int64(0), q.States[rivertype.JobStateCancelled], "every state, zero too")
	require.NotNil(t, q.OldestAvailableAgeSeconds)
	require.InDelta(t, 300, *q.OldestAvailableAgeSeconds, 60)
	require.Nil(t, view.Queues[1].OldestAvailableAgeSeconds, "webhook has no available job")
}

// testArgs is a job of a kind Meeboter does not have, in a queue it does
// not use: the summary counts whatever River holds.
type testArgs struct{}

func (testArgs) Kind() string { return "test_kind" }

func TestJobsGet(t *testing.T) {
	t.Parallel()
	f := newJobsFixture(t)
	out := f.ok(t, "jobs", "get", id(f.discarded))
	kv := keyValues(out)
	require.Equal(t, id(f.discarded), kv["id"])
	require.Equal(t, "reconcile_bot", kv["kind"])
	require.Equal(t, "discarded", kv["state"])
	require.Equal(t, "2", kv["attempt"])
	require.Equal(t, `["worker-1"]`, kv["attempted_by"])
	require.Contains(t, kv["finalized_at"], "ago)")
	require.Equal(t, "2", kv["errors"])
	require.Regexp(t, `\n  attempt 1 at \S+ \([1-9]m\d+s ago\): store: boom 1\n  attempt 2 at \S+ \([1-9]m\d+s ago\): store: boom 2\n$`, out,
		"the whole history, oldest first")

	var j map[string]any
	require.NoError(t, json.Unmarshal([]byte(f.ok(t, "jobs", "get", id(f.discarded), "-o", "json")), &j))
	require.Len(t, j["errors"], 2)
	require.EqualValues(t, f.discarded, j["id"])
	require.Contains(t, f.ok(t, "jobs", "get", id(f.available)), "errors: -\n")
}

func TestJobsRetryAndCancel(t *testing.T) {
	t.Parallel()
	f := newJobsFixture(t)

	// A twin of the discarded reconcile_bot job is queued: River keeps one
	// unfinished job per bot, so the retry must say why it cannot.
	twin := f.insert(t, controllers.ReconcileArgs{BotID: f.bot}, nil)
	code, _, errOut := runEnv(t, f.env, "jobs", "retry", id(f.discarded))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "meeboter jobs retry: job "+id(f.discarded)+": an unfinished job with the same args is already queued")

	kv := keyValues(f.ok(t, "jobs", "cancel", id(twin)))
	require.Equal(t, "cancelled", kv["state"])
	require.NotEqual(t, "-", kv["finalized_at"])

	kv = keyValues(f.ok(t, "jobs", "retry", id(f.discarded)))
	require.Equal(t, "available", kv["state"])
	require.Equal(t, "3", kv["max_attempts"], "one more attempt than it had used")
	require.Equal(t, "-", kv["finalized_at"])
	require.Empty(t, firstCells(f.ok(t, "jobs", "--state", "discarded")))

	// A running (say, stuck) job: retry refuses, cancel marks it for its
	// worker and River's rescuer.
	code, _, errOut = runEnv(t, f.env, "jobs", "retry", id(f.running))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "is running: River retries only a job that is not")
	code, out, errOut := runEnv(t, f.env, "jobs", "cancel", id(f.running), "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "cancellation requested")
	var page jobsPage
	require.NoError(t, json.Unmarshal([]byte(`{"jobs":[`+out+`]}`), &page))
	require.Equal(t, "running", page.Jobs[0].State)
	require.Contains(t, page.Jobs[0].Metadata, "cancel_attempted_at")

	// A finished job: nothing to cancel, and that is not a failure.
	code, _, errOut = runEnv(t, f.env, "jobs", "cancel", id(f.completed))
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "had already finished (completed)")

	require.Equal(t, "cancelled", rowOf(t, f.ok(t, "jobs", "cancel", id(f.toCancel)), "state:")[1])
	require.Equal(t, []string{id(twin), id(f.toCancel)}, firstCells(f.ok(t, "jobs", "--state", "cancelled")))
}

func TestJobsErrors(t *testing.T) {
	t.Parallel()
	f := newJobsFixture(t)
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"bad --state", f.env, []string{"jobs", "--state", "available,done"}, 2,
			"meeboter jobs: --state: unknown state \"done\" (want available, scheduled, running, retryable, pending, discarded, cancelled, completed)\nusage: meeboter jobs [--state"},
		{"bad --state on list", f.env, []string{"jobs", "list", "--state", "nope"}, 2, "meeboter jobs list: --state: unknown state"},
		{"bad --limit", f.env, []string{"jobs", "--limit", "0"}, 2, "--limit: want 1 to 10000"},
		{"limit over River's", f.env, []string{"jobs", "--limit", "10001"}, 2, "--limit: want 1 to 10000"},
		{"bad -o", f.env, []string{"jobs", "summary", "-o", "yaml"}, 2, "usage: meeboter jobs summary [-o table|json]\n"},
		{"unknown flag", f.env, []string{"jobs", "--status", "x"}, 2, "flag provided but not defined: -status"},
		{"missing id", f.env, []string{"jobs", "get"}, 2, "meeboter jobs get: missing argument\nusage: meeboter jobs get <id>"},
		{"not an id", f.env, []string{"jobs", "retry", "abc"}, 2, "meeboter jobs retry: not a job id: \"abc\""},
		{"extra argument", f.env, []string{"jobs", "cancel", "1", "2"}, 2, `unexpected argument "2"`},
		{"unknown command", f.env, []string{"jobs", "frob"}, 2, "meeboter jobs: unknown command \"frob\"\nusage: meeboter jobs [<command>]"},
		{"unknown job", f.env, []string{"jobs", "get", "999999"}, 1, "meeboter jobs get: no such job 999999\n"},
		{"unknown job to retry", f.env, []string{"jobs", "retry", "999999"}, 1, "meeboter jobs retry: no such job 999999\n"},
		{"no DATABASE_URL", nil, []string{"jobs"}, 1, "meeboter jobs: DATABASE_URL: required"},
		{"no DATABASE_URL for summary", nil, []string{"jobs", "summary"}, 1, "meeboter jobs summary: DATABASE_URL: required"},
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

func TestJobsHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"jobs", "help"}, {"jobs", "-h"}, {"jobs", "get", "--help"}} {
		code, out, errOut := runEnv(t, nil, args...)
		require.Equal(t, 0, code, "%v: %s", args, errOut)
		require.Contains(t, out, "usage: meeboter jobs", args)
		require.Empty(t, errOut)
	}
	_, out, _ := runEnv(t, nil, "help")
	require.Contains(t, out, "jobs summary")
}

var ageText = regexp.MustCompile(`(in )?\d+[hms][0-9hms]*( ago)?`)

// withoutAges blanks the AT column's ages: two listings a second apart
// differ there, and only there.
func withoutAges(s string) string { return ageText.ReplaceAllString(s, "AGE") }

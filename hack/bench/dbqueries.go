package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meeboter/meeboter/hack/devenv/pgtest"
	"github.com/meeboter/meeboter/pkg/botproto"
)

// steadyWindow is how long the bench counts the controller's statements
// with every bot in its call, once steadySettle has passed since the last
// one entered (its webhooks and observation are then written).
const (
	steadyWindow = 30 * time.Second
	steadySettle = 5 * time.Second
)

// DBResult is the "db" object of bench.json: what a fleet in its calls costs
// Postgres, heartbeats excluded (they are the bots' own writes, one UPDATE
// each, measured by the API part).
type DBResult struct {
	// QueriesPerInCallBotPerMinute is every statement round trip (and Parse)
	// the controller and the API sent in the window, less heartbeats and the
	// bench's own polling, per bot in its call, per minute.
	QueriesPerInCallBotPerMinute float64 `json:"queries_per_in_call_bot_per_minute"`
	Queries                      int     `json:"queries"`
	Bots                         int     `json:"bots"`
	WindowSeconds                float64 `json:"window_seconds"`
	// Written are the tables written in the window.
	Written []string `json:"written"`
	// Top are the most frequent statements (their first words) with their
	// counts.
	Top map[string]int `json:"top_statements"`
}

// newQueryCounter counts the statements of the controller and the API; a
// context marked with pgtest.Mark (the bench's own polling, heartbeats) is
// left out.
func newQueryCounter() *pgtest.QueryCounter {
	return &pgtest.QueryCounter{Filter: func(ctx context.Context, c *pgx.Conn) bool { return !pgtest.Marked(ctx, c) }}
}

// unmarkHeartbeats marks heartbeat requests so the counter leaves their
// statements out.
func unmarkHeartbeats(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == botproto.PathHeartbeat {
			r = r.WithContext(pgtest.Mark(r.Context()))
		}
		next.ServeHTTP(w, r)
	})
}

// steadyQueries counts the statements sent while n bots stay in their calls
// for the window.
func steadyQueries(ctx context.Context, c *pgtest.QueryCounter, n int, window time.Duration) (DBResult, error) {
	if err := sleepCtx(ctx, steadySettle); err != nil {
		return DBResult{}, err
	}
	c.Reset()
	if err := sleepCtx(ctx, window); err != nil {
		return DBResult{}, err
	}
	q := c.Queries() + c.Prepares()
	res := DBResult{Queries: q, Bots: n, WindowSeconds: window.Seconds(), Written: c.Written(), Top: topStatements(c.Statements(), 5)}
	if n > 0 {
		res.QueriesPerInCallBotPerMinute = round3(float64(q) / float64(n) / window.Minutes())
	}
	fmt.Fprintf(os.Stderr, "db at steady state: %d statements in %s with %d bots in their calls = %.3f per bot per minute (heartbeats excluded); writes to %v\n",
		q, window, n, res.QueriesPerInCallBotPerMinute, res.Written)
	return res, nil
}

// topStatements keeps the k most frequent statements, each named by its
// first words.
func topStatements(stmts map[string]int, k int) map[string]int {
	byName := map[string]int{}
	for sql, n := range stmts {
		byName[statementName(sql)] += n
	}
	names := slices.Collect(maps.Keys(byName))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(byName[b], byName[a]), cmp.Compare(a, b)) })
	out := map[string]int{}
	for _, name := range names[:min(k, len(names))] {
		out[name] = byName[name]
	}
	return out
}

// statementName is a statement's first 60 characters, blanks folded.
func statementName(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

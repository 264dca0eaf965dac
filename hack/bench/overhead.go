package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meeboter/meeboter/pkg/platform/ecs"
)

// overheadProbes is how many bots the idle probe creates, one at a time,
// before the burst.
const overheadProbes = 10

// OverheadResult is the "overhead" object of bench.json: the time from a
// bot's due moment (its create: the bench's bots are ad hoc) to the
// controller's first RunTask for it reaching ECS. It is the controller's
// own part of a launch: API, admission, reconcile queue, the create itself.
type OverheadResult struct {
	// DueToCreate* are measured over the burst of all bots at once, less
	// the wait ECS's launch bucket imposes (the controller's own limiter
	// holds a create until the bucket has a token); DueToCreateRawP99Ms
	// includes that wait.
	DueToCreateP99Ms    float64 `json:"due_to_create_p99_ms"`
	DueToCreateP50Ms    float64 `json:"due_to_create_p50_ms"`
	DueToCreateMaxMs    float64 `json:"due_to_create_max_ms"`
	DueToCreateRawP99Ms float64 `json:"due_to_create_raw_p99_ms"`
	// IdleDueToCreateP99Ms is over overheadProbes bots created one at a
	// time on the idle controller.
	IdleDueToCreateP99Ms float64 `json:"idle_due_to_create_p99_ms"`
	IdleBots             int     `json:"idle_bots"`
}

// createCalls notes when each bot's first RunTask reached the simulator.
type createCalls struct {
	mu    sync.Mutex
	first map[string]time.Time // bot id → arrival
}

// wrap records RunTask arrivals on their way to the simulator.
func (c *createCalls) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".RunTask") {
			at := time.Now()
			body, err := io.ReadAll(r.Body)
			if err == nil {
				c.note(body, at)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func (c *createCalls) note(body []byte, at time.Time) {
	var in struct {
		Tags []struct{ Key, Value string } `json:"tags"`
	}
	if json.Unmarshal(body, &in) != nil {
		return
	}
	for _, t := range in.Tags {
		if t.Key != ecs.TagBot {
			continue
		}
		c.mu.Lock()
		if c.first == nil {
			c.first = map[string]time.Time{}
		}
		if _, ok := c.first[t.Value]; !ok {
			c.first[t.Value] = at
		}
		c.mu.Unlock()
	}
}

func (c *createCalls) at(id string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.first[id]
	return t, ok
}

// createDelays are the bots' due-to-create times in milliseconds (bots not
// yet created are left out): as measured, and beyond the wait ECS's launch
// bucket imposes on a burst that began at start with the bucket full (the
// k-th create cannot reach ECS before start + (k+1-launchBurst)/launchRate).
func (h *harness) createDelays(ctx context.Context, ids []string, start time.Time) (raw, beyond []float64, err error) {
	rows, err := h.pool.Query(ctx, `SELECT id::text, created_at FROM bots WHERE id::text = ANY($1)`, ids)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	type create struct{ due, at time.Time }
	var creates []create
	for rows.Next() {
		var id string
		var due time.Time
		if err := rows.Scan(&id, &due); err != nil {
			return nil, nil, err
		}
		if at, ok := h.creates.at(id); ok {
			creates = append(creates, create{due, at})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(creates, func(a, b create) int { return a.at.Compare(b.at) })
	for k, c := range creates {
		raw = append(raw, ms(c.at.Sub(c.due)))
		bucket := start.Add(time.Duration(float64(max(k+1-launchBurst, 0)) / launchRate * float64(time.Second)))
		earliest := c.due
		if bucket.After(earliest) {
			earliest = bucket
		}
		beyond = append(beyond, ms(c.at.Sub(earliest)))
	}
	return raw, beyond, nil
}

// idleOverhead creates overheadProbes bots one at a time, each once the
// last one's create reached ECS, then ends them and lets ECS's launch
// bucket fill again, so the burst after it starts as it would alone.
func (h *harness) idleOverhead(ctx context.Context, key string) (OverheadResult, error) {
	var ids []string
	for range overheadProbes {
		got, err := h.createBots(key, 1)
		if err != nil {
			return OverheadResult{}, err
		}
		ids = append(ids, got...)
		for _, ok := h.creates.at(got[0]); !ok; _, ok = h.creates.at(got[0]) {
			if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
				return OverheadResult{}, err
			}
		}
	}
	delays, _, err := h.createDelays(ctx, ids, time.Time{})
	if err != nil {
		return OverheadResult{}, err
	}
	if err := h.cancelBots(key, ids); err != nil {
		return OverheadResult{}, err
	}
	for _, q := range []string{`SELECT count(*) FROM bots WHERE status IN ('DONE', 'FATAL')`,
		`SELECT count(*) FROM deployments WHERE state = 'GONE'`} {
		if err := h.waitCount(ctx, q, len(ids), time.Minute); err != nil {
			return OverheadResult{}, err
		}
	}
	res := OverheadResult{IdleDueToCreateP99Ms: quantile(delays, 0.99), IdleBots: len(delays)}
	fmt.Fprintf(os.Stderr, "overhead, idle: %d bots created one at a time, due→RunTask p99 %.1f ms\n", res.IdleBots, res.IdleDueToCreateP99Ms)
	// Fargate's launch bucket refills at launchRate: wait until it is full.
	return res, sleepCtx(ctx, time.Duration(float64(launchBurst)/launchRate*float64(time.Second)))
}

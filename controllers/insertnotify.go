package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meeboter/meeboter/pkg/store"
)

// fetchCooldown is the River client's FetchCooldown: the least time between
// two fetches of one queue, and between two insert notifications of one
// client.
const fetchCooldown = 25 * time.Millisecond

// riverDefaultFetchCooldown is River's default, the throttle of an
// insert-only client built without a config.
const riverDefaultFetchCooldown = 100 * time.Millisecond

// insertNotifier gives River's insert notifications their trailing edge.
// River's client notifies a queue's producers of an insert at most once per
// FetchCooldown and drops the notifications in between; a producer fetches
// on the first, so a job inserted a few milliseconds after another (the
// admission right after a create, the next bot's create right after the
// last one's webhook) waited for River's next poll, up to a second (the
// bench measured due→RunTask 270–710 ms on an idle controller for 4 bots
// in 10). An insert within the window of the last one therefore notifies
// again, in its own transaction, so at its commit; the producer's cooldown
// still bounds the fetches.
type insertNotifier struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// afterInsertTx notifies queue's producers in tx unless River's own
// notification for this insert was certainly sent: the last insert into
// queue was longer ago than the client's FetchCooldown (window; zero is
// River's default).
func (n *insertNotifier) afterInsertTx(ctx context.Context, tx pgx.Tx, queue string, window time.Duration) error {
	if window == 0 {
		window = riverDefaultFetchCooldown
	}
	now := time.Now()
	n.mu.Lock()
	if n.last == nil {
		n.last = map[string]time.Time{}
	}
	throttled := now.Sub(n.last[queue]) <= window
	n.last[queue] = now
	n.mu.Unlock()
	if !throttled {
		return nil
	}
	return store.NotifyJobsTx(ctx, tx, queue)
}

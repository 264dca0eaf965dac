package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/meeboter/meeboter/pkg/store"
)

// eventBatcher records controller events with group commit: the records of
// concurrent callers share one INSERT and one commit, and each caller
// returns only once its own record is committed, so a record is exactly as
// durable as with an INSERT each, at a fraction of the round trips. One
// caller at a time writes, taking everything pending; meanwhile the next
// batch gathers. (Webhook deliveries were bound by their records: one
// transaction each.)
type eventBatcher struct {
	write func(context.Context, []store.ControllerEvent) error
	// max bounds one statement (default 500).
	max int
	// timeout bounds one write (default 10 s); a write is not cancelled with
	// the caller that happens to lead it, as it carries the others' records.
	timeout time.Duration

	mu      sync.Mutex
	pending []*pendingEvent
	leading bool // a caller is writing; it hands over to pending[0]
}

type pendingEvent struct {
	ev   store.ControllerEvent
	done chan error    // the outcome of the batch that held ev
	lead chan struct{} // this caller writes the next batch
}

// add records ev and returns once it is committed (or failed).
func (b *eventBatcher) add(ev store.ControllerEvent) error {
	p := &pendingEvent{ev: ev, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, p)
	lead := !b.leading // nothing in flight: nothing else is pending either
	b.leading = true
	b.mu.Unlock()
	if !lead {
		select {
		case err := <-p.done:
			return err
		case <-p.lead:
		}
	}
	b.flush()
	return <-p.done // the leader's own record is always in its batch
}

// flush writes the oldest pending events (the leader's first) and hands the
// lead to the oldest caller still waiting, if any.
func (b *eventBatcher) flush() {
	b.mu.Lock()
	n := min(len(b.pending), b.limit())
	batch := b.pending[:n:n]
	b.pending = b.pending[n:]
	b.mu.Unlock()

	events := make([]store.ControllerEvent, len(batch))
	for i, p := range batch {
		events[i] = p.ev
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeoutOrDefault())
	err := b.write(ctx, events)
	cancel()
	for _, p := range batch {
		p.done <- err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		b.leading = false
		return
	}
	b.pending[0].lead <- struct{}{}
}

func (b *eventBatcher) limit() int {
	if b.max <= 0 {
		return 500
	}
	return b.max
}

func (b *eventBatcher) timeoutOrDefault() time.Duration {
	if b.timeout <= 0 {
		return 10 * time.Second
	}
	return b.timeout
}

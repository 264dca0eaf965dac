package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// createWorkers are the concurrent creates: enough that a create stuck in
// retries (a kill, the Postgres restart) does not hold the schedule up.
const createWorkers = 16

// createBots creates every planned bot on a schedule spread over 90 % of
// the chaos phase, with a few bursts that outrun capacity and queue bots.
// A create that gets no answer or a 5xx is retried with its
// Idempotency-Key; only a 201 makes a bot accepted. Creates run on ctx,
// not on the phase, so every planned bot is created.
func (c *chaos) createBots(ctx, phase context.Context) {
	at := arrivals(c.rng, len(c.plans), time.Duration(0.9*float64(c.opts.duration)))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range createWorkers {
		wg.Go(func() {
			for i := range jobs {
				c.createOne(ctx, &c.plans[i])
			}
		})
	}
	start := time.Now()
	for i, offset := range at {
		if d := time.Until(start.Add(offset)); d > 0 && phase.Err() == nil {
			sleepCtx(phase, d)
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	c.logf("creates done: %d of %d planned bots accepted", c.created.Load(), len(c.plans))
}

func (c *chaos) createOne(ctx context.Context, p *plan) {
	hooks := make([]string, len(c.sys.hooks))
	for i, h := range c.sys.hooks {
		hooks[i] = h.url
	}
	// The body is fixed before the first try: a retry must send the same
	// bytes, or its Idempotency-Key would not match.
	body := p.body(c.runID, time.Now(), hooks)
	v, err := c.api.create(ctx, body, "chaos-"+c.runID+"-"+itoa(p.seq))
	if err != nil {
		c.tracker.reject(p, err)
		return
	}
	c.created.Add(1)
	c.tracker.accept(p, v, time.Now())
}

// arrivals are n creation times within window: uniform, except that a
// few bursts (one bot in 25 each) arrive at once.
func arrivals(rng *lockedRand, n int, window time.Duration) []time.Duration {
	rng.mu.Lock()
	defer rng.mu.Unlock()
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(rng.rng.Int64N(int64(window) + 1))
	}
	bursts := max(1, min(5, n/100))
	size := n / 25
	for range bursts {
		at := time.Duration(rng.rng.Int64N(int64(window) + 1))
		for range size {
			out[rng.rng.IntN(n)] = at
		}
	}
	slices.Sort(out)
	return out
}

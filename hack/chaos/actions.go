package main

import (
	"context"
	"sync"
	"time"
)

// actionLog counts the leaves and cancels sent, by the status the bot was
// in when the runner acted.
type actionLog struct {
	mu       sync.Mutex
	byStatus map[string]int
	failed   int
}

func (a *actionLog) record(action, status string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byStatus == nil {
		a.byStatus = map[string]int{}
	}
	a.byStatus[action+"@"+status]++
	if err != nil {
		a.failed++
	}
}

func (a *actionLog) snapshot() (map[string]int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.byStatus {
		out[k] = v
	}
	return out, a.failed
}

// actOnPlans sends the leaves and cancels whose moment has come: a bot
// planned to be stopped in a phase is stopped the first time the tracker
// sees it in that phase or a later one (before LEAVING).
func (c *chaos) actOnPlans(ctx context.Context) {
	type due struct {
		id, status string
		cancel     bool
	}
	var list []due
	now := time.Now()
	c.tracker.each(func(id string, b *botState) {
		if b.plan == nil || b.plan.action == "" || !b.stopAt.IsZero() || b.terminal() {
			return
		}
		ph := phaseOf(b.view.Status)
		if ph == "" || phaseOrder[ph] < phaseOrder[b.plan.actPhase] {
			return
		}
		b.stopAt, b.stopStatus = now, b.view.Status
		list = append(list, due{id: id, status: b.view.Status, cancel: b.plan.action == actCancel})
	})
	for _, d := range list {
		c.background.Go(func() {
			err := c.api.stop(ctx, d.id, d.cancel)
			name := actLeave
			if d.cancel {
				name = actCancel
			}
			c.acts.record(name, d.status, err)
		})
	}
}

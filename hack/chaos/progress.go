package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// progress prints a line every interval, so a long run shows it is alive:
// bots by status, kills, open fault windows, the leader.
func (c *chaos) progress(ctx context.Context, every time.Duration) {
	for sleepCtx(ctx, every) {
		c.logf("%s", c.progressLine())
	}
}

func (c *chaos) progressLine() string {
	counts := c.tracker.statusCounts()
	var parts []string
	for _, st := range append(append([]string{}, nonTerminal...), "DONE", "FATAL") {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	c.kills.mu.Lock()
	kills := len(c.kills.kills)
	c.kills.mu.Unlock()
	faults := c.faults.openNow()
	if faults == "" {
		faults = "none"
	}
	c.leaders.mu.Lock()
	leaders := strings.Join(c.leaders.current, ",")
	c.leaders.mu.Unlock()
	if leaders == "" {
		leaders = "none"
	}
	return fmt.Sprintf("created %d/%d | %s | kills %d | faults: %s | leader %s",
		c.created.Load(), len(c.plans), strings.Join(parts, " "), kills, faults, leaders)
}

package main

import (
	"context"
	"fmt"
	"time"
)

// checkWorkloads gathers duplicates and leaks from the sampler, the
// witness and a last look at every platform, and the platform limits.
func (c *chaos) checkWorkloads(ctx context.Context, r *report) error {
	dups, leaks, limits, samples, _ := c.sampler.results()
	r.WorkloadSamples = samples
	for _, bot := range c.witness.duplicates() {
		if _, ok := dups[bot]; !ok {
			dups[bot] = "two attempt tokens accepted over the same seconds (proxy witness)"
		}
	}
	for bot, desc := range dups {
		c.viol.add(kindDuplicateWorkload, "bot %s: %s", bot, desc)
	}
	r.DuplicateWorkloads = len(dups)
	ended := c.endTimes()
	for bot, last := range c.witness.lastCalls() {
		if end, ok := ended[bot]; ok && last.Sub(end) > c.opts.leakAfter() {
			leaks["witness "+bot] = fmt.Sprintf("bot %s called the controller %s after it ended", bot, last.Sub(end).Round(time.Second))
		}
	}
	left, err := c.leftovers(ctx)
	if err != nil {
		return err
	}
	for _, l := range left {
		leaks["end "+l] = l + " one GC period after the last bot ended"
	}
	for _, desc := range leaks {
		c.viol.add(kindLeakedWorkload, "%s", desc)
	}
	r.LeakedWorkloads = len(leaks)
	return c.checkLimits(ctx, r, limits)
}

// checkLimits adds ECS's most tasks alive at once (stopping ones count)
// to the sampled limits.
func (c *chaos) checkLimits(ctx context.Context, r *report, limits map[string]string) error {
	var st struct {
		MaxActive int `json:"max_active"`
	}
	if err := c.sys.ecs.get(ctx, "/_sim/stats", &st); err != nil {
		return err
	}
	r.ECSMaxActiveTasks = st.MaxActive
	if st.MaxActive > c.opts.awsLimit {
		limits["aws"] = fmt.Sprintf("%d ECS tasks alive (not yet STOPPED) at once, AWS_BOT_LIMIT %d", st.MaxActive, c.opts.awsLimit)
	}
	for _, desc := range limits {
		c.viol.add(kindPlatformLimit, "%s", desc)
	}
	return nil
}

// checkStops judges every stop and delete the simulators saw.
func (c *chaos) checkStops(ctx context.Context, r *report) error {
	calls, err := c.stopCalls(ctx)
	if err != nil {
		return err
	}
	r.StopCallsJudged = len(calls)
	for _, s := range calls {
		if s.WasRunning && s.Bot != "" {
			r.StopsOfRunningBots++
		}
		switch judgeStop(s, c.factsOf(s.Bot), c.opts.listWindow()) {
		case kindDeletedListFailed:
			r.DeletedDuringFailedList++
			c.viol.add(kindDeletedListFailed, "%s %s of bot %s attempt %d at %s, %s after a failed list",
				s.Platform, s.Target, s.Bot, s.Attempt, s.At.Format(time.TimeOnly), s.At.Sub(*s.LastListFailure).Round(time.Millisecond))
		case kindUnexpectedStop:
			r.UnexpectedStops++
			c.viol.add(kindUnexpectedStop, "%s %s of live bot %s attempt %d at %s, unasked",
				s.Platform, s.Target, s.Bot, s.Attempt, s.At.Format(time.TimeOnly))
		}
	}
	return nil
}

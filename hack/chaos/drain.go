package main

import (
	"context"
	"time"
)

// webhookPatience is how long after the leak wait a callback may still be
// on its way (a delivery its replica died with waits for River's rescue).
const webhookPatience = 30 * time.Second

// drain waits until every bot the runner knows has ended, for at most
// opts.drain; what is still open then is stuck.
func (c *chaos) drain(ctx context.Context) {
	deadline := time.Now().Add(c.opts.drain)
	for time.Now().Before(deadline) {
		if c.tracker.openBots() == 0 && c.tracker.pollCount() > 0 {
			c.logf("drained: every bot has ended")
			return
		}
		if !sleepCtx(ctx, time.Second) {
			return
		}
	}
	c.logf("drain timed out after %s with %d bots open", c.opts.drain, c.tracker.openBots())
}

// settle waits one leak period past the last bot's end, so anything still
// running after it is a leak, and for the last webhooks.
func (c *chaos) settle(ctx context.Context) {
	until := c.tracker.lastEnd().Add(c.opts.leakAfter())
	if d := time.Until(until); d > 0 {
		c.logf("waiting %s (one GC period and the stop allowance past the last end) before looking for leaks", d.Round(time.Second))
		sleepCtx(ctx, d)
	}
	deadline := time.Now().Add(webhookPatience)
	for len(c.missingWebhooks()) > 0 && time.Now().Before(deadline) && sleepCtx(ctx, time.Second) {
	}
}

// leftovers is every workload still alive now, from the platforms' own
// views: ECS tasks not stopped, Coolify containers running, local bot
// processes, and in-process bots still playing.
func (c *chaos) leftovers(ctx context.Context) ([]string, error) {
	var out []string
	var tasks []struct {
		ARN         string `json:"arn"`
		ClientToken string `json:"client_token"`
		LastStatus  string `json:"last_status"`
		Forgotten   bool   `json:"forgotten"`
	}
	if err := c.sys.ecs.get(ctx, "/_sim/tasks", &tasks); err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if t.LastStatus != "STOPPED" && !t.Forgotten {
			out = append(out, "ecs task "+t.ClientToken+" is "+t.LastStatus)
		}
	}
	var apps []struct {
		UUID    string `json:"uuid"`
		Name    string `json:"name"`
		Running bool   `json:"running"`
	}
	if err := c.sys.coolify.get(ctx, "/_sim/apps", &apps); err != nil {
		return nil, err
	}
	live, err := c.liveWorkloads(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if a.Running && !servesABot(live, a.UUID) {
			out = append(out, "coolify application "+a.Name+" runs a container (serving no bot)")
		}
	}
	for bot, refs := range live {
		out = append(out, "bot "+bot+" still plays on "+describeRefs(refs))
	}
	return out, nil
}

// servesABot reports whether a live workload runs in container.
func servesABot(live map[string][]workloadRef, container string) bool {
	for _, refs := range live {
		for _, r := range refs {
			if r.Container == container {
				return true
			}
		}
	}
	return false
}
